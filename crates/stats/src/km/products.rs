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

/// Factors and terms of one block, kept from block to block.
#[derive(Default)]
pub(super) struct Products {
    factor: Vec<f64>,
    term: Vec<f64>,
}

impl Products {
    /// Writes the running product and sum of `rows`, continuing from
    /// `(surv, greenwood)` of the row before them; returns the last row's.
    pub(super) fn run(&mut self, (mut s, mut greenwood): (f64, f64), rows: Rows<'_>) -> (f64, f64) {
        let m = rows.surv.len();
        let (n_risk, n_event, greenwood_out) = (
            &rows.n_risk[..m],
            &rows.n_event[..m],
            &mut rows.greenwood[..m],
        );
        let surv = rows.surv;
        let width = m.min(BLOCK);
        if self.factor.len() < width {
            self.factor.resize(width, 0.0);
            self.term.resize(width, 0.0);
        }
        for start in (0..m).step_by(BLOCK) {
            let block = start..m.min(start + BLOCK);
            let len = block.len();
            let (factor, term) = (&mut self.factor[..len], &mut self.term[..len]);
            let (n_risk, n_event) = (&n_risk[block.clone()], &n_event[block.clone()]);
            // Compiled for each instruction set `pulp` knows, as the bounds.
            pulp::Arch::new().dispatch(|| {
                for k in 0..len {
                    // A row at risk has n ≥ 1; a row of nobody at risk
                    // (never made here, but a hand-built event table could
                    // hold one) has no events and counts as one at risk,
                    // so that it too leaves the product and sum unchanged.
                    let n = f64::from(n_risk[k].max(1));
                    let d = f64::from(n_event[k]);
                    factor[k] = (n - d) / n;
                    term[k] = d / (n * (n - d));
                }
            });
            for (k, i) in block.enumerate() {
                s *= factor[k];
                greenwood += term[k];
                surv[i] = s;
                greenwood_out[i] = greenwood;
            }
        }
        (s, greenwood)
    }
}
