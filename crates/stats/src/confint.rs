//! Pointwise confidence intervals of a survival curve, as
//! `survival:::survfit_confint` computes them (with `ulimit = TRUE`).

use serde::{Deserialize, Serialize};

/// The transform under which the Greenwood interval is symmetric; the names
/// are R's `conf.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ConfType {
    /// `log(-log(S))`: the protocol's default; never leaves (0, 1).
    #[default]
    #[serde(rename = "log-log")]
    LogLog,
    /// `log(S)`: R's own default for `survfit`.
    #[serde(rename = "log")]
    Log,
    /// No transform, clipped to [0, 1].
    #[serde(rename = "plain")]
    Plain,
}

impl ConfType {
    /// R's spelling, as `--conf-type` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfType::LogLog => "log-log",
            ConfType::Log => "log",
            ConfType::Plain => "plain",
        }
    }

    /// Parses R's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "log-log" => Some(ConfType::LogLog),
            "log" => Some(ConfType::Log),
            "plain" => Some(ConfType::Plain),
            _ => None,
        }
    }

    /// Lower and upper bound for survival `p` whose log has standard error
    /// `se_log`, at normal quantile `z`. `NaN` stands for R's `NA`: the
    /// interval is undefined there (for example at S = 0, or S = 1 under
    /// log-log).
    pub fn interval(self, p: f64, se_log: f64, z: f64) -> (f64, f64) {
        match self {
            ConfType::Plain => {
                let half = se_log * p * z;
                (r_pmax(p - half, 0.0), r_pmin(p + half, 1.0))
            }
            ConfType::Log => {
                if p == 0.0 {
                    return (f64::NAN, f64::NAN);
                }
                let half = z * se_log;
                ((p.ln() - half).exp(), r_pmin((p.ln() + half).exp(), 1.0))
            }
            ConfType::LogLog => {
                if p == 0.0 || p == 1.0 {
                    return (f64::NAN, f64::NAN);
                }
                // R's exp(-exp(log(-log p) ∓ h)) with h = z·se/log p, as
                // exp(log p · exp(∓h)): four calls to `ln`/`exp` instead of
                // six, the same number to within an ulp or two.
                let log_p = p.ln();
                let widen = (z * se_log / log_p).exp();
                ((log_p / widen).exp(), (log_p * widen).exp())
            }
        }
    }
}

/// R's `pmax`: `NA` wins.
fn r_pmax(a: f64, b: f64) -> f64 {
    if a.is_nan() { a } else { a.max(b) }
}

/// R's `pmin`: `NA` wins.
fn r_pmin(a: f64, b: f64) -> f64 {
    if a.is_nan() { a } else { a.min(b) }
}
