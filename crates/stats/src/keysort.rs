//! Observations sorted by time in one array of keys, each time's bits with
//! the event flag packed in: the one sort a Kaplan–Meier fit of distinct
//! (continuous) times cannot avoid, done in two passes over main memory.
//!
//! A bit-pattern radix sort of doubles spends its first passes on the
//! exponent, where times of a trial (a few binades) give a handful of huge
//! buckets. Here the first pass buckets by *value*, linearly over the bulk
//! of the times (a sample's 0.1 % to 99.9 % quantiles): follow-up times are
//! spread out, so the buckets are even and each fits in the processor's
//! cache. Each bucket is then split by value again and the small pieces
//! sorted in place. Data that defeats the linear split (most times in a
//! sliver of the range, clusters of near-equal times) only lands in larger
//! pieces, which the standard library's sort orders: always correct, at
//! worst `O(n log n)`.

use crate::tally::PARALLEL_SORT_MIN;

/// The key of an observation: the bits of its time (non-negative doubles
/// order as their bits do; `+ 0.0` turns −0 into 0) shifted up by one, and
/// the event flag in the freed bit. Keys order by time; at one time the
/// censorings come first, which the counts do not see.
pub(crate) fn packed(t: f64, event: bool) -> u64 {
    ((t + 0.0).to_bits() << 1) | u64::from(event)
}

/// The bits of a key's time.
pub(crate) fn time_bits(key: u64) -> u64 {
    key >> 1
}

/// A key's time.
fn time_of(key: u64) -> f64 {
    f64::from_bits(time_bits(key))
}

/// Keys the first pass aims to put in one bucket: a bucket of 16 KiB sorts
/// within the first-level cache.
const BUCKET_KEYS: usize = 2048;

/// At most this many first-pass buckets: more write streams than this
/// overflow the cache the scatter writes through.
const MAX_BUCKETS: usize = 1 << 12;

/// Pieces this short are sorted by insertion.
const SMALL: usize = 32;

/// The sorted keys, the buffer the sort used beside them (of the same
/// length, free for the caller to reuse), and where the keys divide into
/// two parts that share no time, one per thread.
pub(crate) struct SortedKeys {
    /// All keys, ascending.
    pub keys: Vec<u64>,
    /// The scratch buffer, its contents meaningless.
    pub spare: Vec<u64>,
    /// `keys[..split]` and `keys[split..]` share no time.
    pub split: usize,
}

/// The bucket of a time in a linear split into `last + 1` buckets from
/// `lo` on, each `1 / scale` wide; times past the last bucket go into it.
#[derive(Clone, Copy)]
struct Linear {
    lo: f64,
    scale: f64,
    last: usize,
}

impl Linear {
    /// `count` buckets between `lo` and `hi`; one bucket when the range is
    /// empty or too narrow to divide.
    fn new(lo: f64, hi: f64, count: usize) -> Self {
        let scale = count as f64 / (hi - lo);
        if scale.is_finite() && count > 1 {
            Self {
                lo,
                scale,
                last: count - 1,
            }
        } else {
            Self {
                lo,
                scale: 0.0,
                last: 0,
            }
        }
    }

    /// Rounding is monotone, so a larger time never gets a smaller bucket;
    /// the float-to-integer cast saturates (a time below `lo` gets bucket
    /// 0), and a time past the last bucket is clamped into it. A 32-bit
    /// cast clamps as a 64-bit one would: `last` fits in 32 bits (at most
    /// `MAX_BUCKETS` buckets in the first pass, and a bucket's pieces are a
    /// power of two no larger than 2³², the most observations a fit
    /// takes). The spelling the tests hold `bucket_in_lanes` and
    /// `PieceLine::piece` to.
    #[cfg(test)]
    fn bucket(self, t: f64) -> u32 {
        (((t - self.lo) * self.scale) as u32).min(self.last as u32)
    }

    /// `bucket` in operations that vectorize on every instruction set `pulp`
    /// knows: the clamp in doubles, then the truncated double's low bits
    /// (adding 2⁵² to a whole number below 2³² leaves it in the low bits of
    /// the sum's mantissa). A saturating conversion, as `as` is, compiles
    /// to several instructions per lane. On a processor without AVX2,
    /// where `pulp` runs the loop one time at a time, `trunc` is a call:
    /// slower there, the same buckets.
    #[inline(always)]
    fn bucket_in_lanes(self, t: f64) -> u32 {
        const TWO_TO_52: f64 = 4_503_599_627_370_496.0;
        let x = ((t - self.lo) * self.scale).max(0.0).min(self.last as f64);
        (x.trunc() + TWO_TO_52).to_bits() as u32
    }
}

/// Times sampled to place the first pass's line.
const SAMPLE: usize = 1 << 16;

/// Where the first pass's line runs: between the 0.1 % and 99.9 %
/// quantiles of evenly spaced times, so that a far outlier (a time keyed
/// in days where the rest are in hours, or 1e300) does not stretch the
/// line and leave every other time in the first bucket, on one thread.
/// Times outside it go into the first or last bucket. Any range gives the
/// same order; this one gives even buckets. The smallest and largest time
/// when the sample cannot tell.
fn bulk(time: &[f64], lo: f64, hi: f64) -> (f64, f64) {
    let step = time.len() / SAMPLE;
    if step == 0 {
        return (lo, hi);
    }
    let mut sample: Vec<f64> = time.iter().step_by(step).copied().collect();
    // Two order statistics, each found in linear time: sorting the whole
    // sample took 3 ms at the start of a 10⁷ fit, on one thread.
    let tail = sample.len() / 1000;
    let (_, &mut from, above) = sample.select_nth_unstable_by(tail, f64::total_cmp);
    let (_, &mut to, _) = above.select_nth_unstable_by(above.len() - 1 - tail, f64::total_cmp);
    if from < to { (from, to) } else { (lo, hi) }
}

/// Sorts the keys of valid `time` (all within `lo..=hi`) with `event`.
pub(crate) fn sort(time: &[f64], event: &[bool], lo: f64, hi: f64) -> SortedKeys {
    let n = time.len();
    let buckets = (n / BUCKET_KEYS).clamp(1, MAX_BUCKETS);
    let (from, to) = bulk(time, lo, hi);
    let linear = Linear::new(from, to, buckets);
    // Both buffers at once, one on each thread: memory the allocator kept
    // from an earlier sort is cleared by the thread that allocates it.
    let (mut spare, mut keys) = if n >= PARALLEL_SORT_MIN {
        std::thread::scope(|scope| {
            let keys = scope.spawn(|| vec![0u64; n]);
            (
                vec![0u64; n],
                keys.join().expect("allocating does not panic"),
            )
        })
    } else {
        (vec![0u64; n], vec![0u64; n])
    };
    // First pass: each thread counts and scatters its half of the input
    // into its half of the spare buffer, bucket after bucket.
    let half = if n >= PARALLEL_SORT_MIN { n / 2 } else { n };
    let scatter = |time: &[f64], event: &[bool], out: &mut [u64]| {
        let mut count = vec![0usize; buckets];
        bucketed(time, linear, |_, _, bucket| {
            for &b in bucket {
                count[b as usize] += 1;
            }
        });
        let mut at: Vec<u32> = Vec::with_capacity(buckets);
        let mut start = 0;
        for &c in &count {
            at.push(start as u32);
            start += c;
        }
        bucketed(time, linear, |from, time, bucket| {
            for ((&t, &e), &b) in time.iter().zip(&event[from..]).zip(bucket) {
                let at = &mut at[b as usize];
                out[*at as usize] = packed(t, e);
                *at += 1;
            }
        });
        count
    };
    let counts = {
        let (first, second) = spare.split_at_mut(half);
        if half < n {
            std::thread::scope(|scope| {
                let second = scope.spawn(|| scatter(&time[half..], &event[half..], second));
                [
                    scatter(&time[..half], &event[..half], first),
                    second.join().expect("scattering does not panic"),
                ]
            })
        } else {
            [scatter(time, event, first), vec![0; buckets]]
        }
    };
    // Where each bucket starts: in the sorted keys, and in each half.
    let mut start = vec![0usize; buckets + 1];
    let mut part_start = [vec![0usize; buckets + 1], vec![0usize; buckets + 1]];
    for b in 0..buckets {
        start[b + 1] = start[b] + counts[0][b] + counts[1][b];
        for (p, count) in counts.iter().enumerate() {
            part_start[p][b + 1] = part_start[p][b] + count[b];
        }
    }
    // Second pass: the buckets, split between two threads at about half
    // the keys, each gathered from both halves and sorted into place.
    let split_bucket = if half < n {
        start.partition_point(|&s| s < n / 2).min(buckets)
    } else {
        buckets
    };
    let split = start[split_bucket];
    {
        let (spare_first, spare_second) = spare.split_at(half);
        let sort_buckets = |out: &mut [u64], from: usize, to: usize| {
            let base = start[from];
            let mut scratch = Scratch::default();
            for b in from..to {
                if start[b] == start[b + 1] {
                    continue;
                }
                let parts = [
                    &spare_first[part_start[0][b]..part_start[0][b + 1]],
                    &spare_second[part_start[1][b]..part_start[1][b + 1]],
                ];
                let out = &mut out[start[b] - base..start[b + 1] - base];
                sort_bucket(parts, out, (linear, b), &mut scratch);
            }
        };
        let (first, second) = keys.split_at_mut(split);
        std::thread::scope(|scope| {
            if !second.is_empty() {
                scope.spawn(|| sort_buckets(second, split_bucket, buckets));
            }
            sort_buckets(first, 0, split_bucket);
        });
    }
    SortedKeys { keys, spare, split }
}

/// A bucket of more keys than this was crowded by the first pass's split
/// (a far outlier stretched it): its own range is split instead.
const CROWDED: usize = 8 * BUCKET_KEYS;

/// The second pass's memory, kept from bucket to bucket: each key's piece,
/// and each piece's count (then where it ends).
#[derive(Default)]
struct Scratch {
    piece: Vec<u32>,
    counts: Vec<u32>,
}

/// Sorts the keys of bucket `b` of the first pass's split, gathered from
/// `parts`, into `out` (as long as both together): by a linear split into
/// at least as many pieces as keys, then sorted in place. A bucket of usual
/// size is split on its share of the first pass's line, which needs no
/// extra pass over it; a crowded one, between its own smallest and largest
/// time.
fn sort_bucket(
    parts: [&[u64]; 2],
    out: &mut [u64],
    (first_pass, b): (Linear, usize),
    scratch: &mut Scratch,
) {
    let m = out.len();
    if m <= SMALL {
        gather(parts, out);
        insertion_sort(out);
        return;
    }
    let pieces = m.next_power_of_two();
    if m <= CROWDED && first_pass.last > 0 {
        // The same rounding of the same product as the first pass, so
        // this bucket's keys lie in [b, b + 1) of it; in the first and
        // last bucket also below or past the line, which the clamp keeps
        // in the end pieces.
        let line = PieceLine {
            lo: first_pass.lo,
            scale: first_pass.scale,
            offset: b as f64,
            stretch: pieces as f64,
            last: (pieces - 1) as f64,
        };
        split_into(parts, out, line, scratch);
        return;
    }
    let (mut low, mut high) = (u64::MAX, 0);
    for &k in parts.iter().flat_map(|part| part.iter()) {
        low = low.min(k);
        high = high.max(k);
    }
    let own = Linear::new(time_of(low), time_of(high), pieces);
    if own.last == 0 {
        // One time (with both flags) or times too close to divide.
        gather(parts, out);
        out.sort_unstable();
        return;
    }
    let line = PieceLine {
        lo: own.lo,
        scale: own.scale,
        offset: 0.0,
        stretch: 1.0,
        last: own.last as f64,
    };
    split_into(parts, out, line, scratch);
}

/// The piece of a key within a bucket: ((t − lo) · scale − offset) ·
/// stretch, truncated and clamped to 0..=last. Monotone in the key, as
/// every step is.
#[derive(Clone, Copy)]
struct PieceLine {
    lo: f64,
    scale: f64,
    offset: f64,
    stretch: f64,
    last: f64,
}

impl PieceLine {
    /// As `Linear::bucket_in_lanes`, so that a loop of it vectorizes.
    #[inline(always)]
    fn piece(self, key: u64) -> u32 {
        const TWO_TO_52: f64 = 4_503_599_627_370_496.0;
        let x = (((time_of(key) - self.lo) * self.scale - self.offset) * self.stretch)
            .max(0.0)
            .min(self.last);
        (x.trunc() + TWO_TO_52).to_bits() as u32
    }
}

/// The pieces of a run of keys, computed several at a time.
struct Pieces<'a> {
    keys: &'a [u64],
    pieces: &'a mut [u32],
    line: PieceLine,
}

impl pulp::WithSimd for Pieces<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for (p, &k) in self.pieces.iter_mut().zip(self.keys) {
            *p = self.line.piece(k);
        }
    }
}

/// Times whose buckets are computed at once: few enough for the buckets
/// to stay in the first-level cache.
const RUN: usize = 512;

/// Calls `each(from, run, buckets)` for the runs of `time` in order, `from`
/// being where the run starts, with the bucket of each of its times. The
/// buckets are computed apart from their use, several at a time: `pulp`
/// compiles the loop for AVX2 and AVX-512 besides the baseline and picks
/// one when run, and `bucket_in_lanes` needs no conversion per lane. The
/// counting and scattering that use the buckets cannot be vectorized;
/// computing them can, and was half the first pass.
fn bucketed(time: &[f64], linear: Linear, mut each: impl FnMut(usize, &[f64], &[u32])) {
    let arch = pulp::Arch::new();
    let mut buckets = [0u32; RUN];
    for (r, run) in time.chunks(RUN).enumerate() {
        let buckets = &mut buckets[..run.len()];
        arch.dispatch(Buckets {
            time: run,
            buckets: &mut *buckets,
            linear,
        });
        each(r * RUN, run, buckets);
    }
}

/// A run of times and where their buckets go.
struct Buckets<'a> {
    time: &'a [f64],
    buckets: &'a mut [u32],
    linear: Linear,
}

impl pulp::WithSimd for Buckets<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for (b, &t) in self.buckets.iter_mut().zip(self.time) {
            *b = self.linear.bucket_in_lanes(t);
        }
    }
}

/// Copies `parts` one after the other into `out`, as long as both.
fn gather(parts: [&[u64]; 2], out: &mut [u64]) {
    let (head, tail) = out.split_at_mut(parts[0].len());
    head.copy_from_slice(parts[0]);
    tail.copy_from_slice(parts[1]);
}

/// Scatters the keys of `parts` into `out` by their piece on `line`, then
/// sorts each piece in place. The pieces are computed first, in a loop
/// apart that vectorizes; counting and scattering by them cannot.
fn split_into(parts: [&[u64]; 2], out: &mut [u64], line: PieceLine, scratch: &mut Scratch) {
    let Scratch { piece, counts } = scratch;
    piece.clear();
    piece.resize(out.len(), 0);
    let (first, second) = piece.split_at_mut(parts[0].len());
    let arch = pulp::Arch::new();
    for (keys, pieces) in [(parts[0], first), (parts[1], second)] {
        arch.dispatch(Pieces { keys, pieces, line });
    }
    counts.clear();
    counts.resize(line.last as usize + 1, 0);
    for &p in piece.iter() {
        counts[p as usize] += 1;
    }
    let mut start = 0;
    for c in counts.iter_mut() {
        let size = *c;
        *c = start;
        start += size;
    }
    let keys = parts[0].iter().chain(parts[1]);
    for (&k, &p) in keys.zip(piece.iter()) {
        let at = &mut counts[p as usize];
        out[*at as usize] = k;
        *at += 1;
    }
    // Each count is now where its piece ends. The pieces are in order:
    // the long ones are sorted here, and then one insertion sort over the
    // whole bucket moves each key at most across its own short piece,
    // without a loop per piece of one to three keys.
    let mut from = 0;
    for &to in counts.iter() {
        let to = to as usize;
        if to - from > SMALL {
            out[from..to].sort_unstable();
        }
        from = to;
    }
    insertion_sort(out);
}

/// The fastest sort of a few keys, or of keys each near its place.
fn insertion_sort(keys: &mut [u64]) {
    for i in 1..keys.len() {
        let key = keys[i];
        let mut j = i;
        while j > 0 && keys[j - 1] > key {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{draws, unit};

    fn sorted_by_std(time: &[f64], event: &[bool]) -> Vec<u64> {
        let mut keys: Vec<u64> = time
            .iter()
            .zip(event)
            .map(|(&t, &e)| packed(t, e))
            .collect();
        keys.sort_unstable();
        keys
    }

    fn check(time: &[f64], event: &[bool]) {
        let lo = time.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = time.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sorted = sort(time, event, lo, hi);
        assert_eq!(sorted.keys, sorted_by_std(time, event));
        assert_eq!(sorted.spare.len(), time.len());
        let split = sorted.split;
        if split > 0 && split < time.len() {
            assert_ne!(
                time_bits(sorted.keys[split - 1]),
                time_bits(sorted.keys[split])
            );
        }
    }

    /// The two spellings of a time's bucket agree, inside the line and
    /// past either end of it.
    #[test]
    fn a_bucket_is_the_same_in_lanes() {
        let mut next = draws(3);
        for (lo, hi, count) in [
            (0.0, 1.0, 4096),
            (3.5, 3.5, 1),
            (1e-300, 1e300, 4096),
            (2.0, 9.0, 7),
        ] {
            let linear = Linear::new(lo, hi, count);
            let edges = [
                0.0,
                -0.0,
                lo,
                hi,
                f64::MAX,
                f64::from_bits(1),
                lo - 1.0,
                hi * 2.0,
            ];
            // From a quarter of the range below `lo` to half of it past `hi`.
            let random = (0..100_000).map(|_| lo + (unit(next()) * 1.75 - 0.25) * (hi - lo));
            for t in edges.into_iter().chain(random) {
                assert_eq!(
                    linear.bucket_in_lanes(t),
                    linear.bucket(t),
                    "{t:e} in {lo}..{hi}"
                );
            }
        }
    }

    /// A key's piece computed in lanes is the saturating cast's, on a
    /// bucket's own share of the line and past either end of it.
    #[test]
    fn a_piece_is_the_saturating_casts() {
        let mut next = draws(11);
        let linear = Linear::new(2.0, 900.0, 4096);
        for b in [0usize, 1, 2047, 4095] {
            let pieces = 4096usize;
            let line = PieceLine {
                lo: linear.lo,
                scale: linear.scale,
                offset: b as f64,
                stretch: pieces as f64,
                last: (pieces - 1) as f64,
            };
            let width = 1.0 / linear.scale;
            let from = linear.lo + b as f64 * width;
            let random = (0..100_000).map(|_| from + (unit(next()) * 3.0 - 1.0) * width);
            for t in [0.0, 1.0, 2.0, 900.0, 1e300, from, from + width]
                .into_iter()
                .chain(random)
            {
                let t = t.max(0.0);
                let cast = ((((t - line.lo) * line.scale - line.offset) * line.stretch) as u32)
                    .min(pieces as u32 - 1);
                assert_eq!(line.piece(packed(t, true)), cast, "{t:e} in bucket {b}");
            }
        }
    }

    #[test]
    fn every_spread_of_times_sorts_as_the_standard_sort() {
        // Below and above the sample's size, one thread and two.
        for n in [1, 2, 33, 5_000, 100_000, 3 * PARALLEL_SORT_MIN / 2] {
            let mut next = draws(n as u64);
            let uniform = |r: u64| r as f64 / (1u64 << 53) as f64;
            let event: Vec<bool> = (0..n).map(|_| next().is_multiple_of(3)).collect();
            let spreads: [&dyn Fn(usize, u64) -> f64; 7] = [
                // Exponential follow-up.
                &|_, r| -(1.0 - uniform(r)).ln() * 500.0,
                // Half days: ties of fractional times.
                &|_, r| (r % 4_000) as f64 / 2.0,
                // One time for all.
                &|_, _| 7.25,
                // A far outlier: everything else in the first bucket.
                &|i, r| if i == n / 3 { 1e300 } else { uniform(r) },
                // Nested outliers, and zeros (also negative zero).
                &|i, r| match i % 5 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => 1e200 * uniform(r),
                    3 => 1e-300 * uniform(r),
                    _ => uniform(r),
                },
                // Times a few ulps apart.
                &|_, r| f64::from_bits(1.5f64.to_bits() + r % 64),
                // Subnormal times.
                &|_, r| f64::from_bits(r % 1_000_000),
            ];
            for spread in spreads {
                let time: Vec<f64> = (0..n).map(|i| spread(i, next())).collect();
                check(&time, &event);
            }
        }
    }
}
