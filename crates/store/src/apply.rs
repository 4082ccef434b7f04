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
use crate::records::{is_unique_violation, stem};
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
enum Param<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
}

/// A statement being built: SQL text with `$n` parameters and their values.
#[derive(Default)]
struct Statement<'a> {
    sql: String,
    params: Vec<Param<'a>>,
}

impl<'a> Statement<'a> {
    fn new(sql: &str) -> Self {
        Statement {
            sql: sql.to_owned(),
            params: Vec::new(),
        }
    }

    /// Appends `$n` for a new parameter.
    fn param(&mut self, p: Param<'a>) -> &mut Self {
        self.params.push(p);
        self.sql.push('$');
        self.sql.push_str(&self.params.len().to_string());
        self
    }

    fn text(&mut self, s: &'a str) -> &mut Self {
        self.param(Param::Text(Some(s)))
    }

    fn opt_text(&mut self, s: Option<&'a str>) -> &mut Self {
        self.param(Param::Text(s))
    }

    fn int(&mut self, n: i64) -> &mut Self {
        self.param(Param::Int(Some(n)))
    }

    fn raw(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// Runs the statement, returning the rows it touched. Built anew for
    /// each batch, so not kept among the connection's prepared statements.
    async fn run(self, conn: &mut AnyConnection) -> Result<u64, Failure> {
        let mut q = sqlx::query(&self.sql).persistent(false);
        for p in self.params {
            q = match p {
                Param::Text(t) => q.bind(t),
                Param::Int(n) => q.bind(n),
            };
        }
        Ok(q.execute(conn).await?.rows_affected())
    }
}

/// Writes the changes, which touch distinct records. Every version insert
/// and pointer move must land; a pointer that is no longer at the version
/// a change was decided on is a [`Failure::Race`].
pub(crate) async fn write_changes(
    conn: &mut AnyConnection,
    changes: &[Prepared],
) -> Result<(), Failure> {
    if changes.is_empty() {
        return Ok(());
    }
    let n = changes.len() as u64;

    let mut versions = Statement::new(
        "INSERT INTO record_versions (tbl, record_key, version, patient_id, site_id, cells, retracted, recorded_at, recorded_by, reason) VALUES ",
    );
    for (i, c) in changes.iter().enumerate() {
        versions.raw(if i == 0 { "(" } else { ", (" });
        versions
            .text(stem(c.spec))
            .raw(", ")
            .text(&c.key)
            .raw(", ")
            .int(c.version)
            .raw(", ")
            .text(&c.patient_id)
            .raw(", ")
            .text(&c.site_id)
            .raw(", ")
            .text(&c.cells_json)
            .raw(", ")
            .int(i64::from(c.retracted))
            .raw(", ")
            .text(&c.at_db)
            .raw(", ")
            .text(&c.user)
            .raw(", ")
            .opt_text(c.reason.as_deref())
            .raw(")");
    }
    if versions.run(conn).await? != n {
        return Err(Failure::Race);
    }

    // Each pointer moves from the version the change was decided on; the
    // new version's seq is looked up by its unique key.
    let mut current = Statement::new(
        "INSERT INTO record_current (tbl, record_key, version, seq, patient_id, site_id, retracted) VALUES ",
    );
    for (i, c) in changes.iter().enumerate() {
        current.raw(if i == 0 { "(" } else { ", (" });
        let tbl = current.params.len() + 1;
        current
            .text(stem(c.spec))
            .raw(", ")
            .text(&c.key)
            .raw(", ")
            .int(c.version)
            .raw(&format!(
                ", (SELECT seq FROM record_versions WHERE tbl = ${tbl} AND record_key = ${} AND version = ${}), ",
                tbl + 1,
                tbl + 2
            ))
            .text(&c.patient_id)
            .raw(", ")
            .text(&c.site_id)
            .raw(", ")
            .int(i64::from(c.retracted))
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
        let mut moved = Statement::new("UPDATE record_current SET site_id = ");
        moved
            .text(&c.site_id)
            .raw(" WHERE patient_id = ")
            .text(&c.patient_id);
        moved.run(conn).await?;
    }

    let mut audit = Statement::new(
        "INSERT INTO audit (at, user_name, action, tbl, record_key, version, before_cells, after_cells, reason, detail) VALUES ",
    );
    for (i, c) in changes.iter().enumerate() {
        audit.raw(if i == 0 { "(" } else { ", (" });
        audit
            .text(&c.at_db)
            .raw(", ")
            .text(&c.user)
            .raw(", ")
            .text(c.action)
            .raw(", ")
            .text(stem(c.spec))
            .raw(", ")
            .text(&c.key)
            .raw(", ")
            .int(c.version)
            .raw(", ")
            .opt_text(c.before_json.as_deref())
            .raw(", ")
            .opt_text((!c.retracted).then_some(c.cells_json.as_str()))
            .raw(", ")
            .opt_text(c.reason.as_deref())
            .raw(", ")
            .opt_text(c.detail.as_deref())
            .raw(")");
    }
    audit.run(conn).await?;

    let closed: Vec<i64> = changes
        .iter()
        .flat_map(|c| c.closes.iter().copied())
        .collect();
    if !closed.is_empty() {
        let mut close = Statement::new("UPDATE queries SET status = 'closed' WHERE seq IN (");
        for (i, seq) in closed.iter().enumerate() {
            close.raw(if i == 0 { "" } else { ", " }).int(*seq);
        }
        close.raw(")");
        close.run(conn).await?;
    }

    let mut opened = Statement::new(
        "INSERT INTO queries (tbl, record_key, version, patient_id, site_id, check_code, message, status, raised_at) VALUES ",
    );
    let mut any = false;
    for c in changes {
        for message in &c.opens {
            opened.raw(if any { ", (" } else { "(" });
            any = true;
            opened
                .text(stem(c.spec))
                .raw(", ")
                .text(&c.key)
                .raw(", ")
                .int(c.version)
                .raw(", ")
                .text(&c.patient_id)
                .raw(", ")
                .text(&c.site_id)
                .raw(", ")
                .text(check_code(message))
                .raw(", ")
                .text(message)
                .raw(", 'open', ")
                .text(&c.at_db)
                .raw(")");
        }
    }
    if any {
        opened.run(conn).await?;
    }
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
