//! The columns of each bundle file (DATA-FORMAT.md §1), in documented order;
//! `true` marks a column that must be filled in every row.

use super::cells::FileSpec;

/// `patients.csv`.
pub const PATIENTS: FileSpec = FileSpec {
    name: "patients.csv",
    columns: &[
        ("patient_id", true),
        ("site_id", true),
        ("cohort", true),
        ("registration_date", true),
        ("age", true),
        ("sex", true),
        ("cd38_positive", true),
        ("immunophenotype", true),
        ("disease_status", true),
        ("prior_cycles", true),
        ("first_cr_date", false),
        ("prior_sct_date", false),
        ("last_chemo_date", false),
        ("screening_bm_blasts_pct", false),
        ("screening_mrd_level", false),
        ("screening_mrd_sensitivity", false),
    ],
};

/// `doses.csv`.
pub const DOSES: FileSpec = FileSpec {
    name: "doses.csv",
    columns: &[
        ("patient_id", true),
        ("cycle", true),
        ("day", true),
        ("date", true),
        ("planned_mg_per_kg", true),
        ("given_mg_per_kg", true),
        ("status", true),
        ("reason", false),
    ],
};

/// `assessments.csv`.
pub const ASSESSMENTS: FileSpec = FileSpec {
    name: "assessments.csv",
    columns: &[
        ("patient_id", true),
        ("date", true),
        ("timepoint", true),
        ("bm_blasts_pct", false),
        ("pb_blasts", false),
        ("anc", false),
        ("platelets", false),
        ("emd", false),
        ("investigator_response", false),
    ],
};

/// `mrd.csv`.
pub const MRD: FileSpec = FileSpec {
    name: "mrd.csv",
    columns: &[
        ("patient_id", true),
        ("date", true),
        ("timepoint", true),
        ("sample", true),
        ("result", false),
        ("level", false),
        ("sensitivity", false),
        ("lab", false),
    ],
};

/// `adverse_events.csv`.
pub const ADVERSE_EVENTS: FileSpec = FileSpec {
    name: "adverse_events.csv",
    columns: &[
        ("patient_id", true),
        ("ae_id", true),
        ("term", true),
        ("verbatim", false),
        ("grade", true),
        ("onset_date", true),
        ("end_date", false),
        ("serious", true),
        ("relatedness", true),
        ("outcome", false),
        ("action", false),
    ],
};

/// `sct.csv`.
pub const SCT: FileSpec = FileSpec {
    name: "sct.csv",
    columns: &[
        ("patient_id", true),
        ("date", true),
        ("type", true),
        ("donor", false),
        ("conditioning", false),
        ("source", false),
    ],
};

/// `gvhd.csv`.
pub const GVHD: FileSpec = FileSpec {
    name: "gvhd.csv",
    columns: &[
        ("patient_id", true),
        ("onset_date", true),
        ("kind", true),
        ("grade", true),
    ],
};

/// `relapses.csv`.
pub const RELAPSES: FileSpec = FileSpec {
    name: "relapses.csv",
    columns: &[
        ("patient_id", true),
        ("date", true),
        ("kind", true),
        ("sites", false),
    ],
};

/// The item columns of `qlq_c30.csv`.
pub const QLQ_ITEM_COLUMNS: [&str; 30] = [
    "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "q14", "q15",
    "q16", "q17", "q18", "q19", "q20", "q21", "q22", "q23", "q24", "q25", "q26", "q27", "q28",
    "q29", "q30",
];

/// `qlq_c30.csv`.
pub const QLQ_C30: FileSpec = FileSpec {
    name: "qlq_c30.csv",
    columns: &[
        ("patient_id", true),
        ("date", true),
        ("timepoint", true),
        ("q1", false),
        ("q2", false),
        ("q3", false),
        ("q4", false),
        ("q5", false),
        ("q6", false),
        ("q7", false),
        ("q8", false),
        ("q9", false),
        ("q10", false),
        ("q11", false),
        ("q12", false),
        ("q13", false),
        ("q14", false),
        ("q15", false),
        ("q16", false),
        ("q17", false),
        ("q18", false),
        ("q19", false),
        ("q20", false),
        ("q21", false),
        ("q22", false),
        ("q23", false),
        ("q24", false),
        ("q25", false),
        ("q26", false),
        ("q27", false),
        ("q28", false),
        ("q29", false),
        ("q30", false),
    ],
};

/// `hospital_stays.csv`.
pub const HOSPITAL_STAYS: FileSpec = FileSpec {
    name: "hospital_stays.csv",
    columns: &[
        ("patient_id", true),
        ("admission_date", true),
        ("discharge_date", false),
        ("reason", false),
    ],
};

/// `status.csv`.
pub const STATUS: FileSpec = FileSpec {
    name: "status.csv",
    columns: &[
        ("patient_id", true),
        ("last_contact_date", true),
        ("vital_status", true),
        ("death_date", false),
        ("death_cause", false),
        ("end_of_treatment_date", false),
        ("end_of_treatment_reason", false),
        ("other_therapy_date", false),
    ],
};

/// Every table, patients first (the others refer to them).
pub const TABLES: [&FileSpec; 11] = [
    &PATIENTS,
    &STATUS,
    &DOSES,
    &ASSESSMENTS,
    &MRD,
    &ADVERSE_EVENTS,
    &SCT,
    &GVHD,
    &RELAPSES,
    &QLQ_C30,
    &HOSPITAL_STAYS,
];
