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
//! curves and their bounds are almost always monotone, so [`StepCurve`]
//! checks that once in O(n) and then answers each quantile by binary search
//! on the curve as it is, giving the same index R's steps would give; any
//! other curve goes through the literal port ([`findq`]).

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
/// `x` and `y` (the start, then `times` with `1 - curve`), and whether `y`
/// allows the fast path.
#[derive(Debug, Clone, Copy)]
pub struct StepCurve<'a> {
    start: f64,
    times: &'a [f64],
    curve: &'a [f64],
    /// The shape that allows the fast path, when `y` has it.
    monotone: Option<Monotone>,
}

/// A `y` whose points that are not `NaN` are the start and `first..end`,
/// never decreasing: `NaN` only right after the start (a log-log bound
/// while survival is still 1) and at the end (a bound once survival is 0).
#[derive(Debug, Clone, Copy)]
struct Monotone {
    first: usize,
    end: usize,
}

impl<'a> StepCurve<'a> {
    /// Prepares `curve` (given at `times`, ascending) starting from 1 at
    /// `start`; one pass over the curve.
    pub fn new(start: f64, times: &'a [f64], curve: &'a [f64]) -> Self {
        let mut out = Self {
            start,
            times,
            curve,
            monotone: None,
        };
        out.monotone = out.monotone_shape();
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

    /// The [`Monotone`] shape of `y`, or `None` for any other curve.
    fn monotone_shape(&self) -> Option<Monotone> {
        let n = self.len();
        let first = (1..n).find(|&r| !self.y(r).is_nan()).unwrap_or(n);
        let mut end = n;
        let mut previous = self.y(0);
        for r in first..n {
            let y = self.y(r);
            if y.is_nan() {
                end = r;
                break;
            }
            if y < previous {
                return None;
            }
            previous = y;
        }
        (end..n)
            .all(|r| self.y(r).is_nan())
            .then_some(Monotone { first, end })
    }

    /// Time at which `1 - curve` first reaches `p`, as [`quantile`].
    pub fn quantile(&self, p: f64) -> f64 {
        match self.monotone {
            Some(shape) if !p.is_nan() => self.findq_monotone(shape, p),
            _ => {
                let mut x = Vec::with_capacity(self.len());
                let mut y = Vec::with_capacity(self.len());
                x.push(self.start);
                y.push(0.0);
                x.extend_from_slice(self.times);
                y.extend(self.curve.iter().map(|s| 1.0 - s));
                findq(&x, &y, p)
            }
        }
    }

    /// [`findq`] for a `y` of [`Monotone`] shape. Numbering its points that
    /// are not `NaN` by `k` (see [`Self::point`]), step by step it gives
    /// what `findq` gives:
    ///
    /// - `max(y, na.rm = TRUE)` is the last of them;
    /// - `!duplicated(y)` keeps the first point of each run of equal values
    ///   (equal values of a non-decreasing sequence are adjacent) and the
    ///   first `NaN`, which is the last kept point only if it comes after
    ///   the first point of the largest value;
    /// - `approx` drops the `NaN` and sorts what it keeps, which is already
    ///   in order (a stable sort keeps ties where they are), so its index
    ///   is found by binary search (see [`Self::approx_index`]);
    /// - a kept index stands for `x` at the first point of its run.
    fn findq_monotone(&self, shape: Monotone, p: f64) -> f64 {
        let m = 1 + shape.end - shape.first;
        let y = |k: usize| self.y(self.point(shape, k));
        let max_y = y(m - 1);
        if max_y < p {
            return f64::NAN;
        }
        let xmax = self.x(self.len() - 1);
        let index1 = self.approx_index(shape, m, TOLERANCE, p);
        let index2 = self.approx_index(shape, m, -TOLERANCE, p);
        let at = |i: Option<usize>| i.map_or(f64::NAN, |k| self.x(self.point(shape, k)));
        let mut q = (at(index1) + at(index2)) / 2.0;
        if p == 0.0 {
            q = self.start;
        }
        // ys[n]: the largest value, unless the first NaN was kept after it.
        let largest_from = self.point(shape, partition_point(m, |k| y(k) < max_y));
        let first_nan = if shape.first > 1 {
            Some(1)
        } else {
            Some(shape.end).filter(|&r| r < self.len())
        };
        let last = if first_nan.is_some_and(|r| r > largest_from) {
            f64::NAN
        } else {
            max_y
        };
        if !last.is_nan() && (p - last).abs() < TOLERANCE {
            q = (at(index1) + xmax) / 2.0;
        }
        q
    }

    /// The point of `x` and `y` that is the `k`-th one not `NaN`.
    fn point(&self, shape: Monotone, k: usize) -> usize {
        if k == 0 { 0 } else { shape.first + k - 1 }
    }

    /// [`approx_constant_right`] on the deduplicated `y` of [`Monotone`]
    /// shape with `m` points not `NaN`, answered on those points: returns
    /// the `k` whose `x` R would read.
    ///
    /// On sorted keys the bisection of `approx_constant_right` ends with
    /// `j` the first key above `p` and `i = j - 1` (or `j` the last key,
    /// equal to `p`), and answers `i` when its key equals `p`, else `j`.
    /// The first point with key above `p` starts its run, so it is also the
    /// first point of a deduplicated value; for `i` the start of the run of
    /// its value is looked up.
    fn approx_index(&self, shape: Monotone, m: usize, shift: f64, p: f64) -> Option<usize> {
        let y = |k: usize| self.y(self.point(shape, k));
        let key = |k: usize| y(k) + shift;
        if p < key(0) || p > key(m - 1) {
            return None;
        }
        let j = partition_point(m, |k| key(k) <= p);
        let i = j - 1;
        if key(i) == p {
            let value = y(i);
            Some(partition_point(i, |k| y(k) < value))
        } else {
            Some(j)
        }
    }
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

    #[test]
    fn the_monotone_path_gives_the_literal_port_bit_for_bit() {
        // SplitMix64: curves with long plateaus, steps onto exactly 0.5,
        // 0.25 and 0.75, steps smaller than the tolerance, and NaN tails.
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let probs = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 0.5 + TOLERANCE / 2.0];
        let mut fast_paths = 0;
        for case in 0..3000 {
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
            let prepared = StepCurve::new(0.0, &times, &curve);
            fast_paths += usize::from(prepared.monotone.is_some());
            for p in probs {
                let (fast, slow) = (prepared.quantile(p), literal(0.0, &times, &curve, p));
                assert!(
                    same(fast, slow),
                    "{times:?} {curve:?} p={p}: {fast} vs {slow}"
                );
            }
        }
        assert!(fast_paths > 2000);
    }

    #[test]
    fn a_curve_that_rises_again_takes_the_literal_path() {
        let curve = [0.75, 0.4, 0.6, 0.3];
        let prepared = StepCurve::new(0.0, &[1.0, 2.0, 3.0, 4.0], &curve);
        assert!(prepared.monotone.is_none());
        assert_eq!(prepared.quantile(0.5), 2.0);
    }
}
