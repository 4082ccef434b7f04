//! The analysis datasets in CDISC ADaM's shape, for statisticians who
//! re-run or extend the analysis in SAS or R: ADSL (one row per patient),
//! ADAE (one row per adverse event) and ADTTE (one row per patient per
//! time-to-event parameter, the rows behind every curve of the report).
//! Variable names and meanings follow the ADaM implementation guide; dates
//! are calendar dates, which the writers turn into SAS dates or ISO text.
//!
//! A dataset is read row by row into one reused buffer rather than held:
//! at a million patients ADSL alone would be twenty million values.

use crate::Date;
use crate::ctcae::Dictionary;
use crate::dataset::Dataset;
use crate::derive::Course;
use crate::results::Results;
use crate::vocab::Cohort;

/// The trial's identifier in every dataset (`STUDYID`).
pub const STUDY_ID: &str = "ISA-T-ALL";

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
    /// ADaM name: at most 8 characters.
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
}

impl<'a> Courses<'a> {
    /// Derives every patient's course of `data`.
    pub fn derive(data: &'a Dataset) -> Courses<'a> {
        let courses = data
            .casebooks()
            .iter()
            .map(|c| Course::derive(&c, &data.protocol, data.cutoff))
            .collect();
        Courses { data, courses }
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
        let Courses { data, courses } = self.0;
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
                text(p.sex.as_str()),
                Value::Num(Some(f64::from(p.cohort.number()))),
                text(armcd),
                text(arm),
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

/// ADAE: one row per adverse event, with its CTCAE coding, study day and
/// treatment-emergence flag (PROTOCOL.md §5, E02).
pub struct Adae<'a>(&'a Courses<'a>);

const ADAE: &[Variable] = &[
    var("STUDYID", "Study Identifier", Kind::Text),
    var("USUBJID", "Unique Subject Identifier", Kind::Text),
    var("COHORT", "Cohort", Kind::Num),
    var("AESEQ", "Sequence Number", Kind::Num),
    var("AESPID", "Sponsor-Defined Identifier", Kind::Text),
    var("AETERM", "Reported Term for the Adverse Event", Kind::Text),
    var("AEDECOD", "Dictionary-Derived Term", Kind::Text),
    var("AEBODSYS", "Body System or Organ Class", Kind::Text),
    var("AETOXGR", "Standard Toxicity Grade", Kind::Num),
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
        let Courses { data, courses } = self.0;
        let dict = Dictionary::ctcae_v5();
        let after = data.protocol.analysis.teae_days_after_last_dose;
        let books = data.casebooks();
        let mut values = Vec::with_capacity(ADAE.len());
        for (book, c) in books.iter().zip(courses) {
            let p = book.patient;
            for (seq, ae) in book.adverse_events.iter().enumerate() {
                let term = dict.term(ae.term);
                values.clear();
                values.extend([
                    text(STUDY_ID),
                    text(format!("{STUDY_ID}-{}", p.id)),
                    Value::Num(Some(f64::from(p.cohort.number()))),
                    Value::Num(Some((seq + 1) as f64)),
                    text(ae.ae_id.as_str()),
                    text(ae.verbatim.as_deref().unwrap_or(&term.term)),
                    text(term.term.as_str()),
                    text(term.soc.as_str()),
                    Value::Num(Some(f64::from(ae.grade.get()))),
                    flag(ae.serious),
                    text(ae.relatedness.as_str()),
                    text(ae.outcome.map_or("", |o| o.as_str())),
                    text(ae.action.map_or("", |a| a.as_str())),
                    Value::Date(Some(ae.onset_date)),
                    Value::Date(ae.end_date),
                    Value::Num(c.treated.then(|| study_day(ae.onset_date, c.day1))),
                    text(if crate::endpoints::is_teae(ae, c, after, data.cutoff) {
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
    var("METHOD", "Estimator (KM or CIF)", Kind::Text),
    var("AVAL", "Analysis Value (Days)", Kind::Num),
    var("CNSR", "Censor (0 Event, 1 Censored)", Kind::Num),
    var(
        "EVNTTYPE",
        "0 Censored, 1 Event, 2 Competing Event",
        Kind::Num,
    ),
];

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
        let mut values = Vec::with_capacity(ADTTE.len());
        for t in &results.time_to_event {
            let parameter = &results.parameters[usize::from(t.parameter)];
            values.clear();
            values.extend([
                text(STUDY_ID),
                text(format!("{STUDY_ID}-{}", results.patient_id(t.patient))),
                Value::Num(Some(f64::from(parameter.cohort))),
                text(parameter.endpoint.code()),
                text(parameter.name.to_uppercase()),
                text(if parameter.survival { "KM" } else { "CIF" }),
                Value::Num(t.time.is_finite().then_some(t.time)),
                Value::Num(Some(if t.status == 1 { 0.0 } else { 1.0 })),
                Value::Num(Some(f64::from(t.status))),
            ]);
            row(&values);
        }
    }
}
