//! What the endpoint engine produces: headline statistics (the records of
//! `endpoints.json`, DATA-FORMAT.md §2), tables, curves for plots and the
//! patients' courses. Every statistic names its endpoint, cohort, analysis
//! set and the patients it counted, so a number in a report can be traced.

use std::sync::Arc;

use roaring::RoaringBitmap;
use serde::Serialize;

use crate::date::Date;
use crate::records::PatientIx;
use crate::values::Id;

/// The patients a statistic counted, as a compressed set (a roaring bitmap:
/// two bytes a patient in a sparse set, one bit in a dense one) shared
/// between the statistics of one analysis. As a list of indices the sets of
/// a million-patient trial took 200 bytes a patient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientSet(Arc<RoaringBitmap>);

impl PatientSet {
    /// Number of patients.
    pub fn len(&self) -> usize {
        self.0.len() as usize
    }

    /// Whether nobody was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `p` was counted.
    pub fn contains(&self, p: PatientIx) -> bool {
        self.0.contains(p.0)
    }

    /// The patients in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = PatientIx> + '_ {
        self.0.iter().map(PatientIx)
    }
}

impl FromIterator<PatientIx> for PatientSet {
    fn from_iter<I: IntoIterator<Item = PatientIx>>(iter: I) -> Self {
        PatientSet(Arc::new(iter.into_iter().map(|p| p.0).collect()))
    }
}

impl From<Vec<PatientIx>> for PatientSet {
    fn from(patients: Vec<PatientIx>) -> Self {
        patients.into_iter().collect()
    }
}

impl From<&[PatientIx]> for PatientSet {
    fn from(patients: &[PatientIx]) -> Self {
        patients.iter().copied().collect()
    }
}

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
    #[serde(skip)]
    pub patients: PatientSet,
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
/// What is the same for every row of a curve lives in its [`Parameter`]:
/// there are ten million rows at a million patients, at 24 bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeToEvent {
    /// Index into [`Results::parameters`].
    pub parameter: u16,
    /// 0 censored, 1 event, 2 competing event.
    pub status: u8,
    /// The patient.
    pub patient: PatientIx,
    /// Days from origin.
    pub time: f64,
    /// The endpoint's time zero (ADTTE's STARTDT).
    pub origin: Date,
    /// The date of the event or censoring (ADTTE's ADT); before `origin`
    /// only when the time was counted as 0.
    pub date: Date,
}

/// One analysed curve: the statistic named `name` of `endpoint` in `cohort`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameter {
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Cohort.
    pub cohort: u8,
    /// The statistic name (`os`, `cir`, …).
    pub name: String,
    /// Kaplan–Meier (true) or cumulative incidence (false).
    pub survival: bool,
}

/// One patient's course for the swimmer plot, in days from registration.
/// Days fit an `i32` (the calendar of a trial spans decades, not millions
/// of years), which keeps a row at 56 bytes: there is one per patient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Swimmer {
    /// The patient (named by [`Results::patient_ids`]).
    pub patient: PatientIx,
    /// Cohort.
    pub cohort: u8,
    /// Died at the end of follow-up.
    pub died: bool,
    /// Days of follow-up.
    pub follow_up: i32,
    /// Day of the first CR/CRi.
    pub remission: Option<i32>,
    /// Day of the first MolCR.
    pub molcr: Option<i32>,
    /// Day of hematologic relapse.
    pub relapse: Option<i32>,
    /// Day of SCT.
    pub sct: Option<i32>,
    /// Days on isatuximab (first to last dose).
    pub treatment: Option<(i32, i32)>,
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
    /// The time-to-event parameters, indexed by [`TimeToEvent::parameter`].
    pub parameters: Vec<Parameter>,
    /// Patient ids, indexed by `PatientIx`, to name the patients counted.
    pub patient_ids: Vec<Id>,
}

impl Results {
    /// The id of patient `p`.
    pub fn patient_id(&self, p: PatientIx) -> &str {
        self.patient_ids.get(p.get()).map_or("NA", Id::as_str)
    }
}
