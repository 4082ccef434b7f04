//! What the endpoint engine produces: headline statistics (the records of
//! `endpoints.json`, DATA-FORMAT.md §2), tables, curves for plots and the
//! patients' courses. Every statistic names its endpoint, cohort, analysis
//! set and the patients it counted, so a number in a report can be traced.

use serde::Serialize;

use crate::date::Date;
use crate::records::PatientIx;

/// The outcome measures of PROTOCOL.md §4, plus the descriptive parts of
/// the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[allow(missing_docs)]
pub enum Endpoint {
    E01,
    E02,
    E03,
    E04,
    E05,
    E06,
    E07,
    E08,
    E09,
    E10,
    E11,
    E12,
    E13,
    E14,
    E15,
    E16,
    E17,
    /// Disposition, baseline characteristics and follow-up.
    #[serde(rename = "disposition")]
    Disposition,
}

impl Endpoint {
    /// The record's wording of the endpoint.
    pub fn title(self) -> &'static str {
        match self {
            Endpoint::E01 => "ORR (CR + CRi) after 2 cycles of induction",
            Endpoint::E02 => "Incidence and severity of adverse events (CTCAE 5.0)",
            Endpoint::E03 => "MolCR after one cycle of isatuximab",
            Endpoint::E04 => "CR/CRi, MolCR and cMolCR after 1 or 2 induction cycles",
            Endpoint::E05 => "Continuous complete remission at 18 months",
            Endpoint::E06 => "Overall survival at 18 months",
            Endpoint::E07 => "Relapse-free survival at 18 months",
            Endpoint::E08 => "Event-free survival at 18 months",
            Endpoint::E09 => "Incidence of relapses and relapse localisations",
            Endpoint::E10 => "Incidence of GvHD in patients with prior SCT",
            Endpoint::E11 => "Duration of molecular remission",
            Endpoint::E12 => "Treatment realization for isatuximab",
            Endpoint::E13 => "Probability of continuous MolCR and cMolCR",
            Endpoint::E14 => "Time to MolCR and cMolCR",
            Endpoint::E15 => "Conduct of SCT in patients with CR, MolCR, cMolCR",
            Endpoint::E16 => "Quality of life, EORTC QLQ-C30",
            Endpoint::E17 => "Hospitalisation days",
            Endpoint::Disposition => "Disposition, baseline and follow-up",
        }
    }

    /// `E01` … `E17`, or `disposition`.
    pub fn code(self) -> &'static str {
        match self {
            Endpoint::E01 => "E01",
            Endpoint::E02 => "E02",
            Endpoint::E03 => "E03",
            Endpoint::E04 => "E04",
            Endpoint::E05 => "E05",
            Endpoint::E06 => "E06",
            Endpoint::E07 => "E07",
            Endpoint::E08 => "E08",
            Endpoint::E09 => "E09",
            Endpoint::E10 => "E10",
            Endpoint::E11 => "E11",
            Endpoint::E12 => "E12",
            Endpoint::E13 => "E13",
            Endpoint::E14 => "E14",
            Endpoint::E15 => "E15",
            Endpoint::E16 => "E16",
            Endpoint::E17 => "E17",
            Endpoint::Disposition => "disposition",
        }
    }
}

/// Which patients an analysis draws from (PROTOCOL.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisSet {
    /// Every registered patient.
    Registered,
    /// Registered and dosed.
    Fas,
    /// Same membership as the FAS, for safety tables.
    Safety,
    /// A subset of the FAS defined by the endpoint (e.g. patients in CR for E05).
    FasSubset,
}

/// The value of a statistic, tagged by `kind` as in `endpoints.json`.
/// `NaN` serializes as `null`: an unknown number is never made up.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Value {
    /// n/N with a Clopper–Pearson interval.
    Proportion {
        /// Responders (or patients with the event).
        n: u64,
        /// Denominator.
        total: u64,
        /// n / N.
        estimate: f64,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// Kaplan–Meier estimate at a time.
    KmAt {
        /// Days from origin.
        time: f64,
        /// S(t).
        estimate: f64,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
        /// Patients at risk at t.
        at_risk: u64,
        /// Events up to t.
        events: u64,
        /// Patients in the analysis.
        total: u64,
    },
    /// Cumulative incidence at a time.
    CifAt {
        /// Days from origin.
        time: f64,
        /// F(t).
        estimate: f64,
        /// Lower bound (log(−log) scale).
        lower: f64,
        /// Upper bound.
        upper: f64,
        /// Patients in the analysis.
        total: u64,
    },
    /// A median with its interval (null bounds where R prints NA).
    Median {
        /// Median.
        estimate: f64,
        /// Lower bound.
        lower: f64,
        /// Upper bound.
        upper: f64,
    },
    /// A mean over n patients.
    Mean {
        /// Mean.
        estimate: f64,
        /// Patients with a value.
        n: u64,
    },
    /// A count of patients or events.
    Count {
        /// The count.
        n: u64,
    },
}

/// One headline statistic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statistic {
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Cohort 1 or 2.
    pub cohort: u8,
    /// Name from DATA-FORMAT.md §2.
    pub name: String,
    /// The value and its kind.
    #[serde(flatten)]
    pub value: Value,
    /// Cumulative window (`d22`, `w9`, `m3`, `m6`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<&'static str>,
    /// Questionnaire timepoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timepoint: Option<&'static str>,
    /// One-sided exact p-value against the protocol's null rate (E01).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// The analysis set the statistic draws from.
    pub analysis_set: AnalysisSet,
    /// The patients counted: responders for a proportion, the analysed
    /// patients otherwise.
    /// (Shared between the statistics of one analysis: a million-patient
    /// trial would otherwise copy its FAS into every statistic.)
    #[serde(skip)]
    pub patients: std::sync::Arc<[PatientIx]>,
}

/// A table of the report, also written as CSV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Endpoint it belongs to.
    pub endpoint: Endpoint,
    /// File-name-safe identifier, e.g. `e02_soc_term_cohort1`.
    pub id: String,
    /// Caption.
    pub title: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows of cells, already formatted.
    pub rows: Vec<Vec<String>>,
}

/// A step curve to plot: Kaplan–Meier survival or a cumulative incidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Cohort.
    pub cohort: u8,
    /// Statistic name (`os`, `cir`, …) or a group label.
    pub name: String,
    /// True for survival (starts at 1), false for incidence (starts at 0).
    pub survival: bool,
    /// Step times.
    pub time: Vec<f64>,
    /// Estimate after each step.
    pub estimate: Vec<f64>,
    /// Lower bound after each step.
    pub lower: Vec<f64>,
    /// Upper bound after each step.
    pub upper: Vec<f64>,
    /// Times of censoring marks.
    pub censored: Vec<f64>,
    /// Number at risk at each of `risk_times`.
    pub at_risk: Vec<u64>,
    /// Times of the number-at-risk row.
    pub risk_times: Vec<f64>,
}

/// One row of a time-to-event analysis dataset (CDISC ADTTE's shape: one
/// row per patient per parameter), kept so every curve can be re-computed
/// elsewhere — by R in our tests, by a sponsor's statistician in theirs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeToEvent {
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Cohort.
    pub cohort: u8,
    /// Index into [`Results::parameters`]: the statistic name (`os`, `cir`, …).
    pub parameter: u16,
    /// The patient.
    #[serde(skip)]
    pub patient: PatientIx,
    /// Days from origin.
    pub time: f64,
    /// 0 censored, 1 event, 2 competing event.
    pub status: u8,
    /// Analysed by Kaplan–Meier (true) or as a cumulative incidence.
    pub survival: bool,
}

/// One patient's course for the swimmer plot, in days from registration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Swimmer {
    /// Patient id.
    pub patient: String,
    /// Cohort.
    pub cohort: u8,
    /// Days of follow-up.
    pub follow_up: i64,
    /// Died at the end of follow-up.
    pub died: bool,
    /// Day of the first CR/CRi.
    pub remission: Option<i64>,
    /// Day of the first MolCR.
    pub molcr: Option<i64>,
    /// Day of hematologic relapse.
    pub relapse: Option<i64>,
    /// Day of SCT.
    pub sct: Option<i64>,
    /// Days on isatuximab (first to last dose).
    pub treatment: Option<(i64, i64)>,
}

/// Everything the engine computed for one dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results {
    /// Data cut-off.
    pub cutoff: Date,
    /// Protocol name.
    pub protocol_name: String,
    /// Protocol version.
    pub protocol_version: String,
    /// Headline statistics.
    pub statistics: Vec<Statistic>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Curves.
    pub curves: Vec<Curve>,
    /// Swimmer plot rows.
    pub swimmers: Vec<Swimmer>,
    /// Every time-to-event observation behind the curves.
    pub time_to_event: Vec<TimeToEvent>,
    /// Names of the time-to-event parameters, indexed by
    /// [`TimeToEvent::parameter`].
    pub parameters: Vec<String>,
    /// Patient ids, indexed by `PatientIx`, to name the patients counted.
    pub patient_ids: Vec<String>,
}
