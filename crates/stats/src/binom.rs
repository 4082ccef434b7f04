//! A proportion n/N with its exact Clopper–Pearson interval (`binom.test`),
//! the Wilson score interval as an option (`prop.test(correct = FALSE)`),
//! and the exact one-sided binomial test against a null rate.

use serde::Serialize;

use crate::binomial_tail::{self, MAX_TOTAL};
use crate::{StatsError, normal_quantile};

/// How many of how many: the shape of every response rate in the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Proportion {
    events: u64,
    total: u64,
}

/// A two-sided interval for a proportion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl Proportion {
    /// `events` of `total`; refuses `total = 0`, `events > total` and
    /// more than a billion observations.
    pub fn new(events: u64, total: u64) -> Result<Self, StatsError> {
        if total == 0 {
            return Err(StatsError::BadCount("total must be at least 1".into()));
        }
        if total > MAX_TOTAL {
            return Err(StatsError::BadCount(format!(
                "total ({total}) is above {MAX_TOTAL}, the most an exact interval is computed for"
            )));
        }
        if events > total {
            return Err(StatsError::BadCount(format!(
                "events ({events}) cannot exceed total ({total})"
            )));
        }
        Ok(Self { events, total })
    }

    /// Number of events (responders).
    pub fn events(self) -> u64 {
        self.events
    }

    /// Number of patients counted.
    pub fn total(self) -> u64 {
        self.total
    }

    /// The point estimate events/total.
    pub fn estimate(self) -> f64 {
        self.events as f64 / self.total as f64
    }

    /// Exact two-sided interval, as `binom.test`: the rates at which
    /// this many events or more (lower bound), or this many or fewer
    /// (upper bound), have probability (1 − level)/2.
    pub fn clopper_pearson(self, conf_level: f64) -> Result<Interval, StatsError> {
        check_level(conf_level)?;
        let alpha = (1.0 - conf_level) / 2.0;
        let (x, n) = (self.events as f64, self.total as f64);
        let lower = if self.events == 0 {
            0.0
        } else {
            binomial_tail::root(0.0, 1.0, alpha, |p| {
                binomial_tail::at_least(x, n, p, 1.0 - p)
            })
        };
        let upper = if self.events == self.total {
            1.0
        } else {
            binomial_tail::root(0.0, 1.0, -alpha, |p| {
                -binomial_tail::at_most(x, n, p, 1.0 - p)
            })
        };
        Ok(Interval { lower, upper })
    }

    /// Wilson score interval without continuity correction, as
    /// `prop.test(x, n, correct = FALSE)` computes it.
    pub fn wilson(self, conf_level: f64) -> Result<Interval, StatsError> {
        check_level(conf_level)?;
        let z = normal_quantile((1.0 + conf_level) / 2.0);
        let (p, n) = (self.estimate(), self.total as f64);
        let z22n = z * z / (2.0 * n);
        let half = z * (p * (1.0 - p) / n + z22n / (2.0 * n)).sqrt();
        let upper = if p >= 1.0 {
            1.0
        } else {
            (p + z22n + half) / (1.0 + 2.0 * z22n)
        };
        let lower = if p <= 0.0 {
            0.0
        } else {
            (p + z22n - half) / (1.0 + 2.0 * z22n)
        };
        Ok(Interval { lower, upper })
    }

    /// Exact one-sided p-value of `binom.test(alternative = "greater")`:
    /// the chance of at least this many events if the true rate were
    /// `null_rate`.
    pub fn p_greater(self, null_rate: f64) -> Result<f64, StatsError> {
        if !(null_rate > 0.0 && null_rate < 1.0) {
            return Err(StatsError::BadProbability {
                what: "null rate",
                value: null_rate,
            });
        }
        if self.events == 0 {
            return Ok(1.0);
        }
        let (x, n) = (self.events as f64, self.total as f64);
        Ok(binomial_tail::at_least(x, n, null_rate, 1.0 - null_rate))
    }
}

fn check_level(conf_level: f64) -> Result<(), StatsError> {
    if conf_level > 0.0 && conf_level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::BadProbability {
            what: "confidence level",
            value: conf_level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proportion_refuses_more_events_than_patients() {
        assert!(Proportion::new(3, 2).is_err());
        assert!(Proportion::new(0, 0).is_err());
    }

    #[test]
    fn no_events_gives_a_lower_bound_of_zero_and_p_of_one() {
        let p = Proportion::new(0, 10).unwrap();
        assert_eq!(p.clopper_pearson(0.95).unwrap().lower, 0.0);
        assert_eq!(p.p_greater(0.1).unwrap(), 1.0);
    }
}
