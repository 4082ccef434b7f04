//! The one audited write path: insert, change and retract any record of the
//! bundle, each as a new version with who, when, before, after and why, in
//! one transaction with its audit entry and data queries; and reads of a
//! record and its history.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Executor, Row};
use trial::bundle::{FileSpec, TABLES};

use crate::Store;
use crate::access::Actor;
use crate::error::{FieldError, StoreError};

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

pub(crate) fn column(spec: &FileSpec, name: &str) -> Option<usize> {
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

/// A current record as the reads select it.
struct CurrentRow {
    key: String,
    version: i64,
    patient_id: String,
    site_id: String,
    cells: String,
    recorded_at: String,
    recorded_by: String,
    tbl: String,
    retracted: bool,
}

/// The select of [`current_rows`] up to its filter: the fields of
/// [`CurrentRow`], packed, in the order the records were written.
static CURRENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let packed = crate::packed::records(
        &[
            "c.record_key",
            "c.version",
            "c.patient_id",
            "c.site_id",
            "v.cells",
            "v.recorded_at",
            "v.recorded_by",
            "c.tbl",
            "c.retracted",
        ],
        "c.seq",
    );
    format!("SELECT {packed} FROM record_current c JOIN record_versions v ON v.seq = c.seq WHERE ")
});

/// The current records that `filter` (SQL after `WHERE`, over
/// `record_current c`) selects, in the order they were written, packed into
/// one row ([`crate::packed`]); `binds` fill its parameters.
async fn current_rows(
    pool: &sqlx::AnyPool,
    filter: &str,
    binds: &[&str],
) -> Result<Vec<CurrentRow>, StoreError> {
    let sql = format!("{}{filter}", *CURRENT);
    let mut query = sqlx::query(&sql);
    for b in binds {
        query = query.bind(*b);
    }
    let text: Option<String> = query.fetch_one(pool).await?.get(0);
    let mut fields = crate::packed::Fields::new(text.as_deref());
    let mut rows = Vec::new();
    while !fields.is_empty() {
        rows.push(CurrentRow {
            key: fields.text()?.to_owned(),
            version: fields.int()?,
            patient_id: fields.text()?.to_owned(),
            site_id: fields.text()?.to_owned(),
            cells: fields.text()?.to_owned(),
            recorded_at: fields.text()?.to_owned(),
            recorded_by: fields.text()?.to_owned(),
            tbl: fields.text()?.to_owned(),
            retracted: fields.int()? != 0,
        });
    }
    Ok(rows)
}

/// The cells of a stored version.
pub(crate) fn parse_cells(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(format!("stored cells: {e}")))
}

/// Cells by column name, as the API shows a record.
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

/// The version a record's current pointer holds.
pub(crate) async fn current_version(
    conn: &mut AnyConnection,
    tbl: &str,
    key: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT version FROM record_current WHERE tbl = $1 AND record_key = $2")
            .bind(tbl)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

impl Store {
    /// The current version of a record, if the user may see it.
    pub async fn get(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        key: &str,
    ) -> Result<StoredRecord, StoreError> {
        let key = self.unmask(actor, key).await?;
        let row = current_rows(
            &self.pool,
            "c.tbl = $1 AND c.record_key = $2",
            &[stem(spec), &key],
        )
        .await?
        .pop()
        .ok_or(StoreError::NotFound)?;
        if row.retracted || !actor.reads(&row.site_id) {
            return Err(StoreError::NotFound);
        }
        self.stored(actor, spec, row)
    }

    /// Every version of a record, oldest first (the audit trail of one record).
    pub async fn history(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        key: &str,
    ) -> Result<Vec<Version>, StoreError> {
        let key = self.unmask(actor, key).await?;
        let key = key.as_str();
        let mut conn = self.pool.acquire().await?;
        let (site, patient): (String, String) = sqlx::query_as(
            "SELECT site_id, patient_id FROM record_current WHERE tbl = $1 AND record_key = $2",
        )
        .bind(stem(spec))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        if !actor.reads(&site) {
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
                let mut reason: Option<String> = r.get(3);
                if actor.pseudonymized() {
                    self.pseudonymize_fields(&mut fields);
                    // A reason is free text: "corrected per P001's source".
                    let pseudonym = self.pseudonym(&patient);
                    reason = reason.map(|r| r.replace(&patient, &pseudonym));
                }
                Ok(Version {
                    version: r.get(0),
                    recorded_at: r.get(1),
                    recorded_by: r.get(2),
                    reason,
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
        let patient_id = self.unmask(actor, patient_id).await?;
        let rows = current_rows(
            &self.pool,
            "c.patient_id = $1 AND c.retracted = 0",
            &[&patient_id],
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            if !actor.reads(&r.site_id) {
                return Err(StoreError::NotFound);
            }
            if let Some(spec) = table(&r.tbl) {
                out.push(self.stored(actor, spec, r)?);
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
                let p = match self.unmask(actor, p).await {
                    Err(StoreError::NotFound) => return Ok(Vec::new()),
                    other => other?,
                };
                current_rows(
                    &self.pool,
                    "c.patient_id = $1 AND c.tbl = $2 AND c.retracted = 0",
                    &[&p, stem(spec)],
                )
                .await?
            }
            None => {
                current_rows(&self.pool, "c.tbl = $1 AND c.retracted = 0", &[stem(spec)]).await?
            }
        };
        rows.into_iter()
            .filter(|r| actor.reads(&r.site_id))
            .map(|r| self.stored(actor, spec, r))
            .collect()
    }

    /// A current record as the user may see it.
    fn stored(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        r: CurrentRow,
    ) -> Result<StoredRecord, StoreError> {
        let mut record = StoredRecord {
            table: stem(spec),
            key: r.key,
            version: r.version,
            patient_id: r.patient_id,
            site_id: r.site_id,
            fields: fields(spec, &parse_cells(&r.cells)?),
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by,
        };
        if actor.pseudonymized() {
            self.pseudonymize(&mut record);
        }
        Ok(record)
    }

    /// The sites the user reaches: those of users and those of records.
    pub async fn sites(&self, actor: &Actor) -> Result<Vec<String>, StoreError> {
        let mut sites: Vec<String> = sqlx::query_scalar(
            "SELECT site_id FROM sites UNION SELECT DISTINCT site_id FROM record_current WHERE site_id <> ''",
        )
        .fetch_all(&self.pool)
        .await?;
        sites.retain(|s| actor.reads(s));
        sites.sort();
        sites.dedup();
        Ok(sites)
    }

    /// Open data queries the user may see.
    pub async fn open_queries(&self, actor: &Actor) -> Result<Vec<serde_json::Value>, StoreError> {
        self.open_queries_of(actor, None).await
    }

    /// The open data queries of one patient, named as the user sees them
    /// (a pseudonym for a statistician): what a casebook shows, without
    /// reading every query of the trial.
    pub async fn patient_queries(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let patient_id = self.unmask(actor, patient_id).await?;
        self.open_queries_of(actor, Some(&patient_id)).await
    }

    async fn open_queries_of(
        &self,
        actor: &Actor,
        patient_id: Option<&str>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        const SELECT: &str = "SELECT tbl, record_key, version, patient_id, site_id, check_code, message, raised_at FROM queries
             WHERE status = 'open'";
        let rows = match patient_id {
            Some(p) => {
                sqlx::query(&format!("{SELECT} AND patient_id = $1 ORDER BY seq"))
                    .bind(p)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("{SELECT} ORDER BY seq"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .filter(|r| actor.reads(&r.get::<String, _>(4)))
            .map(|r| {
                let (mut patient, mut key) = (r.get::<String, _>(3), r.get::<String, _>(1));
                let mut message = r.get::<String, _>(6);
                if actor.pseudonymized() {
                    // A patient-level check names its record by the id.
                    let pseudonym = self.pseudonym(&patient);
                    message = message.replace(&patient, &pseudonym);
                    key = self.pseudonymize_key(&patient, &key);
                    patient = pseudonym;
                }
                serde_json::json!({
                    "table": r.get::<String, _>(0), "key": key, "version": r.get::<i64, _>(2),
                    "patient_id": patient, "site_id": r.get::<String, _>(4),
                    "check": r.get::<String, _>(5), "message": message, "raised_at": r.get::<String, _>(7),
                })
            })
            .collect())
    }
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

/// A write transaction on a connection of its own, holding SQLite's
/// writer lock so it queues behind the group commit instead of spinning in
/// SQLite's busy handler.
///
/// Dropped before it is settled (the request was cancelled: a client hung
/// up), a task of its own rolls back and waits for the statement in flight,
/// which sqlx finishes regardless, before the connection goes back to the
/// pool and the lock is released: otherwise the connection would return
/// inside an open transaction, or a commit land without the lock.
pub(crate) struct WriteTx {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    writer: Option<crate::group_commit::WriterGuard>,
    group: Option<std::sync::Arc<crate::group_commit::GroupCommit>>,
    settled: bool,
}

impl WriteTx {
    /// A pooled connection for a transaction that needs no lock of its
    /// own: PostgreSQL's, or SQLite's under a batch's writer guard.
    pub(crate) fn unlocked(conn: sqlx::pool::PoolConnection<sqlx::Any>) -> Self {
        WriteTx {
            conn: Some(conn),
            writer: None,
            group: None,
            settled: false,
        }
    }

    /// Marks the transaction (or the statement) as ended.
    pub(crate) fn settle(&mut self) {
        self.settled = true;
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(group) = &self.group {
            group.committed();
        }
        if self.settled {
            return;
        }
        let (Some(mut conn), writer) = (self.conn.take(), self.writer.take()) else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                // Fails harmlessly when no transaction is open; either way
                // it runs after the statement in flight.
                let _ = conn.execute("ROLLBACK").await;
                drop(conn);
                drop(writer);
            });
        }
    }
}

/// Opens a write transaction.
pub(crate) async fn begin(store: &Store) -> Result<WriteTx, StoreError> {
    let mut tx = writing(store).await?;
    tx.execute(crate::begin_write(store.backend)).await?;
    Ok(tx)
}

/// A connection for writes each committed by itself, holding SQLite's
/// writer lock like [`begin`]'s. Every commit of this process then comes
/// from a holder of that lock, which the checkpointer's step under it
/// relies on (`group_commit.rs`). Settle it when its statements are done.
pub(crate) async fn writing(store: &Store) -> Result<WriteTx, StoreError> {
    let writer = match &store.writer {
        Some(group) => Some(group.lock().await),
        None => None,
    };
    let conn = store.pool.acquire().await?;
    Ok(WriteTx {
        conn: Some(conn),
        writer,
        group: store.writer.clone(),
        settled: false,
    })
}

/// Runs one statement committed by itself, under SQLite's writer lock
/// ([`writing`]).
pub(crate) async fn execute_alone<'q>(
    store: &Store,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
) -> Result<sqlx::any::AnyQueryResult, StoreError> {
    let mut tx = writing(store).await?;
    let done = query.execute(&mut *tx).await;
    tx.settle();
    Ok(done?)
}

/// Ends a transaction (begun with [`begin`], or on a connection of the
/// write path): commit on success, roll back otherwise.
pub(crate) async fn finish<T>(
    mut tx: WriteTx,
    outcome: Result<T, StoreError>,
) -> Result<T, StoreError> {
    let ended = match outcome {
        Ok(v) => tx
            .execute("COMMIT")
            .await
            .map(|_| v)
            .map_err(StoreError::from),
        Err(e) => {
            let _ = tx.execute("ROLLBACK").await;
            Err(e)
        }
    };
    tx.settle();
    ended
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::Role;
    use crate::testing::TestDb;

    /// A request cancelled inside a write transaction (a client hung up)
    /// drops it unfinished: the change is rolled back, the writer lock comes
    /// free, and the connection goes back to the pool outside any
    /// transaction. (Checked: without `WriteTx`'s `Drop`, the next write
    /// meets a connection still inside the transaction and fails.)
    #[tokio::test]
    async fn a_write_transaction_dropped_unfinished_is_rolled_back() {
        let db = TestDb::sqlite("dropped-tx").await;
        let store = db.open().await;
        store
            .add_user("amy", Role::Admin, &[], "a long enough password")
            .await
            .unwrap();
        {
            let mut tx = begin(&store).await.unwrap();
            sqlx::query("UPDATE users SET role = 'monitor' WHERE user_name = 'amy'")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        let writer = store.writer.as_ref().unwrap();
        let freed = tokio::time::timeout(std::time::Duration::from_secs(5), writer.lock()).await;
        drop(freed.expect("the writer lock comes free"));
        for _ in 0..3 {
            store
                .reset_password("amy", "another long password")
                .await
                .unwrap();
        }
        let role: String = sqlx::query_scalar("SELECT role FROM users WHERE user_name = 'amy'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(role, "admin");
        store.close().await;
    }
}
