//! `isatrial stats km`.

use std::io::Write;

use serde::Serialize;
use stats::KaplanMeier;

use super::text::Text;
use super::{Listing, fmt, split, table_output};
use crate::Failure;
use crate::cli::KmArgs;
use crate::input::{Request, StatusCodes, read_columns};

/// One row of the readable table, and in the tests of the JSON one.
#[cfg_attr(test, derive(Serialize))]
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

/// Writes the rows `from..to` of `fit`'s table into `text` (after
/// clearing it), each a JSON object exactly as serde_json would write it:
/// shortest round-trip digits (zmij, serde_json's own) and `null` for a
/// number that is not finite. Every row but the table's first is
/// preceded by a comma.
fn rows(text: &mut Text, fit: &KaplanMeier, from: usize, to: usize) {
    // Written through a local: the two threads' texts lie side by side,
    // and a length updated with every piece would bounce one cache line
    // between the cores (which made the table take from 0.6 to 3.5 s).
    let mut local = std::mem::take(text);
    let (text, shared) = (&mut local, text);
    text.clear();
    let mut integers = itoa::Buffer::new();
    let mut decimals = zmij::Buffer::new();
    let mut number = |text: &mut Text, x: f64| {
        if x.is_finite() {
            text.put(decimals.format_finite(x).as_bytes());
        } else {
            text.put(b"null");
        }
    };
    // The text of the last row's survival, error and bounds, and their
    // bits: a row without events repeats the row before's numbers (a
    // factor of exactly 1 and a term of exactly 0), over half the rows of
    // a curve with censoring, and its text is copied, not formatted again.
    let mut last_numbers: Option<([u64; 4], std::ops::Range<usize>)> = None;
    for i in from..to {
        text.put(if i > 0 { b",{\"time\":" } else { b"{\"time\":" });
        number(text, fit.time[i]);
        text.put(b",\"n_risk\":");
        text.put(integers.format(fit.n_risk[i]).as_bytes());
        match (fit.n_event[i], fit.n_censor[i]) {
            // One observation at the time, as nearly every row of
            // continuous times has: the counts' text in one piece.
            (1, 0) => text.put(b",\"n_event\":1,\"n_censor\":0"),
            (0, 1) => text.put(b",\"n_event\":0,\"n_censor\":1"),
            (d, c) => {
                text.put(b",\"n_event\":");
                text.put(integers.format(d).as_bytes());
                text.put(b",\"n_censor\":");
                text.put(integers.format(c).as_bytes());
            }
        }
        let values = [
            fit.surv[i],
            fit.surv[i] * fit.std_err_log[i],
            fit.lower[i],
            fit.upper[i],
        ];
        let bits = values.map(f64::to_bits);
        match &last_numbers {
            Some((before, numbers_text)) if *before == bits => text.put_again(numbers_text.clone()),
            _ => {
                let start = text.len();
                for (key, x) in [",\"surv\":", ",\"std_err\":", ",\"lower\":", ",\"upper\":"]
                    .into_iter()
                    .zip(values)
                {
                    text.put(key.as_bytes());
                    number(text, x);
                }
                last_numbers = Some((bits, start..text.len()));
            }
        }
        text.put(b"}");
    }
    *shared = local;
}

/// Writes `fit`'s full table as a JSON array of row objects, straight from
/// the fit's columns. A ten-million-row table is 1.8 GB of JSON, and
/// formatting it is most of the command's time: two blocks of rows are
/// formatted at once, one per core, while the main thread first writes
/// the two blocks before them (writing to a file is the kernel copying
/// every byte).
fn write_table(out: &mut impl Write, fit: &KaplanMeier) -> std::io::Result<()> {
    write_table_in_blocks(out, fit, BLOCK)
}

/// `write_table` with blocks of `block` rows.
fn write_table_in_blocks(
    out: &mut impl Write,
    fit: &KaplanMeier,
    block: usize,
) -> std::io::Result<()> {
    let m = fit.time.len();
    out.write_all(b"[")?;
    // Four buffers for the whole table, two being formatted and two being
    // written: fresh ones per block cost a page fault per 4 KiB.
    let mut formatted: [Text; 2] = Default::default();
    let mut next: [Text; 2] = Default::default();
    let write_both = |out: &mut dyn Write, texts: &[Text; 2]| {
        out.write_all(texts[0].as_bytes())?;
        out.write_all(texts[1].as_bytes())
    };
    let mut from = 0;
    while from < m {
        let mid = (from + block).min(m);
        let to = (mid + block).min(m);
        let [first, second] = &mut next;
        let written = std::thread::scope(|scope| {
            scope.spawn(|| rows(second, fit, mid, to));
            let written = write_both(out, &formatted);
            rows(first, fit, from, mid);
            written
        });
        written?;
        std::mem::swap(&mut formatted, &mut next);
        from = to;
    }
    write_both(out, &formatted)?;
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
        // One call: each reads the whole curve and both bounds.
        let [first, median, third] = fit.quantiles(&[0.25, 0.5, 0.75])[..] else {
            unreachable!("a quantile per probability asked")
        };
        write!(
            out,
            ",\"median\":{},\"quartiles\":{},\"at\":{}}}",
            json(&median),
            json(&[first, third]),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A table longer than two blocks, with numbers serde_json spells in
    /// every way (exponents, whole numbers, the smallest subnormal, `null`
    /// for NaN and ±∞), rows without events repeating the row before, and
    /// a row that repeats only some of its numbers.
    fn awkward_fit(m: usize) -> KaplanMeier {
        let odd = [
            0.5,
            1.0,
            1e-300,
            5e-324,
            1e21,
            123456.789,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1 + 0.2,
        ];
        let mut fit = KaplanMeier {
            time: Vec::new(),
            n_risk: Vec::new(),
            n_event: Vec::new(),
            n_censor: Vec::new(),
            surv: Vec::new(),
            std_err_log: Vec::new(),
            lower: Vec::new(),
            upper: Vec::new(),
            conf_type: stats::ConfType::LogLog,
            conf_level: 0.95,
            n: m as u64,
        };
        let (mut surv, mut se, mut lower, mut upper) = (1.0, 0.0, 1.0, 1.0);
        for i in 0..m {
            let event = i % 3 != 1;
            if event {
                surv *= 1.0 - 1.0 / (m - i + 1) as f64;
                se = (i as f64 / m as f64).sqrt();
                lower = if i % 7 == 0 {
                    odd[i % odd.len()]
                } else {
                    surv * 0.9
                };
                upper = surv.powf(0.8);
            }
            if i % 11 == 5 {
                // The same survival as the row before, other bounds.
                upper = odd[(i / 11) % odd.len()];
            }
            fit.time.push(if i % 13 == 0 {
                odd[i % odd.len()]
            } else {
                i as f64 * 0.37
            });
            fit.n_risk
                .push(if i == 0 { u32::MAX } else { (m - i) as u32 });
            // Tied times: several events, censorings, or both, and a row
            // of neither (as a hand-built table may hold).
            let (d, c) = match i % 17 {
                3 => (2, 0),
                8 => (1, 3),
                12 => (0, 0),
                16 => (70_000, 5),
                _ => (u32::from(event), u32::from(!event)),
            };
            fit.n_event.push(d);
            fit.n_censor.push(c);
            fit.surv.push(surv);
            fit.std_err_log.push(se);
            fit.lower.push(lower);
            fit.upper.push(upper);
        }
        fit
    }

    /// The table as serde_json writes rows of the same fields in the
    /// same order.
    fn as_serde_json_writes(fit: &KaplanMeier) -> String {
        let rows: Vec<Row> = (0..fit.time.len()).map(|i| row(fit, i)).collect();
        serde_json::to_string(&rows).unwrap()
    }

    #[test]
    fn the_table_is_what_serde_json_writes() {
        for m in [0, 1, 2, 40, 2 * BLOCK + 3] {
            let fit = awkward_fit(m);
            let mut ours = Vec::new();
            write_table(&mut ours, &fit).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                as_serde_json_writes(&fit),
                "{m} rows"
            );
        }
    }

    /// Short blocks: many rounds through the four buffers, each written
    /// over text of an earlier round, a last pair of one block or none.
    #[test]
    fn blocks_of_any_length_give_the_same_table() {
        for m in [0, 1, 5, 6, 7, 40, 41] {
            let fit = awkward_fit(m);
            let expected = as_serde_json_writes(&fit);
            for block in [1, 2, 3, 64] {
                let mut ours = Vec::new();
                write_table_in_blocks(&mut ours, &fit, block).unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap(),
                    expected,
                    "{m} rows in blocks of {block}"
                );
            }
        }
    }
}
