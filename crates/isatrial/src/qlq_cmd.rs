//! `isatrial qlq-c30`: QLQ-C30 scores of every row of a questionnaire file.

use std::io::{BufWriter, Write};

use trial::qlq::{SCALES, score};

use crate::Failure;
use crate::cli::QlqArgs;

/// Scores every row; id columns are copied through.
pub fn run(args: &QlqArgs) -> Result<(), Failure> {
    let name = args.input.display().to_string();
    let mut reader = csv::Reader::from_path(&args.input)
        .map_err(|e| Failure::Refused(format!("{name}: {e}")))?;
    let header = reader
        .headers()
        .map_err(|e| Failure::Refused(format!("{name}: {e}")))?
        .clone();
    let header: Vec<String> = header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    for (i, h) in header.iter().enumerate() {
        if let Some(j) = header[..i].iter().position(|other| other == h) {
            return Err(Failure::Refused(format!(
                "{name} line 1: column \"{h}\" is named twice (fields {} and {}); rename one",
                j + 1,
                i + 1
            )));
        }
        if SCALES.iter().any(|s| s.code == h) || h == "SUMMARY" {
            return Err(Failure::Refused(format!(
                "{name} line 1: column \"{h}\" has the name of a score the output adds; rename it"
            )));
        }
    }
    let mut item_at = [usize::MAX; 30];
    for (k, slot) in item_at.iter_mut().enumerate() {
        let col = format!("q{}", k + 1);
        *slot = header.iter().position(|h| *h == col).ok_or_else(|| {
            Failure::Refused(format!("{name}: required column \"{col}\" is missing"))
        })?;
    }
    let id_columns: Vec<usize> = (0..header.len()).filter(|i| !item_at.contains(i)).collect();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Failure::Refused(format!("{name}: {e}")))?;
        let line = record.position().map_or(n as u64 + 2, |p| p.line());
        let mut items = [None; 30];
        for (k, &at) in item_at.iter().enumerate() {
            let cell = record.get(at).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            let max = if k >= 28 { 7 } else { 4 };
            match cell.parse::<u8>() {
                Ok(v) if (1..=max).contains(&v) => items[k] = std::num::NonZeroU8::new(v),
                _ => {
                    return Err(Failure::Refused(format!(
                        "{name} line {line}, column \"q{}\": must be an answer 1–{max} or empty, got \"{cell}\"",
                        k + 1
                    )));
                }
            }
        }
        let ids: Vec<(String, String)> = id_columns
            .iter()
            .map(|&i| (header[i].clone(), record.get(i).unwrap_or("").to_owned()))
            .collect();
        rows.push((ids, score(&items)));
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let json_rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(ids, s)| {
                let mut m = serde_json::Map::new();
                for (k, v) in ids {
                    m.insert(k.clone(), v.clone().into());
                }
                for (scale, v) in SCALES.iter().zip(s.scales) {
                    m.insert(scale.code.into(), v.into());
                }
                m.insert("SUMMARY".into(), s.summary.into());
                m.into()
            })
            .collect();
        let doc = serde_json::json!({
            "scales": SCALES.iter().map(|s| serde_json::json!({"code": s.code, "name": s.name, "kind": s.kind})).collect::<Vec<_>>(),
            "rows": json_rows,
        });
        serde_json::to_writer_pretty(&mut out, &doc).map_err(anyhow::Error::from)?;
        writeln!(out)?;
    } else {
        let mut head: Vec<String> = id_columns.iter().map(|&i| header[i].clone()).collect();
        head.extend(SCALES.iter().map(|s| s.code.to_owned()));
        head.push("SUMMARY".into());
        writeln!(out, "{}", head.join("\t"))?;
        for (ids, s) in &rows {
            let mut cells: Vec<String> = ids.iter().map(|(_, v)| v.clone()).collect();
            cells.extend(
                s.scales
                    .iter()
                    .chain([&s.summary])
                    .map(|v| v.map_or("NA".into(), |v| format!("{v:.1}"))),
            );
            writeln!(out, "{}", cells.join("\t"))?;
        }
    }
    out.flush()?;
    Ok(())
}
