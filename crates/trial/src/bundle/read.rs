//! Reading a bundle folder into a [`Dataset`]: all files are read, every
//! problem is collected, and any problem refuses the whole bundle.

use std::collections::HashMap;
use std::num::NonZeroU8;
use std::path::Path;

use super::cells::{FileSpec, Header, PatientIds, Problem, Row};
use super::spec::*;
use crate::ctcae::Dictionary;
use crate::dataset::Dataset;
use crate::date::Date;
use crate::protocol::Protocol;
use crate::records::*;
use crate::values::{Flag, Id, Text};

/// `bundle.toml`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    cutoff: String,
    protocol: Option<String>,
}

fn whole(file: &str, rule: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line: None,
        column: None,
        rule,
    }
}

fn read_manifest(dir: &Path, problems: &mut Vec<Problem>) -> Option<(Date, Protocol)> {
    let path = dir.join("bundle.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            problems.push(whole(
                "bundle.toml",
                format!("cannot read {}: {e}", path.display()),
            ));
            return None;
        }
    };
    let m: Manifest = match toml::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            problems.push(whole("bundle.toml", e.to_string()));
            return None;
        }
    };
    if m.format != 1 {
        problems.push(whole(
            "bundle.toml",
            format!("format must be 1, got {}", m.format),
        ));
    }
    let cutoff = match m.cutoff.parse::<Date>() {
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(whole("bundle.toml", format!("cutoff: {e}")));
            None
        }
    };
    let protocol = match m.protocol {
        None => Some(Protocol::default()),
        Some(name) => {
            let p = dir.join(&name);
            match std::fs::read_to_string(&p) {
                Err(e) => {
                    problems.push(whole(
                        "bundle.toml",
                        format!("protocol file {}: {e}", p.display()),
                    ));
                    None
                }
                Ok(text) => match Protocol::from_toml(&text) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        problems.push(whole(&name, e.to_string()));
                        None
                    }
                },
            }
        }
    };
    Some((cutoff?, protocol?))
}

/// Where the rows of each table come from: a folder of CSV files, or rows
/// held in memory (the database's current or as-of state).
pub trait RowSource {
    /// The rows of one table; `Ok(None)` when the table is absent (no rows).
    fn open(&mut self, spec: &FileSpec) -> Result<Option<Opened>, Problem>;

    /// Whether parsing is worth a second thread. Starting one costs tens
    /// of microseconds; a patient's casebook, checked on every write,
    /// parses in less.
    fn is_large(&self) -> bool {
        true
    }
}

/// One table opened for reading; it owns its rows, so it can be read on
/// another thread.
pub type Opened = Box<dyn TableRows + Send>;

/// The header and rows of one table.
pub trait TableRows {
    /// The header row.
    fn header(&self) -> &csv::StringRecord;
    /// Reads the next row into `record` and returns its line number, or
    /// `None` at the end. A problem is fatal to the table when `true`.
    fn next_row(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, (Problem, bool)>;
}

/// A bundle folder's CSV files.
struct Folder<'a>(&'a Path);

struct CsvRows {
    name: &'static str,
    reader: csv::Reader<std::fs::File>,
    header: csv::StringRecord,
    /// What to add to the reader's line numbers: the reader counts a line
    /// when it meets `\n`, which in a CRLF file comes after the record's
    /// position was taken, so there the position is one line short.
    line_offset: u64,
}

/// Whether a file's first line ends in CRLF.
fn crlf(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 65536];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && head[i - 1] == b'\r')
}

impl RowSource for Folder<'_> {
    fn open(&mut self, spec: &FileSpec) -> Result<Option<Opened>, Problem> {
        let path = self.0.join(spec.name);
        if !path.exists() {
            return Ok(None);
        }
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(&path)
            .map_err(|e| whole(spec.name, e.to_string()))?;
        let header = reader
            .headers()
            .map_err(|e| whole(spec.name, e.to_string()))?
            .clone();
        let line_offset = u64::from(crlf(&path));
        Ok(Some(Box::new(CsvRows {
            name: spec.name,
            reader,
            header,
            line_offset,
        })))
    }
}

impl TableRows for CsvRows {
    fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    fn next_row(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, (Problem, bool)> {
        match self.reader.read_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line()) + self.line_offset;
                // NUL is no text: a database (PostgreSQL) cannot store it.
                match record.iter().position(|cell| cell.contains('\0')) {
                    Some(i) => Err((
                        Problem {
                            file: self.name.to_owned(),
                            line: Some(line),
                            column: self.header.get(i).map(str::to_owned),
                            rule: "contains a NUL character, which is not text".into(),
                        },
                        false,
                    )),
                    None => Ok(Some(line)),
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line() + self.line_offset);
                let fatal = !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. });
                // The parser's own words carry its zero-based record and
                // field numbers beside our line: say it as the rule.
                let (column, rule) = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => (
                        None,
                        format!("{len} fields, but the header has {expected_len}"),
                    ),
                    csv::ErrorKind::Utf8 { err, .. } => (
                        self.header.get(err.field()).map(str::to_owned),
                        "not UTF-8 text; save the file as UTF-8".to_owned(),
                    ),
                    _ => (None, e.to_string()),
                };
                Err((
                    Problem {
                        file: self.name.to_owned(),
                        line,
                        column,
                        rule,
                    },
                    fatal,
                ))
            }
        }
    }
}

/// Rows held in memory, keyed by file name, each with its line (or record) number.
#[derive(Debug, Default)]
pub struct MemorySource {
    tables: HashMap<&'static str, Vec<(u64, csv::StringRecord)>>,
}

impl MemorySource {
    /// Adds a row of `spec`'s table, cells in `spec`'s column order.
    pub fn push(&mut self, spec: &FileSpec, number: u64, cells: csv::StringRecord) {
        self.tables
            .entry(spec.name)
            .or_default()
            .push((number, cells));
    }
}

struct MemoryRows {
    header: csv::StringRecord,
    rows: std::vec::IntoIter<(u64, csv::StringRecord)>,
}

/// Rows below which [`MemorySource`] parses on one thread.
const LARGE_SOURCE_ROWS: usize = 10_000;

impl RowSource for MemorySource {
    fn is_large(&self) -> bool {
        self.tables.values().map(Vec::len).sum::<usize>() >= LARGE_SOURCE_ROWS
    }

    fn open(&mut self, spec: &FileSpec) -> Result<Option<Opened>, Problem> {
        let Some(rows) = self.tables.remove(spec.name) else {
            return Ok(None);
        };
        let header = spec.columns.iter().map(|(c, _)| *c).collect();
        Ok(Some(Box::new(MemoryRows {
            header,
            rows: rows.into_iter(),
        })))
    }
}

impl TableRows for MemoryRows {
    fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    fn next_row(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, (Problem, bool)> {
        Ok(self.rows.next().map(|(n, r)| {
            *record = r;
            n
        }))
    }
}

/// Reads every row of one table with `parse`, or nothing when it is absent.
fn read_file<T>(
    source: &mut dyn RowSource,
    spec: &FileSpec,
    problems: &mut Vec<Problem>,
    parse: impl FnMut(&mut Row<'_>) -> Option<T>,
) -> Vec<T> {
    read_table(source.open(spec), spec, problems, parse)
}

/// The rows of an opened table that `parse` accepts; every problem found
/// goes to `problems`.
fn read_table<T>(
    opened: Result<Option<Opened>, Problem>,
    spec: &FileSpec,
    problems: &mut Vec<Problem>,
    mut parse: impl FnMut(&mut Row<'_>) -> Option<T>,
) -> Vec<T> {
    let mut table = match opened {
        Ok(Some(t)) => t,
        Ok(None) => return Vec::new(),
        Err(p) => {
            problems.push(p);
            return Vec::new();
        }
    };
    let Some(header) = Header::check(spec, table.header(), problems) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match table.next_row(&mut record) {
            Ok(None) => break,
            Ok(Some(line)) => {
                let before = problems.len();
                let mut row = Row::new(spec.name, line, &record, &header, problems);
                let parsed = parse(&mut row);
                if problems.len() == before {
                    rows.extend(parsed);
                }
            }
            Err((p, fatal)) => {
                problems.push(p);
                if fatal {
                    break;
                }
            }
        }
    }
    // Growth by doubling leaves up to half of a table's vector unused: at a
    // million patients that slack alone was hundreds of megabytes. A large
    // vector shrinks in place (the allocator remaps it), without a copy.
    rows.shrink_to_fit();
    rows
}

/// Reads cells left to right even after a failure, so one row reports all
/// of its problems at once.
macro_rules! all_cells {
    ($($e:expr),+ $(,)?) => {
        ($($e),+)
    };
}

fn parse_patient(r: &mut Row<'_>) -> Option<Patient> {
    let f = all_cells!(
        r.required("patient_id"),
        r.required("site_id"),
        r.required("cohort"),
        r.required("registration_date"),
        r.required("age"),
        r.required("sex"),
        r.required::<Flag>("cd38_positive"),
        r.required("immunophenotype"),
        r.required("disease_status"),
        r.required("prior_cycles"),
        r.optional("first_cr_date"),
        r.optional("prior_sct_date"),
        r.optional("last_chemo_date"),
        r.optional("screening_bm_blasts_pct"),
        r.optional("screening_mrd_level"),
        r.optional("screening_mrd_sensitivity"),
    );
    Some(Patient {
        id: f.0?,
        site: f.1?,
        cohort: f.2?,
        registration_date: f.3?,
        age: f.4?,
        sex: f.5?,
        cd38_positive: f.6?.0,
        immunophenotype: f.7?,
        disease_status: f.8?,
        prior_cycles: f.9?,
        first_cr_date: f.10?,
        prior_sct_date: f.11?,
        last_chemo_date: f.12?,
        screening_bm_blasts_pct: f.13?,
        screening_mrd_level: f.14?,
        screening_mrd_sensitivity: f.15?,
    })
}

/// One shared copy of each free text read: reasons repeat over millions of
/// rows, and a copy per row was a small allocation per row.
#[derive(Default)]
struct Texts(std::collections::HashSet<Text>);

impl Texts {
    /// The text of `column`, `None` when empty.
    fn cell(&mut self, r: &mut Row<'_>, column: &str) -> Option<Text> {
        let s = r.cell(column);
        if s.is_empty() {
            return None;
        }
        if let Some(known) = self.0.get(s) {
            return Some(known.clone());
        }
        let text: Text = s.into();
        self.0.insert(text.clone());
        Some(text)
    }
}

/// A row of `status.csv`; `None` when a cell broke its rule (noted on the row).
fn parse_status(r: &mut Row<'_>, ids: &PatientIds, texts: &mut Texts) -> Option<Status> {
    let f = all_cells!(
        r.patient(ids),
        r.required("last_contact_date"),
        r.required("vital_status"),
        r.optional("death_date"),
        r.optional("death_cause"),
        r.optional("end_of_treatment_date"),
        r.optional("other_therapy_date"),
    );
    Some(Status {
        patient: f.0?,
        last_contact_date: f.1?,
        vital_status: f.2?,
        death_date: f.3?,
        death_cause: f.4?,
        end_of_treatment_date: f.5?,
        end_of_treatment_reason: texts.cell(r, "end_of_treatment_reason"),
        other_therapy_date: f.6?,
    })
}

/// A row of `assessments.csv`.
fn parse_assessment(r: &mut Row<'_>, ids: &PatientIds) -> Option<Assessment> {
    let f = all_cells!(
        r.patient(ids),
        r.required("date"),
        r.required("timepoint"),
        r.optional("bm_blasts_pct"),
        r.optional::<Flag>("pb_blasts"),
        r.optional("anc"),
        r.optional("platelets"),
        r.optional::<Flag>("emd"),
        r.optional("investigator_response"),
    );
    Some(Assessment {
        patient: f.0?,
        date: f.1?,
        timepoint: f.2?,
        bm_blasts_pct: f.3?,
        pb_blasts: f.4?.map(|x| x.0),
        anc: f.5?,
        platelets: f.6?,
        emd: f.7?.map(|x| x.0),
        investigator_response: f.8?,
    })
}

/// A row of `qlq_c30.csv`: each answered item 1–4 (items 29 and 30: 1–7).
fn parse_qlq(r: &mut Row<'_>, ids: &PatientIds) -> Option<QlqC30> {
    let f = all_cells!(r.patient(ids), r.required("date"), r.required("timepoint"));
    let mut items = [None; QLQ_ITEMS];
    let mut ok = true;
    for (i, item) in items.iter_mut().enumerate() {
        let column = QLQ_ITEM_COLUMNS[i];
        let max = if i >= 28 { 7 } else { 4 };
        let s = r.cell(column);
        if s.is_empty() {
            continue;
        }
        match s.parse::<u8>() {
            Ok(v) if (1..=max).contains(&v) => *item = NonZeroU8::new(v),
            _ => {
                r.fail(column, format!("must be an answer 1–{max}, got \"{s}\""));
                ok = false;
            }
        }
    }
    ok.then_some(())?;
    Some(QlqC30 {
        patient: f.0?,
        date: f.1?,
        timepoint: f.2?,
        items,
    })
}

/// A row of `hospital_stays.csv`.
fn parse_stay(r: &mut Row<'_>, ids: &PatientIds, texts: &mut Texts) -> Option<HospitalStay> {
    let f = all_cells!(
        r.patient(ids),
        r.required("admission_date"),
        r.optional("discharge_date")
    );
    Some(HospitalStay {
        patient: f.0?,
        admission_date: f.1?,
        discharge_date: f.2?,
        reason: texts.cell(r, "reason"),
    })
}

/// A row of `doses.csv`.
fn parse_dose(r: &mut Row<'_>, ids: &PatientIds, texts: &mut Texts) -> Option<Dose> {
    let f = all_cells!(
        r.patient(ids),
        r.required("cycle"),
        r.required::<u16>("day").filter(|&d| d >= 1),
        r.required("date"),
        r.required("planned_mg_per_kg"),
        r.required("given_mg_per_kg"),
        r.required("status"),
    );
    if f.2.is_none() && !r.cell("day").is_empty() && r.cell("day").parse::<u16>().is_ok() {
        r.fail(
            "day",
            format!(
                "must be a day within the cycle, 1 or later, got \"{}\"",
                r.cell("day")
            ),
        );
    }
    Some(Dose {
        patient: f.0?,
        cycle: f.1?,
        day: f.2?,
        date: f.3?,
        planned_mg_per_kg: f.4?,
        given_mg_per_kg: f.5?,
        status: f.6?,
        reason: texts.cell(r, "reason"),
    })
}

/// A row of `mrd.csv`: a level exactly when the result is positive.
fn parse_mrd(r: &mut Row<'_>, ids: &PatientIds) -> Option<MrdResult> {
    let f = all_cells!(
        r.patient(ids),
        r.required("date"),
        r.required("timepoint"),
        r.required("sample"),
        r.optional::<crate::vocab::MrdCall>("result"),
        r.optional("level"),
        r.optional("sensitivity"),
        r.optional("lab"),
    );
    let (result, level) = (f.4?, f.5?);
    use crate::vocab::MrdCall;
    match (result, level) {
        (Some(MrdCall::Positive), None) => {
            r.fail(
                "level",
                "a positive result needs its quantified level".into(),
            );
            return None;
        }
        (Some(MrdCall::Negative | MrdCall::PositiveNq) | None, Some(_)) => {
            r.fail(
                "level",
                "a level is recorded only for a positive result".into(),
            );
            return None;
        }
        _ => {}
    }
    Some(MrdResult {
        patient: f.0?,
        date: f.1?,
        timepoint: f.2?,
        sample: f.3?,
        result,
        level,
        sensitivity: f.6?,
        lab: f.7?,
    })
}

/// A row of `adverse_events.csv`: a CTCAE 5.0 term (with a verbatim
/// description where the term asks for one) and an AE id not seen before.
fn parse_adverse_event(
    r: &mut Row<'_>,
    ids: &PatientIds,
    dict: &Dictionary,
    texts: &mut Texts,
    ae_ids: &mut rustc_hash::FxHashMap<String, Id>,
) -> Option<AdverseEvent> {
    let term_text = r.cell("term");
    let term = match dict.find(term_text) {
        Some(t) => Some(t),
        None => {
            let rule = if term_text.is_empty() {
                "a value is required".to_owned()
            } else {
                format!(
                    "\"{term_text}\" is not a CTCAE 5.0 term (spelling and case as in the dictionary)"
                )
            };
            r.fail("term", rule);
            None
        }
    };
    let verbatim = texts.cell(r, "verbatim");
    if let Some(t) = term
        && dict.term(t).needs_verbatim()
        && verbatim.is_none()
    {
        r.fail(
            "verbatim",
            format!("\"{}\" needs a verbatim description", dict.term(t).term),
        );
    }
    let f = all_cells!(
        r.patient(ids),
        r.required::<Id>("ae_id"),
        r.required("grade"),
        r.required("onset_date"),
        r.optional("end_date"),
        r.required::<Flag>("serious"),
        r.required("relatedness"),
        r.optional("outcome"),
        r.optional("action"),
    );
    // Ids that differ only in letter case would read as one AE.
    if let Some(id) = &f.1
        && let Some(before) = ae_ids.insert(id.as_str().to_ascii_lowercase(), id.clone())
    {
        if before == *id {
            r.fail("ae_id", format!("duplicate AE id \"{id}\""));
        } else {
            r.fail(
                "ae_id",
                format!("duplicate AE id \"{id}\": differs from \"{before}\" only in letter case"),
            );
        }
    }
    Some(AdverseEvent {
        patient: f.0?,
        ae_id: f.1?,
        term: term?,
        verbatim,
        grade: f.2?,
        onset_date: f.3?,
        end_date: f.4?,
        serious: f.5?.0,
        relatedness: f.6?,
        outcome: f.7?,
        action: f.8?,
    })
}

/// A row of `sct.csv`.
fn parse_sct(r: &mut Row<'_>, ids: &PatientIds) -> Option<Sct> {
    let f = all_cells!(
        r.patient(ids),
        r.required("date"),
        r.required("type"),
        r.optional("donor"),
        r.optional("conditioning"),
        r.optional("source"),
    );
    Some(Sct {
        patient: f.0?,
        date: f.1?,
        sct_type: f.2?,
        donor: f.3?,
        conditioning: f.4?,
        source: f.5?,
    })
}

/// A row of `gvhd.csv`: a grade of the scale of its kind.
fn parse_gvhd(r: &mut Row<'_>, ids: &PatientIds) -> Option<Gvhd> {
    let f = all_cells!(
        r.patient(ids),
        r.required("onset_date"),
        r.required::<crate::vocab::GvhdKind>("kind"),
        r.required::<crate::vocab::GvhdGrade>("grade"),
    );
    if let (Some(kind), Some(grade)) = (f.2, f.3)
        && !grade.fits(kind)
    {
        r.fail(
            "grade",
            format!(
                "{kind} GvHD is graded {}, got \"{grade}\"",
                match kind {
                    crate::vocab::GvhdKind::Acute => "I, II, III or IV",
                    crate::vocab::GvhdKind::Chronic => "mild, moderate or severe",
                }
            ),
        );
        return None;
    }
    Some(Gvhd {
        patient: f.0?,
        onset_date: f.1?,
        kind: f.2?,
        grade: f.3?,
    })
}

/// A row of `relapses.csv`: sites for a hematologic relapse, none for a
/// molecular one.
fn parse_relapse(r: &mut Row<'_>, ids: &PatientIds) -> Option<Relapse> {
    let f = all_cells!(
        r.patient(ids),
        r.required("date"),
        r.required::<crate::vocab::RelapseKind>("kind")
    );
    let raw = r.cell("sites");
    let mut sites = Vec::new();
    let mut sites_ok = true;
    if !raw.is_empty() {
        for s in raw.split(';') {
            match s.parse::<crate::vocab::RelapseSite>() {
                Ok(site) if !sites.contains(&site) => sites.push(site),
                Ok(site) => {
                    r.fail("sites", format!("site \"{site}\" is listed twice"));
                    sites_ok = false;
                }
                Err(e) => {
                    r.fail("sites", format!("{e} (a semicolon list)"));
                    sites_ok = false;
                }
            }
        }
    }
    match f.2 {
        Some(crate::vocab::RelapseKind::Hematologic) if sites.is_empty() && sites_ok => {
            r.fail(
                "sites",
                "a hematologic relapse needs at least one site".into(),
            );
            return None;
        }
        Some(crate::vocab::RelapseKind::Molecular) if !sites.is_empty() => {
            r.fail("sites", "a molecular relapse has no sites".into());
            return None;
        }
        _ => {}
    }
    sites.sort();
    Some(Relapse {
        patient: f.0?,
        date: f.1?,
        kind: f.2?,
        sites,
    })
}

/// Every table file of the format must be there (a header alone when it
/// has no rows) and no other `.csv` file: a missing or misspelt file would
/// otherwise read as a table without rows, and every endpoint that counts
/// its records would be computed, wrongly, without them.
fn files_of_the_format(dir: &Path, problems: &mut Vec<Problem>) {
    let names: Vec<&str> = TABLES.iter().map(|spec| spec.name).collect();
    for name in &names {
        if !dir.join(name).is_file() {
            problems.push(whole(
                name,
                format!(
                    "the bundle has no {name}; a bundle holds every file of DATA-FORMAT.md §1, \
                     its header alone when it has no rows"
                ),
            ));
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut unknown: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Hidden and lock files (`._patients.csv` from macOS, `~$` from
        // Excel) are not the user's.
        .filter(|n| !n.starts_with('.') && !n.starts_with("~$"))
        .filter(|n| n.to_ascii_lowercase().ends_with(".csv") && !names.contains(&n.as_str()))
        .collect();
    unknown.sort();
    for name in unknown {
        problems.push(whole(
            &name,
            format!(
                "not a file of the bundle format (misspelt?); its files are {}",
                names.join(", ")
            ),
        ));
    }
}

/// The keys given to more than one row of `rows` (sorted by patient),
/// each once, as (patient, key).
fn repeated<T, K: Ord + Copy>(
    rows: &[T],
    key: impl Fn(&T) -> (PatientIx, K),
) -> Vec<(PatientIx, K)> {
    let mut keys: Vec<_> = rows.iter().map(key).collect();
    keys.sort_unstable();
    let mut out: Vec<_> = keys
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    out.dedup();
    out
}

/// Reads a whole bundle folder. On any problem nothing is returned but the
/// full list of problems.
pub fn read_bundle(dir: &Path) -> Result<Dataset, Vec<Problem>> {
    if !dir.is_dir() {
        let why = if dir.exists() {
            "is not a folder; a bundle is a folder of CSV files and bundle.toml"
        } else {
            "does not exist"
        };
        return Err(vec![whole(&dir.display().to_string(), why.into())]);
    }
    let mut problems = Vec::new();
    let manifest = read_manifest(dir, &mut problems);
    files_of_the_format(dir, &mut problems);
    let read = read_rows(&mut Folder(dir), manifest.clone());
    match (read, manifest) {
        (Ok(data), Some(_)) if problems.is_empty() => Ok(data),
        (Ok(_), _) => Err(problems),
        (Err(mut more), _) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

/// Builds a dataset from the rows of any source, with the same rules and
/// messages as a bundle folder. Without a cut-off and protocol (a broken
/// manifest) the rows are still checked, so every problem is reported.
pub fn read_rows(
    source: &mut dyn RowSource,
    manifest: Option<(Date, Protocol)>,
) -> Result<Dataset, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut refused = std::collections::HashSet::new();
    let mut texts = Texts::default();
    let patients = read_file(source, &PATIENTS, &mut problems, |r| {
        let p = parse_patient(r);
        if p.is_none() {
            refused.insert(r.cell("patient_id").to_owned());
        }
        p.map(|p| (r.line(), p))
    });
    let mut ids = PatientIds {
        known: rustc_hash::FxHashMap::with_capacity_and_hasher(patients.len(), Default::default()),
        refused,
    };
    // Ids that differ only in letter case would read as one patient.
    let mut any_case: rustc_hash::FxHashMap<String, &Id> = Default::default();
    for (i, (line, p)) in patients.iter().enumerate() {
        let exact = ids
            .known
            .insert(p.id.clone(), PatientIx(i as u32))
            .is_some();
        let alike = any_case
            .insert(p.id.as_str().to_ascii_lowercase(), &p.id)
            .filter(|before| **before != p.id);
        if exact || alike.is_some() {
            problems.push(Problem {
                file: PATIENTS.name.into(),
                line: Some(*line),
                column: Some("patient_id".into()),
                rule: match alike {
                    Some(before) if !exact => format!(
                        "duplicate patient id \"{}\": differs from \"{before}\" only in letter case",
                        p.id
                    ),
                    _ => format!("duplicate patient id \"{}\"", p.id),
                },
            });
        }
    }
    let patients: Vec<Patient> = patients.into_iter().map(|(_, p)| p).collect();
    let dict = Dictionary::ctcae_v5();

    let status = read_file(source, &STATUS, &mut problems, |r| {
        parse_status(r, &ids, &mut texts)
    });
    // Assessments, questionnaires and stays are parsed on a second thread
    // (for a large source) while this one reads the others (about half of
    // the cells each); problems keep file order.
    let (assessments, qlq, stays) = (
        source.open(&ASSESSMENTS),
        source.open(&QLQ_C30),
        source.open(&HOSPITAL_STAYS),
    );
    let (mut dose_problems, mut assessment_problems, mut rest) =
        (Vec::new(), Vec::new(), Vec::new());
    let (mut qlq_problems, mut stay_problems) = (Vec::new(), Vec::new());
    let large = source.is_large();
    let side = || {
        let mut texts = Texts::default();
        let assessments = read_table(assessments, &ASSESSMENTS, &mut assessment_problems, |r| {
            parse_assessment(r, &ids)
        });
        let qlq_c30 = read_table(qlq, &QLQ_C30, &mut qlq_problems, |r| parse_qlq(r, &ids));
        let hospital_stays = read_table(stays, &HOSPITAL_STAYS, &mut stay_problems, |r| {
            parse_stay(r, &ids, &mut texts)
        });
        (assessments, qlq_c30, hospital_stays)
    };
    let mut main = || {
        let doses = read_file(source, &DOSES, &mut dose_problems, |r| {
            parse_dose(r, &ids, &mut texts)
        });
        let mrd = read_file(source, &MRD, &mut rest, |r| parse_mrd(r, &ids));
        let mut ae_ids = rustc_hash::FxHashMap::default();
        let adverse_events = read_file(source, &ADVERSE_EVENTS, &mut rest, |r| {
            parse_adverse_event(r, &ids, dict, &mut texts, &mut ae_ids)
        });
        let sct = read_file(source, &SCT, &mut rest, |r| parse_sct(r, &ids));
        let gvhd = read_file(source, &GVHD, &mut rest, |r| parse_gvhd(r, &ids));
        let relapses = read_file(source, &RELAPSES, &mut rest, |r| parse_relapse(r, &ids));
        (doses, mrd, adverse_events, sct, gvhd, relapses)
    };
    let ((assessments, qlq_c30, hospital_stays), (doses, mrd, adverse_events, sct, gvhd, relapses)) =
        if large {
            std::thread::scope(|scope| {
                let side = scope.spawn(side);
                let read = main();
                (side.join().expect("reading does not panic"), read)
            })
        } else {
            (side(), main())
        };
    problems.extend(dose_problems);
    problems.extend(assessment_problems);
    problems.extend(rest);
    problems.extend(qlq_problems);
    problems.extend(stay_problems);

    let Some((cutoff, protocol)) = manifest else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut data = Dataset {
        protocol,
        cutoff,
        patients,
        status,
        doses,
        assessments,
        mrd,
        adverse_events,
        sct,
        gvhd,
        relapses,
        qlq_c30,
        hospital_stays,
    };
    data.sort();
    // One planned infusion per cycle and day, one questionnaire per
    // timepoint: a row given twice would be counted twice (a dose) or
    // silently replace the other (a questionnaire's scores).
    for (patient, (cycle, day)) in repeated(&data.doses, |d| (d.patient, (d.cycle, d.day))) {
        problems.push(whole(
            DOSES.name,
            format!(
                "patient {} has more than one row for cycle {cycle} day {day}",
                data.patients[patient.get()].id
            ),
        ));
    }
    for (patient, timepoint) in repeated(&data.qlq_c30, |q| (q.patient, q.timepoint)) {
        problems.push(whole(
            QLQ_C30.name,
            format!(
                "patient {} has more than one questionnaire at {timepoint}",
                data.patients[patient.get()].id
            ),
        ));
    }
    let mut seen = vec![false; data.patients.len()];
    for s in &data.status {
        if std::mem::replace(&mut seen[s.patient.get()], true) {
            problems.push(whole(
                STATUS.name,
                format!(
                    "patient {} has more than one status row",
                    data.patients[s.patient.get()].id
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(data)
    } else {
        Err(problems)
    }
}
