#![allow(missing_docs)]
use std::time::Instant;
fn keys(n: usize, seed: u64) -> Vec<u64> {
    let mut st = seed;
    (0..n).map(|_| { st = st.wrapping_add(0x9E37_79B9_7F4A_7C15); let mut z = st; z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9); z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB); z ^= z >> 31;
        let u = (z >> 11) as f64 / (1u64<<53) as f64; (-(1.0-u).ln()*500.0).to_bits() }).collect()
}
fn msd(v: &mut Vec<u64>, scratch: &mut Vec<u64>, bits: u32) {
    let (lo, hi) = v.iter().fold((u64::MAX, 0), |(a, b), &k| (a.min(k), b.max(k)));
    let range = hi - lo;
    let shift = (64 - range.leading_zeros()).saturating_sub(bits);
    let nb = ((range >> shift) + 1) as usize;
    let mut counts = vec![0usize; nb + 1];
    for &k in v.iter() { counts[((k - lo) >> shift) as usize + 1] += 1; }
    for i in 1..=nb { counts[i] += counts[i - 1]; }
    let starts = counts.clone();
    scratch.clear(); scratch.resize(v.len(), 0);
    for &k in v.iter() { let b = ((k - lo) >> shift) as usize; scratch[counts[b]] = k; counts[b] += 1; }
    for b in 0..nb { let s = &mut scratch[starts[b]..starts[b + 1]]; if s.len() > 1 { if s.len() < 64 { s.sort_unstable() } else { radsort::sort(s) } } }
    std::mem::swap(v, scratch);
}
fn main() {
    let n = 2_500_000;
    let base = keys(n, 3);
    let mut s = Vec::new();
    for _ in 0..3 {
        let mut a = base.clone(); let t = Instant::now(); radsort::sort(&mut a); let ta = t.elapsed();
        let mut b = base.clone(); let t = Instant::now(); b.sort_unstable(); let tb = t.elapsed();
        let mut c = base.clone(); let t = Instant::now(); msd(&mut c, &mut s, 16); let tc = t.elapsed();
        let mut d = base.clone(); let t = Instant::now(); msd(&mut d, &mut s, 12); let td = t.elapsed();
        assert!(a == b && b == c && c == d);
        println!("radsort {ta:?} sort_unstable {tb:?} msd16 {tc:?} msd12 {td:?}");
    }
}
