//! Estimators for the outcome measures of a clinical trial, exact to R.
//!
//! Everything here is a pure function of numbers: no I/O, no trial
//! vocabulary, no async. Each estimator reproduces a named R routine — the
//! reference a statistician trusts — down to its tie rules and its `NA`s
//! (returned as `NaN`):
//!
//! | here | R |
//! |---|---|
//! | [`Proportion::clopper_pearson`], [`Proportion::p_greater`] | `binom.test` |
//! | [`Proportion::wilson`] | `prop.test(correct = FALSE)` |
//! | [`KaplanMeier`] | `survfit`, `summary.survfit`, `quantile.survfit` |
//! | [`median_follow_up`] | reverse `survfit` |
//! | [`CumulativeIncidence`] | `cmprsk::cuminc`, `timepoints` |
//! | [`GrayTest`] | `cmprsk::cuminc(...)$Tests` |
//! | [`LogRank`] | `survdiff` |
//!
//! Ties: at one time, events come before censorings, as in R.
#![deny(missing_docs)]

mod binom;
mod binomial_tail;
mod cif;
mod confint;
mod elementary;
mod error;
mod gray;
mod groups;
mod keysort;
mod km;
mod linalg;
mod logrank;
pub mod quantile;
pub mod tally;
#[cfg(test)]
mod testing;

pub use binom::{Interval, Proportion};
pub use cif::{CompetingStatus, CumulativeIncidence, IncidenceAt, log_log_interval};
pub use confint::ConfType;
pub use error::StatsError;
pub use gray::GrayTest;
pub use groups::Groups;
pub use km::{KaplanMeier, Quantile, SurvivalAt, median_follow_up};
pub use logrank::LogRank;

use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::gamma_ur;

/// The most groups the log-rank and Gray's tests compare. Their variance
/// is a k × k matrix updated at every event time: a hundred groups of a
/// large file take about a second, and a column with thousands of values
/// (an identifier given as the group) is a mistake, not a comparison.
pub const MAX_COMPARED_GROUPS: usize = 100;

/// The standard normal quantile, e.g. 1.959964 for 0.975.
pub fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// P(X > x) for X chi-square with `df` degrees of freedom, computed from
/// the upper incomplete gamma function so that small p-values keep their
/// digits.
pub fn chi_square_upper_tail(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        1.0
    } else {
        gamma_ur(df / 2.0, x / 2.0)
    }
}
