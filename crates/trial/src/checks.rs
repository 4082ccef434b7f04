//! Cross-record edit checks of PROTOCOL.md §8: errors refuse the data,
//! warnings become data queries on the record. Row-level rules (types,
//! ranges, vocabularies, unknown ids, CTCAE terms) are enforced earlier, by
//! the types themselves; what is left here needs more than one record.

use serde::Serialize;

use crate::dataset::{Casebook, Dataset};
use crate::date::Date;
use crate::derive::{Course, molecular_response};
use crate::protocol::Protocol;
use crate::vocab::{AssessmentTimepoint, Cohort, HemResponse, MrdCall, RelapseKind, VitalStatus};

/// How a finding is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Refuses the record (and a bundle with it).
    Error,
    /// Kept; raises a data query.
    Warning,
}

/// One finding of an edit check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Bundle file of the record.
    pub file: &'static str,
    /// Patient id.
    pub patient: String,
    /// Which record: its date or id.
    pub record: String,
    /// Stable code of the check, for filtering and for queries.
    pub check: &'static str,
    /// What is wrong, in words a site can act on.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{level}: {} patient {} ({}): {} [{}]",
            self.file, self.patient, self.record, self.message, self.check
        )
    }
}

struct Out<'a> {
    findings: Vec<Finding>,
    patient: &'a str,
}

impl Out<'_> {
    fn add(
        &mut self,
        severity: Severity,
        file: &'static str,
        record: impl ToString,
        check: &'static str,
        message: String,
    ) {
        self.findings.push(Finding {
            severity,
            file,
            patient: self.patient.to_owned(),
            record: record.to_string(),
            check,
            message,
        });
    }
}

/// Runs every cross-record check over the dataset.
pub fn check(data: &Dataset) -> Vec<Finding> {
    let books = data.casebooks();
    let mut findings = Vec::new();
    for book in books.iter() {
        let id = book.patient.id.to_string();
        let mut out = Out {
            findings: Vec::new(),
            patient: &id,
        };
        check_patient(&book, &data.protocol, data.cutoff, &mut out);
        findings.append(&mut out.findings);
    }
    findings.sort_by_key(|f| f.severity);
    findings
}

fn check_patient(b: &Casebook<'_>, p: &Protocol, cutoff: Date, out: &mut Out<'_>) {
    use Severity::{Error, Warning};
    let patient = b.patient;
    let death = b.status.and_then(|s| s.death_date);

    // Vital status and death.
    if let Some(s) = b.status {
        match (s.vital_status, s.death_date) {
            (VitalStatus::Alive, Some(d)) => out.add(
                Error,
                "status.csv",
                d,
                "death_without_dead_status",
                "a death date is recorded but vital_status is alive".into(),
            ),
            (VitalStatus::Dead, None) => out.add(
                Error,
                "status.csv",
                s.last_contact_date,
                "dead_without_death_date",
                "vital_status is dead but no death_date is recorded".into(),
            ),
            _ => {}
        }
        if let Some(d) = s.death_date
            && s.last_contact_date > d
        {
            out.add(
                Error,
                "status.csv",
                s.last_contact_date,
                "after_death",
                format!(
                    "last contact {} is after the death date {d}",
                    s.last_contact_date
                ),
            );
        }
        // Follow-up would end before it began: OS censored at day 0.
        if s.last_contact_date < patient.registration_date {
            out.add(
                Warning,
                "status.csv",
                s.last_contact_date,
                "last_contact_before_registration",
                format!(
                    "last_contact_date {} is before the registration {}",
                    s.last_contact_date, patient.registration_date
                ),
            );
        }
    } else {
        out.add(
            Warning,
            "status.csv",
            "-",
            "no_status",
            "no status row: follow-up is censored at registration".into(),
        );
    }

    // Anything dated after death.
    if let Some(death) = death {
        let mut after = |file: &'static str, what: String, date: Date| {
            if date > death {
                out.add(
                    Error,
                    file,
                    &what,
                    "after_death",
                    format!("{what} is dated {date}, after the death date {death}"),
                );
            }
        };
        after(
            "patients.csv",
            "registration".into(),
            patient.registration_date,
        );
        if let Some(s) = b.status {
            if let Some(date) = s.end_of_treatment_date {
                after("status.csv", "end of treatment".into(), date);
            }
            if let Some(date) = s.other_therapy_date {
                after("status.csv", "other therapy".into(), date);
            }
        }
        for d in b.doses {
            after(
                "doses.csv",
                format!("dose {} day {}", d.cycle, d.day),
                d.date,
            );
        }
        for a in b.assessments {
            after(
                "assessments.csv",
                format!("assessment {}", a.timepoint),
                a.date,
            );
        }
        for m in b.mrd {
            after(
                "mrd.csv",
                format!("MRD {} {}", m.sample, m.timepoint),
                m.date,
            );
        }
        for e in b.adverse_events {
            after(
                "adverse_events.csv",
                format!("AE {}", e.ae_id),
                e.onset_date,
            );
            if let Some(end) = e.end_date {
                after(
                    "adverse_events.csv",
                    format!("the end of AE {}", e.ae_id),
                    end,
                );
            }
        }
        for s in b.sct {
            after("sct.csv", "SCT".into(), s.date);
        }
        for g in b.gvhd {
            after("gvhd.csv", format!("{} GvHD", g.kind), g.onset_date);
        }
        for r in b.relapses {
            after("relapses.csv", format!("{} relapse", r.kind), r.date);
        }
        for q in b.qlq_c30 {
            after(
                "qlq_c30.csv",
                format!("questionnaire {}", q.timepoint),
                q.date,
            );
        }
        for h in b.hospital_stays {
            after(
                "hospital_stays.csv",
                "hospital stay".into(),
                h.admission_date,
            );
            if let Some(discharge) = h.discharge_date {
                after("hospital_stays.csv", "a discharge".into(), discharge);
            }
        }
    }

    // Adverse events: end after start, grade 5 needs a death on the end date.
    for e in b.adverse_events {
        if let Some(end) = e.end_date
            && end < e.onset_date
        {
            out.add(
                Error,
                "adverse_events.csv",
                &e.ae_id,
                "end_before_start",
                format!("end_date {end} is before onset_date {}", e.onset_date),
            );
        }
        if e.grade.get() == 5 && (e.end_date.is_none() || e.end_date != death) {
            out.add(
                Error,
                "adverse_events.csv",
                &e.ae_id,
                "grade5_without_death",
                "a grade 5 AE needs a death recorded on its end date".into(),
            );
        }
    }

    // Hospital stays: end after start, overlaps.
    let mut stays: Vec<_> = b.hospital_stays.iter().collect();
    stays.sort_by_key(|h| h.admission_date);
    for h in &stays {
        if let Some(d) = h.discharge_date
            && d < h.admission_date
        {
            out.add(
                Error,
                "hospital_stays.csv",
                h.admission_date,
                "end_before_start",
                format!(
                    "discharge_date {d} is before admission_date {}",
                    h.admission_date
                ),
            );
        }
    }
    for w in stays.windows(2) {
        let first_end = w[0].discharge_date.unwrap_or(cutoff);
        if w[1].admission_date < first_end {
            out.add(
                Warning,
                "hospital_stays.csv",
                w[1].admission_date,
                "overlapping_stays",
                format!(
                    "admission {} overlaps the stay from {}",
                    w[1].admission_date, w[0].admission_date
                ),
            );
        }
    }

    // Derived versus recorded response; relapse without a relapse record;
    // visit windows.
    let course = Course::derive(b, p, Date::from_ymd(9999, 12, 31).expect("a date"));
    let relapse_record = b
        .relapses
        .iter()
        .any(|r| r.kind == RelapseKind::Hematologic);
    for a in &course.assessments {
        if let Some(inv) = a.investigator
            && inv != a.response
        {
            out.add(
                Warning,
                "assessments.csv",
                format!("{} {}", a.timepoint, a.date),
                "response_differs",
                format!(
                    "investigator response {inv} differs from the derived {}",
                    a.response
                ),
            );
        }
        if a.response == HemResponse::Relapse && !relapse_record {
            out.add(
                Warning,
                "assessments.csv",
                format!("{} {}", a.timepoint, a.date),
                "relapse_without_record",
                "the assessment shows relapse but relapses.csv has no hematologic relapse".into(),
            );
        }
        let t = &p.timepoints;
        let window = match a.timepoint {
            AssessmentTimepoint::D22 => Some((t.d22_day, t.d22_window)),
            AssessmentTimepoint::W9 => Some((t.w9_day, t.w9_window)),
            AssessmentTimepoint::M3 => Some((t.m3_day, t.m3_window)),
            AssessmentTimepoint::M6 => Some((t.m6_day, t.m6_window)),
            _ => None,
        };
        if let Some((day, half)) = window
            && course.treated
        {
            let target = course.day(day);
            if (a.date.days_since(target)).abs() > half {
                out.add(
                    Warning,
                    "assessments.csv",
                    format!("{} {}", a.timepoint, a.date),
                    "outside_visit_window",
                    format!("{} is planned on {target} ± {half} days", a.timepoint),
                );
            }
        }
    }

    // MRD sensitivity.
    for m in b.mrd {
        let weak = m
            .sensitivity
            .is_none_or(|s| s.get() > p.molecular.required_sensitivity);
        if matches!(m.result, Some(MrdCall::Negative | MrdCall::PositiveNq)) && weak {
            out.add(
                Warning,
                "mrd.csv",
                format!("{} {} {}", m.sample, m.timepoint, m.date),
                "mrd_insufficient_sensitivity",
                format!(
                    "sensitivity worse than {}: the result is not evaluable ({})",
                    p.molecular.required_sensitivity,
                    molecular_response(m, p).label()
                ),
            );
        }
    }

    // Eligibility of cohort 2.
    if patient.cohort == Cohort::MrdPositive
        && patient
            .screening_bm_blasts_pct
            .is_some_and(|b| b.get() >= p.eligibility.cohort2_max_screening_bm_blasts_pct)
    {
        out.add(
            Warning,
            "patients.csv",
            &patient.id,
            "cohort2_blasts",
            format!(
                "cohort 2 requires hematologic CR, but screening BM blasts are {} %",
                patient.screening_bm_blasts_pct.map_or(0.0, |b| b.get())
            ),
        );
    }

    // Doses before registration; records after the cut-off.
    for d in b.doses {
        if d.date < patient.registration_date {
            out.add(
                Warning,
                "doses.csv",
                format!("{} day {}", d.cycle, d.day),
                "before_registration",
                format!(
                    "dose dated {} before registration {}",
                    d.date, patient.registration_date
                ),
            );
        }
    }
    let late = b
        .doses
        .iter()
        .map(|d| d.date)
        .chain(b.assessments.iter().map(|a| a.date))
        .chain(b.mrd.iter().map(|m| m.date))
        .chain(b.adverse_events.iter().map(|e| e.onset_date))
        .chain(b.relapses.iter().map(|r| r.date))
        .chain(b.qlq_c30.iter().map(|q| q.date))
        .filter(|&d| d > cutoff)
        .count();
    if late > 0 {
        out.add(
            Warning,
            "bundle",
            "-",
            "after_cutoff",
            format!("{late} record(s) dated after the cut-off {cutoff}: kept, not analysed"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::*;
    use crate::values::*;
    use crate::vocab::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn one_patient() -> Dataset {
        let mut data = Dataset::empty(Protocol::default(), d("2026-01-01"));
        data.patients.push(Patient {
            id: "P1".parse().unwrap(),
            site: "S1".parse().unwrap(),
            cohort: Cohort::RelapsedRefractory,
            registration_date: d("2025-01-01"),
            age: "40".parse().unwrap(),
            sex: Sex::F,
            cd38_positive: true,
            immunophenotype: Immunophenotype::Thymic,
            disease_status: DiseaseStatus::EarlyRelapse,
            prior_cycles: Count(3),
            first_cr_date: None,
            prior_sct_date: None,
            last_chemo_date: None,
            screening_bm_blasts_pct: Percent::new(40.0),
            screening_mrd_level: None,
            screening_mrd_sensitivity: None,
        });
        data.status.push(Status {
            patient: PatientIx(0),
            last_contact_date: d("2025-06-01"),
            vital_status: VitalStatus::Dead,
            death_date: Some(d("2025-06-01")),
            death_cause: Some(DeathCause::Infection),
            end_of_treatment_date: None,
            end_of_treatment_reason: None,
            other_therapy_date: None,
        });
        data
    }

    fn ae(grade: u8, onset: &str, end: Option<&str>) -> AdverseEvent {
        AdverseEvent {
            patient: PatientIx(0),
            ae_id: "AE1".parse().unwrap(),
            term: crate::ctcae::Dictionary::ctcae_v5().find("Sepsis").unwrap(),
            verbatim: None,
            grade: Grade::new(grade).unwrap(),
            onset_date: d(onset),
            end_date: end.map(d),
            serious: true,
            relatedness: Relatedness::Unlikely,
            outcome: None,
            action: None,
        }
    }

    fn checks(data: &Dataset) -> Vec<&'static str> {
        check(data).into_iter().map(|f| f.check).collect()
    }

    #[test]
    fn a_last_contact_before_registration_raises_a_query() {
        let mut data = one_patient();
        data.status[0].vital_status = VitalStatus::Alive;
        data.status[0].death_date = None;
        data.status[0].death_cause = None;
        assert!(checks(&data).is_empty(), "{:?}", check(&data));
        data.status[0].last_contact_date = d("2024-12-01");
        let found = check(&data);
        assert_eq!(checks(&data), ["last_contact_before_registration"]);
        assert_eq!(found[0].severity, Severity::Warning);
    }

    #[test]
    fn grade_5_needs_a_death_on_its_end_date() {
        let mut data = one_patient();
        data.adverse_events
            .push(ae(5, "2025-05-20", Some("2025-06-01")));
        assert!(checks(&data).is_empty(), "{:?}", check(&data));
        data.adverse_events[0].end_date = Some(d("2025-05-30"));
        assert_eq!(checks(&data), ["grade5_without_death"]);
    }

    #[test]
    fn records_after_death_and_ends_before_starts_are_errors() {
        let mut data = one_patient();
        data.adverse_events
            .push(ae(2, "2025-06-02", Some("2025-05-01")));
        let found = check(&data);
        assert!(found.iter().all(|f| f.severity == Severity::Error));
        let codes: Vec<_> = found.iter().map(|f| f.check).collect();
        assert!(
            codes.contains(&"after_death") && codes.contains(&"end_before_start"),
            "{codes:?}"
        );
    }

    /// "Any record dated after the patient's death date" (PROTOCOL.md §8)
    /// includes the registration itself and the dates that end things.
    #[test]
    fn registration_and_ends_after_death_are_errors() {
        let mut data = one_patient();
        data.patients[0].registration_date = d("2025-06-10");
        data.status[0].end_of_treatment_date = Some(d("2025-06-02"));
        data.hospital_stays.push(HospitalStay {
            patient: PatientIx(0),
            admission_date: d("2025-05-20"),
            discharge_date: Some(d("2025-06-03")),
            reason: None,
        });
        data.adverse_events
            .push(ae(2, "2025-05-20", Some("2025-06-04")));
        let records: Vec<String> = check(&data)
            .into_iter()
            .filter(|f| f.check == "after_death")
            .map(|f| f.record)
            .collect();
        assert_eq!(
            records,
            [
                "registration",
                "end of treatment",
                "the end of AE AE1",
                "a discharge"
            ]
        );
    }

    #[test]
    fn a_death_date_needs_dead_status() {
        let mut data = one_patient();
        data.status[0].vital_status = VitalStatus::Alive;
        assert!(checks(&data).contains(&"death_without_dead_status"));
    }

    #[test]
    fn overlapping_stays_and_cohort_2_blasts_are_warnings() {
        let mut data = one_patient();
        for (a, dis) in [("2025-02-01", "2025-02-10"), ("2025-02-05", "2025-02-12")] {
            data.hospital_stays.push(HospitalStay {
                patient: PatientIx(0),
                admission_date: d(a),
                discharge_date: Some(d(dis)),
                reason: None,
            });
        }
        data.patients[0].cohort = Cohort::MrdPositive;
        data.patients[0].screening_bm_blasts_pct = Percent::new(7.0);
        let found = check(&data);
        assert!(
            found.iter().all(|f| f.severity == Severity::Warning),
            "{found:?}"
        );
        let codes: Vec<_> = found.iter().map(|f| f.check).collect();
        assert_eq!(codes, ["overlapping_stays", "cohort2_blasts"]);
    }
}
