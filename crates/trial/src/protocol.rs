//! The protocol file: every threshold, window, schedule and choice that
//! PROTOCOL.md marks as a parameter, read from TOML and validated so that a
//! bad value is named by its key and its rule before any analysis runs.

use serde::{Deserialize, Serialize};

/// The protocol shipped with isatrial: PROTOCOL.md's defaults.
pub const DEFAULT_TOML: &str = include_str!("../protocol.toml");

/// A refused protocol file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// Not TOML, a missing or unknown key, or a value of the wrong type.
    #[error("protocol file: {0}")]
    Syntax(String),
    /// A value outside its rule.
    #[error("protocol key `{key}`: {rule}, got {got}")]
    Value {
        /// Dotted key, e.g. `molecular.level_threshold`.
        key: &'static str,
        /// The rule it breaks.
        rule: &'static str,
        /// The value found.
        got: String,
    },
}

/// All parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// Protocol name, reported in `endpoints.json`.
    pub name: String,
    /// Protocol version, reported in `endpoints.json`.
    pub version: String,
    /// Hematologic response thresholds.
    pub response: ResponseRules,
    /// Molecular response thresholds.
    pub molecular: MolecularRules,
    /// Assessment timepoints and visit windows.
    pub timepoints: Timepoints,
    /// Analysis choices.
    pub analysis: Analysis,
    /// Isatuximab schedule.
    pub schedule: Schedule,
    /// Eligibility thresholds checked at import.
    pub eligibility: Eligibility,
}

/// PROTOCOL.md §3, hematologic response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ResponseRules {
    pub cr_max_bm_blasts_pct: f64,
    pub cr_min_anc: f64,
    pub cr_min_platelets: f64,
    pub pr_max_bm_blasts_pct: f64,
    pub pr_min_fall: f64,
}

/// PROTOCOL.md §3, molecular response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MolecularRules {
    /// MolCR below, MolFail at or above.
    pub level_threshold: f64,
    /// Negative and positive_nq results count only at this sensitivity or better.
    pub required_sensitivity: f64,
}

/// Day numbers on which timepoints end, and visit window half-widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Timepoints {
    pub d22_day: i64,
    pub w9_day: i64,
    pub m3_day: i64,
    pub m6_day: i64,
    pub d22_window: i64,
    pub w9_window: i64,
    pub m3_window: i64,
    pub m6_window: i64,
}

/// What E05 does with a death in CR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CcrDeath {
    /// Censored at death (the default).
    Censor,
    /// Counted as an event.
    Event,
}

/// Analysis choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analysis {
    /// Days per month (30.4375).
    pub month_days: f64,
    /// The landmark of "at 18 months".
    pub landmark_months: f64,
    /// E05 handling of death in CR.
    pub ccr_death: CcrDeath,
    /// E01 null response rate of the one-sided exact test.
    pub null_orr: f64,
    /// E02 treatment-emergent window after the last dose.
    pub teae_days_after_last_dose: i64,
    /// Confidence level of every interval.
    pub conf_level: f64,
    /// Kaplan–Meier interval transform: `log-log`, `log` or `plain`.
    pub conf_type: String,
    /// E16 points of change counted as improved or worsened.
    pub qlq_meaningful_change: f64,
}

/// Isatuximab schedule (PROTOCOL.md §1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Schedule {
    pub dose_mg_per_kg: f64,
    pub induction_days: Vec<u16>,
    pub induction_cycle_days: i64,
    pub induction_cycles_cohort1: u8,
    pub induction_cycles_cohort2: u8,
    pub maintenance_cycle_days: i64,
    pub maintenance_days: Vec<u16>,
    pub last_treatment_day: i64,
}

/// Eligibility thresholds (checked as warnings on import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Eligibility {
    pub cohort2_max_screening_bm_blasts_pct: f64,
    pub cohort2_min_mrd_level: f64,
    pub min_days_since_last_chemo: i64,
}

impl Default for Protocol {
    /// The shipped protocol, parsed once per process.
    fn default() -> Self {
        static SHIPPED: std::sync::OnceLock<Protocol> = std::sync::OnceLock::new();
        SHIPPED
            .get_or_init(|| {
                Protocol::from_toml(DEFAULT_TOML).expect("the shipped protocol is valid")
            })
            .clone()
    }
}

fn check(
    ok: bool,
    key: &'static str,
    rule: &'static str,
    got: impl ToString,
) -> Result<(), ProtocolError> {
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::Value {
            key,
            rule,
            got: got.to_string(),
        })
    }
}

fn fraction(v: f64) -> bool {
    v > 0.0 && v <= 1.0
}

impl Protocol {
    /// Reads and validates a protocol file's text.
    pub fn from_toml(text: &str) -> Result<Protocol, ProtocolError> {
        let p: Protocol = toml::from_str(text).map_err(|e| ProtocolError::Syntax(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// The landmark time in days (18 × 30.4375 = 547.875).
    pub fn landmark_days(&self) -> f64 {
        self.analysis.landmark_months * self.analysis.month_days
    }

    /// The Kaplan–Meier interval transform.
    pub fn conf_type(&self) -> stats::ConfType {
        match self.analysis.conf_type.as_str() {
            "log" => stats::ConfType::Log,
            "plain" => stats::ConfType::Plain,
            _ => stats::ConfType::LogLog,
        }
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        let r = &self.response;
        check(
            r.cr_max_bm_blasts_pct > 0.0 && r.cr_max_bm_blasts_pct <= 100.0,
            "response.cr_max_bm_blasts_pct",
            "must be a percentage above 0 and at most 100",
            r.cr_max_bm_blasts_pct,
        )?;
        check(
            r.cr_min_anc >= 0.0,
            "response.cr_min_anc",
            "must be at least 0",
            r.cr_min_anc,
        )?;
        check(
            r.cr_min_platelets >= 0.0,
            "response.cr_min_platelets",
            "must be at least 0",
            r.cr_min_platelets,
        )?;
        check(
            r.pr_max_bm_blasts_pct >= r.cr_max_bm_blasts_pct && r.pr_max_bm_blasts_pct <= 100.0,
            "response.pr_max_bm_blasts_pct",
            "must lie between response.cr_max_bm_blasts_pct and 100",
            r.pr_max_bm_blasts_pct,
        )?;
        check(
            fraction(r.pr_min_fall),
            "response.pr_min_fall",
            "must be a fraction in (0, 1]",
            r.pr_min_fall,
        )?;
        let m = &self.molecular;
        check(
            fraction(m.level_threshold),
            "molecular.level_threshold",
            "must be a fraction in (0, 1]",
            m.level_threshold,
        )?;
        check(
            fraction(m.required_sensitivity),
            "molecular.required_sensitivity",
            "must be a fraction in (0, 1]",
            m.required_sensitivity,
        )?;
        let t = &self.timepoints;
        check(
            1 < t.d22_day && t.d22_day < t.w9_day && t.w9_day < t.m3_day && t.m3_day < t.m6_day,
            "timepoints.d22_day",
            "timepoint days must increase: 1 < d22_day < w9_day < m3_day < m6_day",
            format!("{}, {}, {}, {}", t.d22_day, t.w9_day, t.m3_day, t.m6_day),
        )?;
        for (key, w) in [
            ("timepoints.d22_window", t.d22_window),
            ("timepoints.w9_window", t.w9_window),
            ("timepoints.m3_window", t.m3_window),
            ("timepoints.m6_window", t.m6_window),
        ] {
            check(w >= 0, key, "must be a number of days at least 0", w)?;
        }
        let a = &self.analysis;
        check(
            a.month_days > 0.0,
            "analysis.month_days",
            "must be positive",
            a.month_days,
        )?;
        check(
            a.landmark_months > 0.0,
            "analysis.landmark_months",
            "must be positive",
            a.landmark_months,
        )?;
        check(
            a.null_orr > 0.0 && a.null_orr < 1.0,
            "analysis.null_orr",
            "must be a rate strictly between 0 and 1",
            a.null_orr,
        )?;
        check(
            a.teae_days_after_last_dose >= 0,
            "analysis.teae_days_after_last_dose",
            "must be a number of days at least 0",
            a.teae_days_after_last_dose,
        )?;
        check(
            a.conf_level > 0.0 && a.conf_level < 1.0,
            "analysis.conf_level",
            "must be strictly between 0 and 1",
            a.conf_level,
        )?;
        check(
            matches!(a.conf_type.as_str(), "log-log" | "log" | "plain"),
            "analysis.conf_type",
            "must be \"log-log\", \"log\" or \"plain\"",
            format!("\"{}\"", a.conf_type),
        )?;
        check(
            a.qlq_meaningful_change > 0.0 && a.qlq_meaningful_change <= 100.0,
            "analysis.qlq_meaningful_change",
            "must be points in (0, 100]",
            a.qlq_meaningful_change,
        )?;
        let s = &self.schedule;
        check(
            s.dose_mg_per_kg > 0.0,
            "schedule.dose_mg_per_kg",
            "must be positive",
            s.dose_mg_per_kg,
        )?;
        check(
            !s.induction_days.is_empty()
                && s.induction_days.windows(2).all(|w| w[0] < w[1])
                && s.induction_days[0] >= 1
                && i64::from(*s.induction_days.last().unwrap()) <= s.induction_cycle_days,
            "schedule.induction_days",
            "must be increasing days within the induction cycle, starting at 1 or later",
            format!("{:?}", s.induction_days),
        )?;
        check(
            !s.maintenance_days.is_empty()
                && s.maintenance_days.windows(2).all(|w| w[0] < w[1])
                && s.maintenance_days[0] >= 1
                && i64::from(*s.maintenance_days.last().unwrap()) <= s.maintenance_cycle_days,
            "schedule.maintenance_days",
            "must be increasing days within the maintenance cycle, starting at 1 or later",
            format!("{:?}", s.maintenance_days),
        )?;
        check(
            s.induction_cycles_cohort1 >= 1 && s.induction_cycles_cohort2 >= 1,
            "schedule.induction_cycles_cohort1",
            "each cohort has at least one induction cycle",
            format!(
                "{} and {}",
                s.induction_cycles_cohort1, s.induction_cycles_cohort2
            ),
        )?;
        check(
            s.last_treatment_day >= 1,
            "schedule.last_treatment_day",
            "must be day 1 or later",
            s.last_treatment_day,
        )?;
        let e = &self.eligibility;
        check(
            fraction(e.cohort2_min_mrd_level),
            "eligibility.cohort2_min_mrd_level",
            "must be a fraction in (0, 1]",
            e.cohort2_min_mrd_level,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_protocol_holds_the_defaults_of_protocol_md() {
        let p = Protocol::default();
        assert_eq!(p.landmark_days(), 547.875);
        assert_eq!(p.molecular.level_threshold, 1e-4);
        assert_eq!(p.analysis.ccr_death, CcrDeath::Censor);
        assert_eq!(p.timepoints.w9_day, 57);
    }

    #[test]
    fn a_bad_value_is_named_by_its_key_and_rule() {
        let text = DEFAULT_TOML.replace("level_threshold = 1e-4", "level_threshold = 2");
        let err = Protocol::from_toml(&text).unwrap_err().to_string();
        assert_eq!(
            err,
            "protocol key `molecular.level_threshold`: must be a fraction in (0, 1], got 2"
        );
    }

    #[test]
    fn an_unknown_or_missing_key_is_refused() {
        let typo = DEFAULT_TOML.replace("null_orr", "nul_orr");
        let err = Protocol::from_toml(&typo).unwrap_err().to_string();
        assert!(err.contains("nul_orr"), "{err}");
        let bad_choice = DEFAULT_TOML.replace("ccr_death = \"censor\"", "ccr_death = \"ignore\"");
        assert!(Protocol::from_toml(&bad_choice).is_err());
    }
}
