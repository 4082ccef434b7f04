//! What each bundle column holds, so that a case report form can offer the
//! right input (a list for a closed vocabulary, a date, yes/no) and say
//! what it expects before the edit checks have to refuse it. The bundle's
//! reader stays the judge of every value; this only describes.

use super::cells::FileSpec;
use crate::vocab::{
    AeAction, AeOutcome, AssessmentTimepoint, Cohort, Conditioning, DeathCause, DiseaseStatus,
    Donor, DoseStatus, GraftSource, GvhdGrade, GvhdKind, HemResponse, Immunophenotype, Lab,
    MrdCall, QlqTimepoint, RelapseKind, RelapseSite, Relatedness, Sample, SctType, Sex,
    VitalStatus,
};

/// The kind of value a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One value of a closed list, spelled as the bundle spells it.
    Choice(&'static [&'static str]),
    /// `true` or `false`.
    Boolean,
    /// A whole number.
    Count,
    /// A number, decimals allowed.
    Number,
    /// A CTCAE 5.0 term.
    CtcaeTerm,
    /// A `;`-separated list of values of a closed list.
    ChoiceList(&'static [&'static str]),
    /// Free text.
    Text,
}

/// CTCAE grades.
const AE_GRADES: &[&str] = &["1", "2", "3", "4", "5"];

/// Answers of the QLQ-C30 items 1–28 (not at all … very much).
const QLQ_FOUR_POINT: &[&str] = &["1", "2", "3", "4"];

/// Answers of the QLQ-C30 items 29–30 (very poor … excellent).
const QLQ_SEVEN_POINT: &[&str] = &["1", "2", "3", "4", "5", "6", "7"];

/// The kind of `column` of `spec`; free text for a column it does not know.
pub fn column_kind(spec: &FileSpec, column: &str) -> ColumnKind {
    use ColumnKind::*;
    if column.ends_with("_date") || column == "date" {
        return Date;
    }
    match (spec.name, column) {
        (_, "patient_id" | "site_id" | "ae_id" | "verbatim" | "reason" | "cycle") => Text,
        ("patients.csv", "cohort") => Choice(Cohort::VALUES),
        ("patients.csv", "sex") => Choice(Sex::VALUES),
        ("patients.csv", "immunophenotype") => Choice(Immunophenotype::VALUES),
        ("patients.csv", "disease_status") => Choice(DiseaseStatus::VALUES),
        ("patients.csv", "cd38_positive") => Boolean,
        ("patients.csv", "age" | "prior_cycles") => Count,
        ("patients.csv", _) => Number,
        ("doses.csv", "day") => Count,
        ("doses.csv", "status") => Choice(DoseStatus::VALUES),
        ("doses.csv", _) => Number,
        ("assessments.csv" | "mrd.csv", "timepoint") => Choice(AssessmentTimepoint::VALUES),
        ("assessments.csv", "pb_blasts" | "emd") => Boolean,
        ("assessments.csv", "investigator_response") => Choice(HemResponse::VALUES),
        ("assessments.csv", _) => Number,
        ("mrd.csv", "sample") => Choice(Sample::VALUES),
        ("mrd.csv", "result") => Choice(MrdCall::VALUES),
        ("mrd.csv", "lab") => Choice(Lab::VALUES),
        ("mrd.csv", _) => Number,
        ("adverse_events.csv", "term") => CtcaeTerm,
        ("adverse_events.csv", "grade") => Choice(AE_GRADES),
        ("adverse_events.csv", "serious") => Boolean,
        ("adverse_events.csv", "relatedness") => Choice(Relatedness::VALUES),
        ("adverse_events.csv", "outcome") => Choice(AeOutcome::VALUES),
        ("adverse_events.csv", "action") => Choice(AeAction::VALUES),
        ("sct.csv", "type") => Choice(SctType::VALUES),
        ("sct.csv", "donor") => Choice(Donor::VALUES),
        ("sct.csv", "conditioning") => Choice(Conditioning::VALUES),
        ("sct.csv", "source") => Choice(GraftSource::VALUES),
        ("gvhd.csv", "kind") => Choice(GvhdKind::VALUES),
        ("gvhd.csv", "grade") => Choice(GvhdGrade::VALUES),
        ("relapses.csv", "kind") => Choice(RelapseKind::VALUES),
        ("relapses.csv", "sites") => ChoiceList(RelapseSite::VALUES),
        ("qlq_c30.csv", "timepoint") => Choice(QlqTimepoint::VALUES),
        ("qlq_c30.csv", "q29" | "q30") => Choice(QLQ_SEVEN_POINT),
        ("qlq_c30.csv", q) if q.starts_with('q') => Choice(QLQ_FOUR_POINT),
        ("status.csv", "vital_status") => Choice(VitalStatus::VALUES),
        ("status.csv", "death_cause") => Choice(DeathCause::VALUES),
        _ => Text,
    }
}
