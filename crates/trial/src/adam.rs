//! The analysis datasets in CDISC ADaM's shape, for statisticians who
//! re-run or extend the analysis in SAS or R: ADSL (one row per patient),
//! ADAE (one row per adverse event known at the cut-off) and ADTTE (one
//! row per patient per time-to-event parameter, the rows behind every
//! curve of the report). Variable names, meanings and controlled terms
//! follow the ADaM implementation guide; dates are calendar dates, which
//! the writers turn into SAS dates or ISO text.
//!
//! A dataset is read row by row into one reused buffer rather than held:
//! at a million patients ADSL alone would be twenty million values.

use std::ops::Range;

use crate::Date;
use crate::ctcae::Dictionary;
use crate::dataset::Dataset;
use crate::derive::Course;
use crate::results::Results;
use crate::vocab::{AeAction, AeOutcome, Cohort, Relatedness, Sex};

/// The trial's identifier in every dataset (`STUDYID`).
pub const STUDY_ID: &str = "ISA-T-ALL";

/// The trial's one treatment, as `TRT01P` and `TRTA` name it.
const TREATMENT: &str = "ISATUXIMAB";

/// How a variable's values are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number.
    Num,
    /// A calendar date.
    Date,
    /// Text.
    Text,
}

/// A variable of an analysis dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// ADaM name: at most 8 capitals, digits or `_`.
    pub name: &'static str,
    /// Label: at most 40 characters.
    pub label: &'static str,
    /// Kind of its values.
    pub kind: Kind,
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number; `None` is missing.
    Num(Option<f64>),
    /// A date; `None` is missing.
    Date(Option<Date>),
    /// Text; empty is missing.
    Text(String),
}

/// An analysis dataset that can be read row by row, as often as needed.
pub trait AnalysisDataset {
    /// Dataset name (`ADSL`).
    fn name(&self) -> &'static str;
    /// Dataset label.
    fn label(&self) -> &'static str;
    /// Variables, in column order.
    fn variables(&self) -> &'static [Variable];
    /// Calls `row` with each row's values, in the variables' order.
    fn rows(&self, row: &mut dyn FnMut(&[Value]));
}

const fn var(name: &'static str, label: &'static str, kind: Kind) -> Variable {
    Variable { name, label, kind }
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn flag(yes: bool) -> Value {
    text(if yes { "Y" } else { "N" })
}

/// Sex in CDISC's controlled terminology: the bundle's `X` (neither) is
/// `U`, the term CT has for it.
fn sex(sex: Sex) -> &'static str {
    match sex {
        Sex::F => "F",
        Sex::M => "M",
        Sex::X => "U",
    }
}

/// Causality as CDISC submissions spell it.
fn relatedness(r: Relatedness) -> &'static str {
    match r {
        Relatedness::NotRelated => "NOT RELATED",
        Relatedness::Unlikely => "UNLIKELY RELATED",
        Relatedness::Possible => "POSSIBLY RELATED",
        Relatedness::Probable => "PROBABLY RELATED",
        Relatedness::Definite => "RELATED",
    }
}

/// Outcome in CDISC's controlled terminology (OUT).
fn outcome(o: AeOutcome) -> &'static str {
    match o {
        AeOutcome::Recovered => "RECOVERED/RESOLVED",
        AeOutcome::Recovering => "RECOVERING/RESOLVING",
        AeOutcome::NotRecovered => "NOT RECOVERED/NOT RESOLVED",
        AeOutcome::RecoveredWithSequelae => "RECOVERED/RESOLVED WITH SEQUELAE",
        AeOutcome::Fatal => "FATAL",
        AeOutcome::Unknown => "UNKNOWN",
    }
}

/// Action taken in CDISC's controlled terminology (ACN). CT has no term
/// for a delayed dose; a delay interrupts the schedule.
fn action(a: AeAction) -> &'static str {
    match a {
        AeAction::None => "DOSE NOT CHANGED",
        AeAction::Delayed | AeAction::Interrupted => "DRUG INTERRUPTED",
        AeAction::Reduced => "DOSE REDUCED",
        AeAction::Withdrawn => "DRUG WITHDRAWN",
    }
}

fn cohort_arm(cohort: Cohort) -> (&'static str, &'static str) {
    match cohort {
        Cohort::RelapsedRefractory => ("C1", "Cohort 1: relapsed/refractory T-ALL"),
        Cohort::MrdPositive => ("C2", "Cohort 2: MRD-positive T-ALL"),
    }
}

/// The patients' courses, derived once for ADSL and ADAE as the endpoint
/// engine derives them.
pub struct Courses<'a> {
    data: &'a Dataset,
    courses: Vec<Course>,
    /// Each patient's adverse events, as a range of `data.adverse_events`
    /// (sorted by patient): indexed once, read on every pass over ADAE.
    adverse_events: Vec<Range<usize>>,
}

impl<'a> Courses<'a> {
    /// Derives every patient's course of `data`.
    pub fn derive(data: &'a Dataset) -> Courses<'a> {
        let books = data.casebooks();
        let courses = books
            .iter()
            .map(|c| Course::derive(&c, &data.protocol, data.cutoff))
            .collect();
        let mut start = 0;
        let adverse_events = books
            .iter()
            .map(|c| {
                let range = start..start + c.adverse_events.len();
                start = range.end;
                range
            })
            .collect();
        Courses {
            data,
            courses,
            adverse_events,
        }
    }

    /// ADSL.
    pub fn adsl(&self) -> Adsl<'_> {
        Adsl(self)
    }

    /// ADAE.
    pub fn adae(&self) -> Adae<'_> {
        Adae(self)
    }
}

/// ADSL: one row per registered patient.
pub struct Adsl<'a>(&'a Courses<'a>);

const ADSL: &[Variable] = &[
    var("STUDYID", "Study Identifier", Kind::Text),
    var("USUBJID", "Unique Subject Identifier", Kind::Text),
    var("SUBJID", "Subject Identifier for the Study", Kind::Text),
    var("SITEID", "Study Site Identifier", Kind::Text),
    var("AGE", "Age", Kind::Num),
    var("AGEU", "Age Units", Kind::Text),
    var("SEX", "Sex", Kind::Text),
    var("COHORT", "Cohort", Kind::Num),
    var("ARMCD", "Planned Arm Code", Kind::Text),
    var("ARM", "Description of Planned Arm", Kind::Text),
    var("TRT01P", "Planned Treatment for Period 01", Kind::Text),
    var("TRT01A", "Actual Treatment for Period 01", Kind::Text),
    var("FASFL", "Full Analysis Set Population Flag", Kind::Text),
    var("SAFFL", "Safety Population Flag", Kind::Text),
    var("REGDT", "Date of Registration", Kind::Date),
    var("TRTSDT", "Date of First Exposure to Treatment", Kind::Date),
    var("TRTEDT", "Date of Last Exposure to Treatment", Kind::Date),
    var("CD38FL", "CD38 Positive Flag", Kind::Text),
    var("DISSTAT", "Disease Status at Registration", Kind::Text),
    var("REMDT", "Date of First CR/CRi", Kind::Date),
    var("RELDT", "Date of Hematologic Relapse", Kind::Date),
    var("SCTDT", "Date of Stem Cell Transplantation", Kind::Date),
    var("DTHFL", "Subject Death Flag", Kind::Text),
    var("DTHDT", "Date of Death", Kind::Date),
    var("LSTFUDT", "Date of Last Follow-up", Kind::Date),
    var("DCUTDT", "Data Cutoff Date", Kind::Date),
];

impl AnalysisDataset for Adsl<'_> {
    fn name(&self) -> &'static str {
        "ADSL"
    }

    fn label(&self) -> &'static str {
        "Subject-Level Analysis Dataset"
    }

    fn variables(&self) -> &'static [Variable] {
        ADSL
    }

    fn rows(&self, row: &mut dyn FnMut(&[Value])) {
        let Courses { data, courses, .. } = self.0;
        let mut values = Vec::with_capacity(ADSL.len());
        for (p, c) in data.patients.iter().zip(courses) {
            let (armcd, arm) = cohort_arm(p.cohort);
            values.clear();
            values.extend([
                text(STUDY_ID),
                text(format!("{STUDY_ID}-{}", p.id)),
                text(p.id.as_str()),
                text(p.site.as_str()),
                Value::Num(Some(f64::from(p.age.years()))),
                text("YEARS"),
                text(sex(p.sex)),
                Value::Num(Some(f64::from(p.cohort.number()))),
                text(armcd),
                text(arm),
                text(TREATMENT),
                text(if c.treated { TREATMENT } else { "" }),
                flag(c.treated),
                flag(c.treated),
                Value::Date(Some(c.registration)),
                Value::Date(c.treated.then_some(c.day1)),
                Value::Date(c.last_dose),
                flag(p.cd38_positive),
                text(p.disease_status.as_str()),
                Value::Date(c.first_remission),
                Value::Date(c.hematologic_relapse),
                Value::Date(c.sct),
                text(if c.death.is_some() { "Y" } else { "" }),
                Value::Date(c.death),
                Value::Date(Some(c.last_follow_up)),
                Value::Date(Some(data.cutoff)),
            ]);
            row(&values);
        }
    }
}

/// ADAE: one row per adverse event starting on or before the cut-off,
/// with its CTCAE coding, study day and treatment-emergence flag
/// (PROTOCOL.md §5, E02).
pub struct Adae<'a>(&'a Courses<'a>);

const ADAE: &[Variable] = &[
    var("STUDYID", "Study Identifier", Kind::Text),
    var("USUBJID", "Unique Subject Identifier", Kind::Text),
    var("COHORT", "Cohort", Kind::Num),
    var("SAFFL", "Safety Population Flag", Kind::Text),
    var("TRTA", "Actual Treatment", Kind::Text),
    var("AESEQ", "Sequence Number", Kind::Num),
    var("AESPID", "Sponsor-Defined Identifier", Kind::Text),
    var("AETERM", "Reported Term for the Adverse Event", Kind::Text),
    var("AEDECOD", "Dictionary-Derived Term", Kind::Text),
    var("AEBODSYS", "Body System or Organ Class", Kind::Text),
    var("AETOXGR", "Standard Toxicity Grade", Kind::Text),
    var("ATOXGRN", "Analysis Toxicity Grade (N)", Kind::Num),
    var("AESER", "Serious Event", Kind::Text),
    var("AEREL", "Causality", Kind::Text),
    var("AEOUT", "Outcome of Adverse Event", Kind::Text),
    var("AEACN", "Action Taken with Study Treatment", Kind::Text),
    var("ASTDT", "Analysis Start Date", Kind::Date),
    var("AENDT", "Analysis End Date", Kind::Date),
    var("ASTDY", "Analysis Start Relative Day", Kind::Num),
    var("TRTEMFL", "Treatment Emergent Analysis Flag", Kind::Text),
];

/// A study day as CDISC counts it: day 1 is the first dose, the day
/// before it is -1 (there is no day 0).
fn study_day(date: Date, day1: Date) -> f64 {
    let days = date.days_since(day1);
    (if days >= 0 { days + 1 } else { days }) as f64
}

/// An AE's outcome as known at the cut-off: one that ended after it was
/// still going then.
fn outcome_at(recorded: Option<AeOutcome>, ended_by_cutoff: bool, ended: bool) -> &'static str {
    match recorded {
        None => "",
        Some(o) if ended_by_cutoff || !ended => outcome(o),
        Some(_) => outcome(AeOutcome::NotRecovered),
    }
}

impl AnalysisDataset for Adae<'_> {
    fn name(&self) -> &'static str {
        "ADAE"
    }

    fn label(&self) -> &'static str {
        "Adverse Events Analysis Dataset"
    }

    fn variables(&self) -> &'static [Variable] {
        ADAE
    }

    fn rows(&self, row: &mut dyn FnMut(&[Value])) {
        let Courses {
            data,
            courses,
            adverse_events,
        } = self.0;
        let dict = Dictionary::ctcae_v5();
        let after = data.protocol.analysis.teae_days_after_last_dose;
        let cutoff = data.cutoff;
        let mut values = Vec::with_capacity(ADAE.len());
        for ((p, c), events) in data.patients.iter().zip(courses).zip(adverse_events) {
            // The analysis sees the trial as of its cut-off: an AE that
            // starts later is not in it, and an end known only later is
            // not known yet.
            let known = data.adverse_events[events.clone()]
                .iter()
                .filter(|ae| ae.onset_date <= cutoff);
            for (seq, ae) in known.enumerate() {
                let term = dict.term(ae.term);
                let ended = ae.end_date.filter(|&end| end <= cutoff);
                values.clear();
                values.extend([
                    text(STUDY_ID),
                    text(format!("{STUDY_ID}-{}", p.id)),
                    Value::Num(Some(f64::from(p.cohort.number()))),
                    flag(c.treated),
                    text(if c.treated { TREATMENT } else { "" }),
                    Value::Num(Some((seq + 1) as f64)),
                    text(ae.ae_id.as_str()),
                    text(ae.verbatim.as_deref().unwrap_or(&term.term)),
                    text(term.term.as_str()),
                    text(term.soc.as_str()),
                    text(ae.grade.get().to_string()),
                    Value::Num(Some(f64::from(ae.grade.get()))),
                    flag(ae.serious),
                    text(relatedness(ae.relatedness)),
                    text(outcome_at(
                        ae.outcome,
                        ended.is_some(),
                        ae.end_date.is_some(),
                    )),
                    text(ae.action.map_or("", action)),
                    Value::Date(Some(ae.onset_date)),
                    Value::Date(ended),
                    Value::Num(c.treated.then(|| study_day(ae.onset_date, c.day1))),
                    text(if crate::endpoints::is_teae(ae, c, after, cutoff) {
                        "Y"
                    } else {
                        ""
                    }),
                ]);
                row(&values);
            }
        }
    }
}

/// ADTTE: the rows behind every curve of the report.
pub struct Adtte<'a>(pub &'a Results);

const ADTTE: &[Variable] = &[
    var("STUDYID", "Study Identifier", Kind::Text),
    var("USUBJID", "Unique Subject Identifier", Kind::Text),
    var("COHORT", "Cohort", Kind::Num),
    var("ENDPOINT", "Protocol Endpoint", Kind::Text),
    var("PARAMCD", "Parameter Code", Kind::Text),
    var("PARAM", "Parameter", Kind::Text),
    var("METHOD", "Estimator (KM or CIF)", Kind::Text),
    var("AVAL", "Analysis Value", Kind::Num),
    var("AVALU", "Analysis Value Unit", Kind::Text),
    var(
        "STARTDT",
        "Time-to-Event Origin Date for Subject",
        Kind::Date,
    ),
    var("ADT", "Analysis Date", Kind::Date),
    var(
        "CNSR",
        "Censor: 0 Event, 1 Censored, 2 Competing",
        Kind::Num,
    ),
    var("EVNTDESC", "Event or Censoring Description", Kind::Text),
];

/// The statistics of the report that are curves, with their ADaM code (at
/// most 8 capitals, as PARAMCD goes) and name.
const PARAMETERS: &[(&str, &str, &str)] = &[
    ("os", "OS", "Overall survival"),
    ("rfs", "RFS", "Relapse-free survival"),
    ("efs", "EFS", "Event-free survival"),
    ("ccr", "CCR", "Continuous complete remission"),
    ("cir", "CIR", "Cumulative incidence of relapse"),
    ("cir_after_sct", "CIRSCT", "Incidence of relapse after SCT"),
    ("nrm_after_sct", "NRMSCT", "Non-relapse mortality after SCT"),
    ("os_after_sct", "OSSCT", "Overall survival after SCT"),
    ("molcr_duration", "MOLCRDUR", "Duration of MolCR"),
    ("cmolcr_duration", "CMOLCRDR", "Duration of cMolCR"),
    ("continuous_molcr", "CONMOLCR", "Continuous MolCR"),
    ("continuous_cmolcr", "CONCMOLC", "Continuous cMolCR"),
    ("time_to_molcr", "TTMOLCR", "Time to MolCR"),
    ("time_to_cmolcr", "TTCMOLCR", "Time to cMolCR"),
    ("agvhd_incidence", "AGVHD", "Incidence of acute GvHD"),
    ("cgvhd_incidence", "CGVHD", "Incidence of chronic GvHD"),
];

/// A curve's PARAMCD and PARAM, from the statistic's name in the report.
/// A statistic added later than this table still gets a code of at most 8
/// capitals; a test keeps every curve of a full trial in the table.
pub fn parameter(name: &str) -> (String, String) {
    match PARAMETERS.iter().find(|(n, _, _)| *n == name) {
        Some((_, code, label)) => ((*code).to_owned(), (*label).to_owned()),
        None => (
            name.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect::<String>()
                .to_uppercase(),
            name.replace('_', " "),
        ),
    }
}

impl AnalysisDataset for Adtte<'_> {
    fn name(&self) -> &'static str {
        "ADTTE"
    }

    fn label(&self) -> &'static str {
        "Time-to-Event Analysis Dataset"
    }

    fn variables(&self) -> &'static [Variable] {
        ADTTE
    }

    fn rows(&self, row: &mut dyn FnMut(&[Value])) {
        let results = self.0;
        let codes: Vec<(String, String)> = results
            .parameters
            .iter()
            .map(|p| parameter(&p.name))
            .collect();
        let mut values = Vec::with_capacity(ADTTE.len());
        for t in &results.time_to_event {
            let parameter = &results.parameters[usize::from(t.parameter)];
            let (code, label) = &codes[usize::from(t.parameter)];
            values.clear();
            values.extend([
                text(STUDY_ID),
                text(format!("{STUDY_ID}-{}", results.patient_id(t.patient))),
                Value::Num(Some(f64::from(parameter.cohort))),
                text(parameter.endpoint.code()),
                text(code.as_str()),
                text(label.as_str()),
                text(if parameter.survival { "KM" } else { "CIF" }),
                Value::Num(t.time.is_finite().then_some(t.time)),
                text("DAYS"),
                Value::Date(Some(t.origin)),
                Value::Date(Some(t.date)),
                // 0 for the event, as ADaM codes it; a competing event is
                // neither the event nor a censoring: a value of its own, so
                // that a Kaplan–Meier of CNSR = 0 cannot pass for the
                // incidence.
                Value::Num(Some(match t.status {
                    1 => 0.0,
                    2 => 2.0,
                    _ => 1.0,
                })),
                text(match t.status {
                    1 => "EVENT",
                    2 => "COMPETING EVENT",
                    _ => "CENSORED",
                }),
            ]);
            row(&values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every curve of a full synthetic trial has a code of its own from
    /// the table, valid as a SAS name and PARAMCD.
    #[test]
    fn every_curve_has_a_short_code_of_its_own() {
        let data = crate::simulate::simulate(&crate::simulate::SimulationConfig {
            patients: 400,
            ..Default::default()
        });
        let results = crate::endpoints::compute(&data);
        let mut codes = std::collections::BTreeMap::new();
        for p in &results.parameters {
            assert!(
                PARAMETERS.iter().any(|(n, _, _)| *n == p.name),
                "{} has no code",
                p.name
            );
            let (code, _) = parameter(&p.name);
            assert!(code.len() <= 8 && code.chars().all(|c| c.is_ascii_uppercase()));
            if let Some(other) = codes.insert(code.clone(), p.name.clone()) {
                assert_eq!(other, p.name, "{code} names two statistics");
            }
        }
        assert!(codes.len() >= 10, "{codes:?}");
        for v in ADSL.iter().chain(ADAE).chain(ADTTE) {
            assert!(v.name.len() <= 8 && v.label.len() <= 40, "{}", v.name);
        }
    }
}
