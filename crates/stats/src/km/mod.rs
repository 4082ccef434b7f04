//! Kaplan–Meier product-limit estimate with Greenwood variance, pointwise
//! intervals, survival at given times and quantiles, matching
//! `survival::survfit` (and `summary`/`quantile` of it) number for number.

use serde::Serialize;

mod bounds;
mod continuous;
mod products;

use crate::confint::ConfType;
use crate::quantile::StepCurve;
use crate::tally::{Prepared, Tally};
use crate::{StatsError, normal_quantile};

/// Distinct times from which a fit's columns are computed on two threads.
const PARALLEL_MIN: usize = 100_000;

/// One fitted curve: a row per distinct observed time (events and
/// censorings), as `summary(survfit(...), censored = TRUE)` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KaplanMeier {
    /// Distinct times, ascending.
    pub time: Vec<f64>,
    /// Number at risk just before each time. Counts are 32-bit, ample for
    /// any trial: a fit of ten million rows writes eight columns, and
    /// narrower counts are less memory to write (`fit` and `from_tally`
    /// refuse more than `u32::MAX` observations).
    pub n_risk: Vec<u32>,
    /// Events at each time.
    pub n_event: Vec<u32>,
    /// Censorings at each time.
    pub n_censor: Vec<u32>,
    /// Survival just after each time.
    pub surv: Vec<f64>,
    /// Greenwood standard error of log survival (R's `fit$std.err`);
    /// infinite once everybody at risk has had the event.
    pub std_err_log: Vec<f64>,
    /// Lower pointwise bound (`NaN` where undefined).
    pub lower: Vec<f64>,
    /// Upper pointwise bound (`NaN` where undefined).
    pub upper: Vec<f64>,
    /// Transform of the interval.
    pub conf_type: ConfType,
    /// Coverage of the interval, e.g. 0.95.
    pub conf_level: f64,
    /// Number of observations.
    pub n: u64,
}

/// The curve read at one time, as `summary(fit, times = t, extend = TRUE)`
/// gives it, plus cumulative counts for a report's table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SurvivalAt {
    /// The time asked for.
    pub time: f64,
    /// Survival at `time` (right-continuous step value). `NaN` beyond the
    /// last observed time unless the curve had already reached 0: past the
    /// data the curve is unknown, not flat.
    pub surv: f64,
    /// Standard error of `surv`.
    pub std_err: f64,
    /// Lower pointwise bound.
    pub lower: f64,
    /// Upper pointwise bound.
    pub upper: f64,
    /// Observations with a time at or after `time`.
    pub n_risk: u64,
    /// Events at or before `time`.
    pub events: u64,
    /// Whether `time` lies within the observed follow-up.
    pub within_follow_up: bool,
}

/// A quantile of the survival distribution with its interval, as
/// `quantile(fit)` and `print(fit)` give them. `NaN` where not reached.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantile {
    /// The probability of an event by then: 0.5 for the median.
    pub prob: f64,
    /// The time.
    pub estimate: f64,
    /// Lower bound (from the lower survival curve).
    pub lower: f64,
    /// Upper bound (from the upper survival curve).
    pub upper: f64,
}

impl KaplanMeier {
    /// Fits the curve to `time` with `event` (true = event, false = censored).
    pub fn fit(time: &[f64], event: &[bool], conf_type: ConfType) -> Result<Self, StatsError> {
        let code = |e: bool| Some(usize::from(e));
        countable(time.len() as u64)?;
        match Tally::<2>::prepare(time, event, &code, "0, 1", u8::from)? {
            Prepared::Counted(tally) => {
                let [n_censor, n_event] = tally.counts;
                // The tally's time column becomes the fit's.
                Ok(Self::from_columns(
                    tally.time,
                    narrow(&n_event),
                    narrow(&n_censor),
                    tally.n,
                    conf_type,
                    0.95,
                ))
            }
            Prepared::Unsorted { lo, hi } => {
                Ok(continuous::fit(time, event, (lo, hi), conf_type, 0.95))
            }
        }
    }

    /// Fits the curve from an event table, taking status `event_code` as the
    /// event and every other code as censoring (for example a competing
    /// event, when the curve is the complement of one cause's incidence).
    pub fn from_tally<const K: usize>(
        tally: &Tally<K>,
        event_code: usize,
        conf_type: ConfType,
        conf_level: f64,
    ) -> Result<Self, StatsError> {
        countable(tally.n)?;
        let m = tally.time.len();
        let n_censor: Vec<u32> = (0..m)
            .map(|i| {
                (0..K)
                    .filter(|&k| k != event_code)
                    .map(|k| tally.counts[k][i] as u32)
                    .sum()
            })
            .collect();
        Ok(Self::from_columns(
            tally.time.clone(),
            narrow(&tally.counts[event_code]),
            n_censor,
            tally.n,
            conf_type,
            conf_level,
        ))
    }

    /// The product-limit estimate from the event table's columns.
    ///
    /// Survival and Greenwood's sum are running products and sums, so they
    /// are accumulated in order, as R does (`products.rs`). The interval of
    /// each row depends on that row only; it is computed on two threads for
    /// long curves (mostly `ln` and `exp`, and the first touch of fresh
    /// memory).
    fn from_columns(
        time: Vec<f64>,
        n_event: Vec<u32>,
        n_censor: Vec<u32>,
        n: u64,
        conf_type: ConfType,
        conf_level: f64,
    ) -> Self {
        let z = normal_quantile(1.0 - (1.0 - conf_level) / 2.0);
        let m = time.len();
        let parallel = m >= PARALLEL_MIN;
        let mut left = n as u32;
        let n_risk: Vec<u32> = n_event
            .iter()
            .zip(&n_censor)
            .map(|(&d, &c)| {
                let here = left;
                left -= d + c;
                here
            })
            .collect();
        let (mut surv, mut std_err_log) = (vec![0.0; m], vec![0.0; m]);
        let rows = products::Rows {
            n_risk: &n_risk,
            n_event: &n_event,
            surv: &mut surv,
            greenwood: &mut std_err_log,
        };
        products::run((1.0, 0.0), rows);
        let (mut lower, mut upper) = (vec![0.0; m], vec![0.0; m]);
        let fill = |before: bounds::Running, from: usize, columns: [&mut [f64]; 4]| {
            let [surv, greenwood, lower, upper] = columns;
            let to = from + lower.len();
            let rows = bounds::Rows {
                n_event: &n_event[from..to],
                surv,
                greenwood,
                lower,
                upper,
            };
            bounds::Gathered::default().fill(conf_type, z, before, bounds::Held::Running, rows);
        };
        if parallel {
            let half = m / 2;
            let before_half = bounds::Running {
                surv: surv[half - 1],
                greenwood: std_err_log[half - 1],
            };
            let (surv_a, surv_b) = surv.split_at_mut(half);
            let (se_a, se_b) = std_err_log.split_at_mut(half);
            let (lower_a, lower_b) = lower.split_at_mut(half);
            let (upper_a, upper_b) = upper.split_at_mut(half);
            std::thread::scope(|scope| {
                scope.spawn(|| fill(before_half, half, [surv_b, se_b, lower_b, upper_b]));
                fill(bounds::Running::START, 0, [surv_a, se_a, lower_a, upper_a]);
            });
        } else {
            fill(
                bounds::Running::START,
                0,
                [&mut surv, &mut std_err_log, &mut lower, &mut upper],
            );
        }
        Self {
            time,
            n_risk,
            n_event,
            n_censor,
            surv,
            std_err_log,
            lower,
            upper,
            conf_type,
            conf_level,
            n,
        }
    }

    /// Events over the whole curve.
    pub fn events(&self) -> u64 {
        self.n_event.iter().map(|&d| u64::from(d)).sum()
    }

    /// Standard error of survival itself (`summary(fit)$std.err`); `NaN`
    /// where survival is 0 after an infinite log-scale error, as in R.
    pub fn std_err(&self) -> Vec<f64> {
        self.surv
            .iter()
            .zip(&self.std_err_log)
            .map(|(s, se)| s * se)
            .collect()
    }

    /// Survival at each of `times`.
    pub fn at(&self, times: &[f64]) -> Vec<SurvivalAt> {
        times.iter().map(|&t| self.at_one(t)).collect()
    }

    fn at_one(&self, t: f64) -> SurvivalAt {
        // Rows with time <= t.
        let upto = self.time.partition_point(|&x| x <= t);
        let n_risk = self
            .n_risk
            .get(self.time.partition_point(|&x| x < t))
            .map_or(0, |&r| u64::from(r));
        let events = self.n_event[..upto].iter().map(|&d| u64::from(d)).sum();
        let last = *self.time.last().expect("a fit has at least one row");
        let within = t <= last;
        if upto == 0 {
            return SurvivalAt {
                time: t,
                surv: 1.0,
                std_err: 0.0,
                lower: 1.0,
                upper: 1.0,
                n_risk,
                events,
                within_follow_up: within,
            };
        }
        let i = upto - 1;
        let mut at = SurvivalAt {
            time: t,
            surv: self.surv[i],
            std_err: self.surv[i] * self.std_err_log[i],
            lower: self.lower[i],
            upper: self.upper[i],
            n_risk,
            events,
            within_follow_up: within,
        };
        if !within && at.surv > 0.0 {
            at.surv = f64::NAN;
            at.std_err = f64::NAN;
            at.lower = f64::NAN;
            at.upper = f64::NAN;
        }
        at
    }

    /// Quantiles (`probs` as event probabilities: 0.5 is the median) with
    /// their intervals, by R's rule.
    pub fn quantiles(&self, probs: &[f64]) -> Vec<Quantile> {
        // Each curve is checked for the fast path once, not once per prob;
        // that check reads the whole curve, so long curves' bounds are
        // checked on a second thread.
        let curve = |column| StepCurve::new(0.0, &self.time, column);
        let (surv, (lower, upper)) = if self.time.len() >= PARALLEL_MIN {
            std::thread::scope(|scope| {
                let bounds = scope.spawn(|| (curve(&self.lower), curve(&self.upper)));
                (
                    curve(&self.surv),
                    bounds.join().expect("checking a curve does not panic"),
                )
            })
        } else {
            (curve(&self.surv), (curve(&self.lower), curve(&self.upper)))
        };
        probs
            .iter()
            .map(|&p| Quantile {
                prob: p,
                estimate: surv.quantile(p),
                lower: lower.quantile(p),
                upper: upper.quantile(p),
            })
            .collect()
    }

    /// The median survival time with its interval.
    pub fn median(&self) -> Quantile {
        self.quantiles(&[0.5])[0]
    }

    /// Rows of a number-at-risk table for a plot: the number at risk at
    /// each of `times` (those with a time at or after it).
    pub fn number_at_risk(&self, times: &[f64]) -> Vec<u64> {
        times
            .iter()
            .map(|&t| {
                self.n_risk
                    .get(self.time.partition_point(|&x| x < t))
                    .map_or(0, |&r| u64::from(r))
            })
            .collect()
    }
}

/// Refuses more observations than a 32-bit count holds.
fn countable(n: u64) -> Result<(), StatsError> {
    if n > u64::from(u32::MAX) {
        return Err(StatsError::BadCount(format!(
            "{n} observations: a Kaplan–Meier fit counts at most {}",
            u32::MAX
        )));
    }
    Ok(())
}

/// An event table's counts, each at most its `n`, which `countable` checked.
fn narrow(counts: &[u64]) -> Vec<u32> {
    counts
        .iter()
        .map(|&c| {
            debug_assert!(c <= u64::from(u32::MAX), "a count above the table's n");
            c as u32
        })
        .collect()
}

/// Median follow-up by the reverse Kaplan–Meier method: the median of the
/// curve that treats censoring as the event and events as censoring.
pub fn median_follow_up(
    time: &[f64],
    event: &[bool],
    conf_type: ConfType,
) -> Result<Quantile, StatsError> {
    let reversed: Vec<bool> = event.iter().map(|e| !e).collect();
    let fit = KaplanMeier::fit(time, &reversed, conf_type)?;
    Ok(fit.median())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::draws;

    /// The curve recomputed row by row from the fit's own counts, in R's
    /// order: the same bits, also where a second thread made part of it.
    fn assert_row_by_row(fit: &KaplanMeier) {
        let z = normal_quantile(0.975);
        let (mut s, mut greenwood) = (1.0f64, 0.0f64);
        let close = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        let mut left = fit.n;
        for i in 0..fit.time.len() {
            assert_eq!(u64::from(fit.n_risk[i]), left);
            left -= u64::from(fit.n_event[i] + fit.n_censor[i]);
            let (r, d) = (fit.n_risk[i] as f64, fit.n_event[i] as f64);
            if d > 0.0 {
                s *= (r - d) / r;
                greenwood += d / (r * (r - d));
            }
            let (lo, hi) = fit.conf_type.interval(s, greenwood.sqrt(), z);
            assert!(
                close(fit.surv[i], s)
                    && close(fit.std_err_log[i], greenwood.sqrt())
                    && close(fit.lower[i], lo)
                    && close(fit.upper[i], hi),
                "row {i}"
            );
        }
        assert_eq!(left, 0);
    }

    #[test]
    fn a_long_curve_on_two_threads_is_the_row_by_row_product_limit() {
        let n = 3 * PARALLEL_MIN;
        let mut next = draws(5);
        let event: Vec<bool> = (0..n).map(|_| next() % 5 < 2).collect();
        let days: Vec<f64> = (0..n).map(|_| (next() % 4_000) as f64).collect();
        let thirds: Vec<f64> = (0..n).map(|_| (next() % 400_000) as f64 / 3.0).collect();
        for conf_type in [ConfType::LogLog, ConfType::Log, ConfType::Plain] {
            assert_row_by_row(&KaplanMeier::fit(&days, &event, conf_type).unwrap());
            assert_row_by_row(&KaplanMeier::fit(&thirds, &event, conf_type).unwrap());
        }
    }

    /// Times that must be sorted go through the sorted keys; the table is
    /// the event table's, row for row.
    #[test]
    fn sorted_keys_give_the_event_tables_rows() {
        let mut next = draws(9);
        for n in [1, 2, 40, 1_000, 3 * PARALLEL_MIN] {
            let event: Vec<bool> = (0..n).map(|_| next().is_multiple_of(2)).collect();
            let spreads: [&dyn Fn(u64) -> f64; 4] = [
                &|r| (r % 1_000_000) as f64 / 7.0,
                &|r| (r % 50) as f64 / 4.0,
                &|_| 2.5,
                &|r| {
                    if r.is_multiple_of(1_000) {
                        1e12 + 0.5
                    } else {
                        (r % 977) as f64 * 0.01
                    }
                },
            ];
            for spread in spreads {
                let time: Vec<f64> = (0..n).map(|_| spread(next())).collect();
                let fit = KaplanMeier::fit(&time, &event, ConfType::LogLog).unwrap();
                let tally =
                    Tally::<2>::build(&time, &event, |e| Some(usize::from(e)), "0, 1", u8::from)
                        .unwrap();
                assert_eq!(fit.time, tally.time);
                assert_eq!(fit.n_event, narrow(&tally.counts[1]));
                assert_eq!(fit.n_censor, narrow(&tally.counts[0]));
                assert_row_by_row(&fit);
            }
        }
    }

    /// A stretch of more than a block without events, across the middle
    /// where a second thread takes over: whole days (the event table's
    /// path) and thirds of a day (the sorted keys'), every bound the row
    /// by row one.
    #[test]
    fn a_long_stretch_without_events_repeats_its_bounds_across_threads() {
        let n = 3 * PARALLEL_MIN;
        let quiet = n / 2 - 3 * bounds::BLOCK / 2..n / 2 + 3 * bounds::BLOCK / 2;
        let event: Vec<bool> = (0..n).map(|i| !quiet.contains(&i) && i % 3 != 0).collect();
        let days: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let thirds: Vec<f64> = (0..n).map(|i| i as f64 / 3.0).collect();
        for conf_type in [ConfType::LogLog, ConfType::Log, ConfType::Plain] {
            for time in [&days, &thirds] {
                let fit = KaplanMeier::fit(time, &event, conf_type).unwrap();
                assert_eq!(fit.time.len(), n);
                assert_row_by_row(&fit);
            }
        }
    }

    #[test]
    fn counts_beyond_32_bits_are_refused_by_name() {
        assert_eq!(countable(u64::from(u32::MAX)), Ok(()));
        let Err(StatsError::BadCount(message)) = countable(u64::from(u32::MAX) + 1) else {
            panic!("2^32 observations are refused");
        };
        assert_eq!(
            message,
            "4294967296 observations: a Kaplan–Meier fit counts at most 4294967295"
        );
    }
}
