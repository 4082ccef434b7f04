//! The recorded facts of the trial, one struct per bundle file
//! (DATA-FORMAT.md §1). Every field is a domain type; records refer to their
//! patient by [`PatientIx`], an index into the dataset's patient list, so a
//! record of an unknown patient cannot be built.

use std::num::NonZeroU8;

use crate::ctcae::TermId;
use crate::date::Date;
use crate::values::{Age, Amount, Count, Cycle, Fraction, Grade, Id, Percent, Text};
use crate::vocab::*;

/// Position of a patient in [`crate::Dataset::patients`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PatientIx(pub u32);

impl PatientIx {
    /// As an index into a slice.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// A registered patient (`patients.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    /// Trial-wide patient id.
    pub id: Id,
    /// Site that registered the patient.
    pub site: Id,
    /// Cohort 1 or 2.
    pub cohort: Cohort,
    /// Date of registration: the origin of OS and EFS.
    pub registration_date: Date,
    /// Age at registration.
    pub age: Age,
    /// Sex.
    pub sex: Sex,
    /// CD38 positivity of the blasts (required for eligibility).
    pub cd38_positive: bool,
    /// Immunophenotypic subtype.
    pub immunophenotype: Immunophenotype,
    /// Disease status at registration.
    pub disease_status: DiseaseStatus,
    /// Chemotherapy cycles before registration.
    pub prior_cycles: Count,
    /// Date of the first CR, if ever in CR.
    pub first_cr_date: Option<Date>,
    /// Date of an SCT before registration.
    pub prior_sct_date: Option<Date>,
    /// Date of the last systemic chemotherapy before registration.
    pub last_chemo_date: Option<Date>,
    /// Bone-marrow blasts at screening: the reference for PR.
    pub screening_bm_blasts_pct: Option<Percent>,
    /// MRD level at screening.
    pub screening_mrd_level: Option<Fraction>,
    /// Sensitivity of the screening MRD assay.
    pub screening_mrd_sensitivity: Option<Fraction>,
}

/// One planned isatuximab infusion (`doses.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dose {
    /// Whose dose.
    pub patient: PatientIx,
    /// Cycle of the dose.
    pub cycle: Cycle,
    /// Day within the cycle (1-based).
    pub day: u16,
    /// Date given (or planned, when omitted).
    pub date: Date,
    /// Planned dose.
    pub planned_mg_per_kg: Amount,
    /// Dose given; 0 when omitted.
    pub given_mg_per_kg: Amount,
    /// How the infusion went.
    pub status: DoseStatus,
    /// Why it was not as scheduled.
    pub reason: Option<Text>,
}

impl Dose {
    /// Whether isatuximab actually reached the patient.
    pub fn was_given(&self) -> bool {
        self.status != DoseStatus::Omitted && self.given_mg_per_kg.get() > 0.0
    }
}

/// A hematologic assessment (`assessments.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Whose assessment.
    pub patient: PatientIx,
    /// Date of the bone-marrow and blood samples.
    pub date: Date,
    /// Timepoint it serves.
    pub timepoint: AssessmentTimepoint,
    /// Bone-marrow blasts.
    pub bm_blasts_pct: Option<Percent>,
    /// Blasts in peripheral blood.
    pub pb_blasts: Option<bool>,
    /// Absolute neutrophil count, 10^9/L.
    pub anc: Option<Amount>,
    /// Platelets, 10^9/L.
    pub platelets: Option<Amount>,
    /// Extramedullary disease.
    pub emd: Option<bool>,
    /// The investigator's call; endpoints use the derived one.
    pub investigator_response: Option<HemResponse>,
}

/// One MRD result: the final call of one sample over its markers (`mrd.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct MrdResult {
    /// Whose sample.
    pub patient: PatientIx,
    /// Sampling date.
    pub date: Date,
    /// Timepoint it serves.
    pub timepoint: AssessmentTimepoint,
    /// Bone marrow or peripheral blood.
    pub sample: Sample,
    /// The call; missing when the sample failed.
    pub result: Option<MrdCall>,
    /// Quantified level, for `positive` only.
    pub level: Option<Fraction>,
    /// Sensitivity reached by the assay.
    pub sensitivity: Option<Fraction>,
    /// Laboratory.
    pub lab: Option<Lab>,
}

/// An adverse event (`adverse_events.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct AdverseEvent {
    /// Whose event.
    pub patient: PatientIx,
    /// Id of the event, unique in the trial.
    pub ae_id: Id,
    /// CTCAE 5.0 term.
    pub term: TermId,
    /// Verbatim description (required for "Other, specify").
    pub verbatim: Option<Text>,
    /// Worst CTCAE grade of the event.
    pub grade: Grade,
    /// Onset.
    pub onset_date: Date,
    /// End, if ended.
    pub end_date: Option<Date>,
    /// Serious adverse event.
    pub serious: bool,
    /// Relatedness to isatuximab.
    pub relatedness: Relatedness,
    /// Outcome.
    pub outcome: Option<AeOutcome>,
    /// Action taken with isatuximab.
    pub action: Option<AeAction>,
}

/// A stem cell transplant after registration (`sct.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sct {
    /// Who was transplanted.
    pub patient: PatientIx,
    /// Date of the transplant.
    pub date: Date,
    /// Allogeneic or autologous.
    pub sct_type: SctType,
    /// Donor.
    pub donor: Option<Donor>,
    /// Conditioning intensity.
    pub conditioning: Option<Conditioning>,
    /// Graft source.
    pub source: Option<GraftSource>,
}

/// A GvHD episode (`gvhd.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gvhd {
    /// Whose episode.
    pub patient: PatientIx,
    /// Onset.
    pub onset_date: Date,
    /// Acute or chronic.
    pub kind: GvhdKind,
    /// Grade on the kind's scale.
    pub grade: GvhdGrade,
}

/// A relapse (`relapses.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Relapse {
    /// Who relapsed.
    pub patient: PatientIx,
    /// Date of diagnosis.
    pub date: Date,
    /// Hematologic or molecular.
    pub kind: RelapseKind,
    /// Sites of a hematologic relapse (empty for molecular).
    pub sites: Vec<RelapseSite>,
}

/// The number of QLQ-C30 items.
pub const QLQ_ITEMS: usize = 30;

/// One EORTC QLQ-C30 questionnaire (`qlq_c30.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct QlqC30 {
    /// Whose questionnaire.
    pub patient: PatientIx,
    /// Date filled in.
    pub date: Date,
    /// Timepoint.
    pub timepoint: QlqTimepoint,
    /// Answers to items 1–30 (index 0 is item 1); `None` when unanswered.
    /// Answers start at 1, so an unanswered item costs no extra byte.
    pub items: [Option<NonZeroU8>; QLQ_ITEMS],
}

/// An inpatient stay (`hospital_stays.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct HospitalStay {
    /// Whose stay.
    pub patient: PatientIx,
    /// Admission date.
    pub admission_date: Date,
    /// Discharge date; `None` while still admitted.
    pub discharge_date: Option<Date>,
    /// Why admitted.
    pub reason: Option<Text>,
}

/// A patient's follow-up status (`status.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Whose status.
    pub patient: PatientIx,
    /// Last date known alive (or the death date).
    pub last_contact_date: Date,
    /// Alive or dead.
    pub vital_status: VitalStatus,
    /// Death date.
    pub death_date: Option<Date>,
    /// Cause of death.
    pub death_cause: Option<DeathCause>,
    /// End of isatuximab treatment.
    pub end_of_treatment_date: Option<Date>,
    /// Why treatment ended.
    pub end_of_treatment_reason: Option<Text>,
    /// Start of other anti-leukemic therapy.
    pub other_therapy_date: Option<Date>,
}
