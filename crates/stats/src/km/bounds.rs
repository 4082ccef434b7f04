//! The standard errors and pointwise bounds of a curve's rows, and the
//! survival of a part of a curve that continues another.
//!
//! A row without events has the survival, Greenwood's sum, error and
//! bounds of the row before it (its factor 1 and term 0 leave the running
//! product and sum unchanged to the bit), so only rows with events are
//! computed. Those are gathered, a block at a time, into short columns: the
//! running product and sum continue over them alone when the rows hold
//! each row's factor and term, the square roots and `ConfType::intervals`
//! go through several rows at a time, and the results spread back over the
//! block, each row taking those of the last row with events at or before
//! it. Gathering and spreading are written without branches: whether a row
//! has events is as unpredictable as the data. Each column is read once
//! and written once.

use crate::ConfType;

/// Rows gathered at a time: the block's columns stay in cache.
pub(super) const BLOCK: usize = 8192;

/// A run of rows. On entry `surv` and `greenwood` hold what `Held` says;
/// on return `surv` holds survival, `greenwood` the standard error of log
/// survival (the square root of Greenwood's sum), and `lower` and `upper`
/// the bounds.
pub(super) struct Rows<'a> {
    pub n_event: &'a [u32],
    pub surv: &'a mut [f64],
    pub greenwood: &'a mut [f64],
    pub lower: &'a mut [f64],
    pub upper: &'a mut [f64],
}

/// What a run's `surv` and `greenwood` hold on entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// Survival and Greenwood's sum, accumulated already.
    Running,
    /// Each row's factor (n − d)/n and term d/(n(n − d)), whose running
    /// product and sum continue from the row before the run.
    Factors,
}

/// Survival and Greenwood's sum at one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Running {
    pub surv: f64,
    pub greenwood: f64,
}

impl Running {
    /// Before a curve's first row: everybody survives, without error.
    pub(super) const START: Self = Self {
        surv: 1.0,
        greenwood: 0.0,
    };
}

/// The gathered rows with events of one block; kept from block to block.
/// Slot 0 of each column holds the row before the block, slot k the k-th
/// row with events in it.
#[derive(Default)]
pub(super) struct Gathered {
    surv: Vec<f64>,
    /// Greenwood's sum, then its square root.
    greenwood: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Gathered {
    /// Completes `rows`, given `before`, the row before them. Returns the
    /// run's last row.
    pub(super) fn fill(
        &mut self,
        conf_type: ConfType,
        z: f64,
        before: Running,
        held: Held,
        rows: Rows<'_>,
    ) -> Running {
        let m = rows.lower.len();
        let (n_event, surv, greenwood, upper) = (
            &rows.n_event[..m],
            &mut rows.surv[..m],
            &mut rows.greenwood[..m],
            &mut rows.upper[..m],
        );
        let lower = rows.lower;
        // One slot for the row before, and one that the last row of a
        // block writes without events.
        let width = m.min(BLOCK) + 1;
        if self.surv.len() < width {
            for column in [
                &mut self.surv,
                &mut self.greenwood,
                &mut self.lower,
                &mut self.upper,
            ] {
                column.resize(width, 0.0);
            }
        }
        let mut last = before;
        let mut last_se = before.greenwood.sqrt();
        let mut last_bounds = conf_type.interval(before.surv, last_se, z);
        for start in (0..m).step_by(BLOCK) {
            let block = start..m.min(start + BLOCK);
            let prior = last;
            let mut k = 0;
            for i in block.clone() {
                self.surv[k + 1] = surv[i];
                self.greenwood[k + 1] = greenwood[i];
                k += usize::from(n_event[i] > 0);
            }
            let (gathered_surv, gathered_greenwood) =
                (&mut self.surv[1..=k], &mut self.greenwood[1..=k]);
            if held == Held::Factors {
                let (mut s, mut sum) = (prior.surv, prior.greenwood);
                for (factor, term) in gathered_surv.iter_mut().zip(gathered_greenwood.iter_mut()) {
                    s *= *factor;
                    sum += *term;
                    *factor = s;
                    *term = sum;
                }
            }
            if k > 0 {
                last = Running {
                    surv: self.surv[k],
                    greenwood: self.greenwood[k],
                };
            }
            for sum in &mut self.greenwood[1..=k] {
                *sum = sum.sqrt();
            }
            (self.surv[0], self.greenwood[0]) = (prior.surv, last_se);
            (self.lower[0], self.upper[0]) = last_bounds;
            conf_type.intervals(
                &self.surv[1..=k],
                &self.greenwood[1..=k],
                z,
                &mut self.lower[1..=k],
                &mut self.upper[1..=k],
            );
            let mut j = 0;
            if held == Held::Factors {
                for i in block {
                    j += usize::from(n_event[i] > 0);
                    surv[i] = self.surv[j];
                    greenwood[i] = self.greenwood[j];
                    (lower[i], upper[i]) = (self.lower[j], self.upper[j]);
                }
            } else {
                for i in block {
                    j += usize::from(n_event[i] > 0);
                    greenwood[i] = self.greenwood[j];
                    (lower[i], upper[i]) = (self.lower[j], self.upper[j]);
                }
            }
            last_se = self.greenwood[k];
            last_bounds = (self.lower[k], self.upper[k]);
        }
        last
    }
}
