//! `isatrial stats logrank`.

use std::io::Write;

use serde::Serialize;
use stats::{Groups, LogRank};

use super::{comparable_groups, fmt, print_json, table_output};
use crate::Failure;
use crate::cli::LogrankArgs;
use crate::input::{Request, StatusCodes, read_columns};

#[derive(Serialize)]
struct Output {
    test: &'static str,
    groups: Vec<GroupOut>,
    chisq: f64,
    df: usize,
    p: f64,
}

#[derive(Serialize)]
struct GroupOut {
    group: String,
    n: u64,
    observed: f64,
    expected: f64,
}

pub fn run(args: &LogrankArgs) -> Result<(), Failure> {
    let request = Request {
        time: &args.input.time,
        status: &args.input.status,
        codes: StatusCodes::EventOrCensored,
        group: Some(&args.group),
    };
    let columns = read_columns(&args.input.input, &request)?;
    let event: Vec<bool> = columns.status.iter().map(|&s| s == 1).collect();
    let groups = Groups::from_ids(columns.labels, &columns.group);
    comparable_groups(&args.input.input, &args.group, &groups, "the log-rank test")?;
    if !event.contains(&true) {
        return Err(Failure::Refused(format!(
            "{}: no row has an event (status 1); the log-rank test compares events",
            args.input.input.display()
        )));
    }
    let test = LogRank::test_groups(&columns.time, &event, groups)?;
    let output = Output {
        test: "log-rank",
        groups: (0..test.groups.len())
            .map(|g| GroupOut {
                group: test.groups[g].clone(),
                n: test.n[g],
                observed: test.observed[g],
                expected: test.expected[g],
            })
            .collect(),
        chisq: test.chisq,
        df: test.df,
        p: test.p,
    };
    if args.input.json {
        return print_json(&output);
    }
    let mut out = table_output()?;
    writeln!(
        out,
        "{:>16} {:>7} {:>9} {:>9}",
        "group", "N", "observed", "expected"
    )?;
    for g in &output.groups {
        writeln!(
            out,
            "{:>16} {:>7} {:>9} {:>9}",
            g.group,
            g.n,
            fmt(g.observed),
            fmt(g.expected)
        )?;
    }
    writeln!(
        out,
        "chi-square {} on {} df, p = {}",
        fmt(output.chisq),
        output.df,
        fmt(output.p)
    )?;
    out.flush()?;
    Ok(())
}
