//! The one audited write path: insert, change and retract any record of the
//! bundle, each as a new version with who, when, before, after and why, in
//! one transaction with its audit entry and data queries; and reads of a
//! record and its history.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, Row};
use trial::bundle::{FileSpec, MemorySource, TABLES, read_rows};
use trial::checks::{Severity, check};

use crate::Store;
use crate::access::Actor;
use crate::clock::Instant;
use crate::error::{FieldError, StoreError};
use crate::state::manifest_in;

/// The bundle file of a table name (`adverse_events` or `adverse_events.csv`).
pub fn table(name: &str) -> Option<&'static FileSpec> {
    let stem = name.strip_suffix(".csv").unwrap_or(name);
    TABLES
        .iter()
        .copied()
        .find(|t| t.name.strip_suffix(".csv") == Some(stem))
}

/// The table's name without `.csv`, as stored and as the API spells it.
pub fn stem(spec: &FileSpec) -> &'static str {
    spec.name
        .strip_suffix(".csv")
        .expect("bundle files end in .csv")
}

fn column(spec: &FileSpec, name: &str) -> Option<usize> {
    spec.columns.iter().position(|(c, _)| *c == name)
}

/// A stored record at its current (or an as-of) version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    /// Table (`patients`, `adverse_events`, …).
    pub table: &'static str,
    /// Key of the record within its table.
    pub key: String,
    /// Version, starting at 1.
    pub version: i64,
    /// Patient the record belongs to.
    pub patient_id: String,
    /// The patient's site.
    pub site_id: String,
    /// Cells by column, as the bundle writes them.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// When this version was recorded.
    pub recorded_at: String,
    /// Who recorded it.
    pub recorded_by: String,
}

/// One version in a record's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// Version number.
    pub version: i64,
    /// When.
    pub recorded_at: String,
    /// Who.
    pub recorded_by: String,
    /// Why (required for every version after the first).
    pub reason: Option<String>,
    /// Whether this version retracts the record.
    pub retracted: bool,
    /// Cells by column.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What a successful write did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Written {
    /// The record after the write.
    pub record: StoredRecord,
    /// Warnings of the edit checks, stored as open data queries.
    pub queries: Vec<String>,
}

/// A change to make.
#[derive(Debug, Clone)]
pub enum RecordChange {
    /// A new record; the key is derived from the record (patient id, AE id)
    /// or made up.
    Insert {
        /// Cells in the table's column order.
        cells: Vec<String>,
    },
    /// New cells for an existing record.
    Update {
        /// Record key.
        key: String,
        /// Version the user edited.
        expected_version: i64,
        /// Cells in the table's column order.
        cells: Vec<String>,
    },
    /// Withdraws a record (nothing is deleted).
    Retract {
        /// Record key.
        key: String,
        /// Version the user saw.
        expected_version: i64,
    },
}

/// The columns every read of current records selects, in the order
/// [`Store::stored`] reads them (then the table and the retraction flag).
const CURRENT: &str = "SELECT c.record_key, c.version, c.patient_id, c.site_id, v.cells, v.recorded_at, v.recorded_by, c.tbl, c.retracted
     FROM record_current c JOIN record_versions v ON v.seq = c.seq";

/// The cells of a stored version.
pub(crate) fn parse_cells(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("stored cells: {e}")))
}

pub(crate) fn fields(
    spec: &FileSpec,
    cells: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    spec.columns
        .iter()
        .zip(cells)
        .map(|((c, _), v)| ((*c).to_owned(), serde_json::Value::String(v.clone())))
        .collect()
}

/// Turns a JSON object of the API into cells: every field a known column,
/// values strings, numbers or booleans (written as the bundle writes them),
/// null or absent for an empty cell.
pub fn cells_from_json(
    spec: &FileSpec,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<String>, StoreError> {
    let mut errors = Vec::new();
    for k in object.keys() {
        if column(spec, k).is_none() {
            errors.push(FieldError {
                field: Some(k.clone()),
                rule: format!(
                    "unknown field; {} has {}",
                    stem(spec),
                    spec.columns
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let mut cells = Vec::with_capacity(spec.columns.len());
    for (c, _) in spec.columns {
        let cell = match object.get(*c) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(_) => {
                errors.push(FieldError {
                    field: Some((*c).to_owned()),
                    rule: "must be a string, number, boolean or null".into(),
                });
                String::new()
            }
        };
        cells.push(cell);
    }
    if errors.is_empty() {
        Ok(cells)
    } else {
        Err(StoreError::Invalid(errors))
    }
}

/// The natural key of a record, where it has one.
fn natural_key(spec: &FileSpec, cells: &[String]) -> Option<String> {
    let col = match spec.name {
        "patients.csv" | "status.csv" => "patient_id",
        "adverse_events.csv" => "ae_id",
        _ => return None,
    };
    column(spec, col).map(|i| cells[i].clone())
}

fn new_key(spec: &FileSpec) -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    format!("{}-{}", stem(spec), hex::encode(bytes))
}

struct Current {
    version: i64,
    seq: i64,
    site_id: String,
    patient_id: String,
    retracted: bool,
    recorded_at: String,
}

async fn current(
    conn: &mut AnyConnection,
    tbl: &str,
    key: &str,
) -> Result<Option<Current>, StoreError> {
    let row = sqlx::query(
        "SELECT c.version, c.seq, c.site_id, c.patient_id, c.retracted, v.recorded_at
         FROM record_current c JOIN record_versions v ON v.seq = c.seq
         WHERE c.tbl = $1 AND c.record_key = $2",
    )
    .bind(tbl)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| Current {
        version: r.get(0),
        seq: r.get(1),
        site_id: r.get(2),
        patient_id: r.get(3),
        retracted: r.get::<i64, _>(4) != 0,
        recorded_at: r.get(5),
    }))
}

pub(crate) async fn cells_of(
    conn: &mut AnyConnection,
    seq: i64,
) -> Result<Vec<String>, StoreError> {
    let text: String = sqlx::query_scalar("SELECT cells FROM record_versions WHERE seq = $1")
        .bind(seq)
        .fetch_one(&mut *conn)
        .await?;
    parse_cells(&text)
}

/// The current rows of one patient, every table, as (table, key, cells).
async fn patient_rows(
    conn: &mut AnyConnection,
    patient_id: &str,
) -> Result<Vec<(String, String, Vec<String>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT c.tbl, c.record_key, v.cells FROM record_current c JOIN record_versions v ON v.seq = c.seq
         WHERE c.patient_id = $1 AND c.retracted = 0 ORDER BY c.seq",
    )
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r: AnyRow| Ok((r.get(0), r.get(1), parse_cells(&r.get::<String, _>(2))?)))
        .collect()
}

/// Runs the bundle's row rules and the cross-record checks on the patient's
/// records as they would be after the change. Errors refuse; warnings are
/// returned to become data queries.
async fn validate(
    conn: &mut AnyConnection,
    spec: &FileSpec,
    key: &str,
    patient_id: &str,
    after: Option<&[String]>,
) -> Result<Vec<String>, StoreError> {
    let (manifest, protocol) = manifest_in(conn).await?;
    let mut rows = patient_rows(conn, patient_id).await?;
    rows.retain(|(t, k, _)| !(t == stem(spec) && k == key));
    if let Some(cells) = after {
        rows.push((stem(spec).to_owned(), key.to_owned(), cells.to_vec()));
    }
    let mut source = MemorySource::default();
    for (n, (t, _, cells)) in rows.iter().enumerate() {
        let t = table(t).expect("stored tables are bundle tables");
        source.push(t, n as u64 + 1, cells.iter().map(String::as_str).collect());
    }
    let data = read_rows(&mut source, Some((manifest, protocol))).map_err(|problems| {
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
        .map(|f| format!("{}: {} ({}) [{}]", f.file, f.message, f.record, f.check))
        .collect())
}

/// The patient and site a record belongs to, from its cells.
async fn owner(
    conn: &mut AnyConnection,
    spec: &FileSpec,
    cells: &[String],
) -> Result<(String, String), StoreError> {
    let patient = column(spec, "patient_id")
        .map(|i| cells[i].clone())
        .unwrap_or_default();
    if patient.is_empty() {
        return Err(StoreError::field("patient_id", "a value is required"));
    }
    if spec.name == "patients.csv" {
        let site = column(spec, "site_id")
            .map(|i| cells[i].clone())
            .unwrap_or_default();
        return Ok((patient, site));
    }
    let site: Option<String> = sqlx::query_scalar(
        "SELECT site_id FROM record_current WHERE tbl = 'patients' AND record_key = $1 AND retracted = 0",
    )
    .bind(&patient)
    .fetch_optional(&mut *conn)
    .await?;
    match site {
        Some(site) => Ok((patient, site)),
        None => Err(StoreError::field(
            "patient_id",
            format!("unknown patient id \"{patient}\""),
        )),
    }
}

impl Store {
    /// Applies one change through the audited path.
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
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        // SQLite has one writer at a time: queue here instead of in its busy
        // handler, whose back-off sleeps would dominate the latency.
        let _writer = self.writer.lock().await;
        let mut conn = self.pool.acquire().await?;
        conn.execute(self.begin_write()).await?;
        let outcome = self.write_in(&mut conn, actor, spec, change, reason).await;
        match outcome {
            Ok(w) => {
                conn.execute("COMMIT").await?;
                Ok(w)
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    async fn write_in(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        spec: &'static FileSpec,
        change: RecordChange,
        reason: Option<&str>,
    ) -> Result<Written, StoreError> {
        crate::state::refuse_if_locked(conn).await?;
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
            } => {
                if reason.is_none() {
                    return Err(StoreError::ReasonRequired);
                }
                (key, Some(expected_version), Some(cells))
            }
            RecordChange::Retract {
                key,
                expected_version,
            } => {
                if reason.is_none() {
                    return Err(StoreError::ReasonRequired);
                }
                (key, Some(expected_version), None)
            }
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
        let existing = current(conn, tbl, &key).await?;
        let before = match (&existing, expected) {
            (Some(cur), _) if !actor.reads(&cur.site_id) => return Err(StoreError::NotFound),
            (Some(cur), None) if !cur.retracted => {
                let field = natural_key(spec, after.as_deref().unwrap_or_default()).map(|_| {
                    match spec.name {
                        "adverse_events.csv" => "ae_id",
                        _ => "patient_id",
                    }
                });
                return Err(StoreError::Invalid(vec![FieldError {
                    field: field.map(str::to_owned),
                    rule: format!("duplicate: {tbl} already has a record \"{key}\""),
                }]));
            }
            (Some(cur), Some(exp)) if cur.version != exp => {
                return Err(StoreError::Conflict {
                    expected: exp,
                    current: cur.version,
                });
            }
            (Some(cur), Some(_)) if cur.retracted => return Err(StoreError::NotFound),
            (None, Some(_)) => return Err(StoreError::NotFound),
            (Some(cur), _) => Some(cells_of(conn, cur.seq).await?),
            (None, None) => None,
        };
        let (patient_id, site_id) = match (&after, &existing) {
            (Some(cells), _) => owner(conn, spec, cells).await?,
            (None, Some(cur)) => (cur.patient_id.clone(), cur.site_id.clone()),
            (None, None) => return Err(StoreError::NotFound),
        };
        if let Some(cur) = &existing
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
        if let (Some(cur), Some(_)) = (&existing, &after)
            && cur.patient_id != patient_id
        {
            return Err(StoreError::field(
                "patient_id",
                "a record cannot move to another patient; retract it and enter it anew",
            ));
        }
        if spec.name == "patients.csv" && after.is_none() {
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM record_current WHERE patient_id = $1 AND tbl <> 'patients' AND retracted = 0",
            )
            .bind(&patient_id)
            .fetch_one(&mut *conn)
            .await?;
            if others > 0 {
                return Err(StoreError::Invalid(vec![FieldError {
                    field: None,
                    rule: format!(
                        "patient {patient_id} still has {others} records: retract them first"
                    ),
                }]));
            }
        }
        let warnings = validate(conn, spec, &key, &patient_id, after.as_deref()).await?;

        let version = existing.as_ref().map_or(1, |c| c.version + 1);
        let mut at = Instant::now();
        if let Some(cur) = &existing
            && let Ok(prev) = cur.recorded_at.parse::<Instant>()
            && at <= prev
        {
            // Versions of one record keep time order even across servers
            // whose clocks differ, so "as of" never sees them out of order.
            at = prev.plus_micros(1);
        }
        let stored_cells = after.clone().or_else(|| before.clone()).unwrap_or_default();
        let cells_json = serde_json::to_string(&stored_cells).expect("strings serialize");
        append_version(
            conn,
            &NewVersion {
                tbl,
                key: &key,
                version,
                patient_id: &patient_id,
                site_id: &site_id,
                cells: &cells_json,
                retracted: after.is_none(),
                at: &at,
                user: &actor.user,
                reason,
            },
            existing.as_ref().map(|c| c.version),
        )
        .await?;
        if spec.name == "patients.csv"
            && let Some(cur) = &existing
            && cur.site_id != site_id
        {
            sqlx::query("UPDATE record_current SET site_id = $1 WHERE patient_id = $2")
                .bind(&site_id)
                .bind(&patient_id)
                .execute(&mut *conn)
                .await?;
        }
        let action = match (&existing, &after) {
            (None, _) => "insert",
            (Some(_), Some(_)) => "update",
            (Some(_), None) => "retract",
        };
        crate::state::audit(
            conn,
            &at,
            &actor.user,
            action,
            Some((tbl, &key, version)),
            before
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("strings serialize")),
            after.as_ref().map(|_| cells_json.clone()),
            reason,
            None,
        )
        .await?;
        self.refresh_queries(
            conn,
            &patient_id,
            &site_id,
            tbl,
            &key,
            version,
            &warnings,
            &at,
        )
        .await?;
        let record = StoredRecord {
            table: tbl,
            key,
            version,
            patient_id,
            site_id,
            fields: fields(spec, &stored_cells),
            recorded_at: at.to_db(),
            recorded_by: actor.user.clone(),
        };
        Ok(Written {
            record,
            queries: warnings,
        })
    }

    /// Keeps the patient's open data queries equal to the current warnings:
    /// new ones are opened on the changed record, gone ones are closed.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_queries(
        &self,
        conn: &mut AnyConnection,
        patient_id: &str,
        site_id: &str,
        tbl: &str,
        key: &str,
        version: i64,
        warnings: &[String],
        at: &Instant,
    ) -> Result<(), StoreError> {
        let open: Vec<(i64, String)> = sqlx::query(
            "SELECT seq, message FROM queries WHERE patient_id = $1 AND status = 'open'",
        )
        .bind(patient_id)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r: AnyRow| (r.get(0), r.get(1)))
        .collect();
        for (seq, message) in &open {
            if !warnings.contains(message) {
                sqlx::query("UPDATE queries SET status = 'closed' WHERE seq = $1")
                    .bind(seq)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        for w in warnings {
            if open.iter().any(|(_, m)| m == w) {
                continue;
            }
            let code = w
                .rsplit('[')
                .next()
                .unwrap_or("")
                .trim_end_matches(']')
                .to_owned();
            sqlx::query(
                "INSERT INTO queries (tbl, record_key, version, patient_id, site_id, check_code, message, status, raised_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
            )
            .bind(tbl)
            .bind(key)
            .bind(version)
            .bind(patient_id)
            .bind(site_id)
            .bind(code)
            .bind(w)
            .bind(at.to_db())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The current version of a record, if the user may see it.
    pub async fn get(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        key: &str,
    ) -> Result<StoredRecord, StoreError> {
        let row = sqlx::query(&format!("{CURRENT} WHERE c.tbl = $1 AND c.record_key = $2"))
            .bind(stem(spec))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.get::<i64, _>(8) != 0 || !actor.reads(&row.get::<String, _>(3)) {
            return Err(StoreError::NotFound);
        }
        self.stored(actor, spec, &row)
    }

    /// Every version of a record, oldest first (the audit trail of one record).
    pub async fn history(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        key: &str,
    ) -> Result<Vec<Version>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let cur = current(&mut conn, stem(spec), key)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !actor.reads(&cur.site_id) {
            return Err(StoreError::NotFound);
        }
        let rows = sqlx::query(
            "SELECT version, recorded_at, recorded_by, reason, retracted, cells FROM record_versions
             WHERE tbl = $1 AND record_key = $2 ORDER BY version",
        )
        .bind(stem(spec))
        .bind(key)
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|r: AnyRow| {
                let mut fields = fields(spec, &parse_cells(&r.get::<String, _>(5))?);
                if actor.pseudonymized() {
                    self.pseudonymize_fields(&mut fields);
                }
                Ok(Version {
                    version: r.get(0),
                    recorded_at: r.get(1),
                    recorded_by: r.get(2),
                    reason: r.get(3),
                    retracted: r.get::<i64, _>(4) != 0,
                    fields,
                })
            })
            .collect()
    }

    /// Every current record of one patient, by table, in one query: the
    /// casebook a monitor or investigator opens.
    pub async fn casebook(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "{CURRENT} WHERE c.patient_id = $1 AND c.retracted = 0 ORDER BY c.seq"
        ))
        .bind(patient_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if !actor.reads(&r.get::<String, _>(3)) {
                return Err(StoreError::NotFound);
            }
            if let Some(spec) = table(&r.get::<String, _>(7)) {
                out.push(self.stored(actor, spec, &r)?);
            }
        }
        if !out.iter().any(|r| r.table == "patients") {
            return Err(StoreError::NotFound);
        }
        Ok(out)
    }

    /// The current records of one table the user may see, optionally of one patient.
    pub async fn list(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        patient: Option<&str>,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        // Two statements rather than one with "OR", so each uses its index.
        let rows = match patient {
            Some(p) => {
                sqlx::query(&format!("{CURRENT} WHERE c.patient_id = $1 AND c.tbl = $2 AND c.retracted = 0 ORDER BY c.seq"))
                    .bind(p)
                    .bind(stem(spec))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("{CURRENT} WHERE c.tbl = $1 AND c.retracted = 0 ORDER BY c.seq"))
                    .bind(stem(spec))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .filter(|r| actor.reads(&r.get::<String, _>(3)))
            .map(|r| self.stored(actor, spec, r))
            .collect()
    }

    /// A row selected by [`CURRENT`] as the user may see it.
    fn stored(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        r: &AnyRow,
    ) -> Result<StoredRecord, StoreError> {
        let mut record = StoredRecord {
            table: stem(spec),
            key: r.get(0),
            version: r.get(1),
            patient_id: r.get(2),
            site_id: r.get(3),
            fields: fields(spec, &parse_cells(&r.get::<String, _>(4))?),
            recorded_at: r.get(5),
            recorded_by: r.get(6),
        };
        if actor.pseudonymized() {
            self.pseudonymize(&mut record);
        }
        Ok(record)
    }

    /// Open data queries the user may see.
    pub async fn open_queries(&self, actor: &Actor) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT tbl, record_key, version, patient_id, site_id, check_code, message, raised_at FROM queries
             WHERE status = 'open' ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|r| actor.reads(&r.get::<String, _>(4)))
            .map(|r| {
                serde_json::json!({
                    "table": r.get::<String, _>(0), "key": r.get::<String, _>(1), "version": r.get::<i64, _>(2),
                    "patient_id": r.get::<String, _>(3), "site_id": r.get::<String, _>(4),
                    "check": r.get::<String, _>(5), "message": r.get::<String, _>(6), "raised_at": r.get::<String, _>(7),
                })
            })
            .collect())
    }
}

/// One new version of a record, as every write path appends it.
pub(crate) struct NewVersion<'a> {
    pub tbl: &'a str,
    pub key: &'a str,
    pub version: i64,
    pub patient_id: &'a str,
    pub site_id: &'a str,
    /// The cells as JSON.
    pub cells: &'a str,
    pub retracted: bool,
    pub at: &'a Instant,
    pub user: &'a str,
    pub reason: Option<&'a str>,
}

/// Appends a version and moves the record's current pointer to it: the two
/// statements shared by edits, imports and the manifest. `previous` is the
/// version the pointer must still hold (`None` for a new record); a writer
/// that got there first is a conflict, never a lost update.
pub(crate) async fn append_version(
    conn: &mut AnyConnection,
    v: &NewVersion<'_>,
    previous: Option<i64>,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO record_versions (tbl, record_key, version, patient_id, site_id, cells, retracted, recorded_at, recorded_by, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq",
    )
    .bind(v.tbl)
    .bind(v.key)
    .bind(v.version)
    .bind(v.patient_id)
    .bind(v.site_id)
    .bind(v.cells)
    .bind(i64::from(v.retracted))
    .bind(v.at.to_db())
    .bind(v.user)
    .bind(v.reason)
    .fetch_one(&mut *conn)
    .await;
    let seq: i64 = match inserted {
        Ok(row) => row.get(0),
        Err(e) if is_unique_violation(&e) => {
            // Another writer stored this version first. On PostgreSQL the
            // transaction is now aborted, so no further query: the
            // current version is at least the one that collided.
            return Err(StoreError::Conflict {
                expected: v.version - 1,
                current: v.version,
            });
        }
        Err(e) => return Err(e.into()),
    };
    let moved = match previous {
        Some(prev) => sqlx::query(
            "UPDATE record_current SET version = $1, seq = $2, site_id = $3, retracted = $4
             WHERE tbl = $5 AND record_key = $6 AND version = $7",
        )
        .bind(v.version)
        .bind(seq)
        .bind(v.site_id)
        .bind(i64::from(v.retracted))
        .bind(v.tbl)
        .bind(v.key)
        .bind(prev)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        None => sqlx::query(
            "INSERT INTO record_current (tbl, record_key, version, seq, patient_id, site_id, retracted)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(v.tbl)
        .bind(v.key)
        .bind(v.version)
        .bind(seq)
        .bind(v.patient_id)
        .bind(v.site_id)
        .bind(i64::from(v.retracted))
        .execute(&mut *conn)
        .await?
        .rows_affected(),
    };
    if moved != 1 {
        let now = current(conn, v.tbl, v.key)
            .await?
            .map_or(v.version, |c| c.version);
        return Err(StoreError::Conflict {
            expected: v.version - 1,
            current: now,
        });
    }
    Ok(())
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("UNIQUE constraint failed")
                || d.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

/// Opens a write transaction on a fresh connection.
pub(crate) async fn begin(
    store: &Store,
) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
    let mut conn = store.pool.acquire().await?;
    conn.execute(store.begin_write()).await?;
    Ok(conn)
}

/// Ends a transaction begun with [`begin`]: commit on success, roll back otherwise.
pub(crate) async fn finish<T>(
    mut conn: sqlx::pool::PoolConnection<sqlx::Any>,
    outcome: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match outcome {
        Ok(v) => {
            conn.execute("COMMIT").await?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            Err(e)
        }
    }
}
