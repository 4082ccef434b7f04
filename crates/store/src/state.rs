//! The trial-wide state: the bundle manifest (cut-off, protocol) stored as
//! a versioned record like any other, so an as-of analysis uses the cut-off
//! and protocol of its day; the database lock; and the audit trail writer.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use trial::{Date, Protocol};

use crate::Store;
use crate::access::{Actor, Role};
use crate::apply::{Failure, NewVersion, write_changes};
use crate::clock::Instant;
use crate::error::StoreError;
use crate::records::{begin, finish, parse_cells};

/// Pseudo-table of the manifest record: cells are the text of
/// `bundle.toml`, the protocol file's name (empty for the shipped protocol)
/// and its text.
pub(crate) const MANIFEST: &str = "bundle";

/// The lock and the manifest, as `GET /api/state` shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialState {
    /// Whether edits are refused.
    pub locked: bool,
    /// Data cut-off.
    pub cutoff: Option<String>,
    /// Protocol name and version.
    pub protocol: Option<String>,
}

/// `bundle.toml`, as the store needs it.
#[derive(serde::Deserialize)]
struct Manifest {
    cutoff: String,
}

/// Parses the manifest cells into the cut-off and protocol, remembering the
/// last one: every write needs it, and it changes once in a trial's life.
pub(crate) fn parse_manifest(cells: &[String]) -> Result<(Date, Protocol), StoreError> {
    type Parsed = (Vec<String>, (Date, Protocol));
    static LAST: std::sync::Mutex<Option<Parsed>> = std::sync::Mutex::new(None);
    if let Some((text, parsed)) = LAST.lock().expect("not poisoned").as_ref()
        && text.as_slice() == cells
    {
        return Ok(parsed.clone());
    }
    let parsed = parse_manifest_text(cells)?;
    *LAST.lock().expect("not poisoned") = Some((cells.to_vec(), parsed.clone()));
    Ok(parsed)
}

fn parse_manifest_text(cells: &[String]) -> Result<(Date, Protocol), StoreError> {
    let bad = |e: String| StoreError::Database(format!("stored bundle.toml: {e}"));
    let m: Manifest =
        toml::from_str(cells.first().map_or("", String::as_str)).map_err(|e| bad(e.to_string()))?;
    let cutoff = m.cutoff.parse::<Date>().map_err(|e| bad(e.to_string()))?;
    let protocol = match cells.get(2).filter(|t| !t.is_empty()) {
        Some(text) => Protocol::from_toml(text).map_err(|e| bad(e.to_string()))?,
        None => Protocol::default(),
    };
    Ok((cutoff, protocol))
}

/// The current cut-off and protocol.
pub(crate) async fn manifest_in(conn: &mut AnyConnection) -> Result<(Date, Protocol), StoreError> {
    let row = sqlx::query(
        "SELECT v.cells FROM record_current c JOIN record_versions v ON v.seq = c.seq
         WHERE c.tbl = $1 AND c.record_key = 'manifest'",
    )
    .bind(MANIFEST)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::Invalid(vec![crate::error::FieldError {
            field: None,
            rule: "the database has no trial yet: import a bundle first (isatrial import BUNDLE --db URL)".into(),
        }]));
    };
    parse_manifest(&parse_cells(&row.get::<String, _>(0))?)
}

/// Refuses when the database is locked.
pub(crate) async fn refuse_if_locked(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let locked: Option<i64> = sqlx::query_scalar("SELECT locked FROM trial_state WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    if locked == Some(1) {
        return Err(StoreError::Locked(
            "a data manager must unlock it, with a reason, before any change".into(),
        ));
    }
    Ok(())
}

/// Appends one entry to the audit trail.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit(
    conn: &mut AnyConnection,
    at: &Instant,
    user: &str,
    action: &str,
    record: Option<(&str, &str, i64)>,
    before: Option<String>,
    after: Option<String>,
    reason: Option<&str>,
    detail: Option<String>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (at, user_name, action, tbl, record_key, version, before_cells, after_cells, reason, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(at.to_db())
    .bind(user)
    .bind(action)
    .bind(record.map(|r| r.0))
    .bind(record.map(|r| r.1))
    .bind(record.map(|r| r.2))
    .bind(before)
    .bind(after)
    .bind(reason)
    .bind(detail)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Locks (or unlocks) the database for analysis; only a data manager or
    /// admin may, and always with a reason.
    pub async fn set_lock(
        &self,
        actor: &Actor,
        locked: bool,
        reason: &str,
    ) -> Result<(), StoreError> {
        if !matches!(actor.role, Role::DataManager | Role::Admin) {
            return Err(StoreError::Forbidden(
                "only a data manager locks or unlocks the database".into(),
            ));
        }
        let reason = reason.trim();
        if !reason.chars().any(crate::write::visible) {
            return Err(StoreError::ReasonRequired);
        }
        if reason.contains('\0') {
            return Err(StoreError::field("reason", "contains a NUL character"));
        }
        let conn = begin(self).await?;
        let mut conn = conn;
        let outcome = async {
            // On PostgreSQL the changes in flight hold the state's row
            // shared until they commit (write.rs): the lock waits for them,
            // and its instant comes after theirs, so the data as of the
            // lock are the locked data.
            if self.backend == crate::Backend::Postgres {
                sqlx::query("SELECT locked FROM trial_state WHERE id = 1 FOR UPDATE")
                    .execute(&mut *conn)
                    .await?;
            }
            let at = Instant::now();
            let updated = sqlx::query("UPDATE trial_state SET locked = $1, changed_at = $2, changed_by = $3 WHERE id = 1")
                .bind(i64::from(locked))
                .bind(at.to_db())
                .bind(&actor.user)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if updated == 0 {
                sqlx::query("INSERT INTO trial_state (id, locked, manifest, changed_at, changed_by) VALUES (1, $1, '', $2, $3)")
                    .bind(i64::from(locked))
                    .bind(at.to_db())
                    .bind(&actor.user)
                    .execute(&mut *conn)
                    .await?;
            }
            audit(&mut conn, &at, &actor.user, if locked { "lock" } else { "unlock" }, None, None, None, Some(reason), None).await
        }
        .await;
        finish(conn, outcome).await
    }

    /// Sets the data cut-off (a data manager, with a reason): a new version
    /// of the manifest, so an analysis as of an earlier instant keeps the
    /// cut-off it had.
    pub async fn set_cutoff(
        &self,
        actor: &Actor,
        cutoff: Date,
        reason: &str,
    ) -> Result<(), StoreError> {
        if !matches!(actor.role, Role::DataManager | Role::Admin) {
            return Err(StoreError::Forbidden(
                "only a data manager sets the data cut-off".into(),
            ));
        }
        // A cut-off is a day whose data are in: one still to come would
        // make an analysis change as records arrive.
        let today = Instant::now().date();
        if cutoff > today {
            return Err(StoreError::field(
                "cutoff",
                format!("{cutoff} is after today ({today}); a cut-off is a day already past"),
            ));
        }
        let reason = reason.trim();
        if !reason.chars().any(crate::write::visible) {
            return Err(StoreError::ReasonRequired);
        }
        if reason.contains('\0') {
            return Err(StoreError::field("reason", "contains a NUL character"));
        }
        let mut conn = begin(self).await?;
        let outcome = async {
            refuse_if_locked(&mut conn).await?;
            let row = sqlx::query(
                "SELECT c.version, c.seq, v.cells, v.recorded_at FROM record_current c JOIN record_versions v ON v.seq = c.seq
                 WHERE c.tbl = $1 AND c.record_key = 'manifest'",
            )
            .bind(MANIFEST)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::field("cutoff", "the database has no trial yet: import a bundle first"))?;
            let (version, before): (i64, String) = (row.get(0), row.get(2));
            let mut cells = parse_cells(&before)?;
            let mut manifest: toml::Table = toml::from_str(&cells[0]).map_err(|e| StoreError::Database(e.to_string()))?;
            manifest.insert("cutoff".into(), toml::Value::String(cutoff.to_string()));
            cells[0] = toml::to_string(&manifest).map_err(|e| StoreError::Database(e.to_string()))?;
            let after = serde_json::to_string(&cells).expect("strings serialize");
            let mut at = Instant::now();
            if let Ok(prev) = row.get::<String, _>(3).parse::<Instant>()
                && at <= prev
            {
                at = prev.plus_micros(1);
            }
            let new = NewVersion {
                tbl: MANIFEST,
                key: "manifest".into(),
                version: version + 1,
                patient_id: String::new(),
                site_id: String::new(),
                cells_json: after,
                retracted: false,
                action: "cutoff",
                before_json: Some(before),
                at_db: at.to_db(),
                user: actor.user.clone(),
                reason: Some(reason.to_owned()),
                detail: Some(cutoff.to_string()),
                site_moved: false,
                closes: Vec::new(),
                opens: Vec::new(),
            };
            write_changes(&mut conn, &[new]).await.map_err(|f| match f {
                Failure::Race => StoreError::Conflict { expected: version, current: version + 1 },
                Failure::Database(e) => e,
            })
        }
        .await;
        finish(conn, outcome).await?;
        self.refresh_after_cutoff_queries().await
    }

    /// Raises again the queries that depend on the cut-off (records dated
    /// after it): the edit path raises a patient's queries only when one
    /// of the patient's records changes, so a new cut-off would leave them
    /// naming the old one, or missing.
    async fn refresh_after_cutoff_queries(&self) -> Result<(), StoreError> {
        const CHECK: &str = "after_cutoff";
        let data = self.dataset(&Actor::system("cutoff"), None).await?;
        let findings: Vec<_> = trial::checks::check(&data)
            .into_iter()
            .filter(|f| f.check == CHECK)
            .collect();
        let sites: std::collections::HashMap<&str, &str> = data
            .patients
            .iter()
            .map(|p| (p.id.as_str(), p.site.as_str()))
            .collect();
        let mut conn = begin(self).await?;
        let outcome = async {
            sqlx::query(
                "UPDATE queries SET status = 'closed' WHERE status = 'open' AND check_code = $1",
            )
            .bind(CHECK)
            .execute(&mut *conn)
            .await?;
            let at = Instant::now().to_db();
            for f in &findings {
                let site = sites.get(f.patient.as_str()).copied().unwrap_or_default();
                crate::apply::raise_query(&mut conn, f, site, &at).await?;
            }
            Ok(())
        }
        .await;
        finish(conn, outcome).await
    }

    /// The lock, cut-off and protocol.
    pub async fn state(&self) -> Result<TrialState, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar("SELECT locked FROM trial_state WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
        let manifest = manifest_in(&mut conn).await.ok();
        Ok(TrialState {
            locked: locked == Some(1),
            cutoff: manifest.as_ref().map(|(c, _)| c.to_string()),
            protocol: manifest.map(|(_, p)| format!("{} {}", p.name, p.version)),
        })
    }

    /// The audit trail, newest last; of one record when given.
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        record: Option<(&str, &str)>,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        if actor.pseudonymized() {
            return Err(StoreError::Forbidden(
                "the audit trail names patients; statisticians see pseudonyms only".into(),
            ));
        }
        if !matches!(actor.role, Role::DataManager | Role::Admin | Role::Monitor)
            && record.is_none()
        {
            return Err(StoreError::Forbidden(
                "the whole audit trail is for data managers, monitors and admins".into(),
            ));
        }
        let (tbl, key) = record.unwrap_or(("", ""));
        // No key holds NUL, and PostgreSQL refuses it in a query.
        if tbl.contains('\0') || key.contains('\0') {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT a.at, a.user_name, a.action, a.tbl, a.record_key, a.version, a.before_cells, a.after_cells, a.reason, a.detail,
                    (SELECT c.site_id FROM record_current c WHERE c.tbl = a.tbl AND c.record_key = a.record_key)
             FROM audit a WHERE ($1 = '' OR (a.tbl = $1 AND a.record_key = $2)) ORDER BY a.seq",
        )
        .bind(tbl)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            // Entries of no record (logins, users, lock) are the trial's
            // administration: a monitor, who reads some sites, sees only
            // their sites' records.
            .filter(|r| match r.get::<Option<String>, _>(10) {
                Some(site) => actor.reads(&site),
                None => actor.role != Role::Monitor,
            })
            .map(|r| {
                serde_json::json!({
                    "at": r.get::<String, _>(0), "user": r.get::<String, _>(1), "action": r.get::<String, _>(2),
                    "table": r.get::<Option<String>, _>(3), "key": r.get::<Option<String>, _>(4),
                    "version": r.get::<Option<i64>, _>(5),
                    "before": r.get::<Option<String>, _>(6).and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()),
                    "after": r.get::<Option<String>, _>(7).and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()),
                    "reason": r.get::<Option<String>, _>(8), "detail": r.get::<Option<String>, _>(9),
                })
            })
            .collect())
    }
}
