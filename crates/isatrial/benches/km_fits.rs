//! Kaplan–Meier fits one after another in one process, and the bounds
//! kernel alone: the measurements behind BENCHMARKS.md's comparisons of
//! one build with another.
//!
//! ```text
//! cargo bench -p isatrial --bench km_fits                          # 1e7 continuous times, 8 fits
//! cargo bench -p isatrial --bench km_fits -- 10000000 60 --whole-days
//! ```
//!
//! The data are `stats_speed`'s (`common/follow_up.rs`): exponential times
//! with a median of about a year, events with probability 0.45. Each fit
//! is timed alone (what R's `survfit` call does) and with its median (what
//! `print(fit)` adds); the fastest and the middle fit are printed. Fits
//! alternate between memory the allocator kept and fresh memory, and the
//! machine is shared: compare builds by running them in
//! turn, several times (copy this file into a worktree of the older
//! commit to run it there).
//!
//! Then the bounds of the last fit's rows with events, computed three
//! ways on the same numbers, best of five: `ConfType::intervals` (several
//! rows at a time), `ConfType::interval` one row at a time, and the C
//! library's `ln`/`exp` in the same formula one row at a time.

/// The allocator `isatrial` runs with, so what is timed is what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use stats::{ConfType, KaplanMeier};

#[path = "common/follow_up.rs"]
mod follow_up;

fn milliseconds(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1e3)
}

/// The fastest of five runs of `f`, in seconds.
fn best_of_five(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // `cargo bench` passes `--bench`; numbers are n, then the fits.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let whole_days = args.iter().any(|a| a == "--whole-days");
    let mut numbers = args.iter().filter_map(|a| a.parse::<usize>().ok());
    let n = numbers.next().unwrap_or(10_000_000);
    let fits = numbers.next().unwrap_or(8).max(1);

    let data = follow_up::draw(n, whole_days, 20261124 + n as u64);
    let (time, event): (Vec<f64>, Vec<bool>) =
        (data.time, data.code.iter().map(|&c| c == 1).collect());

    let (mut seconds, mut with_median) = (Vec::with_capacity(fits), Vec::with_capacity(fits));
    let mut last = None;
    for _ in 0..fits {
        let start = Instant::now();
        let fit = KaplanMeier::fit(&time, &event, ConfType::LogLog).expect("valid data");
        seconds.push(start.elapsed().as_secs_f64());
        std::hint::black_box(fit.median());
        with_median.push(start.elapsed().as_secs_f64());
        last = Some(fit);
    }
    let order: Vec<String> = seconds.iter().map(|&s| milliseconds(s)).collect();
    seconds.sort_by(f64::total_cmp);
    with_median.sort_by(f64::total_cmp);
    println!(
        "n = {n}, {}: {fits} fits, in order {}",
        if whole_days {
            "whole days"
        } else {
            "continuous"
        },
        order.join(", ")
    );
    println!(
        "fastest {}, middle {}; with the median: fastest {}, middle {}",
        milliseconds(seconds[0]),
        milliseconds(seconds[fits / 2]),
        milliseconds(with_median[0]),
        milliseconds(with_median[fits / 2])
    );

    let fit = last.expect("at least one fit");
    let z = 1.959_963_984_540_054;
    let (surv, se): (Vec<f64>, Vec<f64>) = fit
        .n_event
        .iter()
        .zip(fit.surv.iter().zip(&fit.std_err_log))
        .filter(|(d, _)| **d > 0)
        .map(|(_, (&s, &e))| (s, e))
        .unzip();
    let m = surv.len();
    let (mut lower, mut upper) = (vec![0.0; m], vec![0.0; m]);
    let many = best_of_five(|| ConfType::LogLog.intervals(&surv, &se, z, &mut lower, &mut upper));
    let one_by_one = best_of_five(|| {
        for i in 0..m {
            (lower[i], upper[i]) = ConfType::LogLog.interval(surv[i], se[i], z);
        }
    });
    let c_library = best_of_five(|| {
        for i in 0..m {
            let log_p = surv[i].ln();
            let widen = (z * se[i] / log_p).exp();
            (lower[i], upper[i]) = ((log_p / widen).exp(), (log_p * widen).exp());
        }
    });
    std::hint::black_box((&lower, &upper));
    println!(
        "log-log bounds of the last fit's {m} rows with events: intervals {}, interval row by row {}, C library's ln/exp row by row {}",
        milliseconds(many),
        milliseconds(one_by_one),
        milliseconds(c_library)
    );
}
