//! `isatrial stats ...`: the estimators of the `stats` crate on any CSV
//! file, printing JSON (`DATA-FORMAT.md` §3) or a readable table.

mod binom;
mod cif;
mod km;
mod logrank;
mod text;

use std::io::{BufWriter, Write};

use serde::Serialize;
use stats::Groups;

use crate::Failure;
use crate::cli::StatsCommand;
use crate::input::Columns;

/// Runs one statistics command.
pub fn run(command: StatsCommand) -> Result<(), Failure> {
    match command {
        StatsCommand::Km(args) => km::run(&args),
        StatsCommand::Cif(args) => cif::run(&args),
        StatsCommand::Binom(args) => binom::run(&args),
        StatsCommand::Logrank(args) => logrank::run(&args),
    }
}

/// The rows of each group, in R's (sorted) level order; one unnamed group
/// when there is no group column.
struct Split {
    labels: Vec<Option<String>>,
    time: Vec<Vec<f64>>,
    status: Vec<Vec<u8>>,
}

fn split(columns: Columns) -> Split {
    if columns.labels.is_empty() {
        return Split {
            labels: vec![None],
            time: vec![columns.time],
            status: vec![columns.status],
        };
    }
    let groups = Groups::from_ids(columns.labels, &columns.group);
    let k = groups.len();
    let (mut time, mut status) = (vec![Vec::new(); k], vec![Vec::new(); k]);
    for ((&g, &t), &s) in groups.index.iter().zip(&columns.time).zip(&columns.status) {
        time[g].push(t);
        status[g].push(s);
    }
    Split {
        labels: groups.labels.into_iter().map(Some).collect(),
        time,
        status,
    }
}

/// Refuses a comparison (`test`) between the groups of `column` unless
/// there are two or more and no more than the tests take, naming the
/// column: one value, or one per row, is the wrong column.
fn comparable_groups(
    input: &std::path::Path,
    column: &str,
    groups: &Groups,
    test: &str,
) -> Result<(), Failure> {
    let file = input.display();
    match groups.len() {
        0 | 1 => Err(Failure::Refused(format!(
            "{file}: column \"{column}\" has only one group ({}); {test} compares two or more",
            groups.labels.join(", ")
        ))),
        k if k > stats::MAX_COMPARED_GROUPS => Err(Failure::Refused(format!(
            "{file}: column \"{column}\" has {k} different values; {test} compares at most {} \
             groups (is \"{column}\" the group column?)",
            stats::MAX_COMPARED_GROUPS
        ))),
        _ => Ok(()),
    }
}

/// Standard output for a table that may run to gigabytes, buffered here
/// only. Rust's `Stdout` is line-buffered: every write that reaches it is
/// searched backwards for its last newline, and a ten-million-row JSON
/// table is 1.8 GB without one. Written through a duplicate of the
/// descriptor instead (Unix), after anything already printed.
fn table_output() -> std::io::Result<BufWriter<Box<dyn Write + Send>>> {
    std::io::stdout().flush()?;
    #[cfg(unix)]
    let out: Box<dyn Write + Send> = {
        use std::os::fd::AsFd;
        let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
        Box::new(std::fs::File::from(fd))
    };
    #[cfg(not(unix))]
    let out: Box<dyn Write + Send> = Box::new(std::io::stdout());
    Ok(BufWriter::with_capacity(1 << 20, out))
}

/// Writes `value` as one line of JSON to standard output.
fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut out = table_output()?;
    serde_json::to_writer(&mut out, value).map_err(|e| Failure::Unexpected(e.into()))?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Rows a readable table prints whole. A longer one prints its first and
/// last [`EDGE_ROWS`] and a line saying how many it leaves out, as R's
/// tibbles do: nobody reads ten million rows on a terminal, and printing
/// them took most of the command's 13.5 s (BENCHMARKS.md).
/// `--all-rows` prints every row; `--json` always holds the whole table.
const WHOLE_TABLE_ROWS: usize = 100;
const EDGE_ROWS: usize = 10;

/// Which rows of a readable table of `n` rows are printed.
struct Listing {
    head: std::ops::Range<usize>,
    /// Rows left out between the head and the tail.
    omitted: usize,
    tail: std::ops::Range<usize>,
}

impl Listing {
    fn new(n: usize, all_rows: bool) -> Self {
        if all_rows || n <= WHOLE_TABLE_ROWS {
            Listing {
                head: 0..n,
                omitted: 0,
                tail: n..n,
            }
        } else {
            Listing {
                head: 0..EDGE_ROWS,
                omitted: n - 2 * EDGE_ROWS,
                tail: n - EDGE_ROWS..n,
            }
        }
    }

    /// Prints the head, the line for the rows left out, and the tail.
    fn print<W: Write>(
        &self,
        out: &mut W,
        mut row: impl FnMut(&mut W, usize) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for i in self.head.clone() {
            row(out, i)?;
        }
        if self.omitted > 0 {
            writeln!(
                out,
                "{:>10} {} rows not shown: --all-rows prints every row, --json gives the whole table",
                "…", self.omitted
            )?;
        }
        for i in self.tail.clone() {
            row(out, i)?;
        }
        Ok(())
    }
}

/// A number for a table: R's `NA` for undefined, else up to 6 significant
/// digits; very small and very large numbers in scientific notation, as R
/// prints them (1e-300, 1.23457e+20), not rounded to 0 or written out.
fn fmt(x: f64) -> String {
    if x.is_nan() {
        "NA".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Inf" } else { "-Inf" }.into()
    } else if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e15) {
        let s = format!("{x:.5e}");
        let (mantissa, exponent) = s.split_once('e').expect("scientific notation");
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else if x == x.trunc() {
        format!("{x:.0}")
    } else {
        let digits = (5 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
        let s = format!("{x:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fmt;

    #[test]
    fn table_numbers_read_as_r_prints_them() {
        for (x, text) in [
            (f64::NAN, "NA"),
            (f64::INFINITY, "Inf"),
            (0.0, "0"),
            (365.0, "365"),
            (0.5, "0.5"),
            (0.123456789, "0.123457"),
            (123.456789, "123.457"),
            (0.000123456, "0.000123456"),
            (0.0000123456, "1.23456e-05"),
            (1e-300, "1e-300"),
            (5e-324, "4.94066e-324"),
            (1e300, "1e+300"),
            (-1.5e20, "-1.5e+20"),
        ] {
            assert_eq!(fmt(x), text, "{x:e}");
        }
    }
}
