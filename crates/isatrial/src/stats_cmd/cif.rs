//! `isatrial stats cif`.

use std::io::Write;

use serde::Serialize;
use stats::{CompetingStatus, CumulativeIncidence, GrayTest, Groups, IncidenceAt};

use super::{Listing, comparable_groups, fmt, print_json, split, table_output};
use crate::Failure;
use crate::cli::CifArgs;
use crate::input::{Columns, Request, StatusCodes, read_columns};

#[derive(Serialize)]
struct Output {
    estimator: &'static str,
    event: u8,
    conf_level: f64,
    n: usize,
    groups: Vec<GroupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gray: Option<GrayTest>,
    /// Why Gray's test is missing when groups were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    gray_omitted: Option<String>,
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

/// Gray's test between the groups of `column`, or why there is none: as
/// `cmprsk::cuminc`, the curves are given even when the test cannot be
/// (one group, no events of the cause). Refused only for a column with
/// more values than a comparison takes.
fn gray_test(
    columns: &Columns,
    args: &CifArgs,
    column: &str,
) -> Result<(Option<GrayTest>, Option<String>), Failure> {
    let groups = Groups::from_ids(columns.labels.clone(), &columns.group);
    if groups.len() < 2 {
        let why = format!(
            "column \"{column}\" has only one group ({})",
            groups.labels.join(", ")
        );
        return Ok((None, Some(why)));
    }
    comparable_groups(&args.input.input, column, &groups, "Gray's test")?;
    if !columns.status.contains(&1) {
        return Ok((None, Some("no row has an event of type 1".into())));
    }
    match GrayTest::test_groups(&columns.time, &codes(&columns.status), groups) {
        Ok(test) => Ok((Some(test), None)),
        Err(stats::StatsError::BadCount(_)) => Ok((
            None,
            Some("its variance matrix is singular (too few events of type 1 to compare)".into()),
        )),
        Err(e) => Err(e.into()),
    }
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
    let (gray, gray_omitted) = match &args.group {
        Some(column) => gray_test(&columns, args, column)?,
        None => (None, None),
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
        gray_omitted,
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
    if let Some(why) = &output.gray_omitted {
        writeln!(out, "Gray's test: not computed, {why}")?;
    }
    out.flush()?;
    Ok(())
}
