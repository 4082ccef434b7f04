//! Quantiles of a step curve by R's rule (`survival:::findq`): the smallest
//! time where the curve falls to the level, and where it lies exactly on the
//! level over an interval, the midpoint of that interval.
//!
//! The rule is copied operation by operation (including its tolerance and
//! the way `approx(method = "constant", f = 1)` picks an index) because a
//! median that differs from R's by half an interval is a different number in
//! a clinical report.
//!
//! R deduplicates the curve and sorts it for `approx`, which for a curve of
//! ten million steps costs a hash set and two sorts per quantile. Survival
//! curves and their bounds are monotone almost everywhere: a log-log upper
//! bound may rise again in the last few rows, where a handful are at risk.
//! So [`StepCurve`] finds once, in O(n), the longest prefix that is
//! monotone, answers the prefix's part of each quantile by binary search on
//! the curve as it is, and only the rows after it (the tail) one by one.
//! It gives the index R's steps would give; the rare curve where that is
//! ambiguous (two different values that become equal once the tolerance is
//! added) goes through the literal port ([`findq`]).

/// `sqrt(.Machine$double.eps)`: how close to the level counts as "on" it.
pub const TOLERANCE: f64 = 1.490_116_119_384_765_6e-8;

/// Time at which `1 - curve` first reaches `p`, for a curve given at
/// `times` (ascending) and starting from 1 at `start`. Returns `NaN` where R
/// gives `NA` (the curve never gets there). `curve` may contain `NaN`
/// (undefined confidence bounds), which R's `approx` drops.
pub fn quantile(start: f64, times: &[f64], curve: &[f64], p: f64) -> f64 {
    StepCurve::new(start, times, curve).quantile(p)
}

/// A step curve prepared for several quantiles: the points of `findq`'s
/// `x` and `y` (the start, then `times` with `1 - curve`), and the extent of
/// the monotone prefix of `y`.
#[derive(Debug, Clone, Copy)]
pub struct StepCurve<'a> {
    start: f64,
    times: &'a [f64],
    curve: &'a [f64],
    shape: Shape,
    /// `max(y, na.rm = TRUE)`: the same for every quantile.
    max_y: f64,
    /// The value of the last point `duplicated` keeps (see
    /// [`Self::last_kept`]): the same for every quantile.
    last: f64,
}

/// The points of `y` split into a monotone prefix and a tail. In the
/// prefix, `NaN` occurs only right after the start (points `1..first`: a
/// log-log bound while survival is still 1), and the start with points
/// `first..end` never decrease. The tail, `end..`, is anything: often
/// empty, or `NaN` once survival is 0, or the last rows of a bound that
/// rises again.
#[derive(Debug, Clone, Copy)]
struct Shape {
    first: usize,
    end: usize,
}

/// The answer of one `approx` call, as a point of `x` and `y`.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    key: f64,
    y: f64,
    point: usize,
}

impl<'a> StepCurve<'a> {
    /// Prepares `curve` (given at `times`, ascending) starting from 1 at
    /// `start`: one pass over the curve, and one over its tail for what
    /// does not depend on the quantile asked.
    pub fn new(start: f64, times: &'a [f64], curve: &'a [f64]) -> Self {
        let mut out = Self {
            start,
            times,
            curve,
            shape: Shape { first: 0, end: 0 },
            max_y: f64::NAN,
            last: f64::NAN,
        };
        out.shape = out.split();
        out.max_y = out
            .tail()
            .map(|(_, y)| y)
            .fold(out.prefix_y(out.prefix_len() - 1), f64::max);
        out.last = out.last_kept();
        out
    }

    /// Number of points of `x` and `y`.
    fn len(&self) -> usize {
        self.curve.len() + 1
    }

    /// `y[r]`, computed as `findq` computes it.
    fn y(&self, r: usize) -> f64 {
        if r == 0 { 0.0 } else { 1.0 - self.curve[r - 1] }
    }

    /// `x[r]`.
    fn x(&self, r: usize) -> f64 {
        if r == 0 {
            self.start
        } else {
            self.times[r - 1]
        }
    }

    /// The longest monotone prefix of `y` and the tail after it: it ends
    /// at the first point that is `NaN` or below the one before it (for
    /// point `first`, below the start).
    fn split(&self) -> Shape {
        let n = self.len();
        let first = (1..n).find(|&r| !self.y(r).is_nan()).unwrap_or(n);
        // Point `first` is not `NaN`, by its definition.
        let end = if first == n || self.y(first) < self.y(0) {
            first
        } else {
            // Point `first + i` is `1 - curve[first - 1 + i]`.
            first + first_fall(&self.curve[first - 1..])
        };
        Shape { first, end }
    }

    /// Time at which `1 - curve` first reaches `p`, as [`quantile`].
    pub fn quantile(&self, p: f64) -> f64 {
        let fast = if p.is_nan() {
            None
        } else {
            self.findq_split(p)
        };
        fast.unwrap_or_else(|| {
            let mut x = Vec::with_capacity(self.len());
            let mut y = Vec::with_capacity(self.len());
            x.push(self.start);
            y.push(0.0);
            x.extend_from_slice(self.times);
            y.extend(self.curve.iter().map(|s| 1.0 - s));
            findq(&x, &y, p)
        })
    }

    /// Number of points of the prefix that are not `NaN`; the `k`-th of
    /// them is [`Self::point`]`(k)`.
    fn prefix_len(&self) -> usize {
        1 + self.shape.end - self.shape.first
    }

    /// The point of `x` and `y` that is the `k`-th not `NaN` of the prefix.
    fn point(&self, k: usize) -> usize {
        if k == 0 { 0 } else { self.shape.first + k - 1 }
    }

    /// The `k`-th value of the prefix that is not `NaN`.
    fn prefix_y(&self, k: usize) -> f64 {
        self.y(self.point(k))
    }

    /// The points of the tail that are not `NaN`, with their values.
    fn tail(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        (self.shape.end..self.len())
            .map(|r| (r, self.y(r)))
            .filter(|(_, y)| !y.is_nan())
    }

    /// [`findq`] on the split curve, step by step; `None` where the answer
    /// depends on how R orders tied keys (then the literal port decides):
    ///
    /// - `max(y, na.rm = TRUE)` is the larger of the prefix's last value
    ///   and the tail's largest;
    /// - `!duplicated(y)` keeps the first point of each value; `approx`
    ///   drops the `NaN`, sorts the keys `y ± tolerance` and, by bisection,
    ///   answers the point whose key equals `p`, else the point with the
    ///   smallest key above it: that is the smallest key at or above `p`,
    ///   at the first point of its value (see [`Self::approx_index`]);
    /// - the last kept value is found from the end (see
    ///   [`Self::last_kept`]).
    fn findq_split(&self, p: f64) -> Option<f64> {
        if self.max_y < p {
            return Some(f64::NAN);
        }
        let xmax = self.x(self.len() - 1);
        let index1 = self.approx_index(TOLERANCE, p)?;
        let index2 = self.approx_index(-TOLERANCE, p)?;
        let at = |i: Option<usize>| i.map_or(f64::NAN, |r| self.x(r));
        let mut q = (at(index1) + at(index2)) / 2.0;
        if p == 0.0 {
            q = self.start;
        }
        let last = self.last;
        if !last.is_nan() && (p - last).abs() < TOLERANCE {
            q = (at(index1) + xmax) / 2.0;
        }
        Some(q)
    }

    /// `approx_constant_right` on the deduplicated keys `y + shift`,
    /// answered as a point of `x`: `Some(None)` outside the keys' range,
    /// `None` when two different values share the answer's key.
    ///
    /// In the prefix, bisection finds `j`, the first key above `p`; when
    /// the key before it equals `p` the answer is the start of that key's
    /// run of equal values, else `j` (which starts its run). The tail is
    /// then read point by point against that candidate.
    fn approx_index(&self, shift: f64, p: f64) -> Option<Option<usize>> {
        let m = self.prefix_len();
        let key = |k: usize| self.prefix_y(k) + shift;
        let j = partition_point(m, |k| key(k) <= p);
        let from_prefix = |k: usize| Candidate {
            key: key(k),
            y: self.prefix_y(k),
            point: self.point(k),
        };
        let mut best = if j > 0 && key(j - 1) == p {
            let value = self.prefix_y(j - 1);
            Some(from_prefix(partition_point(j - 1, |k| {
                self.prefix_y(k) < value
            })))
        } else if j < m {
            Some(from_prefix(j))
        } else {
            None
        };
        let (mut lowest, mut highest) = (key(0), key(m - 1));
        for (point, y) in self.tail() {
            let key = y + shift;
            lowest = lowest.min(key);
            highest = highest.max(key);
            if key < p {
                continue;
            }
            match best {
                Some(b) if key > b.key => {}
                // The same value seen before: its first point stays.
                Some(b) if key == b.key && y == b.y => {}
                Some(b) if key == b.key => return None,
                _ => best = Some(Candidate { key, y, point }),
            }
        }
        if p < lowest || p > highest {
            return Some(None);
        }
        Some(best.map(|b| b.point))
    }

    /// The value of the last point `duplicated` keeps: the last point
    /// whose value (`NaN` counting as one) has not occurred before it.
    fn last_kept(&self) -> f64 {
        let m = self.prefix_len();
        let prefix_nan = self.shape.first > 1;
        let tail = self.shape.end..self.len();
        if !tail.is_empty() {
            let first_tail_nan = tail.clone().find(|&r| self.y(r).is_nan());
            // First point of each value in the tail; -0.0 is 0.0.
            let mut first_of = std::collections::HashMap::new();
            for (r, y) in self.tail() {
                first_of.entry((y + 0.0).to_bits()).or_insert(r);
            }
            let in_prefix = |y: f64| {
                let k = partition_point(m, |k| self.prefix_y(k) < y);
                k < m && self.prefix_y(k) == y
            };
            for r in tail.rev() {
                let y = self.y(r);
                let earlier = if y.is_nan() {
                    prefix_nan || first_tail_nan.is_some_and(|f| f < r)
                } else {
                    in_prefix(y) || first_of[&(y + 0.0).to_bits()] < r
                };
                if !earlier {
                    return y;
                }
            }
        }
        // Every point of the tail repeats an earlier value: the last kept
        // point is in the prefix, the start of its largest value's run,
        // unless the prefix's NaN (point 1) comes after that.
        let largest = self.prefix_y(m - 1);
        let largest_from = self.point(partition_point(m, |k| self.prefix_y(k) < largest));
        if prefix_nan && largest_from < 1 {
            f64::NAN
        } else {
            largest
        }
    }
}

/// The first `i >= 1` where `1 - curve[i]` is `NaN` or below
/// `1 - curve[i - 1]` (or where `curve[i - 1]` is `NaN`, which `split`
/// never passes), or `curve.len()`. A curve of ten million steps is
/// read a block at a time without a branch per step, which the compiler
/// turns into vector instructions; only a block that falls is searched
/// step by step.
fn first_fall(curve: &[f64]) -> usize {
    const BLOCK: usize = 1024;
    let holds = |before: f64, after: f64| 1.0 - after >= 1.0 - before;
    let mut start = 1;
    while start < curve.len() {
        let end = (start + BLOCK).min(curve.len());
        let steady = curve[start - 1..end - 1]
            .iter()
            .zip(&curve[start..end])
            .fold(true, |all, (&before, &after)| all & holds(before, after));
        if !steady {
            return (start..end)
                .find(|&i| !holds(curve[i - 1], curve[i]))
                .expect("the block has a fall");
        }
        start = end;
    }
    curve.len()
}

/// The first index in `0..end` where `pred` turns false (`pred` is true
/// then false over that range).
fn partition_point(end: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

/// `survival:::findq(x, y, p)` for points `x` (ascending) and `y = 1 - S`
/// (may hold `NaN`), step by step.
fn findq(x: &[f64], y: &[f64], p: f64) -> f64 {
    let max_y = y
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .fold(f64::NEG_INFINITY, f64::max);
    if max_y < p {
        return f64::NAN;
    }
    let xmax = *x.last().expect("findq gets the start point at least");
    // R's `duplicated(y)`: keep the first of each value, NA counting as one value.
    // Keyed on bits with -0.0 folded into 0.0 and every NaN into one key, so
    // that a curve of millions of steps is deduplicated in linear time.
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::with_capacity(y.len());
    for (&xi, &yi) in x.iter().zip(y) {
        let key = if yi.is_nan() {
            u64::MAX
        } else {
            (yi + 0.0).to_bits()
        };
        if seen.insert(key) {
            xs.push(xi);
            ys.push(yi);
        }
    }
    let n = ys.len();
    let index1 = approx_constant_right(&ys, TOLERANCE, p);
    let index2 = approx_constant_right(&ys, -TOLERANCE, p);
    let at = |i: Option<usize>| i.map_or(f64::NAN, |i| xs[i]);
    let mut q = (at(index1) + at(index2)) / 2.0;
    if p == 0.0 {
        q = xs[0];
    }
    let last = ys[n - 1];
    if !last.is_nan() && (p - last).abs() < TOLERANCE {
        q = (at(index1) + xmax) / 2.0;
    }
    q
}

/// `approx(y + shift, seq_along(y), p, method = "constant", f = 1)$y`, as a
/// zero-based index: pairs with `NA` dropped, ordered by value, `None`
/// outside the range, an exact hit returning its own index, otherwise the
/// index of the right neighbour.
fn approx_constant_right(y: &[f64], shift: f64, p: f64) -> Option<usize> {
    let mut pairs: Vec<(f64, usize)> = y
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, v)| (v + shift, i))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (first, last) = (pairs.first()?, pairs.last()?);
    if p < first.0 || p > last.0 {
        return None;
    }
    let (mut i, mut j) = (0, pairs.len() - 1);
    while i + 1 < j {
        let mid = (i + j) / 2;
        if p < pairs[mid].0 { j = mid } else { i = mid }
    }
    if p == pairs[j].0 {
        Some(pairs[j].1)
    } else if p == pairs[i].0 {
        Some(pairs[i].1)
    } else {
        Some(pairs[j].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_first_time_at_or_below_one_half() {
        assert_eq!(quantile(0.0, &[1.0, 2.0, 3.0], &[0.75, 0.4, 0.1], 0.5), 2.0);
    }

    #[test]
    fn median_on_a_flat_stretch_at_one_half_is_its_midpoint() {
        assert_eq!(
            quantile(0.0, &[1.0, 2.0, 3.0, 5.0], &[0.75, 0.5, 0.5, 0.25], 0.5),
            3.5
        );
    }

    #[test]
    fn median_never_reached_is_undefined() {
        assert!(quantile(0.0, &[1.0, 2.0], &[0.9, 0.8], 0.5).is_nan());
    }

    #[test]
    fn median_at_one_half_on_the_last_value_runs_to_the_last_time() {
        assert_eq!(
            quantile(0.0, &[1.0, 2.0, 3.0, 4.0], &[0.75, 0.5, 0.5, 0.5], 0.5),
            3.0
        );
    }

    /// The literal port on the same points, for comparing with the fast path.
    fn literal(start: f64, times: &[f64], curve: &[f64], p: f64) -> f64 {
        let mut x = vec![start];
        x.extend_from_slice(times);
        let mut y = vec![0.0];
        y.extend(curve.iter().map(|s| 1.0 - s));
        findq(&x, &y, p)
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The blockwise search finds the step-by-step search's first fall,
    /// wherever it lies against the blocks, on long curves.
    #[test]
    fn the_first_fall_is_found_in_any_block() {
        let step_by_step = |curve: &[f64]| {
            (1..curve.len())
                .find(|&i| {
                    let (before, after) = (1.0 - curve[i - 1], 1.0 - curve[i]);
                    after.is_nan() || after < before
                })
                .unwrap_or(curve.len())
        };
        let len = 5_000;
        let falling: Vec<f64> = (0..len).map(|i| 1.0 - i as f64 / len as f64).collect();
        assert_eq!(first_fall(&falling), len);
        assert_eq!(first_fall(&falling[..1]), 1);
        for at in [1, 2, 1_023, 1_024, 1_025, 2_047, 2_048, 2_049, 4_999] {
            for fault in [
                f64::NAN,
                2.0,
                falling[at - 1] + 1e-17,
                falling[at - 1] + 1e-15,
            ] {
                let mut curve = falling.clone();
                curve[at] = fault;
                assert_eq!(first_fall(&curve), step_by_step(&curve), "{at} {fault}");
            }
        }
    }

    #[test]
    fn the_split_path_gives_the_literal_port_bit_for_bit() {
        // SplitMix64: curves with long plateaus, steps onto exactly 0.5,
        // 0.25 and 0.75, steps smaller than the tolerance, NaN tails, and
        // tails that rise again onto values seen before and new ones.
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let probs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 0.5 + TOLERANCE / 2.0];
        let (mut monotone, mut split, mut answered) = (0, 0, 0);
        for case in 0..6000 {
            let n = 1 + (next() % 40) as usize;
            let mut s = 1.0f64;
            let mut times = Vec::with_capacity(n);
            let mut curve = Vec::with_capacity(n);
            for i in 0..n {
                times.push((i + 1) as f64 * 0.5 + (next() % 3) as f64);
                s = match next() % 10 {
                    0..=3 => s,
                    4 => 0.5,
                    5 => 0.75_f64.min(s),
                    6 => s - 1e-9,
                    7 => s - TOLERANCE / 3.0,
                    _ => s * (next() % 1000) as f64 / 1000.0,
                }
                .min(s);
                curve.push(s);
            }
            times.sort_by(f64::total_cmp);
            if case % 3 == 0 {
                let tail = (next() % (n as u64 + 1)) as usize;
                curve[n - tail..].iter_mut().for_each(|v| *v = f64::NAN);
            }
            if case % 4 == 0 {
                let head = (next() % (n as u64 + 1)) as usize;
                curve[..head].iter_mut().for_each(|v| *v = f64::NAN);
            }
            if case % 11 == 0 {
                curve[(next() % n as u64) as usize] = f64::NAN;
            }
            if case % 7 == 0 {
                curve.swap(0, n - 1);
            }
            if case % 2 == 1 {
                // A tail that rises: earlier values, 0.5 exactly, new ones.
                let rise = (next() % (n as u64 + 1)) as usize;
                for r in n - rise..n {
                    curve[r] = match next() % 5 {
                        0 => curve[(next() % n as u64) as usize],
                        1 => 0.5,
                        2 => f64::NAN,
                        _ => (next() % 1000) as f64 / 1000.0,
                    };
                }
            }
            let prepared = StepCurve::new(0.0, &times, &curve);
            monotone += usize::from(prepared.shape.end == prepared.len());
            split += usize::from(prepared.shape.end < prepared.len());
            for p in probs {
                let slow = literal(0.0, &times, &curve, p);
                if let Some(fast) = prepared.findq_split(p) {
                    answered += 1;
                    assert!(
                        same(fast, slow),
                        "{times:?} {curve:?} p={p}: {fast} vs {slow}"
                    );
                }
                assert!(same(prepared.quantile(p), slow));
            }
        }
        assert!(monotone > 2000 && split > 2000, "{monotone} {split}");
        assert_eq!(answered, 6000 * probs.len());
    }

    #[test]
    fn a_curve_that_rises_again_keeps_a_monotone_prefix() {
        let curve = [0.75, 0.4, 0.6, 0.3];
        let prepared = StepCurve::new(0.0, &[1.0, 2.0, 3.0, 4.0], &curve);
        assert_eq!(prepared.shape.end, 3);
        assert_eq!(prepared.quantile(0.5), 2.0);
        assert_eq!(prepared.quantile(0.7), 4.0);
    }

    #[test]
    fn two_values_sharing_the_answers_key_go_to_the_literal_port() {
        // Two values one step apart just below 1 whose keys round to the
        // same double once the tolerance is added (above 1, where doubles
        // are twice as far apart; the last value keeps p within range).
        let step = f64::EPSILON / 2.0;
        let curve = [3.0 * step, 0.5, 4.0 * step, -1.0];
        let (y1, y2) = (1.0 - curve[0], 1.0 - curve[2]);
        let p = y1 + TOLERANCE;
        assert!(y1 != y2 && y2 + TOLERANCE == p);
        let prepared = StepCurve::new(0.0, &[1.0, 2.0, 3.0, 4.0], &curve);
        assert!(prepared.findq_split(p).is_none());
        assert!(same(
            prepared.quantile(p),
            literal(0.0, &[1.0, 2.0, 3.0, 4.0], &curve, p)
        ));
    }
}
