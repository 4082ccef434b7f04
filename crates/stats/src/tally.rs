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

/// Observations checked at a time once only validity and the range are
/// left to check.
const CHUNK: usize = 4096;

/// Observations needed before sorting runs on several threads.
pub(crate) const PARALLEL_SORT_MIN: usize = 200_000;

/// Smallest and largest time, and whether all are whole numbers.
type Range = (f64, f64, bool);

/// A checked part of the data: its range and, when every time in it is a
/// whole number below the bucket limit, its counts by day.
type Checked<const K: usize> = (Range, Option<Vec<[u64; K]>>);

/// Day counts of two parts added, into the longer.
fn add_days<const K: usize>(a: Vec<[u64; K]>, b: Vec<[u64; K]>) -> Vec<[u64; K]> {
    let (mut long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    for (x, y) in long.iter_mut().zip(&short) {
        for (x, y) in x.iter_mut().zip(y) {
            *x += y;
        }
    }
    long
}

/// `t.fract() == 0.0` for a valid time, without the call to `trunc` that
/// `fract` costs on baseline x86-64: from 2^52 up every double is whole.
fn is_whole(t: f64) -> bool {
    t >= 4_503_599_627_370_496.0 || (t as u64) as f64 == t
}

/// The bits of a valid time, which order as the times do; +0.0 so that
/// -0.0 (which passed the >= 0 check) sorts as zero.
fn key(t: f64) -> u64 {
    (t + 0.0).to_bits()
}

/// What checking the data found: the table, when the times could be
/// counted without sorting, or the range of times that must be sorted.
pub(crate) enum Prepared<const K: usize> {
    /// Whole numbers in a range narrow enough to count by bucket.
    Counted(Tally<K>),
    /// Times to sort, all within `lo..=hi`.
    Unsorted {
        /// The smallest time.
        lo: f64,
        /// The largest time.
        hi: f64,
    },
}

/// Observation `index`, time `t` with status `s`: its status's code, or
/// why it is refused (the time first).
#[inline(always)]
fn observation<S: Copy>(
    index: usize,
    t: f64,
    s: S,
    (code, raw, allowed): (
        &impl Fn(S) -> Option<usize>,
        &impl Fn(S) -> u8,
        &'static str,
    ),
) -> Result<usize, StatsError> {
    if !is_valid_time(t) {
        return Err(StatsError::BadTime { index, value: t });
    }
    code(s).ok_or_else(|| StatsError::BadStatus {
        index,
        value: raw(s),
        allowed,
    })
}

/// Checks the observations past the first fractional time, where only
/// validity and the range are left to check: a chunk at a time, several
/// observations at once (`pulp` compiles the loop for AVX2 and AVX-512 and
/// picks one when run). The loop it replaced went one time at a time, its
/// running minimum and maximum each waiting on the time before; here they
/// are kept per lane. A chunk with a bad observation is searched for it.
/// `from` is the index of the first; returns the range widened by theirs.
/// Kept out of line, so that the loop before it compiles as it would alone:
/// it is the whole check of whole-day times, the common case.
#[inline(never)]
fn check_the_rest<S: Copy>(
    from: usize,
    (times, status): (&[f64], &[S]),
    (code, raw, allowed): (
        &impl Fn(S) -> Option<usize>,
        &impl Fn(S) -> u8,
        &'static str,
    ),
    (mut lo, mut hi): (f64, f64),
) -> Result<(f64, f64), StatsError> {
    let arch = pulp::Arch::new();
    for (c, (times, status)) in times.chunks(CHUNK).zip(status.chunks(CHUNK)).enumerate() {
        let chunk = arch.dispatch(Chunk {
            times,
            status,
            code,
        });
        if chunk.passed {
            (lo, hi) = chunk.widen((lo, hi));
            continue;
        }
        let from = from + c * CHUNK;
        for (i, (&t, &s)) in times.iter().zip(status).enumerate() {
            observation(from + i, t, s, (code, raw, allowed))?;
        }
        unreachable!("a chunk with a bad observation has one that `observation` refuses");
    }
    // Lanes met ±0 in another order than one loop would: either zero
    // sorts alike, but the range is given with +0.
    Ok((lo + 0.0, hi))
}

/// Observations counted by day at a time.
const DAY_RUN: usize = 1024;

/// Counts the observations of `times` into `days` for as long as whole
/// runs of `DAY_RUN` of them are valid whole days below `limit`, and
/// widens `(lo, hi)` by theirs; returns how many it counted. Whether a run
/// is all such, and its range, is found several lanes at a time (`pulp`);
/// the counting that follows has nothing left to decide. The
/// one-at-a-time loop spent more on checking than on counting.
fn count_whole_days<S: Copy, const K: usize>(
    times: &[f64],
    status: &[S],
    code: &impl Fn(S) -> Option<usize>,
    limit: f64,
    days: &mut Vec<[u64; K]>,
    (lo, hi): (&mut f64, &mut f64),
) -> usize {
    let arch = pulp::Arch::new();
    let limit = limit.min(LAST_LANE_DAY);
    let mut counted = 0;
    for (times, status) in times
        .chunks_exact(DAY_RUN)
        .zip(status.chunks_exact(DAY_RUN))
    {
        let run = arch.dispatch(DayRun {
            times,
            status,
            code,
            limit,
        });
        if !run.passed {
            break;
        }
        // A whole number below 2²⁸: the conversion is exact.
        let rows = run.hi as usize + 1;
        if rows > days.len() {
            days.resize(rows.max(2 * days.len()), [0; K]);
        }
        for (&t, &s) in times.iter().zip(status) {
            let k = code(s).unwrap_or(0);
            days[t as u32 as usize][k] += 1;
        }
        (*lo, *hi) = run.widen((*lo, *hi));
        counted += DAY_RUN;
    }
    counted
}

/// Days from this one on are left to the one-at-a-time loop.
const LAST_LANE_DAY: f64 = (1u32 << 28) as f64;

/// A run of observations to check as days.
struct DayRun<'a, S, C> {
    times: &'a [f64],
    status: &'a [S],
    code: &'a C,
    limit: f64,
}

impl<S: Copy, C: Fn(S) -> Option<usize>> pulp::WithSimd for DayRun<'_, S, C> {
    type Output = LaneCheck;

    /// What the one-at-a-time loop decides per observation, without a
    /// jump and without converting to integers: valid (`is_valid_time` on
    /// the bits, and a known status), and a whole number below the limit.
    /// (A saturating conversion per lane compiled to scalar code; without
    /// AVX2, where `pulp` runs this one time at a time, `trunc` is a call.)
    #[inline(always)]
    fn with_simd<Simd: pulp::Simd>(self, _: Simd) -> LaneCheck {
        let Self {
            times,
            status,
            code,
            limit,
        } = self;
        let (times, _) = times.as_chunks::<LANES>();
        let (mut lo, mut hi) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        let mut other = [0u64; LANES];
        for (t, s) in times.iter().zip(status.chunks_exact(LANES)) {
            for lane in 0..LANES {
                let t = t[lane];
                let whole_day = (t < limit) & (t.trunc() == t);
                other[lane] |= u64::from(!(valid_bits(t) & code(s[lane]).is_some() & whole_day));
                lo[lane] = if t < lo[lane] { t } else { lo[lane] };
                hi[lane] = if t > hi[lane] { t } else { hi[lane] };
            }
        }
        LaneCheck {
            passed: other.iter().all(|&o| o == 0),
            lo: lowest(lo),
            hi: highest(hi),
        }
    }
}

/// Lanes the chunk check keeps apart: a vector of doubles on AVX-512.
const LANES: usize = 8;

/// The least of the lanes' running minima.
fn lowest(lanes: [f64; LANES]) -> f64 {
    lanes
        .into_iter()
        .fold(f64::INFINITY, |a, b| if b < a { b } else { a })
}

/// The greatest of the lanes' running maxima.
fn highest(lanes: [f64; LANES]) -> f64 {
    lanes
        .into_iter()
        .fold(f64::NEG_INFINITY, |a, b| if b > a { b } else { a })
}

/// The bits of a double at and above which it is infinite, NaN or negative,
/// except for −0.
const FIRST_INVALID_BITS: u64 = f64::INFINITY.to_bits();

/// One chunk of observations to check.
struct Chunk<'a, S, C> {
    times: &'a [f64],
    status: &'a [S],
    code: &'a C,
}

/// Whether every observation of a run passed a lane check, and the run's
/// range.
struct LaneCheck {
    passed: bool,
    lo: f64,
    hi: f64,
}

impl LaneCheck {
    /// `(lo, hi)` widened by the run's range.
    fn widen(&self, (lo, hi): (f64, f64)) -> (f64, f64) {
        (
            if self.lo < lo { self.lo } else { lo },
            if self.hi > hi { self.hi } else { hi },
        )
    }
}

/// `is_valid_time` on the bits, for the lanes: below those of infinity
/// (finite and not negative), or −0.
#[inline(always)]
fn valid_bits(t: f64) -> bool {
    let bits = t.to_bits();
    (bits < FIRST_INVALID_BITS) | (bits == (-0.0f64).to_bits())
}

impl<S: Copy, C: Fn(S) -> Option<usize>> pulp::WithSimd for Chunk<'_, S, C> {
    type Output = LaneCheck;

    /// `is_valid_time` on the bits, and a known status. The running
    /// minimum and maximum are kept per lane, so that the lanes do not wait
    /// for one another.
    #[inline(always)]
    fn with_simd<Simd: pulp::Simd>(self, _: Simd) -> LaneCheck {
        let Self {
            times,
            status,
            code,
        } = self;
        let status = &status[..times.len()];
        let (mut lo, mut hi) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
        let mut invalid = [0u64; LANES];
        let (lanes, rest) = times.as_chunks::<LANES>();
        let (status_lanes, status_rest) = status.split_at(lanes.len() * LANES);
        for (t, s) in lanes.iter().zip(status_lanes.chunks_exact(LANES)) {
            for k in 0..LANES {
                invalid[k] |= u64::from(!valid_bits(t[k]) | code(s[k]).is_none());
                lo[k] = if t[k] < lo[k] { t[k] } else { lo[k] };
                hi[k] = if t[k] > hi[k] { t[k] } else { hi[k] };
            }
        }
        for (k, (&t, &s)) in rest.iter().zip(status_rest).enumerate() {
            invalid[k] |= u64::from(!is_valid_time(t) | code(s).is_none());
            lo[k] = if t < lo[k] { t } else { lo[k] };
            hi[k] = if t > hi[k] { t } else { hi[k] };
        }
        LaneCheck {
            passed: invalid.iter().all(|&bad| bad == 0),
            lo: lowest(lo),
            hi: highest(hi),
        }
    }
}

impl<const K: usize> Tally<K> {
    /// Builds the table from parallel columns; `code` maps a status to
    /// `0..K` or `None` when it is outside the allowed set.
    pub fn build<S: Copy + Sync>(
        times: &[f64],
        status: &[S],
        code: impl Fn(S) -> Option<usize> + Sync,
        allowed: &'static str,
        raw: impl Fn(S) -> u8 + Sync,
    ) -> Result<Self, StatsError> {
        match Self::prepare(times, status, &code, allowed, raw)? {
            Prepared::Counted(tally) => Ok(tally),
            Prepared::Unsorted { .. } => Ok(Self::by_sorting(times, status, &code)),
        }
    }

    /// Checks every observation (the first bad one is the error) and
    /// counts the table when that needs no sort.
    pub(crate) fn prepare<S: Copy + Sync>(
        times: &[f64],
        status: &[S],
        code: &(impl Fn(S) -> Option<usize> + Sync),
        allowed: &'static str,
        raw: impl Fn(S) -> u8 + Sync,
    ) -> Result<Prepared<K>, StatsError> {
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
        // Days counted while checking: no more buckets than observations
        // (past that, the table is sparse and the paths below decide).
        let limit = times.len().max(1 << 16) as f64;
        let check = |from: usize, times: &[f64], status: &[S]| -> Result<Checked<K>, StatsError> {
            let (mut lo, mut hi, mut whole) = (f64::INFINITY, f64::NEG_INFINITY, true);
            // Counted by day while every time so far is a whole number
            // below the day limit: for whole days (the common case) the
            // check's one pass over the data is then the only pass.
            let (mut days, mut counting): (Vec<[u64; K]>, bool) = (Vec::new(), true);
            // Where the times stopped being whole numbers, if they did.
            let mut fractional_from = None;
            // Runs of valid whole days below the limit are counted a run at
            // a time; the loop below takes over at the first run that holds
            // anything else, in the state it would have reached itself.
            let start = count_whole_days(times, status, code, limit, &mut days, (&mut lo, &mut hi));
            let (times, status) = (&times[start..], &status[start..]);
            let from = from + start;
            for (i, (&t, &s)) in times.iter().zip(status).enumerate() {
                let k = observation(from + i, t, s, (code, &raw, allowed))?;
                // Valid, so neither is NaN: plain comparisons suffice.
                lo = if t < lo { t } else { lo };
                hi = if t > hi { t } else { hi };
                // Below the limit (far below 2^63) a signed conversion is
                // exact for whole numbers and one instruction each way.
                let day = t as i64;
                if counting && t < limit && day as f64 == t {
                    let day = day as usize;
                    if day >= days.len() {
                        days.resize((day + 1).max(2 * days.len()), [0; K]);
                    }
                    days[day][k] += 1;
                } else if whole {
                    if counting {
                        counting = false;
                        days = Vec::new();
                    }
                    whole = is_whole(t);
                    if !whole {
                        fractional_from = Some(i + 1);
                        break;
                    }
                }
            }
            if let Some(start) = fractional_from {
                (lo, hi) = check_the_rest(
                    from + start,
                    (&times[start..], &status[start..]),
                    (code, &raw, allowed),
                    (lo, hi),
                )?;
            }
            Ok(((lo, hi, whole), counting.then_some(days)))
        };
        // Two halves on two threads; the first half's error is the first.
        let ((lo, hi, whole), days) = if times.len() >= PARALLEL_SORT_MIN {
            let half = times.len() / 2;
            let (first, second) = std::thread::scope(|scope| {
                let second = scope.spawn(|| check(half, &times[half..], &status[half..]));
                let first = check(0, &times[..half], &status[..half]);
                (first, second.join().expect("checking does not panic"))
            });
            let (((lo0, hi0, whole0), days0), ((lo1, hi1, whole1), days1)) = (first?, second?);
            let days = match (days0, days1) {
                (Some(a), Some(b)) => Some(add_days(a, b)),
                _ => None,
            };
            ((lo0.min(lo1), hi0.max(hi1), whole0 && whole1), days)
        } else {
            check(0, times, status)?
        };
        if let Some(days) = days {
            return Ok(Prepared::Counted(Self::from_buckets(
                &days,
                0.0,
                times.len(),
            )));
        }
        if whole && hi - lo < bucket_limit(times.len()) {
            Ok(Prepared::Counted(Self::by_buckets(
                times, status, code, lo, hi,
            )))
        } else {
            Ok(Prepared::Unsorted { lo, hi })
        }
    }

    fn by_buckets<S: Copy + Sync>(
        times: &[f64],
        status: &[S],
        code: &(impl Fn(S) -> Option<usize> + Sync),
        lo: f64,
        hi: f64,
    ) -> Self {
        let width = (hi - lo) as usize + 1;
        let count = |times: &[f64], status: &[S]| {
            let mut buckets = vec![[0u64; K]; width];
            for (&t, &s) in times.iter().zip(status) {
                let k = code(s).unwrap_or(0);
                buckets[(t - lo) as usize][k] += 1;
            }
            buckets
        };
        // A second table per thread only pays when it is small beside the data.
        let buckets = if times.len() >= PARALLEL_SORT_MIN && width <= times.len() / 8 {
            let half = times.len() / 2;
            let (mut first, second) = std::thread::scope(|scope| {
                let second = scope.spawn(|| count(&times[half..], &status[half..]));
                let first = count(&times[..half], &status[..half]);
                (first, second.join().expect("counting does not panic"))
            });
            for (a, b) in first.iter_mut().zip(&second) {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
            }
            first
        } else {
            count(times, status)
        };
        Self::from_buckets(&buckets, lo, times.len())
    }

    /// The rows of the buckets that hold an observation; bucket `i` holds
    /// time `lo + i`.
    fn from_buckets(buckets: &[[u64; K]], lo: f64, n: usize) -> Self {
        let mut out = Self::with_capacity(buckets.len().min(n), n as u64);
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

    /// Radix sort of the keys, one run per status code, then a merge that
    /// collapses equal keys into a row. Above [`PARALLEL_SORT_MIN`] the keys
    /// are split at a sampled median into a lower and an upper part, each
    /// sorted and merged by its own thread straight into its share of the
    /// output, so the two halves need no merging afterwards.
    fn by_sorting<S: Copy + Sync>(
        times: &[f64],
        status: &[S],
        code: &(impl Fn(S) -> Option<usize> + Sync),
    ) -> Self {
        let n = times.len();
        // Zeroed allocations are mapped lazily: the rows never written
        // (times seen more than once) are never touched.
        let mut time = vec![0.0f64; n];
        let mut counts: [Vec<u64>; K] = std::array::from_fn(|_| vec![0u64; n]);
        // The keys in `from..to`, one run per status code, sorted. Written
        // without a branch per key (the status is as good as random), into
        // zeroed runs of which only the used part is ever touched.
        let runs = |from: u64, to: u64| {
            let mut runs: [Vec<u64>; K] = std::array::from_fn(|_| vec![0u64; n + 1]);
            let mut len = [0usize; K];
            for (&t, &s) in times.iter().zip(status) {
                let key = key(t);
                let k = code(s).unwrap_or(0);
                runs[k][len[k]] = key;
                len[k] += usize::from(from <= key && key < to);
            }
            for (run, &len) in runs.iter_mut().zip(&len) {
                run.truncate(len);
                radsort::sort(run);
                // A key no valid time has: the merge needs no bounds checks.
                run.push(u64::MAX);
            }
            runs
        };
        let distinct = if n >= PARALLEL_SORT_MIN {
            let split = sampled_median(times);
            let (lower, upper) = std::thread::scope(|scope| {
                let upper = scope.spawn(|| runs(split, u64::MAX));
                let lower = runs(0, split);
                (lower, upper.join().expect("sorting does not panic"))
            });
            // Rows of the lower part: at most one per key below the split.
            let room = lower.iter().map(|run| run.len() - 1).sum::<usize>();
            let (time_lower, time_upper) = time.split_at_mut(room);
            let mut counts_lower = Vec::with_capacity(K);
            let mut counts_upper = Vec::with_capacity(K);
            for column in counts.iter_mut() {
                let (a, b) = column.split_at_mut(room);
                counts_lower.push(a);
                counts_upper.push(b);
            }
            let (below, above) = std::thread::scope(|scope| {
                let above = scope.spawn(|| merge(&upper, time_upper, &mut counts_upper));
                let below = merge(&lower, time_lower, &mut counts_lower);
                (below, above.join().expect("merging does not panic"))
            });
            // Close the gap between the two parts' rows.
            time.copy_within(room..room + above, below);
            for column in counts.iter_mut() {
                column.copy_within(room..room + above, below);
            }
            below + above
        } else {
            let runs = runs(0, u64::MAX);
            let mut columns: Vec<&mut [u64]> = counts.iter_mut().map(|c| &mut c[..]).collect();
            merge(&runs, &mut time, &mut columns)
        };
        time.truncate(distinct);
        for column in counts.iter_mut() {
            column.truncate(distinct);
        }
        Self {
            time,
            counts,
            n: n as u64,
        }
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

/// Merges sorted runs of keys (one per status code, each ending in
/// `u64::MAX`) into rows: each distinct key once in `time`, and in
/// `counts[k]` how many times run `k` holds it. Returns the number of rows.
fn merge<const K: usize>(
    runs: &[Vec<u64>; K],
    time: &mut [f64],
    counts: &mut [&mut [u64]],
) -> usize {
    let mut head = [0usize; K];
    let mut rows = 0;
    loop {
        let key = (0..K).map(|k| runs[k][head[k]]).min().unwrap_or(u64::MAX);
        if key == u64::MAX {
            return rows;
        }
        time[rows] = f64::from_bits(key);
        for k in 0..K {
            let run = &runs[k];
            let start = head[k];
            let mut end = start;
            while run[end] == key {
                end += 1;
            }
            counts[k][rows] = (end - start) as u64;
            head[k] = end;
        }
        rows += 1;
    }
}

/// The median key of up to 1023 evenly spaced times: where to split the
/// keys between two threads. Any split gives the same table; this one
/// gives the threads about the same work.
fn sampled_median(times: &[f64]) -> u64 {
    let step = (times.len() / 1023).max(1);
    let mut sample: Vec<u64> = times.iter().step_by(step).map(|&t| key(t)).collect();
    sample.sort_unstable();
    sample[sample.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::draws;

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

    /// The table by the plainest means: a sorted map from time to counts.
    fn reference(times: &[f64], status: &[u8]) -> Tally<3> {
        let mut rows = std::collections::BTreeMap::<u64, [u64; 3]>::new();
        for (&t, &s) in times.iter().zip(status) {
            rows.entry(key(t)).or_default()[s as usize] += 1;
        }
        Tally {
            time: rows.keys().map(|&k| f64::from_bits(k)).collect(),
            counts: std::array::from_fn(|k| rows.values().map(|c| c[k]).collect()),
            n: times.len() as u64,
        }
    }

    #[test]
    fn the_threaded_paths_give_the_plain_table() {
        let n = 3 * PARALLEL_SORT_MIN / 2;
        let mut state = 11u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state >> 33
        };
        let status: Vec<u8> = (0..n).map(|_| (next() % 3) as u8).collect();
        // Ties of fractional times; whole days (counted while checking);
        // whole days far from 0 (counted in buckets after the check);
        // whole numbers too far apart for buckets; and whole days in the
        // first half with times past the day limit in the second.
        let spreads: [&dyn Fn(usize, u64) -> f64; 5] = [
            &|_, r| (r % 50_000) as f64 / 8.0,
            &|_, r| (r % 3_000) as f64,
            &|_, r| 1e7 + (r % 3_000) as f64,
            &|_, r| (r % 1_000) as f64 * 1e9,
            &|i, r| (r % 3_000) as f64 + if i > n / 2 { 1e6 } else { 0.0 },
        ];
        for spread in spreads {
            let times: Vec<f64> = (0..n).map(|i| spread(i, next())).collect();
            let built = Tally::<3>::build(
                &times,
                &status,
                |s| (s < 3).then_some(s as usize),
                "0, 1, 2",
                |s| s,
            )
            .unwrap();
            assert_eq!(built, reference(&times, &status));
        }
    }

    #[test]
    fn the_first_bad_observation_is_named_when_threads_check() {
        let n = 2 * PARALLEL_SORT_MIN;
        let mut times = vec![1.5; n];
        times[n - 3] = -1.0;
        times[n / 2 - 1] = f64::NAN;
        let err = Tally::<2>::build(&times, &vec![0u8; n], |s| Some(s as usize), "0, 1", |s| s);
        assert!(matches!(err, Err(StatsError::BadTime { index, .. }) if index == n / 2 - 1));
    }

    /// Past the first fractional time the check goes a chunk at a time:
    /// the range is still exact, and a bad observation anywhere, at a
    /// chunk's edges too, is still named.
    #[test]
    fn chunked_checks_keep_the_range_and_name_the_bad_observation() {
        let n = 5 * CHUNK + 11;
        let times: Vec<f64> = (0..n).map(|i| 1.5 + (i * 7 % 1000) as f64).collect();
        let code = |s: u8| (s < 2).then_some(usize::from(s));
        for (at, value) in [(3 * CHUNK - 1, 0.25), (3 * CHUNK, 1e6), (n - 1, 0.0)] {
            let mut times = times.clone();
            times[at] = value;
            let Ok(Prepared::Unsorted { lo, hi }) =
                Tally::<2>::prepare(&times, &vec![1u8; n], &code, "0, 1", |s| s)
            else {
                panic!("fractional times are sorted");
            };
            let lo_expected = times.iter().copied().fold(f64::INFINITY, f64::min);
            let hi_expected = times.iter().copied().fold(0.0, f64::max);
            assert_eq!((lo, hi), (lo_expected, hi_expected));
        }
        for at in [CHUNK - 1, CHUNK, CHUNK + 1, 4 * CHUNK + 7, n - 1] {
            for bad in [f64::NAN, -0.5, f64::INFINITY] {
                let mut times = times.clone();
                times[at] = bad;
                let err = Tally::<2>::prepare(&times, &vec![0u8; n], &code, "0, 1", |s| s);
                assert!(
                    matches!(err, Err(StatsError::BadTime { index, .. }) if index == at),
                    "{bad} at {at}"
                );
            }
            let mut status = vec![1u8; n];
            status[at] = 9;
            let err = Tally::<2>::prepare(&times, &status, &code, "0, 1", |s| s);
            assert!(
                matches!(err, Err(StatsError::BadStatus { index, value: 9, .. }) if index == at),
                "status at {at}"
            );
        }
    }

    /// The chunk check reads validity off the bits, several lanes at once:
    /// it must agree with `is_valid_time` on every awkward double, in
    /// every lane and in a chunk's tail that does not fill the lanes.
    #[test]
    fn the_lanes_agree_with_is_valid_time_on_awkward_doubles() {
        let awkward = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            -f64::from_bits(1),
            -f64::MAX,
            -1.5,
        ];
        let n = CHUNK + 13;
        let code = |s: u8| (s < 2).then_some(usize::from(s));
        let positions = (0..2 * LANES).chain(CHUNK..n);
        for at in positions {
            for value in awkward {
                let mut times = vec![0.5; n];
                times[at] = value;
                let prepared = Tally::<2>::prepare(&times, &vec![1u8; n], &code, "0, 1", |s| s);
                if is_valid_time(value) {
                    let Ok(Prepared::Unsorted { lo, hi }) = prepared else {
                        panic!("{value:e} at {at} is valid");
                    };
                    // To the bit: a range at −0 is given as +0.
                    let expected = (value.min(0.5) + 0.0, value.max(0.5));
                    assert_eq!(
                        (lo.to_bits(), hi.to_bits()),
                        (expected.0.to_bits(), expected.1.to_bits()),
                        "{value:e} at {at}"
                    );
                } else {
                    assert!(
                        matches!(prepared, Err(StatsError::BadTime { index, .. }) if index == at),
                        "{value:e} at {at}"
                    );
                }
            }
        }
    }

    /// The table counted one observation at a time, by the time's value.
    fn naive(times: &[f64], status: &[u8]) -> Tally<2> {
        let mut table = std::collections::BTreeMap::<u64, [u64; 2]>::new();
        for (&t, &s) in times.iter().zip(status) {
            table.entry((t + 0.0).to_bits()).or_default()[usize::from(s)] += 1;
        }
        Tally {
            time: table.keys().map(|&bits| f64::from_bits(bits)).collect(),
            counts: [0, 1].map(|k| table.values().map(|c| c[k]).collect()),
            n: times.len() as u64,
        }
    }

    /// Whole days are counted a run of `DAY_RUN` at a time while every run
    /// is all valid days below the limit; anything else in a run hands the
    /// run over to the one-at-a-time loop. Wherever it sits, the table is
    /// the one counted by value, and a bad observation is named, on one
    /// thread and in the second thread's half after runs of its own.
    #[test]
    fn day_runs_hand_over_at_anything_else() {
        let n = 3 * DAY_RUN + 100;
        let mut next = draws(5);
        let days: Vec<f64> = (0..n).map(|_| (next() % 2_000) as f64).collect();
        let status: Vec<u8> = (0..n).map(|_| (next() % 2) as u8).collect();
        let code = |s: u8| (s < 2).then_some(usize::from(s));
        // The runs count: all three whole runs pass, −0 too (it is day 0).
        let mut with_zero = days.clone();
        with_zero[DAY_RUN + 3] = -0.0;
        let (mut counted, mut lo, mut hi) = (Vec::<[u64; 2]>::new(), f64::INFINITY, 0.0);
        let runs = count_whole_days(
            &with_zero,
            &status,
            &code,
            65_536.0,
            &mut counted,
            (&mut lo, &mut hi),
        );
        assert_eq!(runs, 3 * DAY_RUN);
        let counted_part = &with_zero[..3 * DAY_RUN];
        assert_eq!(
            lo,
            counted_part.iter().copied().fold(f64::INFINITY, f64::min)
        );
        assert_eq!(hi, counted_part.iter().copied().fold(0.0, f64::max));
        assert!(
            counted[0][usize::from(status[DAY_RUN + 3])] >= 1,
            "−0 counts as day 0"
        );
        assert_eq!(tally(&with_zero, &status), naive(&with_zero, &status));
        assert_eq!(tally(&days, &status), naive(&days, &status));
        for at in [0, DAY_RUN - 1, DAY_RUN, 2 * DAY_RUN + 5, n - 1] {
            // What hands a run over: a fraction, a whole number at the
            // limit (`max(n, 2¹⁶)`) and one far past it.
            for value in [2.5, 65_536.0, 1e9] {
                let mut times = days.clone();
                times[at] = value;
                assert_eq!(
                    tally(&times, &status),
                    naive(&times, &status),
                    "{value} at {at}"
                );
            }
            for bad in [f64::NAN, -1.0, f64::INFINITY] {
                let mut times = days.clone();
                times[at] = bad;
                let err = Tally::<2>::prepare(&times, &status, &code, "0, 1", |s| s);
                assert!(
                    matches!(err, Err(StatsError::BadTime { index, .. }) if index == at),
                    "{bad} at {at}"
                );
            }
            let mut bad_status = status.clone();
            bad_status[at] = 7;
            let err = Tally::<2>::prepare(&days, &bad_status, &code, "0, 1", |s| s);
            assert!(
                matches!(err, Err(StatsError::BadStatus { index, value: 7, .. }) if index == at),
                "status at {at}"
            );
        }
        // Two threads: a bad time in the second half, after runs there.
        let n = 2 * PARALLEL_SORT_MIN;
        let mut times: Vec<f64> = (0..n).map(|_| (next() % 2_000) as f64).collect();
        let at = n / 2 + 2 * DAY_RUN + 3;
        times[at] = -2.0;
        let err = Tally::<2>::prepare(&times, &vec![0u8; n], &code, "0, 1", |s| s);
        assert!(matches!(err, Err(StatsError::BadTime { index, .. }) if index == at));
    }

    /// Whole days first, then a fractional time in the middle: the check
    /// goes on a chunk at a time from the observation after it, which is
    /// named when bad, and the range still covers every time.
    #[test]
    fn a_first_fractional_time_mid_data_hands_over_to_the_chunks() {
        let n = 3 * CHUNK;
        let code = |s: u8| (s < 2).then_some(usize::from(s));
        for first_fraction in [1, CHUNK - 1, CHUNK + 5] {
            let mut times: Vec<f64> = (0..n).map(|i| (i % 700) as f64).collect();
            times[first_fraction] = 2.5;
            times[n - 2] = 9_999.25;
            let Ok(Prepared::Unsorted { lo, hi }) =
                Tally::<2>::prepare(&times, &vec![0u8; n], &code, "0, 1", |s| s)
            else {
                panic!("a fractional time is sorted");
            };
            assert_eq!((lo, hi), (0.0, 9_999.25));
            let mut bad = times.clone();
            bad[first_fraction + 1] = -3.0;
            let err = Tally::<2>::prepare(&bad, &vec![0u8; n], &code, "0, 1", |s| s);
            assert!(
                matches!(err, Err(StatsError::BadTime { index, .. }) if index == first_fraction + 1),
                "after the fraction at {first_fraction}: {:?}",
                err.err()
            );
        }
    }
}
