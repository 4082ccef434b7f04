//! Reading the columns a statistics command needs from a CSV file, fast
//! and with errors a person can act on: every refusal names the file, the
//! line (the header is line 1, as in an editor) and the column.
//!
//! Files without quote characters — what R's `write.csv(quote = FALSE)`,
//! spreadsheets and our own exports produce for numbers — are split by hand
//! on two threads; anything quoted goes through the `csv` crate.

use std::collections::HashMap;
use std::path::Path;

use thiserror::Error;

/// A refusal of the input file, worded for the person who wrote it.
#[derive(Debug, Error)]
pub enum InputError {
    /// The file could not be read at all.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file has no header row.
    #[error("{file}: the file is empty; expected a header row naming the columns")]
    Empty {
        /// The path as given.
        file: String,
    },
    /// The file has a header but no data.
    #[error("{file}: no data rows after the header")]
    NoRows {
        /// The path as given.
        file: String,
    },
    /// A requested column is not in the header.
    #[error("{file} line 1: no column \"{column}\" (the header has: {found})")]
    MissingColumn {
        /// The path as given.
        file: String,
        /// The column asked for.
        column: String,
        /// The header's columns, comma-separated.
        found: String,
    },
    /// One cell breaks its column's rule.
    #[error("{file} line {line}, column \"{column}\": {problem}")]
    Cell {
        /// The path as given.
        file: String,
        /// One-based line number, header = 1.
        line: usize,
        /// The column's name.
        column: String,
        /// What is wrong, with the value.
        problem: String,
    },
    /// A row is shorter than the header.
    #[error(
        "{file} line {line}: only {fields} field(s), but column \"{column}\" is field {needed}"
    )]
    ShortRow {
        /// The path as given.
        file: String,
        /// One-based line number.
        line: usize,
        /// Fields found on the line.
        fields: usize,
        /// The column that is missing.
        column: String,
        /// Its one-based position.
        needed: usize,
    },
    /// The CSV structure itself is broken (unbalanced quotes...).
    #[error("{file}: {message}")]
    Csv {
        /// The path as given.
        file: String,
        /// The parser's account.
        message: String,
    },
}

/// What a status cell may hold.
#[derive(Debug, Clone, Copy)]
pub enum StatusCodes {
    /// 0 censored, 1 event (also `false`/`true`).
    EventOrCensored,
    /// 0 censored, 1 event of interest, 2 competing event.
    Competing,
}

impl StatusCodes {
    fn parse(self, cell: &str) -> Result<u8, String> {
        let code = match cell {
            "0" | "false" | "FALSE" => Some(0),
            "1" | "true" | "TRUE" => Some(1),
            "2" => Some(2),
            _ => None,
        };
        match (self, code) {
            (StatusCodes::EventOrCensored, Some(c @ (0 | 1))) => Ok(c),
            (StatusCodes::Competing, Some(c)) if cell != "true" && cell != "false" => Ok(c),
            (StatusCodes::EventOrCensored, _) if cell.is_empty() => {
                Err("missing value; status must be 0 (censored) or 1 (event)".into())
            }
            (StatusCodes::EventOrCensored, _) => Err(format!(
                "\"{cell}\" is not a status; use 0 (censored) or 1 (event)"
            )),
            (StatusCodes::Competing, _) if cell.is_empty() => Err(
                "missing value; status must be 0 (censored), 1 (event) or 2 (competing event)"
                    .into(),
            ),
            (StatusCodes::Competing, _) => Err(format!(
                "\"{cell}\" is not a status; use 0 (censored), 1 (event) or 2 (competing event)"
            )),
        }
    }
}

/// Which columns to read.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Column of times (numbers >= 0).
    pub time: &'a str,
    /// Column of status codes.
    pub status: &'a str,
    /// Rule for the status codes.
    pub codes: StatusCodes,
    /// Optional grouping column (any non-empty text).
    pub group: Option<&'a str>,
}

/// The columns, one value per data row.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    /// Times.
    pub time: Vec<f64>,
    /// Status codes.
    pub status: Vec<u8>,
    /// Group of each row as an index into `labels` (empty without a group column).
    pub group: Vec<u32>,
    /// Group labels in first-seen order.
    pub labels: Vec<String>,
}

/// Rows per thread below which splitting the work does not pay.
const PARALLEL_MIN_BYTES: usize = 4 << 20;

/// Reads the requested columns of `path`.
pub fn read_columns(path: &Path, request: &Request) -> Result<Columns, InputError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| InputError::Io {
        file: file.clone(),
        source,
    })?;
    let data = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if memchr::memchr(b'"', data).is_some() {
        return read_quoted(&file, data, request);
    }
    let header_end = memchr::memchr(b'\n', data).unwrap_or(data.len());
    let header = trim_cr(&data[..header_end]);
    if header.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty { file });
    }
    let names: Vec<String> = header
        .split(|&b| b == b',')
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .collect();
    let layout = Layout::new(&file, &names, request)?;
    let body_start = (header_end + 1).min(data.len());
    let body = &data[body_start..];
    let chunks = split_at_lines(
        body,
        if body.len() >= PARALLEL_MIN_BYTES {
            2
        } else {
            1
        },
    );
    let parsed: Vec<Result<Chunk, CellFault>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|&(start, end)| {
                let layout = &layout;
                scope.spawn(move || parse_chunk(&body[start..end], start, layout))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parser thread"))
            .collect()
    });
    let mut columns = Columns::default();
    let mut global: HashMap<String, u32> = HashMap::new();
    for chunk in parsed {
        let chunk = chunk.map_err(|fault| {
            let line = 2 + memchr::memchr_iter(b'\n', &body[..fault.offset]).count();
            fault.into_error(&file, line, &layout)
        })?;
        columns.time.extend_from_slice(&chunk.time);
        columns.status.extend_from_slice(&chunk.status);
        let remap: Vec<u32> = chunk
            .labels
            .into_iter()
            .map(|label| {
                let next = global.len() as u32;
                *global.entry(label.clone()).or_insert_with(|| {
                    columns.labels.push(label);
                    next
                })
            })
            .collect();
        columns
            .group
            .extend(chunk.group.iter().map(|&g| remap[g as usize]));
    }
    if columns.time.is_empty() {
        return Err(InputError::NoRows { file });
    }
    Ok(columns)
}

/// Where the requested columns sit in a row.
struct Layout {
    time: (usize, String),
    status: (usize, String),
    group: Option<(usize, String)>,
    codes: StatusCodes,
    width: usize,
}

impl Layout {
    fn new(file: &str, names: &[String], request: &Request) -> Result<Self, InputError> {
        let find = |column: &str| {
            names
                .iter()
                .position(|n| n == column)
                .map(|i| (i, column.to_owned()))
                .ok_or_else(|| InputError::MissingColumn {
                    file: file.to_owned(),
                    column: column.to_owned(),
                    found: names.join(", "),
                })
        };
        let time = find(request.time)?;
        let status = find(request.status)?;
        let group = request.group.map(find).transpose()?;
        let width = 1 + time.0.max(status.0).max(group.as_ref().map_or(0, |g| g.0));
        Ok(Self {
            time,
            status,
            group,
            codes: request.codes,
            width,
        })
    }

    fn columns(&self) -> impl Iterator<Item = &(usize, String)> {
        [&self.time, &self.status]
            .into_iter()
            .chain(self.group.as_ref())
    }
}

struct Chunk {
    time: Vec<f64>,
    status: Vec<u8>,
    group: Vec<u32>,
    labels: Vec<String>,
}

/// A bad cell found by a parser thread: byte offset of its line in the body.
struct CellFault {
    offset: usize,
    kind: FaultKind,
}

enum FaultKind {
    Cell { column: usize, problem: String },
    Short { fields: usize },
}

impl CellFault {
    fn into_error(self, file: &str, line: usize, layout: &Layout) -> InputError {
        match self.kind {
            FaultKind::Cell { column, problem } => InputError::Cell {
                file: file.to_owned(),
                line,
                column: layout
                    .columns()
                    .find(|c| c.0 == column)
                    .map(|c| c.1.clone())
                    .unwrap_or_default(),
                problem,
            },
            FaultKind::Short { fields } => {
                let missing = layout
                    .columns()
                    .filter(|c| c.0 >= fields)
                    .min_by_key(|c| c.0)
                    .expect("a column is past the end");
                InputError::ShortRow {
                    file: file.to_owned(),
                    line,
                    fields,
                    column: missing.1.clone(),
                    needed: missing.0 + 1,
                }
            }
        }
    }
}

fn parse_chunk(body: &[u8], base: usize, layout: &Layout) -> Result<Chunk, CellFault> {
    let estimate = body.len() / 16 + 1;
    let mut chunk = Chunk {
        time: Vec::with_capacity(estimate),
        status: Vec::with_capacity(estimate),
        group: Vec::new(),
        labels: Vec::new(),
    };
    let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut fields: Vec<&[u8]> = Vec::with_capacity(layout.width);
    let mut start = 0;
    while start < body.len() {
        let end = memchr::memchr(b'\n', &body[start..]).map_or(body.len(), |i| start + i);
        let line = trim_cr(&body[start..end]);
        let offset = base + start;
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        fields.clear();
        fields.extend(line.split(|&b| b == b',').take(layout.width));
        if fields.len() < layout.width {
            return Err(CellFault {
                offset,
                kind: FaultKind::Short {
                    fields: fields.len(),
                },
            });
        }
        let fault = |column: usize, problem: String| CellFault {
            offset,
            kind: FaultKind::Cell { column, problem },
        };
        let time = parse_time(fields[layout.time.0]).map_err(|p| fault(layout.time.0, p))?;
        let status = layout
            .codes
            .parse(text(fields[layout.status.0]).trim())
            .map_err(|p| fault(layout.status.0, p))?;
        chunk.time.push(time);
        chunk.status.push(status);
        if let Some((g, _)) = layout.group {
            let label = fields[g].trim_ascii();
            if label.is_empty() {
                return Err(fault(g, "missing value; every row needs a group".into()));
            }
            let next = seen.len() as u32;
            let id = *seen.entry(label.to_vec()).or_insert_with(|| {
                chunk.labels.push(text(label).to_owned());
                next
            });
            chunk.group.push(id);
        }
    }
    Ok(chunk)
}

/// A time: a finite number >= 0. Whole numbers (days) skip the float parser.
fn parse_time(cell: &[u8]) -> Result<f64, String> {
    let cell = cell.trim_ascii();
    if !cell.is_empty() && cell.len() <= 15 && cell.iter().all(u8::is_ascii_digit) {
        return Ok(cell
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')) as f64);
    }
    let s = text(cell);
    if s.is_empty() {
        return Err("missing value; a time is needed on every row".into());
    }
    match s.parse::<f64>() {
        Ok(t) if !t.is_finite() => Err(format!("\"{s}\" is not a finite time")),
        Ok(t) if t < 0.0 => Err(format!(
            "{s} is negative; times are counted from the origin and must be >= 0"
        )),
        Ok(t) => Ok(t),
        Err(_) => Err(format!("\"{s}\" is not a number")),
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("<not UTF-8>")
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits `body` into about `parts` pieces ending at line ends.
fn split_at_lines(body: &[u8], parts: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..parts {
        let target = (body.len() * k / parts).max(start);
        let end = memchr::memchr(b'\n', &body[target..]).map_or(body.len(), |i| target + i + 1);
        out.push((start, end));
        start = end;
    }
    out.push((start, body.len()));
    out
}

/// The general path, for files with quoted fields.
fn read_quoted(file: &str, data: &[u8], request: &Request) -> Result<Columns, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let csv_error = |e: csv::Error| InputError::Csv {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let names: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if names.iter().all(String::is_empty) {
        return Err(InputError::Empty {
            file: file.to_owned(),
        });
    }
    let layout = Layout::new(file, &names, request)?;
    let mut columns = Columns::default();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for record in reader.byte_records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let cell_error = |column: &(usize, String), problem: String| InputError::Cell {
            file: file.to_owned(),
            line,
            column: column.1.clone(),
            problem,
        };
        if record.len() < layout.width {
            let missing = layout
                .columns()
                .filter(|c| c.0 >= record.len())
                .min_by_key(|c| c.0)
                .expect("short");
            return Err(InputError::ShortRow {
                file: file.to_owned(),
                line,
                fields: record.len(),
                column: missing.1.clone(),
                needed: missing.0 + 1,
            });
        }
        columns
            .time
            .push(parse_time(&record[layout.time.0]).map_err(|p| cell_error(&layout.time, p))?);
        columns.status.push(
            layout
                .codes
                .parse(text(&record[layout.status.0]).trim())
                .map_err(|p| cell_error(&layout.status, p))?,
        );
        if let Some(g) = &layout.group {
            let label = text(&record[g.0]).trim().to_owned();
            if label.is_empty() {
                return Err(cell_error(
                    g,
                    "missing value; every row needs a group".into(),
                ));
            }
            let next = seen.len() as u32;
            let id = *seen.entry(label.clone()).or_insert_with(|| {
                columns.labels.push(label);
                next
            });
            columns.group.push(id);
        }
    }
    if columns.time.is_empty() {
        return Err(InputError::NoRows {
            file: file.to_owned(),
        });
    }
    Ok(columns)
}
