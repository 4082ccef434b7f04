//! The pointwise bounds of a curve's rows.
//!
//! A row without events has the survival and error of the row before it,
//! so it has that row's bounds too: only rows with events are computed.
//! Those are gathered, a block at a time, into short columns that
//! `ConfType::intervals` goes through several rows at a time, and the
//! results spread back over the block, each row taking the bounds of the
//! last row with events at or before it. Gathering and spreading are
//! written without branches: whether a row has events is as unpredictable
//! as the data.

use crate::ConfType;

/// Rows gathered at a time: the block's columns stay in cache.
pub(super) const BLOCK: usize = 8192;

/// The bounds of a run of rows.
pub(super) struct Rows<'a> {
    pub n_event: &'a [u32],
    pub surv: &'a [f64],
    pub se_log: &'a [f64],
    pub lower: &'a mut [f64],
    pub upper: &'a mut [f64],
}

/// The gathered rows with events of one block, and their bounds; kept
/// from block to block.
#[derive(Default)]
pub(super) struct Gathered {
    surv: Vec<f64>,
    se_log: Vec<f64>,
    /// Slot 0 holds the bounds before the block; slot k those of the k-th
    /// row with events in it.
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Gathered {
    /// Fills `rows.lower` and `rows.upper`, given `before`, the bounds of
    /// the row before the run (the interval of survival 1 with error 0 at
    /// the start of a curve). Returns the bounds of the run's last row.
    pub(super) fn fill(
        &mut self,
        conf_type: ConfType,
        z: f64,
        before: (f64, f64),
        rows: Rows<'_>,
    ) -> (f64, f64) {
        let m = rows.lower.len();
        let (n_event, surv, se_log, upper) = (
            &rows.n_event[..m],
            &rows.surv[..m],
            &rows.se_log[..m],
            &mut rows.upper[..m],
        );
        let lower = rows.lower;
        let width = m.min(BLOCK);
        if self.surv.len() < width {
            self.surv.resize(width, 0.0);
            self.se_log.resize(width, 0.0);
            self.lower.resize(width + 1, 0.0);
            self.upper.resize(width + 1, 0.0);
        }
        let mut last = before;
        for start in (0..m).step_by(BLOCK) {
            let block = start..m.min(start + BLOCK);
            let mut k = 0;
            for i in block.clone() {
                self.surv[k] = surv[i];
                self.se_log[k] = se_log[i];
                k += usize::from(n_event[i] > 0);
            }
            (self.lower[0], self.upper[0]) = last;
            conf_type.intervals(
                &self.surv[..k],
                &self.se_log[..k],
                z,
                &mut self.lower[1..=k],
                &mut self.upper[1..=k],
            );
            let mut j = 0;
            for i in block {
                j += usize::from(n_event[i] > 0);
                (lower[i], upper[i]) = (self.lower[j], self.upper[j]);
            }
            last = (self.lower[j], self.upper[j]);
        }
        last
    }
}
