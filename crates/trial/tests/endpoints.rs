//! Hand-built trials whose answers are worked out here, one per rule of
//! PROTOCOL.md §4 that is easy to get wrong.

use trial::ctcae::Dictionary;
use trial::records::*;
use trial::results::Value;
use trial::values::*;
use trial::vocab::*;
use trial::{Dataset, Date, Protocol};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

/// A trial under construction; each patient is registered on 2025-01-01
/// and dosed on day 1 = 2025-01-02 unless told otherwise.
struct Trial(Dataset);

const REG: &str = "2025-01-01";
const DAY1: &str = "2025-01-02";

impl Trial {
    fn new() -> Self {
        Trial(Dataset::empty(Protocol::default(), d("2026-06-30")))
    }

    fn patient(&mut self, cohort: Cohort) -> PatientIx {
        let ix = PatientIx(self.0.patients.len() as u32);
        self.0.patients.push(Patient {
            id: format!("P{}", ix.0 + 1).parse().unwrap(),
            site: "S1".parse().unwrap(),
            cohort,
            registration_date: d(REG),
            age: "45".parse().unwrap(),
            sex: Sex::M,
            cd38_positive: true,
            immunophenotype: Immunophenotype::Thymic,
            disease_status: if cohort == Cohort::MrdPositive {
                DiseaseStatus::MolecularFailure
            } else {
                DiseaseStatus::EarlyRelapse
            },
            prior_cycles: Count(3),
            first_cr_date: None,
            prior_sct_date: None,
            last_chemo_date: None,
            screening_bm_blasts_pct: Percent::new(if cohort == Cohort::MrdPositive {
                1.0
            } else {
                60.0
            }),
            screening_mrd_level: None,
            screening_mrd_sensitivity: None,
        });
        self.0.doses.push(Dose {
            patient: ix,
            cycle: Cycle::Induction(1),
            day: 1,
            date: d(DAY1),
            planned_mg_per_kg: Amount::new(10.0).unwrap(),
            given_mg_per_kg: Amount::new(10.0).unwrap(),
            status: DoseStatus::Given,
            reason: None,
        });
        self.status(ix, "2026-06-30", None);
        ix
    }

    fn status(&mut self, p: PatientIx, last: &str, death: Option<&str>) {
        self.0.status.retain(|s| s.patient != p);
        self.0.status.push(Status {
            patient: p,
            last_contact_date: d(last),
            vital_status: if death.is_some() {
                VitalStatus::Dead
            } else {
                VitalStatus::Alive
            },
            death_date: death.map(d),
            death_cause: death.map(|_| DeathCause::Infection),
            end_of_treatment_date: None,
            end_of_treatment_reason: None,
            other_therapy_date: None,
        });
    }

    /// An assessment deriving to CR (`cr`) or NR.
    fn assess(&mut self, p: PatientIx, tp: AssessmentTimepoint, date: &str, cr: bool) {
        self.0.assessments.push(Assessment {
            patient: p,
            date: d(date),
            timepoint: tp,
            bm_blasts_pct: Percent::new(if cr { 1.0 } else { 50.0 }),
            pb_blasts: Some(false),
            anc: Amount::new(2.0),
            platelets: Amount::new(150.0),
            emd: Some(false),
            investigator_response: None,
        });
    }

    fn relapse(&mut self, p: PatientIx, date: &str) {
        self.0.relapses.push(Relapse {
            patient: p,
            date: d(date),
            kind: RelapseKind::Hematologic,
            sites: vec![RelapseSite::BoneMarrow],
        });
    }

    fn sct(&mut self, p: PatientIx, date: &str) {
        self.0.sct.push(Sct {
            patient: p,
            date: d(date),
            sct_type: SctType::Allogeneic,
            donor: Some(Donor::MatchedUnrelated),
            conditioning: Some(Conditioning::Mac),
            source: Some(GraftSource::Pbsc),
        });
    }

    fn mrd(
        &mut self,
        p: PatientIx,
        tp: AssessmentTimepoint,
        date: &str,
        call: MrdCall,
        sensitivity: f64,
    ) {
        self.0.mrd.push(MrdResult {
            patient: p,
            date: d(date),
            timepoint: tp,
            sample: Sample::Bm,
            result: Some(call),
            level: (call == MrdCall::Positive).then(|| Fraction::new(1e-3).unwrap()),
            sensitivity: Fraction::new(sensitivity),
            lab: Some(Lab::Central),
        });
    }

    fn ae(&mut self, p: PatientIx, term: &str, grade: u8, onset: &str) {
        let n = self.0.adverse_events.len();
        self.0.adverse_events.push(AdverseEvent {
            patient: p,
            ae_id: format!("AE{n}").parse().unwrap(),
            term: Dictionary::ctcae_v5().find(term).unwrap(),
            verbatim: None,
            grade: Grade::new(grade).unwrap(),
            onset_date: d(onset),
            end_date: None,
            serious: false,
            relatedness: Relatedness::Possible,
            outcome: None,
            action: None,
        });
    }

    fn results(mut self) -> trial::Results {
        self.0.sort();
        let problems: Vec<_> = trial::checks::check(&self.0)
            .into_iter()
            .filter(|f| f.severity == trial::checks::Severity::Error)
            .collect();
        assert!(
            problems.is_empty(),
            "the hand-built trial is valid: {problems:?}"
        );
        trial::endpoints::compute(&self.0)
    }
}

fn find<'a>(r: &'a trial::Results, cohort: u8, name: &str, kind: &str) -> &'a Value {
    &r.statistics
        .iter()
        .find(|s| {
            s.cohort == cohort
                && s.name == name
                && serde_json::to_value(&s.value).unwrap()["kind"] == kind
                && s.window.is_none_or(|w| w == "m6")
        })
        .unwrap_or_else(|| panic!("{name} {kind} missing"))
        .value
}

fn n_total(v: &Value) -> (u64, u64) {
    match v {
        Value::Proportion { n, total, .. } => (*n, *total),
        other => panic!("not a proportion: {other:?}"),
    }
}

#[test]
fn e01_counts_a_patient_without_assessment_as_non_responder_and_applies_the_sct_rule() {
    use AssessmentTimepoint::*;
    let mut t = Trial::new();
    let c1 = Cohort::RelapsedRefractory;
    let cr_w9 = t.patient(c1);
    t.assess(cr_w9, W9, "2025-02-27", true);
    let _never_assessed = t.patient(c1);
    // CR at d22, no w9, SCT on day 57 (2025-02-27): a responder.
    let sct_in_time = t.patient(c1);
    t.assess(sct_in_time, D22, "2025-01-23", true);
    t.sct(sct_in_time, "2025-02-27");
    // The same but SCT on day 58: not a responder.
    let sct_late = t.patient(c1);
    t.assess(sct_late, D22, "2025-01-23", true);
    t.sct(sct_late, "2025-02-28");
    // CR at d22, SCT in time, but relapse before the SCT: not a responder.
    let relapsed = t.patient(c1);
    t.assess(relapsed, D22, "2025-01-23", true);
    t.relapse(relapsed, "2025-02-10");
    t.sct(relapsed, "2025-02-20");
    // Registered but never dosed: not in the FAS at all.
    let undosed = t.patient(c1);
    t.0.doses.retain(|x| x.patient != undosed);
    let r = t.results();
    assert_eq!(n_total(find(&r, 1, "orr_w9", "proportion")), (2, 5));
    // The statistic names the responders it counted.
    let orr = r
        .statistics
        .iter()
        .find(|s| s.cohort == 1 && s.name == "orr_w9")
        .unwrap();
    let counted: Vec<PatientIx> = orr.patients.iter().collect();
    assert_eq!(counted, [cr_w9, sct_in_time]);
    assert!(!orr.patients.contains(sct_late) && !orr.patients.contains(undosed));
}

#[test]
fn e05_censors_death_in_cr_and_e07_counts_it() {
    use AssessmentTimepoint::*;
    let mut t = Trial::new();
    let c1 = Cohort::RelapsedRefractory;
    // First CR on 2025-01-23; dies in CR 100 days later.
    let dies = t.patient(c1);
    t.assess(dies, D22, "2025-01-23", true);
    t.status(dies, "2025-05-03", Some("2025-05-03"));
    // First CR on 2025-01-23; relapses 50 days later.
    let relapses = t.patient(c1);
    t.assess(relapses, D22, "2025-01-23", true);
    t.relapse(relapses, "2025-03-14");
    // Never in CR: not in E05.
    let nr = t.patient(c1);
    t.assess(nr, D22, "2025-01-23", false);
    let r = t.results();
    let (ccr, rfs) = (find(&r, 1, "ccr", "km_at"), find(&r, 1, "rfs", "km_at"));
    match (ccr, rfs) {
        (
            Value::KmAt {
                total: 2,
                events: 1,
                estimate: s_ccr,
                ..
            },
            Value::KmAt {
                total: 2,
                events: 2,
                estimate: s_rfs,
                ..
            },
        ) => {
            // E05: relapse at 50 with 2 at risk → 1/2, the death censored.
            assert_eq!(*s_ccr, 0.5);
            assert_eq!(*s_rfs, 0.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn e08_counts_induction_failure_at_time_zero() {
    use AssessmentTimepoint::*;
    let mut t = Trial::new();
    let c1 = Cohort::RelapsedRefractory;
    let fail = t.patient(c1);
    t.assess(fail, D22, "2025-01-23", false);
    t.assess(fail, W9, "2025-02-27", false);
    let _unassessed = t.patient(c1);
    let ok = t.patient(c1);
    t.assess(ok, W9, "2025-02-27", true);
    let r = t.results();
    match find(&r, 1, "efs", "median") {
        Value::Median { estimate, .. } => assert_eq!(*estimate, 0.0, "2 of 3 fail at t = 0"),
        other => panic!("{other:?}"),
    }
    match find(&r, 1, "efs", "km_at") {
        Value::KmAt {
            estimate, events, ..
        } => assert_eq!((*estimate, *events), (1.0 / 3.0, 2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn e03_needs_sufficient_sensitivity_for_a_negative_result() {
    use AssessmentTimepoint::*;
    let mut t = Trial::new();
    let c2 = Cohort::MrdPositive;
    let sensitive = t.patient(c2);
    t.mrd(sensitive, D22, "2025-01-23", MrdCall::Negative, 1e-5);
    let insensitive = t.patient(c2);
    t.mrd(insensitive, D22, "2025-01-23", MrdCall::Negative, 1e-3);
    let positive = t.patient(c2);
    t.mrd(positive, D22, "2025-01-23", MrdCall::Positive, 1e-5);
    let _none = t.patient(c2);
    let r = t.results();
    assert_eq!(n_total(find(&r, 2, "molcr_d22", "proportion")), (1, 4));
}

#[test]
fn e02_counts_each_patient_once_within_the_treatment_emergent_window() {
    let mut t = Trial::new();
    let c1 = Cohort::RelapsedRefractory;
    let p = t.patient(c1);
    // Last dose is day 1 (2025-01-02): TEAE until 2025-02-01.
    t.ae(p, "Sepsis", 3, "2025-01-10");
    t.ae(p, "Sepsis", 4, "2025-01-20");
    t.ae(p, "Fever", 1, "2025-02-01");
    t.ae(p, "Nausea", 4, "2025-02-02"); // after last dose + 30
    let q = t.patient(c1);
    t.ae(q, "Fatigue", 2, "2024-12-30"); // before day 1: not treatment-emergent
    let r = t.results();
    assert_eq!(n_total(find(&r, 1, "ae_any", "proportion")), (1, 2));
    assert_eq!(n_total(find(&r, 1, "ae_grade_3plus", "proportion")), (1, 2));
    let table = r
        .tables
        .iter()
        .find(|t| t.id == "e02_soc_term_cohort1")
        .unwrap();
    let sepsis = table.rows.iter().find(|row| row[1] == "Sepsis").unwrap();
    // One patient, counted once, at the worst grade 4.
    assert_eq!(sepsis[2], "1/2 (50.0 %)");
    assert_eq!((sepsis[5].as_str(), sepsis[6].as_str()), ("0", "1"));
    assert!(
        !table
            .rows
            .iter()
            .any(|row| row[1] == "Nausea" || row[1] == "Fatigue")
    );
}

#[test]
fn a_patient_registered_after_the_cutoff_is_not_analysed() {
    use AssessmentTimepoint::*;
    let mut t = Trial::new();
    let c1 = Cohort::RelapsedRefractory;
    let early = t.patient(c1);
    t.assess(early, W9, "2025-02-27", true);
    // Registered and treated after the cut-off of 2026-06-30: kept in the
    // data, left out of every count, as any record dated after it.
    let late = t.patient(c1);
    t.0.patients[late.get()].registration_date = d("2026-07-10");
    t.0.doses
        .iter_mut()
        .filter(|x| x.patient == late)
        .for_each(|x| x.date = d("2026-07-11"));
    t.assess(late, W9, "2026-09-08", true);
    let r = t.results();
    assert_eq!(n_total(find(&r, 1, "orr_w9", "proportion")), (1, 1));
    assert_eq!(r.patient_ids.len(), 1, "the late patient is not named");
}
