//! Quantiles of a step curve by R's rule (`survival:::findq`): the smallest
//! time where the curve falls to the level, and where it lies exactly on the
//! level over an interval, the midpoint of that interval.
//!
//! The rule is copied operation by operation (including its tolerance and
//! the way `approx(method = "constant", f = 1)` picks an index) because a
//! median that differs from R's by half an interval is a different number in
//! a clinical report.

/// `sqrt(.Machine$double.eps)`: how close to the level counts as "on" it.
pub const TOLERANCE: f64 = 1.490_116_119_384_765_6e-8;

/// Time at which `1 - curve` first reaches `p`, for a curve given at
/// `times` (ascending) and starting from 1 at `start`. Returns `NaN` where R
/// gives `NA` (the curve never gets there). `curve` may contain `NaN`
/// (undefined confidence bounds), which R's `approx` drops.
pub fn quantile(start: f64, times: &[f64], curve: &[f64], p: f64) -> f64 {
    let mut x = Vec::with_capacity(times.len() + 1);
    let mut y = Vec::with_capacity(times.len() + 1);
    x.push(start);
    y.push(0.0);
    x.extend_from_slice(times);
    y.extend(curve.iter().map(|s| 1.0 - s));
    findq(&x, &y, p)
}

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
}
