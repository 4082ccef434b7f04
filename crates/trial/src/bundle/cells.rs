//! Reading one CSV row into domain types, collecting every refused cell as a
//! [`Problem`] that names file, line, column and rule.

use rustc_hash::FxHashMap as HashMap;
use std::fmt;
use std::str::FromStr;

use crate::records::PatientIx;
use crate::values::Id;

/// The patient ids of patients.csv: those read, and those whose row was refused.
#[derive(Debug, Default)]
pub struct PatientIds {
    /// Ids of the patients read.
    pub known: HashMap<Id, PatientIx>,
    /// Ids in rows that were refused.
    pub refused: std::collections::HashSet<String>,
}

/// One reason a bundle was refused (or a finding about it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File name inside the bundle.
    pub file: String,
    /// 1-based line in the file (the header is line 1), when it is a row's problem.
    pub line: Option<u64>,
    /// Column, when one cell is at fault.
    pub column: Option<String>,
    /// The rule broken.
    pub rule: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        write!(f, ": {}", self.rule)
    }
}

/// The columns of one bundle file and whether each must be filled.
pub struct FileSpec {
    /// File name.
    pub name: &'static str,
    /// `(column, required)` in the documented order.
    pub columns: &'static [(&'static str, bool)],
}

/// A file's header mapped onto its spec.
pub struct Header {
    /// (column, position in the file): a handful of entries, scanned faster
    /// than hashed for each of millions of cells.
    positions: Vec<(&'static str, usize)>,
}

impl Header {
    /// Checks a header row: unknown, duplicate and missing required columns
    /// are problems. Optional columns may be left out of the file.
    pub fn check(
        spec: &FileSpec,
        header: &csv::StringRecord,
        problems: &mut Vec<Problem>,
    ) -> Option<Header> {
        let mut positions: Vec<(&'static str, usize)> = Vec::new();
        let before = problems.len();
        let problem = |column: &str, rule: String| Problem {
            file: spec.name.to_owned(),
            line: Some(1),
            column: Some(column.to_owned()),
            rule,
        };
        for (i, name) in header.iter().enumerate() {
            let name = name.trim_start_matches('\u{feff}');
            match spec.columns.iter().find(|(c, _)| *c == name) {
                Some((c, _)) => {
                    if positions.iter().any(|(p, _)| p == c) {
                        problems.push(problem(name, "the column appears twice".into()));
                    } else {
                        positions.push((*c, i));
                    }
                }
                None => problems.push(problem(
                    name,
                    format!(
                        "unknown column; {} has {}",
                        spec.name,
                        spec.columns
                            .iter()
                            .map(|(c, _)| *c)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        for (c, required) in spec.columns {
            if *required && !positions.iter().any(|(p, _)| p == c) {
                problems.push(problem(c, "required column is missing".into()));
            }
        }
        (problems.len() == before).then_some(Header { positions })
    }
}

/// One row being read; every accessor records its own problem and returns
/// `None`, so the caller reads all cells and then drops a faulty row.
pub struct Row<'a> {
    file: &'static str,
    line: u64,
    record: &'a csv::StringRecord,
    header: &'a Header,
    problems: &'a mut Vec<Problem>,
}

impl<'a> Row<'a> {
    /// Wraps a record at a 1-based line.
    pub fn new(
        file: &'static str,
        line: u64,
        record: &'a csv::StringRecord,
        header: &'a Header,
        problems: &'a mut Vec<Problem>,
    ) -> Self {
        Row {
            file,
            line,
            record,
            header,
            problems,
        }
    }

    /// The raw cell ("" when the column is absent).
    pub fn cell(&self, column: &str) -> &'a str {
        // Callers name columns by the spec's own static strings, so the
        // address usually matches; comparing text only when it does not
        // spares a `memcmp` per column scanned (30 of them for each item
        // of a questionnaire row, which was a seventh of a report's time).
        let positions = &self.header.positions;
        positions
            .iter()
            .find(|(c, _)| std::ptr::eq(c.as_ptr(), column.as_ptr()) && c.len() == column.len())
            .or_else(|| positions.iter().find(|(c, _)| *c == column))
            .and_then(|&(_, i)| self.record.get(i))
            .unwrap_or("")
    }

    /// Records a problem with a cell of this row.
    pub fn fail(&mut self, column: &str, rule: String) {
        self.problems.push(Problem {
            file: self.file.to_owned(),
            line: Some(self.line),
            column: Some(column.to_owned()),
            rule,
        });
    }

    /// A cell that must be filled.
    pub fn required<T: FromStr>(&mut self, column: &str) -> Option<T>
    where
        T::Err: fmt::Display,
    {
        let s = self.cell(column);
        if s.is_empty() {
            self.fail(column, "a value is required".into());
            return None;
        }
        s.parse()
            .map_err(|e: T::Err| self.fail(column, e.to_string()))
            .ok()
    }

    /// A cell that may be empty: `Some(None)` when empty, `None` when refused.
    pub fn optional<T: FromStr>(&mut self, column: &str) -> Option<Option<T>>
    where
        T::Err: fmt::Display,
    {
        let s = self.cell(column);
        if s.is_empty() {
            return Some(None);
        }
        match s.parse() {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                self.fail(column, e.to_string());
                None
            }
        }
    }

    /// The line (or record number) of this row.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The `patient_id` cell, resolved against the registered patients. A
    /// patient whose own row was refused is named as such, not as unknown.
    pub fn patient(&mut self, ids: &PatientIds) -> Option<PatientIx> {
        let id: Id = self.required("patient_id")?;
        match ids.known.get(&id) {
            Some(&ix) => Some(ix),
            None if ids.refused.contains(id.as_str()) => {
                self.fail(
                    "patient_id",
                    format!("patient \"{id}\" was refused in patients.csv"),
                );
                None
            }
            None => {
                self.fail(
                    "patient_id",
                    format!("unknown patient id \"{id}\": not in patients.csv"),
                );
                None
            }
        }
    }
}
