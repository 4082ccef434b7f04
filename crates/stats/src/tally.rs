//! The event table every time-to-event estimator starts from: distinct times
//! in increasing order with the count of each status code at that time.
//!
//! This is the only step that touches every observation, so it carries the
//! speed of the crate. Whole-number times (days, the common case in a trial)
//! are counted into buckets in one pass; other times are radix-sorted as the
//! bit patterns of non-negative doubles, which order like the numbers.

use crate::StatsError;

/// Distinct times (ascending) and, per time, how many observations carried
/// each status code. `counts[k][i]` is the number with code `k` at `time[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally<const K: usize> {
    /// Distinct observed times, strictly increasing.
    pub time: Vec<f64>,
    /// Per status code, per distinct time, the count of observations.
    pub counts: [Vec<u64>; K],
    /// Total number of observations.
    pub n: u64,
}

/// Largest bucket range (max − min + 1) counted directly; above it the
/// radix sort is cheaper than clearing and scanning the buckets.
fn bucket_limit(n: usize) -> f64 {
    (4 * n).max(1 << 16) as f64
}

/// A time an estimator accepts: finite and not negative (NaN fails both).
pub fn is_valid_time(t: f64) -> bool {
    t.is_finite() && t >= 0.0
}

/// Observations needed before sorting runs on several threads.
const PARALLEL_SORT_MIN: usize = 200_000;

impl<const K: usize> Tally<K> {
    /// Builds the table from parallel columns; `code` maps a status to
    /// `0..K` or `None` when it is outside the allowed set.
    pub fn build<S: Copy + Sync>(
        times: &[f64],
        status: &[S],
        code: impl Fn(S) -> Option<usize> + Sync,
        allowed: &'static str,
        raw: impl Fn(S) -> u8,
    ) -> Result<Self, StatsError> {
        if times.len() != status.len() {
            return Err(StatsError::LengthMismatch {
                what: "times and statuses",
                left: times.len(),
                right: status.len(),
            });
        }
        if times.is_empty() {
            return Err(StatsError::Empty);
        }
        let (mut lo, mut hi, mut whole) = (f64::INFINITY, f64::NEG_INFINITY, true);
        for (index, (&t, &s)) in times.iter().zip(status).enumerate() {
            if !is_valid_time(t) {
                return Err(StatsError::BadTime { index, value: t });
            }
            if code(s).is_none() {
                return Err(StatsError::BadStatus {
                    index,
                    value: raw(s),
                    allowed,
                });
            }
            lo = lo.min(t);
            hi = hi.max(t);
            whole &= t.fract() == 0.0;
        }
        if whole && hi - lo < bucket_limit(times.len()) {
            Ok(Self::by_buckets(times, status, &code, lo, hi))
        } else {
            Ok(Self::by_sorting(times, status, &code))
        }
    }

    fn by_buckets<S: Copy>(
        times: &[f64],
        status: &[S],
        code: &impl Fn(S) -> Option<usize>,
        lo: f64,
        hi: f64,
    ) -> Self {
        let width = (hi - lo) as usize + 1;
        let mut buckets = vec![[0u64; K]; width];
        for (&t, &s) in times.iter().zip(status) {
            let k = code(s).unwrap_or(0);
            buckets[(t - lo) as usize][k] += 1;
        }
        let mut out = Self::with_capacity(width.min(times.len()), times.len() as u64);
        for (offset, row) in buckets.iter().enumerate() {
            if row.iter().any(|&c| c > 0) {
                out.time.push(lo + offset as f64);
                for (column, &count) in out.counts.iter_mut().zip(row) {
                    column.push(count);
                }
            }
        }
        out
    }

    fn by_sorting<S: Copy + Sync>(
        times: &[f64],
        status: &[S],
        code: &(impl Fn(S) -> Option<usize> + Sync),
    ) -> Self {
        let mut keys: [Vec<u64>; K] = std::array::from_fn(|_| Vec::new());
        for (&t, &s) in times.iter().zip(status) {
            // +0.0 so that -0.0 (which passed the >= 0 check) sorts as zero.
            keys[code(s).unwrap_or(0)].push((t + 0.0).to_bits());
        }
        if times.len() >= PARALLEL_SORT_MIN {
            std::thread::scope(|scope| {
                for run in keys.iter_mut() {
                    scope.spawn(move || radsort::sort(run));
                }
            });
        } else {
            keys.iter_mut().for_each(|run| radsort::sort(run));
        }
        let mut out = Self::with_capacity(times.len(), times.len() as u64);
        let mut head = [0usize; K];
        loop {
            let next = (0..K).filter_map(|k| keys[k].get(head[k]).copied()).min();
            let Some(key) = next else { break };
            out.time.push(f64::from_bits(key));
            for k in 0..K {
                let run = &keys[k];
                let start = head[k];
                let mut end = start;
                while end < run.len() && run[end] == key {
                    end += 1;
                }
                out.counts[k].push((end - start) as u64);
                head[k] = end;
            }
        }
        out
    }

    fn with_capacity(distinct: usize, n: u64) -> Self {
        Self {
            time: Vec::with_capacity(distinct),
            counts: std::array::from_fn(|_| Vec::with_capacity(distinct)),
            n,
        }
    }

    /// Number at risk just before each distinct time: all observations
    /// with a time at or after it.
    pub fn n_risk(&self) -> Vec<u64> {
        let mut left = self.n;
        (0..self.time.len())
            .map(|i| {
                let here = left;
                left -= (0..K).map(|k| self.counts[k][i]).sum::<u64>();
                here
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(times: &[f64], status: &[u8]) -> Tally<2> {
        Tally::build(
            times,
            status,
            |s| (s < 2).then_some(s as usize),
            "0, 1",
            |s| s,
        )
        .unwrap()
    }

    #[test]
    fn whole_and_fractional_times_give_the_same_table_shape() {
        let whole = tally(&[3.0, 1.0, 3.0, 2.0, 1.0], &[1, 0, 0, 1, 1]);
        assert_eq!(whole.time, vec![1.0, 2.0, 3.0]);
        assert_eq!(whole.counts[1], vec![1, 1, 1]);
        assert_eq!(whole.counts[0], vec![1, 0, 1]);
        assert_eq!(whole.n_risk(), vec![5, 3, 2]);
        let frac = tally(&[3.5, 1.0, 3.5, 2.0, 1.0], &[1, 0, 0, 1, 1]);
        assert_eq!(frac.time, vec![1.0, 2.0, 3.5]);
        assert_eq!(frac.counts, whole.counts);
    }

    #[test]
    fn a_wide_range_of_whole_times_is_sorted_not_bucketed() {
        let t = tally(&[1e12, 0.0, 5.0], &[1, 1, 0]);
        assert_eq!(t.time, vec![0.0, 5.0, 1e12]);
    }

    #[test]
    fn negative_zero_counts_as_zero() {
        let t = tally(&[-0.0, 0.0, 0.5], &[1, 1, 0]);
        assert_eq!(t.time, vec![0.0, 0.5]);
        assert_eq!(t.counts[1], vec![2, 0]);
    }

    #[test]
    fn bad_times_and_statuses_name_the_observation() {
        let err = Tally::<2>::build(
            &[1.0, f64::NAN],
            &[1u8, 0],
            |s| Some(s as usize),
            "0, 1",
            |s| s,
        );
        assert!(matches!(err, Err(StatsError::BadTime { index: 1, .. })));
        let err = Tally::<2>::build(&[1.0, -2.0], &[1u8, 0], |s| Some(s as usize), "0, 1", |s| s);
        assert!(matches!(err, Err(StatsError::BadTime { index: 1, .. })));
        let err = Tally::<2>::build(
            &[1.0, 2.0],
            &[1u8, 7],
            |s| (s < 2).then_some(s as usize),
            "0, 1",
            |s| s,
        );
        assert_eq!(
            err,
            Err(StatsError::BadStatus {
                index: 1,
                value: 7,
                allowed: "0, 1"
            })
        );
        assert_eq!(
            Tally::<2>::build(&[], &[] as &[u8], |s| Some(s as usize), "0, 1", |s| s),
            Err(StatsError::Empty)
        );
    }
}
