//! `isatrial stats km`.

use std::io::Write;

use serde::Serialize;
use stats::KaplanMeier;

use super::{Listing, fmt, split, table_output};
use crate::Failure;
use crate::cli::KmArgs;
use crate::input::{Request, StatusCodes, read_columns};

/// One row of the readable table.
struct Row {
    time: f64,
    n_risk: u32,
    n_event: u32,
    n_censor: u32,
    surv: f64,
    std_err: f64,
    lower: f64,
    upper: f64,
}

fn row(fit: &KaplanMeier, i: usize) -> Row {
    Row {
        time: fit.time[i],
        n_risk: fit.n_risk[i],
        n_event: fit.n_event[i],
        n_censor: fit.n_censor[i],
        surv: fit.surv[i],
        std_err: fit.surv[i] * fit.std_err_log[i],
        lower: fit.lower[i],
        upper: fit.upper[i],
    }
}

/// Rows formatted per block; two blocks at a time, one per core.
const BLOCK: usize = 1 << 16;

/// Writes `fit`'s full table as a JSON array of row objects, exactly as
/// serde_json would, straight from the fit's columns. A ten-million-row
/// table is 1.8 GB of JSON: formatting it row by row through serde's map
/// serializer on one core took most of the command's time.
fn write_table(out: &mut impl Write, fit: &KaplanMeier) -> std::io::Result<()> {
    let format = |buf: &mut Vec<u8>, from: usize, to: usize| {
        buf.clear();
        let mut integers = itoa::Buffer::new();
        let mut decimals = zmij::Buffer::new();
        for i in from..to {
            if i > 0 {
                buf.push(b',');
            }
            // What serde_json writes for an f64 (zmij's shortest digits, or
            // null), without its serializer and `io::Write` per number.
            let mut number = |buf: &mut Vec<u8>, key: &str, x: f64| {
                buf.extend_from_slice(key.as_bytes());
                if x.is_finite() {
                    buf.extend_from_slice(decimals.format_finite(x).as_bytes());
                } else {
                    buf.extend_from_slice(b"null");
                }
            };
            number(buf, "{\"time\":", fit.time[i]);
            let mut count = |key: &str, n: u32| {
                buf.extend_from_slice(key.as_bytes());
                buf.extend_from_slice(integers.format(n).as_bytes());
            };
            count(",\"n_risk\":", fit.n_risk[i]);
            count(",\"n_event\":", fit.n_event[i]);
            count(",\"n_censor\":", fit.n_censor[i]);
            number(buf, ",\"surv\":", fit.surv[i]);
            number(buf, ",\"std_err\":", fit.surv[i] * fit.std_err_log[i]);
            number(buf, ",\"lower\":", fit.lower[i]);
            number(buf, ",\"upper\":", fit.upper[i]);
            buf.push(b'}');
        }
    };
    let m = fit.time.len();
    out.write_all(b"[")?;
    // Two buffers for the whole table: fresh ones per block cost a page
    // fault per 4 KiB of the 1.8 GB a ten-million-row table takes.
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut from = 0;
    while from < m {
        let mid = (from + BLOCK).min(m);
        let to = (mid + BLOCK).min(m);
        if mid < to {
            std::thread::scope(|scope| {
                scope.spawn(|| format(&mut second, mid, to));
                format(&mut first, from, mid);
            });
        } else {
            format(&mut first, from, mid);
            second.clear();
        }
        out.write_all(&first)?;
        out.write_all(&second)?;
        from = to;
    }
    out.write_all(b"]")
}

/// One value as compact JSON.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain values serialize")
}

/// `km --json` (DATA-FORMAT.md §3): per group the full table, the median
/// and quartiles with their intervals, and the curve at `--at` times. The
/// fields are written in a fixed order by hand so that the table can be
/// formatted on both cores.
fn write_json(
    fits: &[KaplanMeier],
    labels: &[Option<String>],
    conf_type: stats::ConfType,
    n: usize,
    at: &[f64],
) -> Result<(), Failure> {
    let mut out = table_output()?;
    write!(
        out,
        "{{\"estimator\":\"kaplan-meier\",\"conf_type\":{},\"conf_level\":{},\"n\":{n},\"groups\":[",
        json(conf_type.as_str()),
        json(&0.95)
    )?;
    for (k, (fit, label)) in fits.iter().zip(labels).enumerate() {
        let events = fit.events();
        write!(
            out,
            "{}{{\"group\":{},\"n\":{},\"events\":{events},\"censored\":{},\"table\":",
            if k > 0 { "," } else { "" },
            json(label),
            fit.n,
            fit.n - events
        )?;
        write_table(&mut out, fit)?;
        write!(
            out,
            ",\"median\":{},\"quartiles\":{},\"at\":{}}}",
            json(&fit.median()),
            json(&fit.quantiles(&[0.25, 0.75])),
            json(&fit.at(at))
        )?;
    }
    writeln!(out, "]}}")?;
    out.flush()?;
    Ok(())
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
        return write_json(&fits, &parts.labels, conf_type, n, &args.at);
    }
    let mut out = table_output()?;
    for (fit, label) in fits.iter().zip(&parts.labels) {
        let events = fit.events();
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
        Listing::new(fit.time.len(), args.all_rows).print(&mut out, |out, i| {
            let r = row(fit, i);
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
            )
        })?;
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
