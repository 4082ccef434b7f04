//! Speed of the estimators beside R's, on the same data in the same run.
//!
//! ```text
//! cargo bench -p isatrial --bench stats_speed            # n = 1e5, 1e6, 1e7
//! cargo bench -p isatrial --bench stats_speed -- --quick # n = 1e5, 1e6
//! ```
//!
//! For each n it draws two data sets (whole-day times, and continuous
//! times), then times: Kaplan–Meier and cumulative incidence in process
//! (best of seven runs, and for Kaplan–Meier also the median run; the
//! fit alone, as R's `survfit` call is timed alone, and the curve's median
//! apart), the whole `isatrial stats km --json` command on
//! a CSV file, and R's `survfit` and `cmprsk::cuminc` on the same numbers
//! already in R's memory (read from a raw binary file, outside the timing),
//! the best of three calls (two at 10⁷).
//! Prints a Markdown table for BENCHMARKS.md. R is skipped, and said to be,
//! when `Rscript` is not installed.
//!
//! A second table sets the continuous fit beside two floors measured in
//! the same run, work that any Kaplan–Meier fit returning R's table must do
//! at least once: sorting the times (a radix sort of their keys, half on
//! each core, without merging the halves), and writing the table's eight
//! columns of n numbers (four columns on each core). Both are the best of
//! three runs, as the fit is a best run: later runs reuse memory the
//! allocator kept, so neither side pays the first touch of fresh pages.

/// The allocator `isatrial` runs with, so what is timed in process is what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use stats::{CompetingStatus, ConfType, CumulativeIncidence, KaplanMeier};

#[path = "common/follow_up.rs"]
mod follow_up;
use follow_up::{Data, draw};

/// Seconds of each of `runs` runs of `f`, fastest first.
fn timed(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    let mut seconds: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    seconds.sort_by(f64::total_cmp);
    seconds
}

fn best_of(runs: usize, f: impl FnMut()) -> f64 {
    timed(runs, f)[0]
}

/// Seconds to radix-sort the keys of `time` (the bits of a non-negative
/// double order as the numbers do), one half on each core. The fit itself
/// splits at a sampled median instead, so that its halves need no merge;
/// this floor leaves the merge out.
fn sort_floor(time: &[f64]) -> f64 {
    best_of(3, || {
        let half = time.len() / 2;
        let keys = |part: &[f64]| part.iter().map(|t| t.to_bits()).collect::<Vec<u64>>();
        let (mut a, mut b) = (keys(&time[..half]), keys(&time[half..]));
        std::thread::scope(|scope| {
            scope.spawn(|| radsort::sort(&mut b));
            radsort::sort(&mut a);
        });
        std::hint::black_box((a, b));
    })
}

/// Seconds to write eight columns of `n` numbers (R's `time`, `n.risk`,
/// `n.event`, `n.censor`, `surv`, `std.err`, `lower`, `upper`), four
/// columns on each core.
fn columns_floor(n: usize) -> f64 {
    best_of(3, || {
        let four = |from: usize| -> Vec<Vec<f64>> {
            (from..from + 4)
                .map(|c| (0..n).map(|i| (i + c) as f64).collect())
                .collect()
        };
        let (a, b) = std::thread::scope(|scope| {
            let b = scope.spawn(|| four(4));
            (four(0), b.join().unwrap())
        });
        std::hint::black_box((a, b));
    })
}

fn write_csv(path: &Path, data: &Data) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "time,status").unwrap();
    for (t, c) in data.time.iter().zip(&data.code) {
        writeln!(out, "{t},{}", u8::from(*c == 1)).unwrap();
    }
}

fn write_raw(path: &Path, data: &Data) {
    let mut bytes = Vec::with_capacity(data.time.len() * 12);
    for t in &data.time {
        bytes.extend_from_slice(&t.to_le_bytes());
    }
    for c in &data.code {
        bytes.extend_from_slice(&i32::from(*c).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

const R_TIMING: &str = r#"
suppressPackageStartupMessages({ library(survival); library(cmprsk) })
a <- commandArgs(TRUE); n <- as.integer(a[2]); with_cif <- a[3] == "1"
con <- file(a[1], "rb"); time <- readBin(con, "double", n); code <- readBin(con, "integer", n); close(con)
event <- as.integer(code == 1)
# The best of several calls, as ours is a best run: R's first call on a
# million rows takes about 1.5 times its later ones (fresh memory), and
# later calls reuse what the first freed.
runs <- as.integer(a[4])
best <- function(f) min(replicate(runs, system.time(f())[["elapsed"]]))
km <- best(function() fit <<- survfit(Surv(time, event) ~ 1, conf.type = "log-log"))
ci <- if (with_cif) best(function() cuminc(time, code, cencode = 0)) else NA
cat(km, ci, format(quantile(fit, 0.5)$quantile[[1]], digits = 15), "\n")
"#;

/// R's seconds for survfit and cuminc, and its median (to check that both
/// sides computed the same thing).
fn r_seconds(raw: &Path, n: usize, with_cif: bool) -> Option<(f64, Option<f64>, f64)> {
    let script = std::env::temp_dir().join("isatrial-bench-timing.R");
    std::fs::write(&script, R_TIMING).ok()?;
    let out = Command::new("Rscript")
        .arg(&script)
        .arg(raw)
        .arg(n.to_string())
        .arg(if with_cif { "1" } else { "0" })
        // Three calls up to 10⁶ rows; two at 10⁷, where one takes 40 s.
        .arg(if n <= 1_000_000 { "3" } else { "2" })
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<&str> = text.split_whitespace().collect();
    if v.len() < 3 {
        eprintln!("R failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some((v[0].parse().ok()?, v[1].parse().ok(), v[2].parse().ok()?))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[100_000, 1_000_000]
    } else {
        &[100_000, 1_000_000, 10_000_000]
    };
    let dir = std::env::temp_dir().join(format!("isatrial-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_isatrial"));
    let have_r = Command::new("Rscript").arg("--version").output().is_ok();
    if !have_r {
        eprintln!("Rscript not found: R columns will read 'not run'");
    }
    println!(
        "| n | times | KM in process | KM in process, median run | the curve's median | CIF in process | `isatrial stats km --json` (CSV, end to end) | R survfit | R cuminc | R / KM in process | R / CIF in process |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut floors = Vec::new();
    for &n in sizes {
        for whole_days in [true, false] {
            let data = draw(n, whole_days, 20261124 + n as u64);
            let event: Vec<bool> = data.code.iter().map(|&c| c == 1).collect();
            let status: Vec<CompetingStatus> = data
                .code
                .iter()
                .map(|&c| CompetingStatus::from_code(c).unwrap())
                .collect();
            // Seven runs at every n: the machine is shared, and a run
            // alternately gets memory the allocator kept and fresh memory.
            let runs = 7;
            // The fit alone is timed, as R's `survfit` call is; the median
            // (what `print(fit)` adds) has its own column.
            let (mut km_runs, mut median_runs) = (Vec::new(), Vec::new());
            let mut median = f64::NAN;
            for _ in 0..runs {
                let start = Instant::now();
                let fit = KaplanMeier::fit(&data.time, &event, ConfType::LogLog).unwrap();
                km_runs.push(start.elapsed().as_secs_f64());
                let start = Instant::now();
                median = fit.median().estimate;
                median_runs.push(start.elapsed().as_secs_f64());
            }
            km_runs.sort_by(f64::total_cmp);
            median_runs.sort_by(f64::total_cmp);
            let (km, km_middle, median_best) = (km_runs[0], km_runs[runs / 2], median_runs[0]);
            let cif = best_of(runs, || {
                std::hint::black_box(CumulativeIncidence::fit(&data.time, &status).unwrap());
            });
            let csv = dir.join("data.csv");
            write_csv(&csv, &data);
            let e2e = best_of(3, || {
                let out = Command::new(&binary)
                    .args(["stats", "km", "--input"])
                    .arg(&csv)
                    .args(["--time", "time", "--status", "status", "--json"])
                    .stdout(std::process::Stdio::null())
                    .status()
                    .unwrap();
                assert!(out.success());
            });
            let r = if have_r {
                let raw = dir.join("data.bin");
                write_raw(&raw, &data);
                r_seconds(&raw, n, n <= 1_000_000)
            } else {
                None
            };
            let secs = |s: f64| {
                if s < 1.0 {
                    format!("{:.1} ms", s * 1e3)
                } else {
                    format!("{s:.2} s")
                }
            };
            let (r_km, r_cif) = match r {
                Some((k, c, r_median)) => {
                    assert!(
                        (r_median - median).abs() <= 1e-9 * median.abs(),
                        "R's median {r_median} differs from ours {median}"
                    );
                    (Some(k), c)
                }
                None => (None, None),
            };
            let cell = |s: Option<f64>| s.map_or("not run".to_owned(), secs);
            if !whole_days {
                let (sort, columns) = (sort_floor(&data.time), columns_floor(n));
                floors.push(format!(
                    "| {n:.0e} | {} | {} | {} | {} | {:.1} | {} |",
                    secs(km),
                    secs(sort),
                    secs(columns),
                    secs(sort + columns),
                    km / (sort + columns),
                    cell(r.map(|(k, _, _)| k)),
                ));
            }
            let ratio = |r: Option<f64>, ours: f64| {
                r.map_or("—".to_owned(), |r| format!("{:.0}×", r / ours))
            };
            println!(
                "| {n:.0e} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                if whole_days {
                    "whole days"
                } else {
                    "continuous"
                },
                secs(km),
                secs(km_middle),
                secs(median_best),
                secs(cif),
                secs(e2e),
                cell(r_km),
                cell(r_cif),
                ratio(r_km, km),
                ratio(r_cif, cif),
            );
        }
    }
    println!();
    println!(
        "| n (continuous) | KM in process | floor: sort the keys | floor: write the 8 columns | floors together | KM / floors | R survfit |"
    );
    println!("|---|---|---|---|---|---|---|");
    for row in floors {
        println!("{row}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
