//! The one audited write path: insert, change and retract any record of the
//! bundle, each as a new version with who, when, before, after and why, in
//! one transaction with its audit entry and data queries.
//!
//! A change reads everything it decides on in one query ([`Context`]): the
//! lock, the manifest, the record, the patient's current records and open
//! queries; it then decides everything in Rust, and [`crate::apply`]
//! writes the outcome. sqlx's SQLite driver hands every statement to the
//! connection's worker thread and back, and a profile of the write path
//! showed those thread switches costing more than SQLite itself.

use sqlx::{AnyConnection, Executor, Row};
use trial::bundle::{FileSpec, MemorySource, read_rows};
use trial::checks::{Severity, check};

use crate::access::Actor;
use crate::apply::{Failure, NewVersion, write_changes};
use crate::clock::Instant;
use crate::error::{FieldError, StoreError};
use crate::records::{
    RecordChange, StoredRecord, Written, column, current_version, fields, finish, parse_cells,
    stem, table,
};
use crate::state::{MANIFEST, parse_manifest};
use crate::{Backend, Store, begin_write};
use sqlx::AnyPool;

/// The column whose value is a record's key, where it has one.
fn natural_key_column(spec: &FileSpec) -> Option<&'static str> {
    match spec.name {
        "patients.csv" | "status.csv" => Some("patient_id"),
        "adverse_events.csv" => Some("ae_id"),
        _ => None,
    }
}

/// The natural key of a record, where it has one.
pub(crate) fn natural_key(spec: &FileSpec, cells: &[String]) -> Option<String> {
    let col = natural_key_column(spec)?;
    column(spec, col).and_then(|i| cells.get(i).cloned())
}

fn new_key(spec: &FileSpec) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    format!("{}-{}", stem(spec), hex::encode(bytes))
}

/// The record's current version, as the change finds it.
struct Current {
    version: i64,
    site_id: String,
    patient_id: String,
    retracted: bool,
    recorded_at: String,
    cells: Vec<String>,
}

/// A current record of the patient: table, cells.
type PatientRow = (String, Vec<String>);

/// What a decision read that any later change would alter: the last
/// version of the patient's records (every change to a patient's records,
/// queries or site appends a version under the patient) and of the
/// manifest. A change decided outside the writer lock is written as
/// decided only if its stamp still holds under the lock. The patient's
/// last version is read from the current pointers, which hold each
/// record's last version: a record never moves to another patient, so the
/// newest of them is the patient's newest version, and an index of
/// `record_versions` by patient (a page written for every change) is not
/// needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub patient: Option<i64>,
    pub manifest: Option<i64>,
}

/// Everything a change decides on, read in one query.
struct Context {
    locked: bool,
    manifest: Option<Vec<String>>,
    stamp: Stamp,
    target: Option<Current>,
    /// The patient's current, not retracted records other than the one
    /// changed.
    rows: Vec<PatientRow>,
    /// The patient's open data queries: (seq, message).
    open_queries: Vec<(i64, String)>,
}

/// Everything a change decides on in one query and one row
/// ([`crate::packed`]): the record (packed), the patient's other current
/// records (packed; `patient` is the patient of the new cells, or else the
/// record's), the manifest (packed), the lock, the open queries (packed)
/// and the patient's last version (see [`Stamp`]). The casts give
/// PostgreSQL the type sqlx reads.
static CONTEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use crate::packed::{record, records};
    let current = "FROM record_current c JOIN record_versions v ON v.seq = c.seq";
    format!(
        "WITH patient AS (SELECT COALESCE($3, (SELECT patient_id FROM record_current WHERE tbl = $1 AND record_key = $2)) AS id)
SELECT
 (SELECT {target} {current} WHERE c.tbl = $1 AND c.record_key = $2),
 (SELECT {rows} {current}
   WHERE c.patient_id = (SELECT id FROM patient)
     AND c.retracted = 0 AND NOT (c.tbl = $1 AND c.record_key = $2)),
 (SELECT {manifest} {current} WHERE c.tbl = $4 AND c.record_key = 'manifest'),
 (SELECT CAST(locked AS BIGINT) FROM trial_state WHERE id = 1),
 (SELECT {queries} FROM queries WHERE patient_id = (SELECT id FROM patient) AND status = 'open'),
 (SELECT CAST(MAX(seq) AS BIGINT) FROM record_current WHERE patient_id = (SELECT id FROM patient))",
        target = record(&[
            "c.version",
            "c.site_id",
            "c.patient_id",
            "c.retracted",
            "v.recorded_at",
            "v.cells",
        ]),
        rows = records(&["c.tbl", "v.cells"], "c.seq"),
        manifest = record(&["c.version", "v.cells"]),
        queries = records(&["seq", "message"], "seq"),
    )
});

async fn read_context(
    conn: &mut AnyConnection,
    tbl: &str,
    key: &str,
    patient: Option<&str>,
) -> Result<Context, StoreError> {
    use crate::packed::Fields;
    let row = sqlx::query(&CONTEXT)
        .bind(tbl)
        .bind(key)
        .bind(patient)
        .bind(MANIFEST)
        .fetch_one(&mut *conn)
        .await?;
    let text = |i: usize| row.get::<Option<String>, _>(i);
    let target = match text(0) {
        Some(t) => {
            let mut f = Fields::new(Some(&t));
            Some(Current {
                version: f.int()?,
                site_id: f.text()?.to_owned(),
                patient_id: f.text()?.to_owned(),
                retracted: f.int()? != 0,
                recorded_at: f.text()?.to_owned(),
                cells: parse_cells(f.text()?)?,
            })
        }
        None => None,
    };
    let packed_rows = text(1);
    let mut f = Fields::new(packed_rows.as_deref());
    let mut rows = Vec::new();
    while !f.is_empty() {
        let tbl = f.text()?.to_owned();
        rows.push((tbl, parse_cells(f.text()?)?));
    }
    let (manifest_version, manifest) = match text(2) {
        Some(m) => {
            let mut f = Fields::new(Some(&m));
            (Some(f.int()?), Some(parse_cells(f.text()?)?))
        }
        None => (None, None),
    };
    let queries = text(4);
    let mut f = Fields::new(queries.as_deref());
    let mut open_queries = Vec::new();
    while !f.is_empty() {
        open_queries.push((f.int()?, f.text()?.to_owned()));
    }
    Ok(Context {
        locked: row.get::<Option<i64>, _>(3) == Some(1),
        manifest,
        stamp: Stamp {
            patient: row.get(5),
            manifest: manifest_version,
        },
        target,
        rows,
        open_queries,
    })
}

/// Runs the bundle's row rules and the cross-record checks on the patient's
/// records as they would be after the change. Errors refuse; warnings are
/// returned to become data queries.
fn validate(
    context: &Context,
    spec: &FileSpec,
    after: Option<&[String]>,
) -> Result<Vec<String>, StoreError> {
    let Some(manifest) = &context.manifest else {
        return Err(StoreError::Invalid(vec![FieldError {
            field: None,
            rule: "the database has no trial yet: import a bundle first (isatrial import BUNDLE --db URL)".into(),
        }]));
    };
    let manifest = parse_manifest(manifest)?;
    let mut source = MemorySource::default();
    let others = context.rows.iter().map(|(t, cells)| {
        (
            table(t).expect("stored tables are bundle tables"),
            cells.as_slice(),
        )
    });
    let changed = after.map(|cells| (spec, cells));
    for (n, (t, cells)) in others.chain(changed).enumerate() {
        source.push(t, n as u64 + 1, cells.iter().map(String::as_str).collect());
    }
    let data = read_rows(&mut source, Some(manifest)).map_err(|problems| {
        StoreError::Invalid(
            problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.column,
                    rule: p.rule,
                })
                .collect(),
        )
    })?;
    let (errors, warnings): (Vec<_>, Vec<_>) = check(&data)
        .into_iter()
        .partition(|f| f.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(StoreError::Invalid(
            errors
                .into_iter()
                .map(|f| FieldError {
                    field: None,
                    rule: format!("{} ({}) [{}]", f.message, f.record, f.check),
                })
                .collect(),
        ));
    }
    Ok(warnings
        .into_iter()
        .map(|f| crate::apply::query_message(&f))
        .collect())
}

/// The patient id in a record's cells.
pub(crate) fn patient_of(spec: &FileSpec, cells: &[String]) -> Option<String> {
    column(spec, "patient_id")
        .and_then(|i| cells.get(i))
        .filter(|p| !p.is_empty())
        .cloned()
}

/// The patient and site a record belongs to: a patient record names its
/// site, any other record takes its patient's.
fn owner(
    context: &Context,
    spec: &FileSpec,
    cells: &[String],
) -> Result<(String, String), StoreError> {
    let Some(patient) = patient_of(spec, cells) else {
        return Err(StoreError::field("patient_id", "a value is required"));
    };
    let site = if spec.name == "patients.csv" {
        column(spec, "site_id").and_then(|i| cells.get(i)).cloned()
    } else {
        context
            .rows
            .iter()
            .find(|(t, _)| t == "patients")
            .and_then(|(_, cells)| {
                let patients = table("patients").expect("a bundle table");
                column(patients, "site_id")
                    .and_then(|i| cells.get(i))
                    .cloned()
            })
    };
    match site {
        Some(site) => Ok((patient, site)),
        None => Err(StoreError::field(
            "patient_id",
            format!("unknown patient id \"{patient}\""),
        )),
    }
}

impl Store {
    /// Applies one change through the audited path. On SQLite the change
    /// joins the next group commit; it is answered after its commit either
    /// way, so nothing is acknowledged before it is durable.
    pub async fn write(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        change: RecordChange,
        reason: Option<&str>,
    ) -> Result<Written, StoreError> {
        if !actor.role.can_write() {
            return Err(StoreError::Forbidden(format!(
                "a {} cannot change trial data",
                actor.role
            )));
        }
        let reason = reason.map(str::trim).filter(|r| r.chars().any(visible));
        let cells = match &change {
            RecordChange::Insert { cells } | RecordChange::Update { cells, .. } => Some(cells),
            RecordChange::Retract { .. } => None,
        };
        if let RecordChange::Update { key, .. } | RecordChange::Retract { key, .. } = &change
            && key.contains('\0')
        {
            return Err(StoreError::NotFound);
        }
        // NUL ends a C string and PostgreSQL's text refuses it; no cell or
        // reason of a record has a use for it.
        if reason.is_some_and(|r| r.contains('\0')) {
            return Err(StoreError::field("reason", "contains a NUL character"));
        }
        if let Some(i) = cells.and_then(|c| c.iter().position(|cell| cell.contains('\0'))) {
            let column = spec.columns.get(i).map_or("record", |(c, _)| *c);
            return Err(StoreError::field(column, "contains a NUL character"));
        }
        self.refuse_unknown_names(spec, &change).await?;
        match &self.writer {
            Some(group) => {
                let change = crate::group_commit::Change {
                    actor: actor.clone(),
                    spec,
                    change,
                    reason: reason.map(str::to_owned),
                };
                group.submit(self, change).await
            }
            None => write_alone(&self.pool, self.backend, actor, spec, change, reason).await,
        }
    }
}

/// A format character: one that shows nothing or steers the text around
/// it (soft hyphen, zero-width spaces and joiners, direction marks,
/// overrides and isolates, the byte-order mark, tags, blank fillers).
fn invisible_or_steering(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// A character that controls the terminal or is a format character:
/// refused in what is read as a person's words (a query's message, a
/// printed name), where it could make the text read as something else.
/// Tabs and line breaks are text; variation selectors go with the emoji
/// they follow.
pub(crate) fn control_or_direction(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || invisible_or_steering(c)
}

/// Whether `c` shows: a reason of spaces, control characters, format
/// characters (zero-width, direction marks, tags) or blank fillers alone is
/// no reason.
pub(crate) fn visible(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || invisible_or_steering(c)
        || matches!(c, '\u{2800}' | '\u{FE00}'..='\u{FE0F}'))
}

/// One change in a transaction of its own. On SQLite only the writer thread
/// calls this, for a batch it could not write whole.
pub(crate) async fn write_alone(
    pool: &AnyPool,
    backend: Backend,
    actor: &Actor,
    spec: &'static FileSpec,
    change: RecordChange,
    reason: Option<&str>,
) -> Result<Written, StoreError> {
    let mut conn = crate::records::WriteTx::unlocked(pool.acquire().await?);
    conn.execute(begin_write(backend)).await?;
    if backend == Backend::Postgres
        && let Err(e) = serialize_on_postgres(&mut conn, spec, &change).await
    {
        return finish(conn, Err(e)).await;
    }
    let outcome = match prepare(&mut conn, actor, spec, change, reason).await {
        Ok(prepared) => apply(&mut conn, prepared).await,
        Err(e) => Err(e),
    };
    finish(conn, outcome).await
}

impl Store {
    /// What the edit checks cannot see from one patient's records: a
    /// registration names a site the trial has (a user's or a record's,
    /// spelt exactly: `s1` for `S1` would hide the patient from the site),
    /// and a new natural key (patient id, AE number) is not another's in
    /// other letter case.
    async fn refuse_unknown_names(
        &self,
        spec: &'static FileSpec,
        change: &RecordChange,
    ) -> Result<(), StoreError> {
        let cells = match change {
            RecordChange::Insert { cells } | RecordChange::Update { cells, .. } => cells,
            RecordChange::Retract { .. } => return Ok(()),
        };
        if spec.name == "patients.csv"
            && let Some(site) = column(spec, "site_id").and_then(|i| cells.get(i))
            && !site.is_empty()
        {
            let known: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM sites WHERE site_id = $1 UNION SELECT 1 FROM record_current WHERE site_id = $1",
            )
            .bind(site)
            .fetch_optional(&self.pool)
            .await?;
            if known.is_none() {
                return Err(StoreError::field(
                    "site_id",
                    format!(
                        "{site:?} is not a site of the trial; a site is added with its first user (isatrial user add)"
                    ),
                ));
            }
        }
        if let (RecordChange::Insert { cells }, Some(column)) = (change, natural_key_column(spec))
            && let Some(key) = natural_key(spec, cells)
        {
            let alike: Option<String> = sqlx::query_scalar(
                "SELECT record_key FROM record_current WHERE tbl = $1 AND LOWER(record_key) = LOWER($2) AND record_key <> $2",
            )
            .bind(stem(spec))
            .bind(&key)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(other) = alike {
                return Err(StoreError::field(
                    column,
                    format!(
                        "duplicate: {} already has a record \"{other}\", which differs only in letter case",
                        stem(spec)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// On PostgreSQL, where changes are decided side by side in transactions of
/// their own (SQLite has one writer): takes the locks that make a change's
/// decision hold until it commits. The trial state's row, shared: a lock or
/// cut-off waits for the changes in flight, and a change that starts after
/// it reads it. The patient's registration row, exclusive: two changes of
/// one patient are decided one after the other, so that each runs the edit
/// checks on the other's outcome and the patient's open queries follow the
/// data. Locks are taken in this order everywhere, so none waits in a
/// circle.
async fn serialize_on_postgres(
    conn: &mut AnyConnection,
    spec: &'static FileSpec,
    change: &RecordChange,
) -> Result<(), StoreError> {
    hold_trial_state(conn).await?;
    let (patient, key) = match change {
        RecordChange::Insert { cells } => (patient_of(spec, cells), ""),
        RecordChange::Update { key, cells, .. } => (patient_of(spec, cells), key.as_str()),
        RecordChange::Retract { key, .. } => (None, key.as_str()),
    };
    hold_patient(conn, patient.as_deref(), (stem(spec), key)).await
}

/// The first of [`serialize_on_postgres`]'s locks: the trial state's row,
/// shared until the transaction ends. Everything that changes data holds
/// it (record changes, query steps, signatures), so that a lock waits for
/// them and one started after a lock sees it.
pub(crate) async fn hold_trial_state(conn: &mut AnyConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT locked FROM trial_state WHERE id = 1 FOR SHARE")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The second: the patient's registration row, exclusive, naming the
/// patient or else the record of theirs `(table, key)`.
pub(crate) async fn hold_patient(
    conn: &mut AnyConnection,
    patient: Option<&str>,
    (tbl, key): (&str, &str),
) -> Result<(), StoreError> {
    sqlx::query(
        "SELECT 1 FROM record_current WHERE tbl = 'patients' AND record_key =
         COALESCE($1, (SELECT patient_id FROM record_current WHERE tbl = $2 AND record_key = $3))
         FOR UPDATE",
    )
    .bind(patient)
    .bind(tbl)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reads what a change decides on and makes every decision: each
/// refusal comes here, before anything is written, so a refused change
/// leaves its transaction as it found it.
pub(crate) async fn prepare(
    conn: &mut AnyConnection,
    actor: &Actor,
    spec: &'static FileSpec,
    change: RecordChange,
    reason: Option<&str>,
) -> Result<Prepared, StoreError> {
    let tbl = stem(spec);
    let (key, expected, after) = match change {
        RecordChange::Insert { cells } => {
            let key = natural_key(spec, &cells).unwrap_or_else(|| new_key(spec));
            (key, None, Some(cells))
        }
        RecordChange::Update {
            key,
            expected_version,
            cells,
        } => (key, Some(expected_version), Some(cells)),
        RecordChange::Retract {
            key,
            expected_version,
        } => (key, Some(expected_version), None),
    };
    let patient = after.as_deref().and_then(|cells| patient_of(spec, cells));
    let context = read_context(conn, tbl, &key, patient.as_deref()).await?;
    if context.locked {
        return Err(StoreError::Locked(
            "a data manager must unlock it, with a reason, before any change".into(),
        ));
    }
    // A missing reason is told together with the change's own field
    // refusals (what names the record, the edit checks), so that a form
    // shows every problem at once. Refusals that are no fault of the
    // fields (locked, not found, stale, not allowed) come first and alone.
    let reason_missing = expected.is_some() && reason.is_none();
    let refuse = |mut fields: Vec<FieldError>| {
        if reason_missing {
            fields.push(FieldError {
                field: Some("reason".into()),
                rule: crate::error::REASON_REQUIRED.into(),
            });
        }
        StoreError::Invalid(fields)
    };
    if let Some(cells) = &after
        && cells.len() != spec.columns.len()
    {
        return Err(StoreError::Invalid(vec![FieldError {
            field: None,
            rule: format!(
                "{} has {} columns, got {}",
                tbl,
                spec.columns.len(),
                cells.len()
            ),
        }]));
    }
    let existing = context.target.as_ref();
    let before = match (existing, expected) {
        // A key (AE number, patient id) is the trial's: taken at another
        // site it is taken for this one too, told as at one's own site
        // without naming where.
        (Some(cur), None) if !actor.reads(&cur.site_id) => return Err(duplicate(spec, &key)),
        (Some(cur), _) if !actor.reads(&cur.site_id) => return Err(StoreError::NotFound),
        (Some(cur), None) if !cur.retracted => return Err(duplicate(spec, &key)),
        (Some(cur), Some(exp)) if cur.version != exp => {
            return Err(StoreError::Conflict {
                expected: exp,
                current: cur.version,
            });
        }
        (Some(cur), Some(_)) if cur.retracted => return Err(StoreError::NotFound),
        (None, Some(_)) => return Err(StoreError::NotFound),
        (Some(cur), _) => Some(cur.cells.clone()),
        (None, None) => None,
    };
    // What names a record cannot change: checked before its new patient's
    // site is looked up, so that naming another site's patient tells
    // nothing of that site.
    if let (Some(cur), Some(cells)) = (existing, &after) {
        let mut fixed = Vec::new();
        if patient_of(spec, cells).is_some_and(|p| p != cur.patient_id) {
            fixed.push(FieldError {
                field: Some("patient_id".into()),
                rule: "a record cannot move to another patient; retract it and enter it anew"
                    .into(),
            });
        }
        if natural_key(spec, cells).is_some_and(|k| k != key) {
            fixed.push(FieldError {
                field: Some(natural_key_column(spec).unwrap_or("key").into()),
                rule: "names the record and cannot change; retract it and enter it anew".into(),
            });
        }
        if !fixed.is_empty() {
            return Err(refuse(fixed));
        }
    }
    let (patient_id, site_id) = match (&after, existing) {
        (Some(cells), _) => owner(&context, spec, cells)?,
        (None, Some(cur)) => (cur.patient_id.clone(), cur.site_id.clone()),
        (None, None) => return Err(StoreError::NotFound),
    };
    if let Some(cur) = existing
        && !actor.writes(&cur.site_id)
    {
        return Err(StoreError::Forbidden(format!(
            "{} cannot change records of site {}",
            actor.user, cur.site_id
        )));
    }
    if !actor.reads(&site_id) {
        return Err(if existing.is_some() {
            StoreError::Forbidden(format!(
                "{} cannot move a patient to site {site_id}",
                actor.user
            ))
        } else if spec.name == "patients.csv" {
            StoreError::field(
                "site_id",
                format!(
                    "{site_id:?} is not a site {} enters patients for",
                    actor.user
                ),
            )
        } else {
            StoreError::field("patient_id", format!("unknown patient id \"{patient_id}\""))
        });
    }
    if !actor.writes(&site_id) {
        return Err(StoreError::Forbidden(format!(
            "{} cannot change records of site {site_id}",
            actor.user
        )));
    }
    if spec.name == "patients.csv" && after.is_none() {
        let others = context.rows.iter().filter(|(t, _)| t != "patients").count();
        if others > 0 {
            return Err(refuse(vec![FieldError {
                field: None,
                rule: format!(
                    "patient {patient_id} still has {others} records: retract them first"
                ),
            }]));
        }
    }
    if let (Some(before), Some(after)) = (&before, &after)
        && before == after
    {
        return Err(refuse(vec![FieldError {
            field: None,
            rule: "nothing changed: the record already holds these values".into(),
        }]));
    }
    let warnings = match validate(&context, spec, after.as_deref()) {
        Err(StoreError::Invalid(fields)) => return Err(refuse(fields)),
        other => other?,
    };
    if reason_missing {
        return Err(StoreError::ReasonRequired);
    }

    let version = existing.map_or(1, |c| c.version + 1);
    let mut at = Instant::now();
    if let Some(cur) = existing
        && let Ok(prev) = cur.recorded_at.parse::<Instant>()
        && at <= prev
    {
        // Versions of one record keep time order even across servers
        // whose clocks differ, so "as of" never sees them out of order.
        at = prev.plus_micros(1);
    }
    let stored_cells = after.clone().or_else(|| before.clone()).unwrap_or_default();
    let closes = context
        .open_queries
        .iter()
        .filter(|(_, m)| !warnings.contains(m))
        .map(|(seq, _)| *seq)
        .collect();
    let opens = warnings
        .iter()
        .filter(|w| !context.open_queries.iter().any(|(_, m)| m == *w))
        .cloned()
        .collect();
    Ok(Prepared {
        row: NewVersion {
            tbl,
            key,
            version,
            site_moved: spec.name == "patients.csv"
                && existing.is_some_and(|cur| cur.site_id != site_id),
            patient_id,
            site_id,
            cells_json: serde_json::to_string(&stored_cells).expect("strings serialize"),
            retracted: after.is_none(),
            action: match (existing, &after) {
                (None, _) => "insert",
                (Some(_), Some(_)) => "update",
                (Some(_), None) => "retract",
            },
            before_json: before
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("strings serialize")),
            at_db: at.to_db(),
            user: actor.user.clone(),
            reason: reason.map(str::to_owned),
            detail: None,
            closes,
            opens,
        },
        spec,
        stored_cells,
        warnings,
        stamp: context.stamp,
    })
}

/// The refusal of a new record whose natural key is taken.
fn duplicate(spec: &FileSpec, key: &str) -> StoreError {
    let field = match spec.name {
        "adverse_events.csv" => Some("ae_id"),
        "patients.csv" | "status.csv" => Some("patient_id"),
        _ => None,
    };
    StoreError::Invalid(vec![FieldError {
        field: field.map(str::to_owned),
        rule: format!("duplicate: {} already has a record \"{key}\"", stem(spec)),
    }])
}

/// Writes one prepared change.
pub(crate) async fn apply(conn: &mut AnyConnection, p: Prepared) -> Result<Written, StoreError> {
    let v = &p.row;
    match write_changes(conn, std::slice::from_ref(v)).await {
        Ok(()) => Ok(p.written()),
        Err(Failure::Database(e)) => Err(e),
        // Another writer stored a record of this natural key first.
        Err(Failure::Race) if v.version == 1 => Err(duplicate(p.spec, &v.key)),
        Err(Failure::Race) => {
            // On PostgreSQL a unique violation has aborted the
            // transaction; the colliding version is then the least the
            // current one can be.
            let current = current_version(conn, v.tbl, &v.key)
                .await
                .ok()
                .flatten()
                .unwrap_or(v.version);
            Err(StoreError::Conflict {
                expected: v.version - 1,
                current,
            })
        }
    }
}

/// A change checked and decided, not yet written.
pub(crate) struct Prepared {
    /// Every value of its rows.
    pub row: NewVersion,
    pub spec: &'static FileSpec,
    /// The record's cells after the change (before it, for a retraction).
    pub stored_cells: Vec<String>,
    pub warnings: Vec<String>,
    /// What the decision read.
    pub stamp: Stamp,
}

impl Prepared {
    /// What the write answers once committed.
    pub(crate) fn written(self) -> Written {
        let v = self.row;
        Written {
            record: StoredRecord {
                table: v.tbl,
                fields: fields(self.spec, &self.stored_cells),
                key: v.key,
                version: v.version,
                patient_id: v.patient_id,
                site_id: v.site_id,
                recorded_at: v.at_db,
                recorded_by: v.user,
            },
            queries: self.warnings,
        }
    }
}
