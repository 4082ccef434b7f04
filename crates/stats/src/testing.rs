//! What unit tests share.

/// A reproducible stream of 53-bit draws (a 64-bit linear congruential
/// generator's high bits): the tests' data only needs to be varied.
pub(crate) fn draws(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 11
    }
}

/// A draw as a double, uniform in [0, 1).
pub(crate) fn unit(draw: u64) -> f64 {
    draw as f64 / (1u64 << 53) as f64
}
