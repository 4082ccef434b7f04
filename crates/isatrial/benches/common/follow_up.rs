//! The benches' data: follow-up times that look like a trial's, the same
//! numbers in every bench and every run.

/// A small, fast, reproducible generator (SplitMix64): the numbers only
/// need to look like trial follow-up, not be cryptographic.
pub struct Draw(u64);

impl Draw {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Times and status codes, one per observation.
pub struct Data {
    pub time: Vec<f64>,
    pub code: Vec<u8>,
}

/// Exponential times with a median of about a year; status 0/1/2 in
/// proportions 0.35 / 0.45 / 0.20.
pub fn draw(n: usize, whole_days: bool, seed: u64) -> Data {
    let mut d = Draw(seed);
    let mut time = Vec::with_capacity(n);
    let mut code = Vec::with_capacity(n);
    for _ in 0..n {
        let t = -(1.0 - d.uniform()).ln() * 500.0;
        time.push(if whole_days { t.floor() } else { t });
        let u = d.uniform();
        code.push(if u < 0.35 {
            0
        } else if u < 0.80 {
            1
        } else {
            2
        });
    }
    Data { time, code }
}
