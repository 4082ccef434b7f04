//! Reading the columns a statistics command needs from a CSV file, fast
//! and with errors a person can act on: every refusal names the file, the
//! line (the header is line 1, as in an editor) and the column.
//!
//! Files without quote characters — what R's `write.csv(quote = FALSE)`,
//! spreadsheets and our own exports produce for numbers — are split by hand
//! on two threads, each reading its half of the file in blocks; anything
//! quoted goes through the `csv` crate.

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
    /// A requested column's name appears more than once in the header,
    /// or two options name the same column.
    #[error("{file} line 1: {problem}")]
    AmbiguousColumn {
        /// The path as given.
        file: String,
        /// Which column, and why.
        problem: String,
    },
    /// A row has more fields than the header names.
    #[error(
        "{file} line {line}: {fields} fields, but the header names {header} columns \
         (a decimal comma, or a separator too many?)"
    )]
    LongRow {
        /// The path as given.
        file: String,
        /// One-based line number.
        line: usize,
        /// Fields found on the line.
        fields: usize,
        /// Fields of the header.
        header: usize,
    },
    /// A quoted field that the file never closes.
    #[error(
        "{file} line {line}: a quoted field starts here and its closing quote never comes \
         (the rest of the file would be read as one value)"
    )]
    UnclosedQuote {
        /// The path as given.
        file: String,
        /// One-based line where the field opens.
        line: usize,
    },
    /// Lines end in a carriage return alone (classic Mac OS).
    #[error(
        "{file}: lines end in a carriage return alone (classic Mac OS); save the file with \
         LF or CRLF line endings"
    )]
    CarriageReturns {
        /// The path as given.
        file: String,
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
    /// 0 censored, 1 event of interest, 2 competing event (also
    /// `false`/`true` for 0 and 1).
    Competing,
}

impl StatusCodes {
    /// The code of a status cell, compared as bytes: no cell of a
    /// ten-million-row file is checked as UTF-8 unless it is refused. Other
    /// spaces than ASCII ones (a no-break space from a spreadsheet) are
    /// trimmed as `str::trim` trims them.
    fn parse(self, cell: &[u8]) -> Result<u8, String> {
        let cell = trim_cell(cell);
        self.code(cell).ok_or_else(|| self.refusal(text(cell)))
    }

    fn code(self, cell: &[u8]) -> Option<u8> {
        let code = match cell {
            b"0" | b"false" | b"FALSE" => 0,
            b"1" | b"true" | b"TRUE" => 1,
            b"2" => 2,
            _ => return None,
        };
        match self {
            StatusCodes::EventOrCensored => (code < 2).then_some(code),
            // A logical column (R writes TRUE/FALSE) is a file without
            // competing events, in any spelling, as for Kaplan–Meier.
            StatusCodes::Competing => Some(code),
        }
    }

    fn refusal(self, cell: &str) -> String {
        match self {
            StatusCodes::EventOrCensored if cell.is_empty() => {
                "missing value; status must be 0 (censored) or 1 (event)".into()
            }
            StatusCodes::EventOrCensored => {
                format!("\"{cell}\" is not a status; use 0 (censored) or 1 (event)")
            }
            StatusCodes::Competing if cell.is_empty() => {
                "missing value; status must be 0 (censored), 1 (event) or 2 (competing event)"
                    .into()
            }
            StatusCodes::Competing => format!(
                "\"{cell}\" is not a status; use 0 (censored), 1 (event) or 2 (competing event)"
            ),
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

/// Bytes of a file below which reading it on two threads does not pay.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;

/// Bytes read at a time by each thread. The file is read in blocks into a
/// buffer that is reused, not whole into one allocation: on the machines
/// we measure, first touches of fresh memory cost more than the reading.
const BLOCK: usize = 4 << 20;

/// Reads the requested columns of `path`.
pub fn read_columns(path: &Path, request: &Request) -> Result<Columns, InputError> {
    read_columns_in_blocks(path, request, BLOCK)
}

/// Why the block reader stopped short.
enum Stop {
    /// A quote character: the general parser reads the file instead.
    Quoted,
    /// The file could not be read.
    Io(std::io::Error),
    /// A bad cell, at this byte offset of the file.
    Fault(CellFault),
}

/// Where the bytes come from: a regular file, read in blocks at any
/// offset; or the whole input read at once, for what cannot be read at an
/// offset (a pipe such as `/dev/stdin`, a process substitution; any file
/// where positional reads are not available).
enum Source {
    #[cfg(unix)]
    File {
        file: std::fs::File,
        len: u64,
    },
    Bytes(Vec<u8>),
}

impl Source {
    fn open(path: &Path) -> std::io::Result<Self> {
        use std::io::Read;
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::stdin().lock().read_to_end(&mut bytes)?;
            return Ok(Source::Bytes(bytes));
        }
        let mut file = std::fs::File::open(path)?;
        let metadata = file.metadata()?;
        #[cfg(unix)]
        if metadata.is_file() {
            let len = metadata.len();
            return Ok(Source::File { file, len });
        }
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        file.read_to_end(&mut bytes)?;
        Ok(Source::Bytes(bytes))
    }

    fn len(&self) -> u64 {
        match self {
            #[cfg(unix)]
            Source::File { len, .. } => *len,
            Source::Bytes(bytes) => bytes.len() as u64,
        }
    }

    /// Fills `buf` from `offset`; short of bytes is an error.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        match self {
            #[cfg(unix)]
            Source::File { file, .. } => {
                std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
            }
            Source::Bytes(bytes) => {
                let start = offset as usize;
                let part = bytes
                    .get(start..start + buf.len())
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
                buf.copy_from_slice(part);
                Ok(())
            }
        }
    }

    /// Every byte.
    fn whole(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            #[cfg(unix)]
            Source::File { len, .. } => {
                let mut bytes = vec![0; *len as usize];
                self.read_exact_at(&mut bytes, 0)?;
                Ok(std::borrow::Cow::Owned(bytes))
            }
            Source::Bytes(bytes) => Ok(std::borrow::Cow::Borrowed(bytes)),
        }
    }
}

fn read_columns_in_blocks(
    path: &Path,
    request: &Request,
    block: usize,
) -> Result<Columns, InputError> {
    let file_name = if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let file = Source::open(path).map_err(|source| InputError::Io {
        file: file_name.clone(),
        source,
    })?;
    read_source(&file, file_name, request, block)
}

/// The columns of `file`, named `file_name` in messages.
fn read_source(
    file: &Source,
    file_name: String,
    request: &Request,
    block: usize,
) -> Result<Columns, InputError> {
    let io = |source| InputError::Io {
        file: file_name.clone(),
        source,
    };
    let len = file.len();
    let (header, header_start, body_start, sample) = read_header(file, block).map_err(io)?;
    // A carriage return inside the first line: lines end in CR alone.
    // (`\r\r\n`, from a CSV writer on Windows that was not told the
    // file's line ends, is a line end with one CR too many.)
    if header.trim_ascii_end().contains(&b'\r') {
        return Err(InputError::CarriageReturns { file: file_name });
    }
    if memchr::memchr(b'"', &header).is_some() {
        return read_whole_quoted(file, &file_name, request, header_start);
    }
    let header = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&header);
    let header = trim_cr(header);
    if header.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty { file: file_name });
    }
    let names: Vec<String> = header
        .split(|&b| b == b',')
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .collect();
    let layout = Layout::new(&file_name, &names, request)?;
    let parts = if len - body_start >= PARALLEL_MIN_BYTES {
        let middle =
            line_start_after(file, body_start + (len - body_start) / 2, block).map_err(io)?;
        vec![(body_start, middle), (middle, len)]
    } else {
        vec![(body_start, len)]
    };
    // Rows expected in the whole file, from the lines at its start: the
    // first part's columns are reserved for all of them (memory reserved
    // but never written costs nothing), so the second part's rows are
    // appended without moving the first's.
    let expected = ((len - body_start) as usize)
        .checked_div(sample)
        .map_or(0, |rows| rows + 1);
    let parsed: Vec<Result<Columns, Stop>> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .enumerate()
            .map(|(k, &(from, to))| {
                let layout = &layout;
                let capacity = if k == 0 { expected } else { 0 };
                scope.spawn(move || read_part(file, from, to, block, layout, capacity))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("parser thread"))
            .collect()
    });
    let mut chunks = Vec::with_capacity(parsed.len());
    for chunk in parsed {
        match chunk {
            Ok(chunk) => chunks.push(chunk),
            Err(Stop::Quoted) => {
                return read_whole_quoted(file, &file_name, request, header_start);
            }
            Err(Stop::Io(source)) => return Err(io(source)),
            Err(Stop::Fault(fault)) => {
                let line = line_of(file, fault.offset, block).map_err(io)?;
                return Err(fault.into_error(&file_name, line, &layout));
            }
        }
    }
    let columns = join_chunks(chunks);
    if columns.time.is_empty() {
        return Err(InputError::NoRows { file: file_name });
    }
    Ok(columns)
}

/// Bytes read at a time to find a line end: the header's, or the first
/// after the file's middle. The blocks themselves are read again by the
/// threads, so only this much is read twice.
const PROBE: usize = 64 << 10;

/// The header line (the first line that is not blank, as R's `read.csv`
/// and pandas skip blank lines), the offsets where it and the data rows
/// start, and the mean length of the data lines read with the header (0
/// when none were).
fn read_header(file: &Source, block: usize) -> std::io::Result<(Vec<u8>, u64, u64, usize)> {
    let len = file.len();
    let mut buf = vec![0u8; block.min(PROBE).min(len as usize)];
    let mut filled = 0;
    let blank = |line: &[u8]| {
        line.strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(line)
            .iter()
            .all(u8::is_ascii_whitespace)
    };
    loop {
        file.read_exact_at(&mut buf[filled..], filled as u64)?;
        filled = buf.len();
        let mut start = 0;
        let end = loop {
            match memchr::memchr(b'\n', &buf[start..]) {
                Some(i) if blank(&buf[start..start + i]) => start += i + 1,
                found => break found.map(|i| start + i),
            }
        };
        match end {
            Some(end) => {
                let rest = &buf[end + 1..];
                let lines = memchr::memchr_iter(b'\n', rest).count();
                let sample = if lines > 0 {
                    memchr::memrchr(b'\n', rest).map_or(0, |last| (last + 1) / lines)
                } else {
                    0
                };
                let header = buf[start..end].to_vec();
                return Ok((header, start as u64, end as u64 + 1, sample));
            }
            None if buf.len() as u64 == len => {
                return Ok((buf[start..].to_vec(), start as u64, len, 0));
            }
            None => buf.resize((2 * buf.len()).min(len as usize), 0),
        }
    }
}

/// The offset of the first line that starts at or after `at`.
fn line_start_after(file: &Source, at: u64, block: usize) -> std::io::Result<u64> {
    let len = file.len();
    let window = block.min(PROBE);
    let mut buf = vec![0u8; window];
    // A line starts at `at` when the byte before it ends a line.
    let mut offset = at - 1;
    while offset < len {
        let size = window.min((len - offset) as usize);
        file.read_exact_at(&mut buf[..size], offset)?;
        if let Some(i) = memchr::memchr(b'\n', &buf[..size]) {
            return Ok(offset + i as u64 + 1);
        }
        offset += size as u64;
    }
    Ok(len)
}

/// Parses the lines in `from..to` (whole lines) block by block.
fn read_part(
    file: &Source,
    from: u64,
    to: u64,
    block: usize,
    layout: &Layout,
    capacity: usize,
) -> Result<Columns, Stop> {
    let mut parser = ChunkParser::new(layout, capacity);
    let mut buf = vec![0u8; block.min((to - from) as usize).max(1)];
    // `buf[..carry]` is the start of a line not yet parsed, beginning at
    // file offset `base`; the next byte to read is at `offset`.
    let (mut carry, mut base, mut offset) = (0usize, from, from);
    while offset < to {
        if carry == buf.len() {
            // A line longer than the buffer.
            buf.resize(2 * buf.len(), 0);
        }
        let size = (buf.len() - carry).min((to - offset) as usize);
        file.read_exact_at(&mut buf[carry..carry + size], offset)
            .map_err(Stop::Io)?;
        offset += size as u64;
        let filled = carry + size;
        let complete = if offset == to {
            filled
        } else {
            memchr::memrchr(b'\n', &buf[carry..filled]).map_or(0, |i| carry + i + 1)
        };
        if complete == 0 {
            carry = filled;
            continue;
        }
        if memchr::memchr(b'"', &buf[..complete]).is_some() {
            return Err(Stop::Quoted);
        }
        parser.parse(&buf[..complete], base).map_err(Stop::Fault)?;
        buf.copy_within(complete..filled, 0);
        carry = filled - complete;
        base += complete as u64;
    }
    Ok(parser.chunk)
}

/// The one-based line (the header is line 1) of the line that starts at
/// byte `offset`: one more than the line ends before it.
fn line_of(file: &Source, offset: u64, block: usize) -> std::io::Result<usize> {
    let mut buf = vec![0u8; block];
    let (mut at, mut ends) = (0u64, 0usize);
    while at < offset {
        let size = block.min((offset - at) as usize);
        file.read_exact_at(&mut buf[..size], at)?;
        ends += memchr::memchr_iter(b'\n', &buf[..size]).count();
        at += size as u64;
    }
    Ok(ends + 1)
}

/// The general parser on the whole file, read at once: files with quotes
/// are small in practice (spreadsheet exports), and rare. It starts at the
/// header `read_header` found: the `csv` crate skips empty lines but would
/// take a line of spaces for the header.
fn read_whole_quoted(
    source: &Source,
    file: &str,
    request: &Request,
    header_start: u64,
) -> Result<Columns, InputError> {
    let bytes = source.whole().map_err(|source| InputError::Io {
        file: file.to_owned(),
        source,
    })?;
    let (skipped, data) = bytes.split_at(header_start as usize);
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let header_line = 1 + memchr::memchr_iter(b'\n', skipped).count();
    read_quoted(file, data, request, header_line)
}

/// The parts' columns in file order, with group labels numbered in
/// first-seen order across the file. The first part's columns are kept
/// and the others appended to them.
fn join_chunks(chunks: Vec<Columns>) -> Columns {
    let mut chunks = chunks.into_iter();
    let Some(first) = chunks.next() else {
        return Columns::default();
    };
    let mut columns = first;
    let mut global: HashMap<String, u32> = columns
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| (label.clone(), i as u32))
        .collect();
    for chunk in chunks {
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
    columns
}

/// Where the requested columns sit in a row.
struct Layout {
    time: (usize, String),
    status: (usize, String),
    group: Option<(usize, String)>,
    codes: StatusCodes,
    /// Fields up to the last requested column.
    width: usize,
    /// Fields of the header: a row may have fewer (the missing ones are
    /// empty, as R and pandas read them) but not more.
    header: usize,
}

impl Layout {
    fn new(file: &str, names: &[String], request: &Request) -> Result<Self, InputError> {
        let ambiguous = |problem: String| InputError::AmbiguousColumn {
            file: file.to_owned(),
            problem,
        };
        let find = |column: &str| {
            let at: Vec<usize> = (0..names.len()).filter(|&i| names[i] == column).collect();
            match at[..] {
                [] => Err(InputError::MissingColumn {
                    file: file.to_owned(),
                    column: column.to_owned(),
                    found: listed(names),
                }),
                [i] => Ok((i, column.to_owned())),
                _ => Err(ambiguous(format!(
                    "column \"{column}\" is named {} times in the header (fields {}); rename all but one",
                    at.len(),
                    at.iter()
                        .map(|i| (i + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        };
        let time = find(request.time)?;
        let status = find(request.status)?;
        let group = request.group.map(find).transpose()?;
        let options = [("--time", &time), ("--status", &status)]
            .into_iter()
            .chain(group.as_ref().map(|g| ("--group", g)));
        let mut seen: Vec<(&str, &(usize, String))> = Vec::new();
        for (option, column) in options {
            if let Some((first, _)) = seen.iter().find(|(_, c)| c.0 == column.0) {
                return Err(ambiguous(format!(
                    "{first} and {option} both name column \"{}\"; each needs its own",
                    column.1
                )));
            }
            seen.push((option, column));
        }
        let width = 1 + time.0.max(status.0).max(group.as_ref().map_or(0, |g| g.0));
        Ok(Self {
            time,
            status,
            group,
            codes: request.codes,
            width,
            header: names.len(),
        })
    }

    fn columns(&self) -> impl Iterator<Item = &(usize, String)> {
        [&self.time, &self.status]
            .into_iter()
            .chain(self.group.as_ref())
    }
}

/// The header's names for a message: at most 20, each shown as text
/// (a binary file's header is not printed raw).
fn listed(names: &[String]) -> String {
    const SHOWN: usize = 20;
    let shown: Vec<String> = names
        .iter()
        .take(SHOWN)
        .map(|n| {
            let mut n: String = n
                .chars()
                .flat_map(|c| {
                    let escaped = c.is_control().then(|| c.escape_default());
                    escaped
                        .into_iter()
                        .flatten()
                        .chain((!c.is_control()).then_some(c))
                })
                .collect();
            if n.chars().count() > 40 {
                n = n.chars().take(40).chain(['…']).collect();
            }
            n
        })
        .collect();
    match names.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{}, and {more} more", shown.join(", ")),
        _ => shown.join(", "),
    }
}

/// A bad cell found by a parser thread: byte offset of its line in the file.
struct CellFault {
    offset: u64,
    kind: FaultKind,
}

enum FaultKind {
    Cell { column: usize, problem: String },
    Short { fields: usize },
    Long { fields: usize },
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
            FaultKind::Long { fields } => InputError::LongRow {
                file: file.to_owned(),
                line,
                fields,
                header: layout.header,
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

/// One thread's parser: its columns so far, and the group labels it has
/// seen (numbered in its own first-seen order).
struct ChunkParser<'a> {
    layout: &'a Layout,
    chunk: Columns,
    seen: HashMap<Vec<u8>, u32>,
}

impl<'a> ChunkParser<'a> {
    fn new(layout: &'a Layout, capacity: usize) -> Self {
        Self {
            layout,
            chunk: Columns {
                time: Vec::with_capacity(capacity),
                status: Vec::with_capacity(capacity),
                group: Vec::new(),
                labels: Vec::new(),
            },
            seen: HashMap::new(),
        }
    }

    /// Parses whole lines; `base` is the file offset of `lines[0]`. The
    /// commas and line ends are found together by one vectorised search
    /// over the block, not line by line and byte by byte.
    fn parse(&mut self, lines: &[u8], base: u64) -> Result<(), CellFault> {
        let width = self.layout.width;
        let mut fields: Vec<&[u8]> = Vec::with_capacity(width);
        // Fields seen so far on the current line (only the first `width`
        // are kept), and where the line and the current cell start.
        let mut count = 0;
        let (mut line_start, mut cell_start) = (0, 0);
        let unended = (lines.last() != Some(&b'\n')).then_some(lines.len());
        for at in memchr::memchr2_iter(b',', b'\n', lines).chain(unended) {
            let line_ends = at == lines.len() || lines[at] == b'\n';
            if count < width {
                let cell = &lines[cell_start..at];
                fields.push(if line_ends { trim_cr(cell) } else { cell });
            }
            count += 1;
            cell_start = at + 1;
            if line_ends {
                let blank = count == 1 && fields[0].is_empty();
                if !blank {
                    let offset = base + line_start as u64;
                    if count > self.layout.header {
                        return Err(CellFault {
                            offset,
                            kind: FaultKind::Long { fields: count },
                        });
                    }
                    self.row(&fields, offset)?;
                }
                fields.clear();
                count = 0;
                line_start = at + 1;
            }
        }
        Ok(())
    }

    /// One line's first `layout.width` fields (fewer when it is short);
    /// `offset` is where the line starts in the file.
    fn row(&mut self, fields: &[&[u8]], offset: u64) -> Result<(), CellFault> {
        let layout = self.layout;
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
            .parse(fields[layout.status.0])
            .map_err(|p| fault(layout.status.0, p))?;
        let chunk = &mut self.chunk;
        chunk.time.push(time);
        chunk.status.push(status);
        if let Some((g, _)) = layout.group {
            let label = trim_cell(fields[g]);
            if label.is_empty() {
                return Err(fault(g, "missing value; every row needs a group".into()));
            }
            let id = match self.seen.get(label) {
                Some(&id) => id,
                None => {
                    let name =
                        std::str::from_utf8(label).map_err(|_| fault(g, NOT_UTF8_LABEL.into()))?;
                    let id = self.seen.len() as u32;
                    self.seen.insert(label.to_vec(), id);
                    chunk.labels.push(name.to_owned());
                    id
                }
            };
            chunk.group.push(id);
        }
        Ok(())
    }
}

/// A cell without the spaces around it, Unicode ones too (a no-break
/// space from a spreadsheet), as the quoted path's `str::trim` trims them:
/// the same file gives the same times, statuses and groups whichever path
/// reads it. Only a cell that starts or ends outside ASCII is looked at as
/// text, so the ten million cells of a large file cost two byte checks
/// each.
#[inline]
fn trim_cell(cell: &[u8]) -> &[u8] {
    let label = cell.trim_ascii();
    // Outside ASCII, or a vertical tab: `str::trim` trims it, `trim_ascii`
    // does not.
    let outside_ascii = |b: Option<&u8>| b.is_some_and(|&b| !b.is_ascii() || b == 0x0B);
    if !outside_ascii(label.first()) && !outside_ascii(label.last()) {
        return label;
    }
    std::str::from_utf8(label).map_or(label, |text| text.trim().as_bytes())
}

/// Why a group label that is not UTF-8 is refused rather than shown with
/// replacement characters: two different labels could then look the same.
const NOT_UTF8_LABEL: &str =
    "not UTF-8 text; save the file as UTF-8 so that each group keeps its own name";

/// A time: a finite number >= 0. Whole numbers (days) skip the float parser.
pub(crate) fn parse_time(cell: &[u8]) -> Result<f64, String> {
    let cell = trim_cell(cell);
    if !cell.is_empty() && cell.len() <= 15 && cell.iter().all(u8::is_ascii_digit) {
        return Ok(cell
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')) as f64);
    }
    if cell.is_empty() {
        return Err("missing value; a time is needed on every row".into());
    }
    // The same correctly rounded parse as `str::parse` (the standard
    // library adopted this algorithm), from the bytes: no cell is checked
    // as UTF-8 unless it is refused.
    match fast_float2::parse::<f64, _>(cell) {
        Ok(t) if !t.is_finite() => Err(format!("\"{}\" is not a finite time", text(cell))),
        Ok(t) if t < 0.0 => Err(format!(
            "{} is negative; times are counted from the origin and must be >= 0",
            text(cell)
        )),
        Ok(t) => Ok(t),
        Err(_) => Err(format!("\"{}\" is not a number", text(cell))),
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("<not UTF-8>")
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The line where a quoted field opens and is never closed, if one is:
/// the `csv` crate would read the rest of the file into that one field.
/// Follows its rules: a quote opens a field only at the field's start,
/// and inside one a doubled quote is a quote.
fn unclosed_quote(data: &[u8]) -> Option<usize> {
    let (mut line, mut opened) = (1, 0);
    let (mut quoted, mut field_start) = (false, true);
    let mut bytes = data.iter().peekable();
    while let Some(&b) = bytes.next() {
        if quoted {
            match b {
                b'"' if bytes.peek() == Some(&&b'"') => {
                    bytes.next();
                }
                b'"' => quoted = false,
                b'\n' => line += 1,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' if field_start => {
                quoted = true;
                opened = line;
            }
            b'\n' => line += 1,
            _ => {}
        }
        field_start = matches!(b, b',' | b'\n' | b'\r');
    }
    quoted.then_some(opened)
}

/// One-based line numbers of records from their byte offsets, counted
/// forward as the records come. The `csv` crate's own count is one short
/// after CRLF line ends and does not count blank lines.
struct LineCounter<'a> {
    data: &'a [u8],
    at: usize,
    line: usize,
}

impl LineCounter<'_> {
    /// The line of the record whose position the reader gives as `start`
    /// (possibly the line ends and blank lines before it).
    fn line_of(&mut self, start: usize) -> usize {
        let first = self.data[start..]
            .iter()
            .position(|b| !matches!(b, b'\n' | b'\r'))
            .map_or(self.data.len(), |i| start + i);
        self.line += memchr::memchr_iter(b'\n', &self.data[self.at..first]).count();
        self.at = first;
        self.line
    }
}

/// The general path, for files with quoted fields: `data` starts at the
/// header, which is line `header_line` of the file.
fn read_quoted(
    file: &str,
    data: &[u8],
    request: &Request,
    header_line: usize,
) -> Result<Columns, InputError> {
    if let Some(line) = unclosed_quote(data) {
        return Err(InputError::UnclosedQuote {
            file: file.to_owned(),
            line: header_line - 1 + line,
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(data);
    let csv_error = |e: csv::Error| InputError::Csv {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let names: Vec<String> = reader
        .byte_headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_owned())
        .collect();
    if names.iter().all(String::is_empty) {
        return Err(InputError::Empty {
            file: file.to_owned(),
        });
    }
    let layout = Layout::new(file, &names, request)?;
    let mut columns = Columns::default();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut lines = LineCounter {
        data,
        at: 0,
        line: header_line,
    };
    for record in reader.byte_records() {
        let record = record.map_err(csv_error)?;
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let line = lines.line_of(record.position().map_or(0, |p| p.byte() as usize));
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
        if record.len() > layout.header {
            return Err(InputError::LongRow {
                file: file.to_owned(),
                line,
                fields: record.len(),
                header: layout.header,
            });
        }
        columns
            .time
            .push(parse_time(&record[layout.time.0]).map_err(|p| cell_error(&layout.time, p))?);
        columns.status.push(
            layout
                .codes
                .parse(&record[layout.status.0])
                .map_err(|p| cell_error(&layout.status, p))?,
        );
        if let Some(g) = &layout.group {
            let label = std::str::from_utf8(&record[g.0])
                .map_err(|_| cell_error(g, NOT_UTF8_LABEL.into()))?
                .trim()
                .to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(group: Option<&'static str>) -> Request<'static> {
        Request {
            time: "t",
            status: "s",
            codes: StatusCodes::EventOrCensored,
            group,
        }
    }

    fn write(name: &str, content: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("isatrial-input-{}-{name}.csv", std::process::id()));
        std::fs::write(&path, content).unwrap();
        path
    }

    fn read(path: &Path, group: Option<&'static str>, block: usize) -> Columns {
        read_columns_in_blocks(path, &request(group), block).unwrap()
    }

    /// Every block size, down to one byte (lines cut anywhere, lines
    /// longer than a block), reads what one block holding the file reads.
    #[test]
    fn block_boundaries_change_nothing() {
        let mut content = b"\xEF\xBB\xBFg,t,s\r\n".to_vec();
        for i in 0..300 {
            let group = ["a", "bb", "c"][i % 3];
            let time = if i % 7 == 0 {
                format!("{}.{}", i, "5".repeat(i % 40))
            } else {
                i.to_string()
            };
            content.extend_from_slice(format!("{group},{time},{}\r\n", i % 2).as_bytes());
            if i % 50 == 0 {
                content.extend_from_slice(b"\n");
            }
        }
        content.extend_from_slice(b"a,1.25,1");
        let path = write("blocks", &content);
        let whole = read(&path, Some("g"), 1 << 20);
        assert_eq!(whole.time.len(), 301);
        assert_eq!(whole.labels, ["a", "bb", "c"]);
        for block in [1, 2, 3, 7, 64, 1000] {
            let part = read(&path, Some("g"), block);
            assert_eq!(part.time, whole.time, "block {block}");
            assert_eq!(part.status, whole.status, "block {block}");
            assert_eq!(part.group, whole.group, "block {block}");
            assert_eq!(part.labels, whole.labels, "block {block}");
        }
        std::fs::remove_file(path).unwrap();
    }

    /// Two threads: the second part's labels are numbered after the
    /// first's, in first-seen order of the whole file, and a bad cell in
    /// the second part names its line.
    #[test]
    fn two_parts_join_in_file_order() {
        let mut content = String::from("t,s,g\n");
        let rows = 400_000;
        for i in 0..rows {
            let group = if i < rows / 2 { "early" } else { "late" };
            content.push_str(&format!("{}.5,{},{group}\n", i % 1000, i % 2));
        }
        assert!(content.len() as u64 > PARALLEL_MIN_BYTES);
        let path = write("parts", content.as_bytes());
        let columns = read(&path, Some("g"), 4096);
        assert_eq!(columns.time.len(), rows);
        assert_eq!(columns.labels, ["early", "late"]);
        assert_eq!(columns.group[0], 0);
        assert_eq!(columns.group[rows - 1], 1);
        assert_eq!(columns.time[rows - 1], ((rows - 1) % 1000) as f64 + 0.5);
        // The same bytes from a pipe (read whole, then in the same parts).
        let piped = read_source(
            &Source::Bytes(content.clone().into_bytes()),
            "piped".into(),
            &request(Some("g")),
            4096,
        )
        .unwrap();
        assert_eq!(piped.time, columns.time);
        assert_eq!(piped.status, columns.status);
        assert_eq!(piped.group, columns.group);
        assert_eq!(piped.labels, columns.labels);
        let bad = content.replacen("999.5,1,late", "999.5,x,late", 1);
        std::fs::write(&path, bad.as_bytes()).unwrap();
        let line = content.lines().position(|l| l == "999.5,1,late").unwrap() + 1;
        let err = read_columns_in_blocks(&path, &request(Some("g")), 4096).unwrap_err();
        assert!(
            err.to_string().contains(&format!("line {line},")),
            "{err} (expected line {line})"
        );
        std::fs::remove_file(path).unwrap();
    }

    /// Times parse from their bytes exactly as `str::parse` parses them,
    /// and what it refuses is refused.
    #[test]
    fn times_parse_as_the_standard_library_parses_them() {
        for cell in [
            "0",
            "7",
            "0.1",
            "1.",
            ".5",
            "+3",
            "1e5",
            "2.5E-3",
            "1e-320",
            "123456789012345678",
            "0.30000000000000004",
            "-0",
            " 4.25 ",
            "9007199254740993",
        ] {
            let ours = parse_time(cell.as_bytes()).unwrap();
            let std: f64 = cell.trim().parse().unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{cell}");
        }
        for (cell, refusal) in [
            ("", "missing value"),
            ("abc", "is not a number"),
            ("1,5", "is not a number"),
            ("-2", "is negative"),
            ("inf", "is not a finite time"),
            ("NaN", "is not a finite time"),
            ("1e999", "is not a finite time"),
        ] {
            let err = parse_time(cell.as_bytes()).unwrap_err();
            assert!(err.contains(refusal), "{cell}: {err}");
        }
    }

    /// A status cell padded with a no-break space (spreadsheet exports)
    /// is read as `str::trim` reads it; a refusal names the cell trimmed.
    #[test]
    fn status_cells_are_trimmed_of_any_space() {
        let codes = StatusCodes::EventOrCensored;
        assert_eq!(codes.parse(b" 1 "), Ok(1));
        assert_eq!(codes.parse("1\u{a0}".as_bytes()), Ok(1));
        assert_eq!(codes.parse("\u{2003}0".as_bytes()), Ok(0));
        assert_eq!(
            codes.parse("2\u{a0}".as_bytes()),
            Err("\"2\" is not a status; use 0 (censored) or 1 (event)".to_owned())
        );
        assert_eq!(StatusCodes::Competing.parse(b"2"), Ok(2));
        assert_eq!(StatusCodes::Competing.parse(b"true"), Ok(1));
        assert_eq!(StatusCodes::Competing.parse(b"TRUE"), Ok(1));
        assert_eq!(StatusCodes::Competing.parse(b"false"), Ok(0));
    }

    /// Group labels that are not UTF-8 (a Latin-1 export) are refused by
    /// line and column: shown with replacement characters, two different
    /// labels could look the same.
    #[test]
    fn a_group_label_that_is_not_utf8_is_refused() {
        for (name, content) in [
            (
                "latin1",
                b"t,s,g\n1,1,Plac\xe9bo\n2,0,Contr\xf4le\n".to_vec(),
            ),
            ("latin1-quoted", b"t,s,g\n1,1,\"Plac\xe9bo\"\n".to_vec()),
        ] {
            let path = write(name, &content);
            let err = read_columns_in_blocks(&path, &request(Some("g")), 1 << 20).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains("line 2") && message.contains("column \"g\""),
                "{message}"
            );
            assert!(message.contains("not UTF-8"), "{message}");
            std::fs::remove_file(path).unwrap();
        }
    }

    /// A quote anywhere, also past the first block, sends the whole file
    /// to the general parser.
    #[test]
    fn a_quote_late_in_the_file_goes_to_the_general_parser() {
        let mut content = String::from("t,s\n");
        for i in 0..100 {
            content.push_str(&format!("{i},1\n"));
        }
        content.push_str("\"7\",0\n");
        let path = write("quote", content.as_bytes());
        let columns = read(&path, None, 16);
        assert_eq!(columns.time.len(), 101);
        assert_eq!(columns.time[100], 7.0);
        std::fs::remove_file(path).unwrap();
    }

    /// The message for `content` read with group column `g`.
    fn refusal(name: &str, content: &[u8], group: Option<&'static str>) -> String {
        let path = write(name, content);
        let err = read_columns_in_blocks(&path, &request(group), 64).unwrap_err();
        std::fs::remove_file(path).unwrap();
        err.to_string()
    }

    /// A quoted file and the same file unquoted are refused at the same
    /// line, whatever the line ends and blank lines before the bad row.
    #[test]
    fn quoted_files_name_the_line_an_editor_shows() {
        for (content, line) in [
            (&b"\"t\",\"s\"\r\n\"4\",\"x\"\r\n"[..], 2),
            (b"t,s\n1,1\n\n\n\"2\",x\n", 5),
            (b"t,s,n\r\n1,1,x\r\n\r\n2,0,\"a\nb\"\r\n3,x,y\r\n", 6),
            (b"\n\nt,s\n\"1\",y\n", 4),
        ] {
            let err = refusal("quoted-lines", content, None);
            assert!(
                err.contains(&format!("line {line},")),
                "{err} (expected line {line})"
            );
            let unquoted: Vec<u8> = content.iter().copied().filter(|&b| b != b'"').collect();
            if !unquoted.windows(2).any(|w| w == b"a\n") {
                let err = refusal("unquoted-lines", &unquoted, None);
                assert!(err.contains(&format!("line {line},")), "{err} (unquoted)");
            }
        }
    }

    /// A quote that is opened and never closed would swallow the rest of
    /// the file into one cell: refused, naming the line it opens on.
    #[test]
    fn an_unclosed_quote_is_refused() {
        let err = refusal(
            "unclosed",
            b"t,s,note\n1,1,ok\n2,0,\"5\"\" screw\n3,1,x\n",
            None,
        );
        assert!(err.contains("line 3: a quoted field starts here"), "{err}");
        assert_eq!(unclosed_quote(b"a,\"b\"\"c\",d\n\"e\nf\",g\n"), None);
        assert_eq!(
            unclosed_quote(b"a,b\"c,d\n"),
            None,
            "a quote inside a field is text"
        );
        assert_eq!(unclosed_quote(b"a\n\nb,\"c"), Some(3));
    }

    /// Rows with more fields than the header (a decimal comma) are
    /// refused; fewer are read when the requested columns are there.
    #[test]
    fn rows_longer_than_the_header_are_refused() {
        let expected = "line 2: 3 fields, but the header names 2 columns";
        let err = refusal("long", b"t,s\n2,0,1\n3,0,0\n", None);
        assert!(err.contains(expected), "{err}");
        let err = refusal("long-quoted", b"t,s\n\"2\",0,1\n", None);
        assert!(err.contains(expected), "{err}");
        let path = write("short-ok", b"t,s,x,y\n1,1\n2,0,a\n");
        assert_eq!(read(&path, None, 64).time, [1.0, 2.0]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_column_named_twice_or_asked_for_twice_is_refused() {
        let err = refusal("dup", b"t,s,t\n1,1,2\n", None);
        assert!(
            err.contains("column \"t\" is named 2 times in the header (fields 1, 3)"),
            "{err}"
        );
        let err = refusal("same", b"t,s\n1,1\n", Some("s"));
        assert!(
            err.contains("--status and --group both name column \"s\""),
            "{err}"
        );
    }

    #[test]
    fn blank_lines_before_the_header_are_skipped_and_carriage_returns_refused() {
        for (name, content) in [
            ("blank-first", &b"\n \r\nt,s\n1,1\n"[..]),
            ("blank-first-quoted", b"\n \r\nt,s\n\"1\",1\n"),
            ("cr-cr-lf", b"t,s\r\r\n1,1\r\r\n"),
            ("cr-cr-lf-quoted", b"t,s\r\r\n\"1\",1\r\r\n"),
        ] {
            let path = write(name, content);
            assert_eq!(read(&path, None, 64).time, [1.0], "{name}");
            std::fs::remove_file(path).unwrap();
        }
        let err = refusal("blank-first-bad", b" \n\nt,s\n\"1\",1\n2,x\n", None);
        assert!(err.contains("line 5,"), "{err}");
        let err = refusal("blank-first-unclosed", b" \n\nt,s\n\"1,1\n", None);
        assert!(err.contains("line 4: a quoted field"), "{err}");
        let err = refusal("cr", b"t,s\r1,1\r2,0\r", None);
        assert!(err.contains("carriage return alone"), "{err}");
    }

    /// A label or time padded with a no-break space reads the same on both
    /// paths: the quoted one trims with `str::trim`.
    #[test]
    fn labels_and_times_are_trimmed_of_any_space_on_both_paths() {
        let plain = "t,s,g\n1,1,a\n2\u{a0},0,a\u{a0}\n3,1,b\u{b}\n"
            .as_bytes()
            .to_vec();
        let quoted = "t,s,g\n1,1,\"a\"\n2\u{a0},0,a\u{a0}\n3,1,b\n"
            .as_bytes()
            .to_vec();
        for (name, content) in [("nbsp-plain", plain), ("nbsp-quoted", quoted)] {
            let path = write(name, &content);
            let columns = read(&path, Some("g"), 64);
            assert_eq!(columns.labels, ["a", "b"], "{name}");
            assert_eq!(columns.time, [1.0, 2.0, 3.0], "{name}");
            std::fs::remove_file(path).unwrap();
        }
    }

    /// A binary file's header is neither printed raw nor whole.
    #[test]
    fn a_missing_column_lists_at_most_twenty_names_as_text() {
        let header: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
        let mut content = header.join(",").into_bytes();
        content.extend_from_slice(b",\x01x\n1\n");
        let err = refusal("wide", &content, None);
        assert!(err.contains("c0, c1,"), "{err}");
        assert!(err.contains("c19, and 11 more)"), "{err}");
        assert!(!err.contains("c20"), "{err}");
        assert_eq!(listed(&["\u{1}x".to_owned()]), "\\u{1}x");
    }
}
