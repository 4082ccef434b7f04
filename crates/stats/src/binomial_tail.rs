//! Tail probabilities of the binomial distribution, within 10⁻¹⁰ relative
//! of the exact value (mostly within a few units in the last place) for
//! any count a proportion can have here.
//!
//! `binom.test`'s interval and p-value are incomplete beta functions of
//! integer parameters, that is binomial tails. The textbook evaluation
//! (`statrs::beta_reg`) multiplies a continued fraction by a prefactor
//! computed as a difference of log-gamma functions: for ten million
//! patients those are numbers near 1.5·10⁸, their difference loses eight
//! digits, and the interval was off by 10⁻⁸ relative (by a factor of four at
//! 10¹⁵, and a panic further on). Here the prefactor is a binomial
//! probability computed by Loader's saddle-point method (Loader 2000,
//! "Fast and accurate computation of binomial probabilities"), whose
//! parts are all small numbers: Stirling's error of each factorial and
//! the deviance `bd0`. The continued fraction is the classical one for the
//! incomplete beta function (modified Lentz), always evaluated on the side
//! where it converges, so that a tiny tail keeps its relative precision;
//! a tail of few terms, where the fraction would meet p near 1 and lose
//! digits, is summed instead.

use std::f64::consts::PI;

/// The most observations a proportion may have here: as far as the
/// results are checked against R's (`tests/fixtures/make_fixtures.R`),
/// and far beyond any trial's count.
pub(crate) const MAX_TOTAL: u64 = 1_000_000_000;

/// `ln(n!) − [(n + ½)·ln(n) − n + ½·ln(2π)]`: the error of Stirling's
/// formula for n!, for a whole number `n ≥ 1`. Exact factorials below 16,
/// the asymptotic series above (its first omitted term is below 10⁻¹³ of
/// the value there, 10⁻¹⁶ absolute).
fn stirling_error(n: f64) -> f64 {
    let half_ln_2pi = 0.5 * (2.0 * PI).ln();
    if n < 16.0 {
        let factorial: f64 = (1..=n as u64).map(|k| k as f64).product();
        return factorial.ln() - (n + 0.5) * n.ln() + n - half_ln_2pi;
    }
    let n2 = n * n;
    (1.0 / 12.0
        - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / (1188.0 * n2)) / n2) / n2) / n2)
        / n
}

/// The deviance term `x·ln(x/m) + m − x`, without the cancellation of
/// that formula when `x` is near `m` (a series in `(x − m)/(x + m)`).
fn deviance(x: f64, m: f64) -> f64 {
    if x == 0.0 {
        return m;
    }
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let v2 = v * v;
        let mut sum = (x - m) * v;
        let mut term = 2.0 * x * v;
        for j in 1.. {
            term *= v2;
            let next = sum + term / f64::from(2 * j + 1);
            if next == sum {
                break;
            }
            sum = next;
        }
        sum
    } else {
        x * (x / m).ln() + m - x
    }
}

/// P(X = k) for X binomial with `n` trials and success probability `p`,
/// `q = 1 − p` given separately so that neither loses digits when it is
/// the small one. `0 ≤ k ≤ n`, `0 < p < 1`.
pub(crate) fn probability(k: f64, n: f64, p: f64, q: f64) -> f64 {
    if k == 0.0 {
        // (1 − p)ⁿ, through the deviance when p is small and ln(q) would
        // have lost p's digits.
        return if p < 0.1 {
            (-deviance(n, n * q) - n * p).exp()
        } else {
            (n * q.ln()).exp()
        };
    }
    if k == n {
        return probability(0.0, n, q, p);
    }
    let exponent = stirling_error(n)
        - stirling_error(k)
        - stirling_error(n - k)
        - deviance(k, n * p)
        - deviance(n - k, n * q);
    let scale = 2.0 * PI * k * ((n - k) / n);
    exponent.exp() / scale.sqrt()
}

/// P(X ≥ k) for X binomial(n, p), `1 ≤ k ≤ n`, with `q = 1 − p`.
///
/// It is the incomplete beta function I_p(k, n − k + 1), whose continued
/// fraction converges for p below about (k + 1)/(n + 3); above, the
/// complement P(X ≤ k − 1) = I_q(n − k + 1, k) is evaluated instead.
pub(crate) fn at_least(k: f64, n: f64, p: f64, q: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if q <= 0.0 {
        return 1.0;
    }
    if p < (k + 1.0) / (n + 3.0) {
        continued(k, n, p, q)
    } else {
        1.0 - continued(n - k + 1.0, n, q, p)
    }
}

/// P(X ≤ k) for X binomial(n, p), `0 ≤ k ≤ n`: the upper tail of the
/// failures, n − X ≥ n − k.
pub(crate) fn at_most(k: f64, n: f64, p: f64, q: f64) -> f64 {
    if k >= n {
        1.0
    } else {
        at_least(n - k, n, q, p)
    }
}

/// Tails of fewer terms than this are summed term by term.
///
/// The continued fraction loses about ε/(1 − p) relative, and on its side
/// of the mean 1 − p > b/(n + 2) with b = n − k + 1 the tail's number of
/// terms: below this many terms, at a billion observations, the loss
/// would pass 10⁻¹¹ (with one term, p near 1, it was 10⁻⁸).
const SUMMED_TERMS: f64 = 10_000.0;

/// P(X ≥ k) where it lies past the mean (p below about (k + 1)/(n + 3)):
/// I_p(a, b) with a = k, b = n − k + 1, by its continued fraction, whose
/// prefactor pᵃ(1 − p)ᵇ/(a·B(a, b)) is P(X = k)·q; or, when the tail has
/// few terms, their sum.
fn continued(k: f64, n: f64, p: f64, q: f64) -> f64 {
    let (a, b) = (k, n - k + 1.0);
    if b < SUMMED_TERMS {
        return summed(k, n, p, q);
    }
    probability(k, n, p, q) * q * lentz(a, b, p)
}

/// P(X ≥ k) as the sum of its n − k + 1 terms, each from the one before by
/// their ratio (n − j)/(j + 1)·p/q. Past the mean the terms only fall, so
/// the first is the largest and the sum stops once they no longer count.
fn summed(k: f64, n: f64, p: f64, q: f64) -> f64 {
    let ratio = p / q;
    let mut term = probability(k, n, p, q);
    let mut sum = term;
    let mut j = k;
    while j < n {
        term *= (n - j) / (j + 1.0) * ratio;
        let next = sum + term;
        if next == sum {
            break;
        }
        sum = next;
        j += 1.0;
    }
    sum
}

/// The continued fraction of I_x(a, b)·a·B(a, b)/(xᵃ(1 − x)ᵇ), by the
/// modified Lentz method.
fn lentz(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..=10_000_000u32 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() <= f64::EPSILON {
            return h;
        }
    }
    f64::NAN
}

/// The `p` in (lo, hi) where `increasing(p)` crosses `target`, found by
/// bisection on the bits of non-negative doubles (which order as the
/// numbers do): at most 64 steps to adjacent doubles, at any magnitude.
pub(crate) fn root(lo: f64, hi: f64, target: f64, increasing: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (lo.to_bits(), hi.to_bits());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if increasing(f64::from_bits(mid)) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // The nearer of the two doubles that bracket the crossing.
    let (below, above) = (f64::from_bits(lo), f64::from_bits(hi));
    if (increasing(below) - target).abs() <= (increasing(above) - target).abs() {
        below
    } else {
        above
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tail summed term by term from exact binomial coefficients, for
    /// small n.
    fn summed(k: u64, n: u64, p: f64) -> f64 {
        let choose = |n: u64, k: u64| (0..k).fold(1.0, |c, i| c * (n - i) as f64 / (i + 1) as f64);
        (k..=n)
            .map(|j| choose(n, j) * p.powi(j as i32) * (1.0 - p).powi((n - j) as i32))
            .sum()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn small_tails_equal_their_sums() {
        for n in 1..=40u64 {
            for k in 1..=n {
                for p in [1e-6, 0.01, 0.2, 0.5, 0.77, 0.999] {
                    let (ours, sum) = (at_least(k as f64, n as f64, p, 1.0 - p), summed(k, n, p));
                    // The sum itself is good to about 1e-13 relative.
                    assert!(
                        close(ours, sum, 1e-12) || (ours - sum).abs() < 1e-300,
                        "P(X >= {k}), n = {n}, p = {p}: {ours} against {sum}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_two_tails_add_up_to_one() {
        for (n, p) in [(1e3, 0.3), (1e6, 1e-5), (1e9, 0.5), (1e9, 3e-9)] {
            let mean: f64 = n * p;
            for k in [
                1.0,
                mean.floor().max(1.0),
                (mean + 3.0 * mean.sqrt()).ceil(),
            ] {
                let sum = at_least(k, n, p, 1.0 - p) + at_most(k - 1.0, n, p, 1.0 - p);
                assert!(
                    (sum - 1.0).abs() < 1e-12,
                    "n = {n}, p = {p}, k = {k}: {sum}"
                );
            }
        }
    }

    /// Tails of one or two terms have closed forms, exact to rounding at
    /// any n: where the continued fraction would meet p near 1.
    #[test]
    fn tails_of_few_terms_equal_their_closed_forms() {
        for n in [1e3, 1e6, 123456789.0, 1e9] {
            for np in [1e-3, 0.5, 3.6889, 20.0] {
                let p: f64 = np / n;
                let q = 1.0 - p;
                let none = (n * (-p).ln_1p()).exp();
                let one = n * p * ((n - 1.0) * (-p).ln_1p()).exp();
                assert!(
                    close(at_most(0.0, n, p, q), none, 1e-13),
                    "n = {n}, p = {p}"
                );
                assert!(
                    close(at_most(1.0, n, p, q), none + one, 1e-13),
                    "n = {n}, p = {p}"
                );
                // All n successes when the rate is 1 − p.
                assert!(close(at_least(n, n, q, p), none, 1e-13), "n = {n}, q = {q}");
            }
        }
    }

    #[test]
    fn stirling_error_is_continuous_where_its_method_changes() {
        // The series at 16 against the exact formula (there good to ~1e-14).
        let exact = |n: f64| {
            let ln_factorial: f64 = (1..=n as u64).map(|k| (k as f64).ln()).sum();
            ln_factorial - (n + 0.5) * n.ln() + n - 0.5 * (2.0 * PI).ln()
        };
        for n in [16.0, 17.0, 30.0] {
            assert!(close(stirling_error(n), exact(n), 1e-11), "n = {n}");
        }
        assert!(close(stirling_error(15.0), 1.0 / (12.0 * 15.0), 1e-3));
    }

    #[test]
    fn the_root_is_the_crossing_to_adjacent_doubles() {
        let r = root(0.0, 1.0, 0.3, |p| p * p);
        assert!(close(r, 0.3f64.sqrt(), 2.0 * f64::EPSILON));
        let tiny = root(0.0, 1.0, 1e-200, |p| p);
        assert!(close(tiny, 1e-200, 2.0 * f64::EPSILON));
    }
}
