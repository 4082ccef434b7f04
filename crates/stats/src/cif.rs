//! Cumulative incidence of one cause in the presence of competing events:
//! the Aalen–Johansen estimate with the variance of `cmprsk::cuminc`
//! (Gray's Fortran routine `cinc`, followed step by step), and a pointwise
//! interval on the log(−log) scale.

use serde::Serialize;

use crate::confint::na_if;
use crate::tally::Tally;
use crate::{ConfType, StatsError, normal_quantile};

/// Rows from which the intervals are computed on two threads.
const PARALLEL_MIN: usize = 100_000;

/// Status of one observation when there are competing events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompetingStatus {
    /// Still event-free at the time (code 0).
    Censored,
    /// The event of interest (code 1).
    Event,
    /// A competing event that precludes the event of interest (code 2).
    Competing,
}

impl CompetingStatus {
    /// Maps the codes of `DATA-FORMAT.md` (0, 1, 2).
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Censored),
            1 => Some(Self::Event),
            2 => Some(Self::Competing),
            _ => None,
        }
    }

    /// The code of `DATA-FORMAT.md`.
    pub fn code(self) -> u8 {
        match self {
            Self::Censored => 0,
            Self::Event => 1,
            Self::Competing => 2,
        }
    }
}

/// The estimated incidence curve of the event of interest: a step at each
/// distinct time with at least one such event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CumulativeIncidence {
    /// Times of the event of interest, ascending.
    pub time: Vec<f64>,
    /// Incidence just after each time.
    pub estimate: Vec<f64>,
    /// Variance of the estimate (Gray's `cinc`).
    pub variance: Vec<f64>,
    /// Lower bound, log(−log) scale.
    pub lower: Vec<f64>,
    /// Upper bound, log(−log) scale.
    pub upper: Vec<f64>,
    /// Largest observed time of any kind: the curve is known up to here.
    pub max_time: f64,
    /// Number of observations.
    pub n: u64,
    /// Coverage of the interval.
    pub conf_level: f64,
}

/// The incidence read at one time (`cmprsk::timepoints`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IncidenceAt {
    /// The time asked for.
    pub time: f64,
    /// Incidence at `time`; `NaN` after the last observed time (as R's `NA`).
    pub estimate: f64,
    /// Its variance.
    pub variance: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl CumulativeIncidence {
    /// Estimates the incidence of [`CompetingStatus::Event`].
    pub fn fit(time: &[f64], status: &[CompetingStatus]) -> Result<Self, StatsError> {
        let tally = Tally::<3>::build(
            time,
            status,
            |s| Some(s.code() as usize),
            "0, 1, 2",
            |s| s.code(),
        )?;
        Ok(Self::from_tally(&tally, 0.95))
    }

    /// Estimates from an event table whose codes are 0 censored, 1 event of
    /// interest, 2 competing.
    pub fn from_tally(tally: &Tally<3>, conf_level: f64) -> Self {
        let z = normal_quantile(1.0 - (1.0 - conf_level) / 2.0);
        let mut out = Self {
            time: Vec::new(),
            estimate: Vec::new(),
            variance: Vec::new(),
            lower: Vec::new(),
            upper: Vec::new(),
            max_time: *tally.time.last().expect("a tally is never empty"),
            n: tally.n,
            conf_level,
        };
        // Names follow `cinc`: fk is the all-cause Kaplan–Meier just
        // before the time, f the incidence, v1..v3 the variance sums.
        let (mut fk, mut f) = (1.0f64, 0.0f64);
        let (mut v1, mut v2, mut v3) = (0.0f64, 0.0f64, 0.0f64);
        for (i, rs) in tally.n_risk().into_iter().enumerate() {
            let rs = rs as f64;
            let nd1 = tally.counts[1][i] as f64;
            let nd2 = tally.counts[2][i] as f64;
            let nd = nd1 + nd2;
            if nd == 0.0 {
                continue;
            }
            let fkn = fk * (rs - nd) / rs;
            if nd1 > 0.0 {
                f += fk * nd1 / rs;
            }
            if nd2 > 0.0 && fkn > 0.0 {
                let t5 = if nd2 > 1.0 {
                    1.0 - (nd2 - 1.0) / (rs - 1.0)
                } else {
                    1.0
                };
                let t6 = fk * fk * t5 * nd2 / (rs * rs);
                let t3 = 1.0 / fkn;
                let t4 = f / fkn;
                v1 += t4 * t4 * t6;
                v2 += t3 * t4 * t6;
                v3 += t3 * t3 * t6;
            }
            if nd1 > 0.0 {
                let t5 = if nd1 > 1.0 {
                    1.0 - (nd1 - 1.0) / (rs - 1.0)
                } else {
                    1.0
                };
                let t6 = fk * fk * t5 * nd1 / (rs * rs);
                let t3 = if fkn > 0.0 { 1.0 / fkn } else { 0.0 };
                let t4 = 1.0 + t3 * f;
                v1 += t4 * t4 * t6;
                v2 += t3 * t4 * t6;
                v3 += t3 * t3 * t6;
                let v = v1 + f * f * v3 - 2.0 * f * v2;
                out.time.push(tally.time[i]);
                out.estimate.push(f);
                out.variance.push(v);
            }
            fk = fkn;
        }
        // Each row's interval depends on that row only (and costs a `ln`
        // and three `exp`): two threads for long curves, several rows at a
        // time on each.
        let m = out.time.len();
        let intervals = |from: usize, lower: &mut [f64], upper: &mut [f64]| {
            let to = from + lower.len();
            log_log_intervals(
                &out.estimate[from..to],
                &out.variance[from..to],
                z,
                lower,
                upper,
            );
        };
        let (mut lower, mut upper) = (vec![0.0; m], vec![0.0; m]);
        if m >= PARALLEL_MIN {
            let half = m / 2;
            let (lower_a, lower_b) = lower.split_at_mut(half);
            let (upper_a, upper_b) = upper.split_at_mut(half);
            std::thread::scope(|scope| {
                scope.spawn(|| intervals(half, lower_b, upper_b));
                intervals(0, lower_a, upper_a);
            });
        } else {
            intervals(0, &mut lower, &mut upper);
        }
        out.lower = lower;
        out.upper = upper;
        out
    }

    /// The incidence at each of `times`.
    pub fn at(&self, times: &[f64]) -> Vec<IncidenceAt> {
        times
            .iter()
            .map(|&t| {
                if t > self.max_time || t.is_nan() {
                    return IncidenceAt {
                        time: t,
                        estimate: f64::NAN,
                        variance: f64::NAN,
                        lower: f64::NAN,
                        upper: f64::NAN,
                    };
                }
                match self.time.partition_point(|&x| x <= t) {
                    0 => IncidenceAt {
                        time: t,
                        estimate: 0.0,
                        variance: 0.0,
                        lower: f64::NAN,
                        upper: f64::NAN,
                    },
                    k => IncidenceAt {
                        time: t,
                        estimate: self.estimate[k - 1],
                        variance: self.variance[k - 1],
                        lower: self.lower[k - 1],
                        upper: self.upper[k - 1],
                    },
                }
            })
            .collect()
    }
}

/// Interval for an incidence `f` with variance `v`, symmetric on the
/// log(−log) scale: `f^exp(±z·sd/(f·log f))`. Undefined (`NaN`) at 0 and 1,
/// and outside them.
///
/// It is Kaplan–Meier's log-log interval of `f` with log-scale error
/// sd/f, the same formula, so it is computed by the same code: `ln` and
/// `exp` that give the same bits one row or several at a time.
pub fn log_log_interval(f: f64, v: f64, z: f64) -> (f64, f64) {
    bounds_of(f, ConfType::LogLog.interval(f, v.sqrt() / f, z))
}

/// `log_log_interval` of every row into `lower` and `upper`, a block of
/// rows at a time through `ConfType::intervals`.
fn log_log_intervals(
    estimate: &[f64],
    variance: &[f64],
    z: f64,
    lower: &mut [f64],
    upper: &mut [f64],
) {
    const BLOCK: usize = 4096;
    let mut se_log = [0.0; BLOCK];
    for (start, lower) in (0..lower.len()).step_by(BLOCK).zip(lower.chunks_mut(BLOCK)) {
        let rows = start..start + lower.len();
        let (estimate, variance) = (&estimate[rows.clone()], &variance[rows.clone()]);
        let upper = &mut upper[rows];
        let se_log = &mut se_log[..lower.len()];
        for ((se, &f), &v) in se_log.iter_mut().zip(estimate).zip(variance) {
            *se = v.sqrt() / f;
        }
        ConfType::LogLog.intervals(estimate, se_log, z, lower, upper);
        for ((lo, hi), &f) in lower.iter_mut().zip(upper.iter_mut()).zip(estimate) {
            (*lo, *hi) = bounds_of(f, (*lo, *hi));
        }
    }
}

/// The log-log bounds computed for `f`, made R's `NA` outside 0 < f < 1
/// and kept on either side of `f`: with a variance near 0 both are
/// `exp(ln f)`, which can round a few ulps past `f` (hundreds for the
/// smallest `f`) where the formula's `f^1` is `f` itself.
fn bounds_of(f: f64, (lower, upper): (f64, f64)) -> (f64, f64) {
    let undefined = !(f > 0.0 && f < 1.0);
    // Comparisons rather than `min`/`max`, so that `NaN` stays `NaN`.
    let lower = if lower > f { f } else { lower };
    let upper = if upper < f { f } else { upper };
    (na_if(undefined, lower), na_if(undefined, upper))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{draws, unit};

    const Z: f64 = 1.959_963_984_540_054;

    /// The interval as its formula reads, with the C library's `powf`.
    fn by_powers(f: f64, v: f64) -> (f64, f64) {
        if !(f > 0.0 && f < 1.0) {
            return (f64::NAN, f64::NAN);
        }
        let spread = Z * v.sqrt() / (f * f.ln());
        (f.powf((-spread).exp()), f.powf(spread.exp()))
    }

    /// Within 1e-12 relative, or both below the normal doubles, where
    /// neither side has the precision to compare. Below 1e-30 within 1e-9,
    /// as every comparison with R: there the formula itself magnifies
    /// rounding (a bound of 1e-260 is f to a power of hundreds, and each
    /// form's error is hundreds of times its exponent's), and the `powf`
    /// form is itself 2e-13 from the exact bound.
    fn close(a: f64, b: f64) -> bool {
        let tolerance = if b.abs() >= 1e-30 { 1e-12 } else { 1e-9 };
        (a.is_nan() && b.is_nan())
            || (a - b).abs() <= tolerance * b.abs()
            || a.abs().max(b.abs()) < f64::MIN_POSITIVE
    }

    #[test]
    fn the_interval_is_the_formula_of_powers() {
        let mut next = draws(7);
        for _ in 0..100_000 {
            let f = unit(next());
            let v = f * f * ((next() % 1000) as f64 / 2000.0).powi(2);
            let (lower, upper) = log_log_interval(f, v, Z);
            let (lower_r, upper_r) = by_powers(f, v);
            assert!(
                close(lower, lower_r) && close(upper, upper_r),
                "f {f:e} v {v:e}: ({lower:e}, {upper:e}) against ({lower_r:e}, {upper_r:e})"
            );
            assert!(
                lower.is_nan() || (lower <= f && f <= upper),
                "f {f:e} v {v:e}"
            );
        }
    }

    /// Without variance the interval is f itself; `exp(ln f)` can miss it
    /// by hundreds of ulps for the smallest f, but never leaves it out.
    #[test]
    fn without_variance_the_bounds_hold_the_estimate() {
        for f in [
            1e-300,
            1e-100,
            1e-8,
            1e-3,
            0.25,
            0.5,
            1.0 - 1e-9,
            1.0 - f64::EPSILON,
        ] {
            let (lower, upper) = log_log_interval(f, 0.0, Z);
            assert!(lower <= f && f <= upper, "f {f:e}: {lower:e} {upper:e}");
            assert!(
                close(lower, f) && close(upper, f),
                "f {f:e}: {lower:e} {upper:e}"
            );
        }
    }

    /// Many rows at a time give each row's interval to the bit, across
    /// blocks and on every awkward value, undefined ones included.
    #[test]
    fn rows_at_a_time_give_each_rows_interval() {
        let awkward = [0.0, 1.0, 1.0 + f64::EPSILON, -0.25, f64::NAN, 1e-300, 0.5];
        let variances = [0.0, 1e-6, 0.01, f64::INFINITY, f64::NAN];
        let mut next = draws(11);
        let m = 3 * 4096 + 17;
        let (mut estimate, mut variance) = (Vec::new(), Vec::new());
        for i in 0..m {
            let f = if i % 97 == 0 {
                awkward[(i / 97) % awkward.len()]
            } else {
                unit(next())
            };
            let v = if i % 89 == 0 {
                variances[(i / 89) % variances.len()]
            } else {
                f * f * 0.01
            };
            estimate.push(f);
            variance.push(v);
        }
        let (mut lower, mut upper) = (vec![0.0; m], vec![0.0; m]);
        log_log_intervals(&estimate, &variance, Z, &mut lower, &mut upper);
        for i in 0..m {
            let (lo, hi) = log_log_interval(estimate[i], variance[i], Z);
            assert_eq!(
                (lower[i].to_bits(), upper[i].to_bits()),
                (lo.to_bits(), hi.to_bits()),
                "row {i}: f {:e} v {:e}",
                estimate[i],
                variance[i]
            );
            if !(estimate[i] > 0.0 && estimate[i] < 1.0) {
                assert!(lo.is_nan() && hi.is_nan(), "row {i}");
            }
        }
    }
}
