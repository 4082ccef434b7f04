//! `isatrial stats cif`.

use std::io::Write;

use serde::Serialize;
use stats::{CompetingStatus, CumulativeIncidence, GrayTest, Groups, IncidenceAt};

use super::{Listing, fmt, print_json, split, table_output};
use crate::Failure;
use crate::cli::CifArgs;
use crate::input::{Request, StatusCodes, read_columns};

#[derive(Serialize)]
struct Output {
    estimator: &'static str,
    event: u8,
    conf_level: f64,
    n: usize,
    groups: Vec<GroupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gray: Option<GrayTest>,
}

#[derive(Serialize)]
struct GroupOut {
    group: Option<String>,
    n: u64,
    events: usize,
    competing: usize,
    censored: usize,
    table: Vec<Row>,
    at: Vec<IncidenceAt>,
}

#[derive(Serialize)]
struct Row {
    time: f64,
    estimate: f64,
    variance: f64,
    lower: f64,
    upper: f64,
}

fn codes(status: &[u8]) -> Vec<CompetingStatus> {
    status
        .iter()
        .map(|&c| CompetingStatus::from_code(c).expect("reader checked the codes"))
        .collect()
}

pub fn run(args: &CifArgs) -> Result<(), Failure> {
    let request = Request {
        time: &args.input.time,
        status: &args.input.status,
        codes: StatusCodes::Competing,
        group: args.group.as_deref(),
    };
    let columns = read_columns(&args.input.input, &request)?;
    let n = columns.time.len();
    let gray = if columns.labels.is_empty() {
        None
    } else {
        let groups = Groups::from_ids(columns.labels.clone(), &columns.group);
        Some(GrayTest::test_groups(
            &columns.time,
            &codes(&columns.status),
            groups,
        )?)
    };
    let parts = split(columns);
    let mut groups = Vec::new();
    for ((t, s), label) in parts.time.iter().zip(&parts.status).zip(&parts.labels) {
        let fit = CumulativeIncidence::fit(t, &codes(s))?;
        let count = |c: u8| s.iter().filter(|&&x| x == c).count();
        groups.push(GroupOut {
            group: label.clone(),
            n: fit.n,
            events: count(1),
            competing: count(2),
            censored: count(0),
            table: (0..fit.time.len())
                .map(|i| Row {
                    time: fit.time[i],
                    estimate: fit.estimate[i],
                    variance: fit.variance[i],
                    lower: fit.lower[i],
                    upper: fit.upper[i],
                })
                .collect(),
            at: fit.at(&args.at),
        });
    }
    let output = Output {
        estimator: "cumulative-incidence",
        event: 1,
        conf_level: 0.95,
        n,
        groups,
        gray,
    };
    if args.input.json {
        return print_json(&output);
    }
    let mut out = table_output()?;
    for g in &output.groups {
        writeln!(
            out,
            "Cumulative incidence of event 1{}: n = {}, events = {}, competing = {}, censored = {}",
            g.group
                .as_ref()
                .map(|l| format!(", group {l}"))
                .unwrap_or_default(),
            g.n,
            g.events,
            g.competing,
            g.censored
        )?;
        writeln!(
            out,
            "{:>10} {:>10} {:>11} {:>9} {:>9}",
            "time", "estimate", "variance", "lower", "upper"
        )?;
        Listing::new(g.table.len(), args.all_rows).print(&mut out, |out, i| {
            let r = &g.table[i];
            writeln!(
                out,
                "{:>10} {:>10} {:>11} {:>9} {:>9}",
                fmt(r.time),
                fmt(r.estimate),
                fmt(r.variance),
                fmt(r.lower),
                fmt(r.upper)
            )
        })?;
        for a in &g.at {
            writeln!(
                out,
                "at {}: {} (95 % CI {} to {})",
                fmt(a.time),
                fmt(a.estimate),
                fmt(a.lower),
                fmt(a.upper)
            )?;
        }
        writeln!(out)?;
    }
    if let Some(gray) = &output.gray {
        writeln!(
            out,
            "Gray's test: chi-square {} on {} df, p = {}",
            fmt(gray.stat),
            gray.df,
            fmt(gray.p)
        )?;
    }
    out.flush()?;
    Ok(())
}
