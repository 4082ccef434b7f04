//! The curve of times that must be sorted (not whole days), from the
//! sorted keys straight into the fit's columns.
//!
//! With ten million distinct times the fit is ten million rows, and the
//! columns cost more than the arithmetic: fresh memory is written once,
//! the sort's two buffers become the `time` and `surv` columns, and the
//! work runs on two threads. First each thread makes the rows of its part
//! of the sorted keys, the first thread with survival and Greenwood's sum,
//! the second with each row's factor of the one and term of the other
//! (the half of the products that needs no row before). Then the first
//! thread computes its part's errors and bounds while the second continues
//! the running product and sum from the first part's last row, over its
//! rows with events in order as R does (`bounds.rs`), so that every number
//! has R's bits.

use super::KaplanMeier;
use super::bounds::{self, Held};
use super::products;
use crate::ConfType;
use crate::keysort::{self, SortedKeys};

/// Fits the curve to valid `time` (all within `lo..=hi`, at most
/// `u32::MAX` of them) with `event`.
pub(super) fn fit(
    time: &[f64],
    event: &[bool],
    (lo, hi): (f64, f64),
    conf_type: ConfType,
    conf_level: f64,
) -> KaplanMeier {
    let n = time.len();
    let z = crate::normal_quantile(1.0 - (1.0 - conf_level) / 2.0);
    let SortedKeys { keys, spare, split } = keysort::sort(time, event, lo, hi);
    // Zeroed memory is free when it comes fresh from the kernel, but
    // memory the allocator kept from an earlier fit is cleared by the
    // allocating thread: about half the memory is allocated on each
    // thread (the counts are 32-bit).
    let bounds = || [vec![0.0; n], vec![0.0; n]];
    let rest = || ([vec![0; n], vec![0; n], vec![0; n]], vec![0.0; n]);
    let (([n_risk, n_event, n_censor], std_err_log), [lower, upper]) = if split < n {
        std::thread::scope(|scope| {
            let bounds = scope.spawn(bounds);
            (rest(), bounds.join().expect("allocating does not panic"))
        })
    } else {
        (rest(), bounds())
    };
    let mut columns = Columns {
        keys,
        n_risk,
        n_event,
        n_censor,
        surv: bytemuck::allocation::cast_vec(spare),
        std_err_log,
        lower,
        upper,
    };
    let (first, second) = {
        let (first, mut second) = columns.split_at_mut(split);
        let at_risk = (n - split) as u32;
        std::thread::scope(|scope| {
            let second = (!second.keys.is_empty())
                .then(|| scope.spawn(move || second_rows(&mut second, at_risk)));
            let first = first_rows(first, n as u32);
            let second = second.map_or(0, |h| h.join().expect("rows do not panic"));
            (first, second)
        })
    };
    {
        let (mut part_a, mut part_b) = columns.split_at_mut(split);
        part_a.truncate(first.rows);
        part_b.truncate(second);
        std::thread::scope(|scope| {
            if !part_b.keys.is_empty() {
                scope.spawn(|| finish(part_b, Some(first), conf_type, z));
            }
            finish(part_a, None, conf_type, z);
        });
    }
    columns.close_gap(first.rows, split, second);
    KaplanMeier {
        time: bytemuck::allocation::cast_vec(columns.keys),
        n_risk: columns.n_risk,
        n_event: columns.n_event,
        n_censor: columns.n_censor,
        surv: columns.surv,
        std_err_log: columns.std_err_log,
        lower: columns.lower,
        upper: columns.upper,
        conf_type,
        conf_level,
        n: n as u64,
    }
}

/// The fit's columns while they are made; `keys` becomes `time`, and
/// `std_err_log` holds Greenwood's sum until the second pass (in the
/// second part, first each row's term of it, while `surv` holds factors).
struct Columns {
    keys: Vec<u64>,
    n_risk: Vec<u32>,
    n_event: Vec<u32>,
    n_censor: Vec<u32>,
    surv: Vec<f64>,
    std_err_log: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

/// One thread's share of every column.
struct Part<'a> {
    keys: &'a mut [u64],
    n_risk: &'a mut [u32],
    n_event: &'a mut [u32],
    n_censor: &'a mut [u32],
    surv: &'a mut [f64],
    std_err_log: &'a mut [f64],
    lower: &'a mut [f64],
    upper: &'a mut [f64],
}

impl Columns {
    fn split_at_mut(&mut self, at: usize) -> (Part<'_>, Part<'_>) {
        let (keys_a, keys_b) = self.keys.split_at_mut(at);
        let (n_risk_a, n_risk_b) = self.n_risk.split_at_mut(at);
        let (n_event_a, n_event_b) = self.n_event.split_at_mut(at);
        let (n_censor_a, n_censor_b) = self.n_censor.split_at_mut(at);
        let (surv_a, surv_b) = self.surv.split_at_mut(at);
        let (se_a, se_b) = self.std_err_log.split_at_mut(at);
        let (lower_a, lower_b) = self.lower.split_at_mut(at);
        let (upper_a, upper_b) = self.upper.split_at_mut(at);
        (
            Part {
                keys: keys_a,
                n_risk: n_risk_a,
                n_event: n_event_a,
                n_censor: n_censor_a,
                surv: surv_a,
                std_err_log: se_a,
                lower: lower_a,
                upper: upper_a,
            },
            Part {
                keys: keys_b,
                n_risk: n_risk_b,
                n_event: n_event_b,
                n_censor: n_censor_b,
                surv: surv_b,
                std_err_log: se_b,
                lower: lower_b,
                upper: upper_b,
            },
        )
    }

    /// Moves the second part's `rows` rows, made at `split`, to follow the
    /// first part's `first` rows, and drops the rest.
    /// When the first part had no tied times its rows fill it and nothing
    /// is moved (a move onto itself would still copy every byte).
    fn close_gap(&mut self, first: usize, split: usize, rows: usize) {
        fn close<T: Copy>(column: &mut Vec<T>, first: usize, split: usize, rows: usize) {
            if first != split {
                column.copy_within(split..split + rows, first);
            }
            column.truncate(first + rows);
        }
        close(&mut self.keys, first, split, rows);
        close(&mut self.n_risk, first, split, rows);
        close(&mut self.n_event, first, split, rows);
        close(&mut self.n_censor, first, split, rows);
        close(&mut self.surv, first, split, rows);
        close(&mut self.std_err_log, first, split, rows);
        close(&mut self.lower, first, split, rows);
        close(&mut self.upper, first, split, rows);
    }
}

impl Part<'_> {
    /// Keeps the first `rows` rows.
    fn truncate(&mut self, rows: usize) {
        fn cut<T>(column: &mut &mut [T], rows: usize) {
            let whole = std::mem::take(column);
            *column = &mut whole[..rows];
        }
        cut(&mut self.keys, rows);
        cut(&mut self.n_risk, rows);
        cut(&mut self.n_event, rows);
        cut(&mut self.n_censor, rows);
        cut(&mut self.surv, rows);
        cut(&mut self.std_err_log, rows);
        cut(&mut self.lower, rows);
        cut(&mut self.upper, rows);
    }
}

/// How many rows the first part has, and where its running products ended.
#[derive(Debug, Clone, Copy)]
struct Running {
    rows: usize,
    surv: f64,
    greenwood: f64,
}

/// The rows of a part's sorted keys, written over the keys from the front
/// (a row is never ahead of the keys it counts): each time once and its
/// counts, from `at_risk` observations at the part's first time. Returns
/// the number of rows.
fn rows(part: &mut Part<'_>, mut at_risk: u32) -> usize {
    let keys = &mut *part.keys;
    let m = keys.len();
    let (mut i, mut row) = (0, 0);
    while i < m {
        let time = keysort::time_bits(keys[i]);
        let (mut events, mut all) = (0u32, 0u32);
        while i < m && keysort::time_bits(keys[i]) == time {
            events += (keys[i] & 1) as u32;
            all += 1;
            i += 1;
        }
        keys[row] = time;
        part.n_risk[row] = at_risk;
        part.n_event[row] = events;
        part.n_censor[row] = all - events;
        at_risk -= all;
        row += 1;
    }
    row
}

/// The rows of the part that starts the curve, with survival and
/// Greenwood's sum accumulated as R accumulates them.
fn first_rows(mut part: Part<'_>, at_risk: u32) -> Running {
    let row = rows(&mut part, at_risk);
    let products = products::Rows {
        n_risk: &part.n_risk[..row],
        n_event: &part.n_event[..row],
        surv: &mut part.surv[..row],
        greenwood: &mut part.std_err_log[..row],
    };
    let (surv, greenwood) = products::run((1.0, 0.0), products);
    Running {
        rows: row,
        surv,
        greenwood,
    }
}

/// The rows of a part after the first, with each row's factor in `surv`
/// and term in `std_err_log`, ready for the running product and sum.
fn second_rows(part: &mut Part<'_>, at_risk: u32) -> usize {
    let row = rows(part, at_risk);
    products::factors(
        &part.n_risk[..row],
        &part.n_event[..row],
        &mut part.surv[..row],
        &mut part.std_err_log[..row],
    );
    row
}

/// Completes a part: its errors and bounds, and, when it `continued` the
/// part before it, its survival and Greenwood's sum from that part's last
/// row on.
fn finish(part: Part<'_>, continued: Option<Running>, conf_type: ConfType, z: f64) {
    let (before, held) = match continued {
        Some(first) => (
            bounds::Running {
                surv: first.surv,
                greenwood: first.greenwood,
            },
            Held::Factors,
        ),
        None => (bounds::Running::START, Held::Running),
    };
    let rows = bounds::Rows {
        n_event: part.n_event,
        surv: part.surv,
        greenwood: part.std_err_log,
        lower: part.lower,
        upper: part.upper,
    };
    bounds::Gathered::default().fill(conf_type, z, before, held, rows);
}
