//! Survival's running product and Greenwood's running sum over a run of
//! rows, as R accumulates them, a block at a time.
//!
//! Each row's factor (n − d)/n and term d/(n(n − d)) depend on that row
//! only, so they are computed first, several rows at a time; the running
//! product and sum are then a multiplication and an addition per row. A
//! row without events has factor 1 and term 0, which leave both unchanged
//! to the bit, so no row needs a jump: whether a row has events is as
//! unpredictable as the data.

use super::bounds::BLOCK;

/// The columns a run of rows reads and writes.
pub(super) struct Rows<'a> {
    pub n_risk: &'a [u32],
    pub n_event: &'a [u32],
    pub surv: &'a mut [f64],
    /// Greenwood's sum (not yet its square root).
    pub greenwood: &'a mut [f64],
}

/// Writes the running product and sum of `rows`, continuing from
/// `(surv, greenwood)` of the row before them; returns the last row's. A
/// block at a time, its factors and terms written where its products go.
pub(super) fn run(before: (f64, f64), rows: Rows<'_>) -> (f64, f64) {
    let m = rows.surv.len();
    let (n_risk, n_event, greenwood) = (
        &rows.n_risk[..m],
        &rows.n_event[..m],
        &mut rows.greenwood[..m],
    );
    let surv = rows.surv;
    let mut last = before;
    for start in (0..m).step_by(BLOCK) {
        let block = start..m.min(start + BLOCK);
        let (surv, greenwood) = (&mut surv[block.clone()], &mut greenwood[block.clone()]);
        factors(&n_risk[block.clone()], &n_event[block], surv, greenwood);
        last = accumulate(last, surv, greenwood);
    }
    last
}

/// Writes each row's factor (n − d)/n into `surv` and its term
/// d/(n(n − d)) into `greenwood`, several rows at a time: the part of the
/// products that does not wait for the row before, so a thread can do it
/// for its rows before the running product reaches them.
pub(super) fn factors(n_risk: &[u32], n_event: &[u32], surv: &mut [f64], greenwood: &mut [f64]) {
    let len = surv.len();
    let (n_risk, n_event, greenwood) = (&n_risk[..len], &n_event[..len], &mut greenwood[..len]);
    // Compiled for each instruction set `pulp` knows, as the bounds.
    pulp::Arch::new().dispatch(|| {
        for k in 0..len {
            // A row at risk has n ≥ 1; a row of nobody at risk (never made
            // here, but a hand-built event table could hold one) has no
            // events and counts as one at risk, so that it too leaves the
            // product and sum unchanged.
            let n = f64::from(n_risk[k].max(1));
            let d = f64::from(n_event[k]);
            surv[k] = (n - d) / n;
            greenwood[k] = d / (n * (n - d));
        }
    });
}

/// Turns the factors in `surv` and the terms in `greenwood` into their
/// running product and sum from `before` (the survival and sum of the row
/// before), a multiplication and an addition per row in order, as R
/// does; returns the last row's.
pub(super) fn accumulate(
    (mut s, mut sum): (f64, f64),
    surv: &mut [f64],
    greenwood: &mut [f64],
) -> (f64, f64) {
    let greenwood = &mut greenwood[..surv.len()];
    for (factor, term) in surv.iter_mut().zip(greenwood) {
        s *= *factor;
        sum += *term;
        *factor = s;
        *term = sum;
    }
    (s, sum)
}
