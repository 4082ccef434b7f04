//! Writing decided changes: versions, current pointers, audit entries and
//! data queries of any number of changes in a handful of statements.
//!
//! sqlx's SQLite driver hands every statement to the connection's worker
//! thread and back; on our machines those two context switches cost more
//! than SQLite's own work on a row. Multi-row statements make the cost of a
//! group commit's writes independent of its size. The SQL is portable:
//! PostgreSQL runs the same statements for its single changes.

use sqlx::AnyConnection;

use crate::error::StoreError;
use crate::records::is_unique_violation;
use crate::write::Prepared;

/// Why writing failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A version is already taken or a current pointer moved on: another
    /// writer got there first.
    Race,
    /// Anything else the database said.
    Database(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        if is_unique_violation(&e) {
            Failure::Race
        } else {
            Failure::Database(e.into())
        }
    }
}

/// A value for a statement parameter.
#[derive(Clone, Copy)]
enum Param<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

use Param::{Int, Text};

fn text(s: &str) -> Param<'_> {
    Text(Some(s))
}

fn int(n: i64) -> Param<'static> {
    Int(Some(n))
}

/// A statement being built: SQL text with `$n` parameters and their values.
struct Statement<'a> {
    sql: String,
    params: Vec<Param<'a>>,
    rows: usize,
}

impl<'a> Statement<'a> {
    /// A statement starting with `sql`.
    fn sql(sql: &str) -> Self {
        Statement {
            sql: sql.to_owned(),
            params: Vec::new(),
            rows: 0,
        }
    }

    /// `INSERT INTO table (columns) VALUES `, rows to follow.
    fn insert(table: &str, columns: &str) -> Self {
        Self::sql(&format!("INSERT INTO {table} ({columns}) VALUES "))
    }

    /// Appends `$n` for a new parameter.
    fn param(&mut self, p: Param<'a>) -> &mut Self {
        self.params.push(p);
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    fn raw(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// Appends values: `$k, $k+1, …`.
    fn values(&mut self, values: &[Param<'a>]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.raw(", ");
            }
            self.param(*v);
        }
        self
    }

    /// Starts a row of values: `(` or `, (`.
    fn open_row(&mut self) -> &mut Self {
        self.rows += 1;
        self.raw(if self.rows == 1 { "(" } else { ", (" })
    }

    /// Appends one row of values: `($k, $k+1, …)`.
    fn row(&mut self, values: &[Param<'a>]) -> &mut Self {
        self.open_row().values(values).raw(")")
    }

    /// Runs the statement, returning the rows it touched. Built anew for
    /// each batch, so not kept among the connection's prepared statements.
    async fn run(self, conn: &mut AnyConnection) -> Result<u64, Failure> {
        let sql = if conn.backend_name() == "SQLite" {
            sqlite_placeholders(&self.sql)
        } else {
            self.sql
        };
        let mut q = sqlx::query(&sql).persistent(false);
        for p in self.params {
            q = match p {
                Text(t) => q.bind(t),
                Int(n) => q.bind(n),
            };
        }
        Ok(q.execute(conn).await?.rows_affected())
    }
}

/// `sql` for SQLite. SQLite takes `$n` for a *named* parameter and looks
/// each name up by a linear scan, when preparing and again when sqlx binds
/// (`sqlite3_bind_parameter_name`): quadratic in the parameters. Importing
/// in statements of 500 rows spent 60 % of its CPU there (a 10k-patient
/// bundle took 228 s, 28 s with `?`).
/// Parameters numbered in order of appearance, each used once, become
/// anonymous `?`, which SQLite numbers itself at no cost; any other
/// numbering is kept as `?n`.
fn sqlite_placeholders(sql: &str) -> String {
    let numbers = || {
        sql.split('$').skip(1).map(|after| {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            (after[..digits].parse::<usize>().ok(), &after[digits..])
        })
    };
    let in_order = numbers().enumerate().all(|(i, (n, _))| n == Some(i + 1));
    let mut out = String::with_capacity(sql.len());
    out.push_str(sql.split('$').next().unwrap_or_default());
    for (n, rest) in numbers() {
        match n {
            Some(_) if in_order => out.push('?'),
            Some(n) => {
                out.push('?');
                out.push_str(&n.to_string());
            }
            None => out.push('$'),
        }
        out.push_str(rest);
    }
    out
}

/// One new version of a record with its audit entry and the data queries
/// it closes and opens: what every write path (edits, imports, the
/// cut-off) appends.
#[derive(Debug, Clone)]
pub(crate) struct NewVersion {
    pub tbl: &'static str,
    pub key: String,
    /// 1 for a new record; otherwise one past the version the pointer must
    /// still hold.
    pub version: i64,
    pub patient_id: String,
    pub site_id: String,
    /// The cells as JSON.
    pub cells_json: String,
    pub retracted: bool,
    /// The audit trail's action: insert, update, retract, import, cutoff.
    pub action: &'static str,
    pub before_json: Option<String>,
    pub at_db: String,
    pub user: String,
    pub reason: Option<String>,
    /// The audit entry's detail.
    pub detail: Option<String>,
    /// A patient moved to another site: all of its records follow.
    pub site_moved: bool,
    /// Open data queries of the patient that the change resolves.
    pub closes: Vec<i64>,
    /// Warnings that become new data queries on the record.
    pub opens: Vec<String>,
}

impl AsRef<NewVersion> for NewVersion {
    fn as_ref(&self) -> &NewVersion {
        self
    }
}

impl AsRef<NewVersion> for Prepared {
    fn as_ref(&self) -> &NewVersion {
        &self.row
    }
}

/// Writes the changes, which touch distinct records. Every version insert
/// and pointer move must land; a pointer that is no longer at the version
/// a change was decided on is a [`Failure::Race`].
pub(crate) async fn write_changes<C: AsRef<NewVersion>>(
    conn: &mut AnyConnection,
    changes: &[C],
) -> Result<(), Failure> {
    if changes.is_empty() {
        return Ok(());
    }
    let changes: Vec<&NewVersion> = changes.iter().map(AsRef::as_ref).collect();
    let n = changes.len() as u64;

    let mut versions = Statement::insert(
        "record_versions",
        "tbl, record_key, version, patient_id, site_id, cells, retracted, recorded_at, recorded_by, reason",
    );
    for &c in &changes {
        versions.row(&[
            text(c.tbl),
            text(&c.key),
            int(c.version),
            text(&c.patient_id),
            text(&c.site_id),
            text(&c.cells_json),
            int(i64::from(c.retracted)),
            text(&c.at_db),
            text(&c.user),
            Text(c.reason.as_deref()),
        ]);
    }
    if versions.run(conn).await? != n {
        return Err(Failure::Race);
    }

    // Each pointer moves from the version the change was decided on; the
    // new version's seq is looked up by its unique key.
    let mut current = Statement::insert(
        "record_current",
        "tbl, record_key, version, seq, patient_id, site_id, retracted",
    );
    for &c in &changes {
        current
            .open_row()
            .values(&[text(c.tbl), text(&c.key), int(c.version)])
            .raw(", (SELECT seq FROM record_versions WHERE tbl = ")
            .param(text(c.tbl))
            .raw(" AND record_key = ")
            .param(text(&c.key))
            .raw(" AND version = ")
            .param(int(c.version))
            .raw("), ")
            .values(&[
                text(&c.patient_id),
                text(&c.site_id),
                int(i64::from(c.retracted)),
            ])
            .raw(")");
    }
    current.raw(
        " ON CONFLICT (tbl, record_key) DO UPDATE SET version = excluded.version, seq = excluded.seq,
          site_id = excluded.site_id, retracted = excluded.retracted
          WHERE record_current.version = excluded.version - 1",
    );
    if current.run(conn).await? != n {
        return Err(Failure::Race);
    }

    for c in changes.iter().filter(|c| c.site_moved) {
        // The patient's records and queries go with the patient: the old
        // site no longer sees them, the new one answers the queries.
        for table in ["record_current", "queries", "manual_queries"] {
            let mut moved = Statement::sql(&format!("UPDATE {table} SET site_id = "));
            moved
                .param(text(&c.site_id))
                .raw(" WHERE patient_id = ")
                .param(text(&c.patient_id));
            moved.run(conn).await?;
        }
    }

    let mut audit = Statement::insert(
        "audit",
        "at, user_name, action, tbl, record_key, version, before_cells, after_cells, reason, detail",
    );
    for &c in &changes {
        audit.row(&[
            text(&c.at_db),
            text(&c.user),
            text(c.action),
            text(c.tbl),
            text(&c.key),
            int(c.version),
            Text(c.before_json.as_deref()),
            Text((!c.retracted).then_some(c.cells_json.as_str())),
            Text(c.reason.as_deref()),
            Text(c.detail.as_deref()),
        ]);
    }
    audit.run(conn).await?;

    let closed: Vec<i64> = changes
        .iter()
        .flat_map(|c| c.closes.iter().copied())
        .collect();
    if !closed.is_empty() {
        let mut close = Statement::sql("UPDATE queries SET status = 'closed' WHERE seq IN ");
        let seqs: Vec<Param<'_>> = closed.iter().map(|&s| int(s)).collect();
        close.row(&seqs);
        close.run(conn).await?;
    }

    let mut opened = Statement::insert(
        "queries",
        "tbl, record_key, version, patient_id, site_id, check_code, message, status, raised_at",
    );
    for &c in &changes {
        for message in &c.opens {
            opened.row(&[
                text(c.tbl),
                text(&c.key),
                int(c.version),
                text(&c.patient_id),
                text(&c.site_id),
                text(check_code(message)),
                text(message),
                text("open"),
                text(&c.at_db),
            ]);
        }
    }
    if opened.rows > 0 {
        opened.run(conn).await?;
    }
    Ok(())
}

/// A warning of the edit checks as its data query reads: the file, the
/// message, the record, the check's code (which [`check_code`] reads back).
pub(crate) fn query_message(f: &trial::checks::Finding) -> String {
    format!("{}: {} ({}) [{}]", f.file, f.message, f.record, f.check)
}

/// Opens the data query of a warning found outside a record's change (an
/// import, a new cut-off), naming its record by the check's own label.
pub(crate) async fn raise_query(
    conn: &mut AnyConnection,
    f: &trial::checks::Finding,
    site: &str,
    at_db: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO queries (tbl, record_key, version, patient_id, site_id, check_code, message, status, raised_at)
         VALUES ($1, $2, 1, $3, $4, $5, $6, 'open', $7)",
    )
    .bind(f.file.strip_suffix(".csv").unwrap_or(f.file))
    .bind(&f.record)
    .bind(&f.patient)
    .bind(site)
    .bind(f.check)
    .bind(query_message(f))
    .bind(at_db)
    .execute(conn)
    .await?;
    Ok(())
}

/// The code of a check, from the end of its warning ("… [C07]").
fn check_code(warning: &str) -> &str {
    warning
        .rsplit('[')
        .next()
        .unwrap_or("")
        .trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::sqlite_placeholders;

    #[test]
    fn parameters_in_order_become_anonymous_for_sqlite() {
        assert_eq!(
            sqlite_placeholders("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
        // A parameter used twice keeps its number.
        assert_eq!(
            sqlite_placeholders("SELECT $1 WHERE x = $2 OR y = $1"),
            "SELECT ?1 WHERE x = ?2 OR y = ?1"
        );
        assert_eq!(sqlite_placeholders("SELECT 1"), "SELECT 1");
    }
}
