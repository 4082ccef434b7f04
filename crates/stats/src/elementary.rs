//! `exp` and `ln` written without branches, so that a loop of them over a
//! curve's rows compiles to vector instructions.
//!
//! The pointwise bounds of a ten-million-row curve are up to forty million
//! calls to `exp` and `ln`; the platform's functions take one value at a
//! time and were most of the fit's arithmetic. These follow fdlibm, whose
//! algorithms and constants most C libraries' `exp` and `log` descend
//! from: `ln` in the single-formula form of FreeBSD and musl, `exp` with k
//! rounded to nearest. Every special case is chosen by selection instead
//! of a jump. They use only `+ − × ÷` and bit operations, never a fused
//! multiply-add, so a row gets the same bits whether the loop runs one
//! value or eight at a time. The tests hold both to within one unit in the
//! last place of the standard library's over their whole range.

/// ln 2 split so that `k · LN2_HI` is exact for every exponent `k`. The
/// constants here are fdlibm's, given by their bits as fdlibm gives them.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const INV_LN2: f64 = std::f64::consts::LOG2_E;

/// 1.5 · 2⁵²: adding it rounds a double of magnitude below 2⁵¹ to an
/// integer and leaves that integer in the low bits of the sum.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// 2⁵²: a double whose low bits are an integer `i` below 2⁵² is `2⁵² + i`.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// 2⁵⁴, which takes every subnormal into the normal range.
const TWO_54: f64 = 18_014_398_509_481_984.0;

/// The mantissa bits of √2.
const SQRT2_MANTISSA: u64 = 0x6_a09e_667f_3bcd;

/// Selection that the compiler turns into a blend, not a jump.
#[inline(always)]
fn select<T>(condition: bool, yes: T, no: T) -> T {
    if condition { yes } else { no }
}

/// 2^k for an integer `k` in −1022..=1023, from its bits.
#[inline(always)]
fn power_of_two(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64) << 52)
}

/// eˣ (fdlibm's `e_exp.c`: x = k·ln 2 + r with |r| ≤ ln 2 / 2, then a
/// rational approximation of eʳ on that interval).
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    const P1: f64 = f64::from_bits(0x3fc5_5555_5555_553e);
    const P2: f64 = f64::from_bits(0xbf66_c16c_16be_bd93);
    const P3: f64 = f64::from_bits(0x3f11_566a_af25_de2c);
    const P4: f64 = f64::from_bits(0xbebb_bd41_c5d2_6bf1);
    const P5: f64 = f64::from_bits(0x3e66_3769_72be_a4d0);
    // Past these eˣ is 0 or infinite; clamping keeps k small enough for
    // the scaling below, and comparisons are false for NaN, which passes.
    let x = select(x < -746.0, -746.0, x);
    let x = select(x > 710.0, 710.0, x);
    let shifted = x * INV_LN2 + ROUND;
    let k_float = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i64;
    let hi = x - k_float * LN2_HI;
    let lo = k_float * LN2_LO;
    let r = hi - lo;
    let t = r * r;
    let c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    // 2^k in two normal factors, so that results below the smallest
    // normal double (k down to −1076) round once, to the right subnormal.
    let offset: i64 = if k < 0 { 64 } else { -64 };
    y * power_of_two(k + offset) * power_of_two(-offset)
}

/// The natural logarithm (after fdlibm's `e_log.c`: x = 2ᵏ·m with
/// √2/2 ≤ m < √2, then ln m from s = (m − 1)/(m + 1) by a polynomial
/// in s²).
#[inline(always)]
pub(crate) fn ln(x: f64) -> f64 {
    const LG1: f64 = f64::from_bits(0x3fe5_5555_5555_5593);
    const LG2: f64 = f64::from_bits(0x3fd9_9999_9997_fa04);
    const LG3: f64 = f64::from_bits(0x3fd2_4924_9422_9359);
    const LG4: f64 = f64::from_bits(0x3fcc_71c5_1d8e_78af);
    const LG5: f64 = f64::from_bits(0x3fc7_4664_96cb_03de);
    const LG6: f64 = f64::from_bits(0x3fc3_9a09_d078_c69f);
    const LG7: f64 = f64::from_bits(0x3fc2_f112_df3e_5244);
    // Subnormals are scaled into the normal range first.
    let subnormal = x < f64::MIN_POSITIVE;
    let scaled = select(subnormal, x * TWO_54, x);
    let bits = scaled.to_bits();
    let biased = (bits >> 52) & 0x7ff;
    let mantissa = bits & 0x000f_ffff_ffff_ffff;
    // m in [1, 2); above √2 it is halved and the exponent raised by one.
    let high = mantissa > SQRT2_MANTISSA;
    let m = f64::from_bits(mantissa | (select(high, 1022u64, 1023) << 52));
    let exponent = f64::from_bits(TWO_52.to_bits() | biased) - (TWO_52 + 1023.0)
        + select(high, 1.0, 0.0)
        - select(subnormal, 54.0, 0.0);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let half_f_squared = 0.5 * f * f;
    let y =
        exponent * LN2_HI - ((half_f_squared - (s * (half_f_squared + r) + exponent * LN2_LO)) - f);
    // ln 0 = −∞, ln of a negative number or NaN is NaN, ln ∞ = ∞.
    let y = select(x == 0.0, f64::NEG_INFINITY, y);
    let y = select(x < 0.0 || x.is_nan(), f64::NAN, y);
    select(x == f64::INFINITY, f64::INFINITY, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place, for finite results of one sign.
    fn ulps(a: f64, b: f64) -> u64 {
        if a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan() {
            return 0;
        }
        assert!(
            a.is_finite() && b.is_finite() && a.signum() == b.signum(),
            "{a} vs {b}"
        );
        (a.abs().to_bits() as i64 - b.abs().to_bits() as i64).unsigned_abs()
    }

    fn draws(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn exp_is_within_an_ulp_over_its_whole_range() {
        let mut next = draws(0x2545_f491_4f6c_dd1d);
        let mut worst = 0;
        let uniform = |next: &mut dyn FnMut() -> u64, from: f64, to: f64| {
            from + (next() >> 11) as f64 / (1u64 << 53) as f64 * (to - from)
        };
        for _ in 0..2_000_000 {
            let x = uniform(&mut next, -745.13, 709.78);
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        // The ends: subnormal results, and the last finite ones.
        for _ in 0..200_000 {
            let x = uniform(&mut next, -745.1332191019411, -708.0);
            worst = worst.max(ulps(exp(x), x.exp()));
            let x = uniform(&mut next, 709.0, 709.782_712_893_384);
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        for _ in 0..500_000 {
            // Near 0, where the interval code's arguments mostly are.
            let x =
                f64::from_bits(next() % 0x4024_0000_0000_0000) * [1.0, -1.0][next() as usize % 2];
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 1, "{worst} ulps");
    }

    #[test]
    fn exp_keeps_the_special_values() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            709.78,
            709.79,
            710.0,
            1e300,
            f64::INFINITY,
            -708.39,
            -708.4,
            -745.13,
            -745.14,
            -746.0,
            -1e300,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert!(
                ulps(exp(x), x.exp()) <= 1,
                "exp({x}) = {} not {}",
                exp(x),
                x.exp()
            );
        }
        assert!(exp(f64::NAN).is_nan());
        // Subnormal results, rounded once.
        for i in 0..10_000 {
            let x = -708.0 - i as f64 * 0.0037;
            assert!(ulps(exp(x), x.exp()) <= 1, "exp({x})");
        }
    }

    #[test]
    fn ln_is_within_an_ulp_over_its_whole_range() {
        let mut next = draws(0x9e37_79b9_7f4a_7c15);
        let mut worst = 0;
        for _ in 0..2_000_000 {
            // Every positive finite double, subnormals included.
            let x = f64::from_bits(next() % 0x7ff0_0000_0000_0000);
            worst = worst.max(ulps(ln(x), x.ln()));
        }
        for _ in 0..1_000_000 {
            // Survival probabilities, and values close to 1 where ln is small.
            let x = (next() >> 11) as f64 / (1u64 << 53) as f64;
            worst = worst.max(ulps(ln(x), x.ln()));
            let near_one = 1.0 - x * 1e-6;
            worst = worst.max(ulps(ln(near_one), near_one.ln()));
        }
        assert!(worst <= 1, "{worst} ulps");
    }

    #[test]
    fn ln_keeps_the_special_values() {
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(-0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NEG_INFINITY).is_nan() && ln(f64::NAN).is_nan());
        for x in [
            5e-324,
            1e-310,
            f64::MIN_POSITIVE,
            f64::MAX,
            2.0,
            0.5,
            std::f64::consts::SQRT_2,
        ] {
            assert!(ulps(ln(x), x.ln()) <= 1, "ln({x})");
        }
    }
}
