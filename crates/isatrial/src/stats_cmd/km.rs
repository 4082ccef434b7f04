//! `isatrial stats km`.

use std::io::{BufWriter, Write};

use serde::Serialize;
use stats::{KaplanMeier, Quantile, SurvivalAt};

use super::{fmt, print_json, split};
use crate::Failure;
use crate::cli::KmArgs;
use crate::input::{Request, StatusCodes, read_columns};

#[derive(Serialize)]
struct Output<'a> {
    estimator: &'static str,
    conf_type: &'static str,
    conf_level: f64,
    n: usize,
    groups: Vec<GroupOut<'a>>,
}

#[derive(Serialize)]
struct GroupOut<'a> {
    group: Option<String>,
    n: u64,
    events: u64,
    censored: u64,
    table: Table<'a>,
    median: Quantile,
    quartiles: Vec<Quantile>,
    at: Vec<SurvivalAt>,
}

#[derive(Serialize)]
struct Row {
    time: f64,
    n_risk: u64,
    n_event: u64,
    n_censor: u64,
    surv: f64,
    std_err: f64,
    lower: f64,
    upper: f64,
}

/// The full table, serialized row by row straight from the fit so that a
/// ten-million-row table is not built a second time in memory.
struct Table<'a>(&'a KaplanMeier);

impl Serialize for Table<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(rows(self.0))
    }
}

fn rows(fit: &KaplanMeier) -> impl Iterator<Item = Row> + '_ {
    (0..fit.time.len()).map(move |i| Row {
        time: fit.time[i],
        n_risk: fit.n_risk[i],
        n_event: fit.n_event[i],
        n_censor: fit.n_censor[i],
        surv: fit.surv[i],
        std_err: fit.surv[i] * fit.std_err_log[i],
        lower: fit.lower[i],
        upper: fit.upper[i],
    })
}

pub fn run(args: &KmArgs) -> Result<(), Failure> {
    let request = Request {
        time: &args.input.time,
        status: &args.input.status,
        codes: StatusCodes::EventOrCensored,
        group: args.group.as_deref(),
    };
    let columns = read_columns(&args.input.input, &request)?;
    let n = columns.time.len();
    let parts = split(columns);
    let conf_type = stats::ConfType::from(args.conf_type);
    let fits = parts
        .time
        .iter()
        .zip(&parts.status)
        .map(|(t, s)| {
            let event: Vec<bool> = s.iter().map(|&c| c == 1).collect();
            KaplanMeier::fit(t, &event, conf_type)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if args.input.json {
        let groups = fits
            .iter()
            .zip(&parts.labels)
            .map(|(fit, label)| {
                let events: u64 = fit.n_event.iter().sum();
                GroupOut {
                    group: label.clone(),
                    n: fit.n,
                    events,
                    censored: fit.n - events,
                    table: Table(fit),
                    median: fit.median(),
                    quartiles: fit.quantiles(&[0.25, 0.75]),
                    at: fit.at(&args.at),
                }
            })
            .collect();
        return print_json(&Output {
            estimator: "kaplan-meier",
            conf_type: conf_type.as_str(),
            conf_level: 0.95,
            n,
            groups,
        });
    }
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    for (fit, label) in fits.iter().zip(&parts.labels) {
        let events: u64 = fit.n_event.iter().sum();
        writeln!(
            out,
            "Kaplan–Meier{}: n = {}, events = {}; 95 % interval on the {} scale",
            label
                .as_ref()
                .map(|l| format!(", group {l}"))
                .unwrap_or_default(),
            fit.n,
            events,
            conf_type.as_str()
        )?;
        writeln!(
            out,
            "{:>10} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "time", "n.risk", "n.event", "n.censor", "survival", "std.err", "lower", "upper"
        )?;
        for r in rows(fit) {
            writeln!(
                out,
                "{:>10} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9} {:>9}",
                fmt(r.time),
                r.n_risk,
                r.n_event,
                r.n_censor,
                fmt(r.surv),
                fmt(r.std_err),
                fmt(r.lower),
                fmt(r.upper)
            )?;
        }
        let m = fit.median();
        writeln!(
            out,
            "median {} (95 % CI {} to {})",
            fmt(m.estimate),
            fmt(m.lower),
            fmt(m.upper)
        )?;
        for a in fit.at(&args.at) {
            writeln!(
                out,
                "at {}: survival {} (95 % CI {} to {}), {} at risk, {} events so far{}",
                fmt(a.time),
                fmt(a.surv),
                fmt(a.lower),
                fmt(a.upper),
                a.n_risk,
                a.events,
                if a.within_follow_up {
                    ""
                } else {
                    " (beyond follow-up)"
                }
            )?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}
