//! Data queries raised by hand, the monitor's way of asking a site about a
//! record: raised on a record (or one of its fields) by a monitor or data
//! manager, answered by the site's staff, then closed or reopened by the
//! monitor or data manager. The edit checks' queries (`apply.rs`) open and
//! close with the data; these only by someone's step, each a message of
//! the query's thread with who, when and what, never changed or deleted.

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use trial::bundle::FileSpec;

use crate::records::{begin, finish};
use crate::state::{audit, refuse_if_locked};
use crate::write::{hold_patient, hold_trial_state};
use crate::{Actor, Instant, Role, Store, StoreError, stem, table};

/// The longest message a step takes, in characters: a page of text.
pub const MESSAGE_MAX: usize = 4000;

/// Where a query raised by hand stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryStatus {
    /// Waiting for the site.
    Open,
    /// The site answered; waiting for the monitor.
    Answered,
    /// Settled; takes no more steps.
    Closed,
}

impl QueryStatus {
    /// As stored and given in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Open => "open",
            QueryStatus::Answered => "answered",
            QueryStatus::Closed => "closed",
        }
    }

    /// Reads a stored or requested status.
    pub fn parse(s: &str) -> Option<QueryStatus> {
        [
            QueryStatus::Open,
            QueryStatus::Answered,
            QueryStatus::Closed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

/// A step of a query's thread after it was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryStep {
    /// The site answers an open query.
    Answer,
    /// The monitor or data manager finds the answer short: open again.
    Reopen,
    /// The monitor or data manager settles the query.
    Close,
}

impl QueryStep {
    /// As typed in the API's path and stored in the thread.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStep::Answer => "answer",
            QueryStep::Reopen => "reopen",
            QueryStep::Close => "close",
        }
    }

    /// Reads a step's name.
    pub fn parse(s: &str) -> Option<QueryStep> {
        [QueryStep::Answer, QueryStep::Reopen, QueryStep::Close]
            .into_iter()
            .find(|step| step.as_str() == s)
    }

    /// The status the step leads to from `status`, when `role` may take
    /// it; otherwise why not, and whether for the role (403) or for the
    /// query's state (422).
    pub fn next(self, role: Role, status: QueryStatus) -> Result<QueryStatus, StoreError> {
        let asks = role.raises_queries();
        let answers = role.is_site_staff() || role == Role::Admin;
        match (self, status) {
            (_, QueryStatus::Closed) => Err(StoreError::field("step", "the query is closed")),
            (QueryStep::Answer, _) if !answers => Err(StoreError::Forbidden(
                "only the site's staff (or an administrator) answer a query".into(),
            )),
            (QueryStep::Answer, QueryStatus::Open) => Ok(QueryStatus::Answered),
            (QueryStep::Answer, _) => Err(StoreError::field(
                "step",
                "the query is answered already; the monitor reopens it if more is needed",
            )),
            (QueryStep::Reopen | QueryStep::Close, _) if !asks => {
                Err(StoreError::Forbidden(format!(
                    "only a monitor or data manager may {} a query",
                    self.as_str()
                )))
            }
            (QueryStep::Reopen, QueryStatus::Answered) => Ok(QueryStatus::Open),
            (QueryStep::Reopen, _) => Err(StoreError::field(
                "step",
                "only an answered query is reopened; this one waits for the site",
            )),
            (QueryStep::Close, _) => Ok(QueryStatus::Closed),
        }
    }
}

/// One message of a query's thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryMessage {
    /// When, as stored (UTC, microseconds).
    pub at: String,
    /// Who.
    pub user: String,
    /// Their role then.
    pub role: String,
    /// `raise`, `answer`, `reopen` or `close`.
    pub step: String,
    /// What they wrote.
    pub text: String,
}

/// A query raised by hand, with its whole thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualQuery {
    /// Its number, which the API's and the pages' addresses use.
    pub id: i64,
    /// The record's table (`adverse_events`).
    pub table: String,
    /// The record's key.
    pub key: String,
    /// The field asked about, if one.
    pub field: Option<String>,
    /// The record's version when the query was raised.
    pub version: i64,
    /// The patient.
    pub patient_id: String,
    /// The patient's site, which answers.
    pub site_id: String,
    /// Where it stands.
    pub status: QueryStatus,
    /// Who raised it.
    pub raised_by: String,
    /// When.
    pub raised_at: String,
    /// The record's version now: later than `version` when it changed
    /// since the query was raised.
    pub record_version: i64,
    /// The record was retracted since.
    pub record_retracted: bool,
    /// Every step, oldest first; the first raises it.
    pub messages: Vec<QueryMessage>,
}

/// Which queries a list holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryFilter<'a> {
    /// Only this patient's.
    pub patient_id: Option<&'a str>,
    /// Only those on this record (table, key).
    pub record: Option<(&'a str, &'a str)>,
    /// Only those in this status; every status when `None`.
    pub status: Option<QueryStatus>,
    /// Only those not closed: waiting on the site or the monitor.
    pub waiting: bool,
}

/// A message's text, trimmed, its line breaks as `\n` whatever the
/// browser sent (a form sends `\r\n`), or the rule it breaks.
fn message(text: &str) -> Result<String, StoreError> {
    let text = text.trim().replace("\r\n", "\n");
    if !text.chars().any(crate::write::visible) {
        return Err(StoreError::field("text", "a query's message is required"));
    }
    if text.contains('\0') {
        return Err(StoreError::field("text", "contains a NUL character"));
    }
    if let Some(c) = text
        .chars()
        .find(|&c| crate::write::control_or_direction(c))
    {
        return Err(StoreError::field(
            "text",
            format!(
                "contains U+{:04X}, a control, direction or invisible character: only visible text, spaces, tabs and line breaks",
                u32::from(c)
            ),
        ));
    }
    let length = text.chars().count();
    if length > MESSAGE_MAX {
        return Err(StoreError::field(
            "text",
            format!("at most {MESSAGE_MAX} characters, got {length}"),
        ));
    }
    Ok(text)
}

/// Statisticians see pseudonyms; a free-text thread about a patient is not
/// theirs to read.
fn refuse_pseudonymized(actor: &Actor) -> Result<(), StoreError> {
    if actor.pseudonymized() {
        return Err(StoreError::Forbidden(STATISTICIANS.into()));
    }
    Ok(())
}

/// Why a statistician reads no query.
pub const STATISTICIANS: &str = "statisticians read no data query: their free text names patients";

/// No key or patient id holds NUL, and PostgreSQL refuses it in a query.
fn no_nul(s: &str) -> Result<(), StoreError> {
    if s.contains('\0') {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

impl Store {
    /// Raises a query on a current record the actor reads, optionally on
    /// one of its fields.
    pub async fn raise_manual_query(
        &self,
        actor: &Actor,
        spec: &'static FileSpec,
        key: &str,
        field: Option<&str>,
        text: &str,
    ) -> Result<ManualQuery, StoreError> {
        refuse_pseudonymized(actor)?;
        no_nul(key)?;
        let mut refused = Vec::new();
        if let Some(f) = field
            && !spec.columns.iter().any(|(c, _)| c == &f)
        {
            refused.push(crate::FieldError {
                field: Some("field".into()),
                rule: format!("{f:?} is not a field of {}", stem(spec)),
            });
        }
        let text = match message(text) {
            Ok(text) => text,
            Err(StoreError::Invalid(mut e)) => {
                refused.append(&mut e);
                String::new()
            }
            Err(e) => return Err(e),
        };
        let mut tx = begin(self).await?;
        let outcome = async {
            if self.backend == crate::Backend::Postgres {
                // As a change of a record does (write.rs): a change of the
                // patient in flight, a move to another site or a
                // retraction, commits before the record is read here, and
                // two raises of one patient's records go one after the
                // other.
                hold_trial_state(&mut tx).await?;
                hold_patient(&mut tx, None, (stem(spec), key)).await?;
            }
            let row = sqlx::query(
                "SELECT patient_id, site_id, version, retracted FROM record_current WHERE tbl = $1 AND record_key = $2",
            )
            .bind(stem(spec))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            let (patient, site, version) =
                (row.get::<String, _>(0), row.get::<String, _>(1), row.get::<i64, _>(2));
            if row.get::<i64, _>(3) != 0 || !actor.reads(&site) {
                return Err(StoreError::NotFound);
            }
            if !actor.role.raises_queries() {
                return Err(StoreError::Forbidden(
                    "only a monitor, data manager or administrator raises a query".into(),
                ));
            }
            if !refused.is_empty() {
                return Err(StoreError::Invalid(refused));
            }
            refuse_if_locked(&mut tx).await?;
            // A form sent twice (a double click, a reload) raises one query.
            let same: Option<i64> = sqlx::query_scalar(
                "SELECT q.id FROM manual_queries q JOIN manual_query_messages m ON m.query_id = q.id AND m.step = 'raise'
                 WHERE q.tbl = $1 AND q.record_key = $2 AND q.status <> 'closed' AND q.raised_by = $3
                   AND COALESCE(q.field, '') = $4 AND m.body = $5",
            )
            .bind(stem(spec))
            .bind(key)
            .bind(&actor.user)
            .bind(field.unwrap_or(""))
            .bind(&text)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(same) = same {
                return Err(StoreError::field(
                    "text",
                    format!("you raised this query already: it is query {same}, still waiting"),
                ));
            }
            let at = Instant::now();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO manual_queries (tbl, record_key, field, version, patient_id, site_id, status, raised_by, raised_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8) RETURNING id",
            )
            .bind(stem(spec))
            .bind(key)
            .bind(field)
            .bind(version)
            .bind(&patient)
            .bind(&site)
            .bind(&actor.user)
            .bind(at.to_db())
            .fetch_one(&mut *tx)
            .await?;
            add_message(&mut tx, id, &at, actor, "raise", &text).await?;
            audit(
                &mut tx,
                &at,
                &actor.user,
                "query_raise",
                Some((stem(spec), key, version)),
                None,
                None,
                Some(&text),
                Some(match field {
                    Some(f) => format!("query {id} on {f}"),
                    None => format!("query {id}"),
                }),
            )
            .await?;
            Ok(id)
        }
        .await;
        let id = finish(tx, outcome).await?;
        self.manual_query(actor, id).await
    }

    /// Takes a step of a query's thread: the site answers, the monitor or
    /// data manager reopens or closes.
    pub async fn step_manual_query(
        &self,
        actor: &Actor,
        id: i64,
        step: QueryStep,
        text: &str,
    ) -> Result<ManualQuery, StoreError> {
        refuse_pseudonymized(actor)?;
        let mut tx = begin(self).await?;
        let outcome = async {
            // The query's row, exclusive, after the trial state's: two steps
            // of one query are decided one after the other.
            let lock = if self.backend == crate::Backend::Postgres {
                hold_trial_state(&mut tx).await?;
                " FOR UPDATE"
            } else {
                ""
            };
            let row = sqlx::query(&format!(
                "SELECT tbl, record_key, version, site_id, status FROM manual_queries WHERE id = $1{lock}"
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            if !actor.reads(&row.get::<String, _>(3)) {
                return Err(StoreError::NotFound);
            }
            let status = stored_status(&row.get::<String, _>(4))?;
            let next = step.next(actor.role, status);
            let text = message(text);
            let (next, text) = match (next, text) {
                (Ok(next), Ok(text)) => (next, text),
                (Err(StoreError::Invalid(mut a)), Err(StoreError::Invalid(mut b))) => {
                    a.append(&mut b);
                    return Err(StoreError::Invalid(a));
                }
                (Err(e), _) | (_, Err(e)) => return Err(e),
            };
            refuse_if_locked(&mut tx).await?;
            let at = Instant::now();
            sqlx::query("UPDATE manual_queries SET status = $1 WHERE id = $2")
                .bind(next.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            add_message(&mut tx, id, &at, actor, step.as_str(), &text).await?;
            let (tbl, key) = (row.get::<String, _>(0), row.get::<String, _>(1));
            audit(
                &mut tx,
                &at,
                &actor.user,
                &format!("query_{}", step.as_str()),
                Some((&tbl, &key, row.get::<i64, _>(2))),
                None,
                None,
                Some(&text),
                Some(format!("query {id}: {} → {}", status.as_str(), next.as_str())),
            )
            .await
        }
        .await;
        finish(tx, outcome).await?;
        self.manual_query(actor, id).await
    }

    /// One query with its thread, if the actor reads its site.
    pub async fn manual_query(&self, actor: &Actor, id: i64) -> Result<ManualQuery, StoreError> {
        refuse_pseudonymized(actor)?;
        let found = self
            .select_manual_queries("WHERE q.id = $1", &[Param::Int(id)])
            .await?;
        found
            .into_iter()
            .find(|q| actor.reads(&q.site_id))
            .ok_or(StoreError::NotFound)
    }

    /// The queries raised by hand on the sites the actor reads, oldest
    /// first.
    pub async fn manual_queries(
        &self,
        actor: &Actor,
        filter: QueryFilter<'_>,
    ) -> Result<Vec<ManualQuery>, StoreError> {
        refuse_pseudonymized(actor)?;
        let named = [filter.patient_id, filter.record.map(|r| r.1)];
        if named.into_iter().flatten().any(|s| no_nul(s).is_err()) {
            return Ok(Vec::new());
        }
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(patient) = filter.patient_id {
            params.push(Param::Text(patient));
            conditions.push(format!("q.patient_id = ${}", params.len()));
        }
        if let Some((tbl, key)) = filter.record {
            let tbl: &str = match table(tbl) {
                Some(spec) => stem(spec),
                None => tbl,
            };
            params.push(Param::Text(tbl));
            conditions.push(format!("q.tbl = ${}", params.len()));
            params.push(Param::Text(key));
            conditions.push(format!("q.record_key = ${}", params.len()));
        }
        if let Some(status) = filter.status {
            params.push(Param::Text(status.as_str()));
            conditions.push(format!("q.status = ${}", params.len()));
        }
        if filter.waiting {
            conditions.push("q.status <> 'closed'".into());
        }
        conditions.extend(crate::access::sites_condition(actor, "q.site_id"));
        let clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        // The actor's sites are a condition of the SQL above.
        self.select_manual_queries(&clause, &params).await
    }

    /// How many queries raised by hand wait (not closed) on each patient
    /// of the actor's sites, counted in the database: the patient list's
    /// column, without reading every thread.
    pub async fn waiting_query_counts(
        &self,
        actor: &Actor,
    ) -> Result<std::collections::HashMap<String, usize>, StoreError> {
        refuse_pseudonymized(actor)?;
        let sites = crate::access::sites_condition(actor, "site_id")
            .map_or(String::new(), |c| format!("AND {c}"));
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT patient_id, COUNT(*) FROM manual_queries WHERE status <> 'closed' {sites} GROUP BY patient_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(patient, n)| (patient, n as usize))
            .collect())
    }

    async fn select_manual_queries(
        &self,
        clause: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<ManualQuery>, StoreError> {
        let sql = format!(
            "SELECT q.id, q.tbl, q.record_key, q.field, q.version, q.patient_id, q.site_id, q.status, q.raised_by, q.raised_at,
                    m.at, m.user_name, m.role, m.step, m.body, c.version, c.retracted
             FROM manual_queries q JOIN manual_query_messages m ON m.query_id = q.id
             JOIN record_current c ON c.tbl = q.tbl AND c.record_key = q.record_key
             {clause} ORDER BY q.id, m.seq"
        );
        let mut query = sqlx::query(&sql);
        for p in params {
            query = match *p {
                Param::Int(i) => query.bind(i),
                Param::Text(t) => query.bind(t),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut out: Vec<ManualQuery> = Vec::new();
        for r in rows {
            let id: i64 = r.get(0);
            if out.last().is_none_or(|q| q.id != id) {
                out.push(ManualQuery {
                    id,
                    table: r.get(1),
                    key: r.get(2),
                    field: r.get(3),
                    version: r.get(4),
                    patient_id: r.get(5),
                    site_id: r.get(6),
                    status: stored_status(&r.get::<String, _>(7))?,
                    raised_by: r.get(8),
                    raised_at: r.get(9),
                    record_version: r.get(15),
                    record_retracted: r.get::<i64, _>(16) != 0,
                    messages: Vec::new(),
                });
            }
            if let Some(q) = out.last_mut() {
                q.messages.push(QueryMessage {
                    at: r.get(10),
                    user: r.get(11),
                    role: r.get(12),
                    step: r.get(13),
                    text: r.get(14),
                });
            }
        }
        Ok(out)
    }
}

/// A bound value of a list's conditions.
enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

fn stored_status(s: &str) -> Result<QueryStatus, StoreError> {
    QueryStatus::parse(s)
        .ok_or_else(|| StoreError::Database(format!("a query's stored status {s:?} is unknown")))
}

async fn add_message(
    conn: &mut AnyConnection,
    id: i64,
    at: &Instant,
    actor: &Actor,
    step: &str,
    text: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO manual_query_messages (query_id, at, user_name, role, step, body) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(at.to_db())
    .bind(&actor.user)
    .bind(actor.role.as_str())
    .bind(step)
    .bind(text)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Who may take which step from where: the whole table.
    #[test]
    fn each_step_is_for_its_roles_and_states() {
        use QueryStatus::*;
        use QueryStep::*;
        let allowed = |step: QueryStep, role: Role, status| step.next(role, status).ok();
        for role in [Role::Investigator, Role::StudyNurse, Role::Admin] {
            assert_eq!(allowed(Answer, role, Open), Some(Answered));
            assert_eq!(allowed(Answer, role, Answered), None);
        }
        for role in [Role::Monitor, Role::DataManager, Role::Statistician] {
            assert!(matches!(
                Answer.next(role, Open),
                Err(StoreError::Forbidden(_))
            ));
        }
        for role in [Role::Monitor, Role::DataManager, Role::Admin] {
            assert_eq!(allowed(Reopen, role, Answered), Some(Open));
            assert_eq!(allowed(Reopen, role, Open), None);
            assert_eq!(allowed(Close, role, Open), Some(Closed));
            assert_eq!(allowed(Close, role, Answered), Some(Closed));
        }
        for role in [Role::Investigator, Role::StudyNurse, Role::Statistician] {
            for step in [Reopen, Close] {
                assert!(matches!(
                    step.next(role, Answered),
                    Err(StoreError::Forbidden(_))
                ));
            }
        }
        for role in Role::ALL {
            for step in [Answer, Reopen, Close] {
                match step.next(role, Closed) {
                    Err(StoreError::Invalid(e)) => assert_eq!(e[0].rule, "the query is closed"),
                    other => panic!("{step:?} by {role} on a closed query: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_message_is_required_and_bounded() {
        assert_eq!(message("  see the source  ").unwrap(), "see the source");
        for bad in [
            "",
            "   ",
            "\u{200B}",
            "a\0b",
            "dose 10\u{200F} mg",
            "ab\u{FEFF}cd",
            "x\u{E0041}",
            "ring\u{7}",
        ] {
            assert!(
                matches!(message(bad), Err(StoreError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(message(&"x".repeat(MESSAGE_MAX)).is_ok());
        // Emoji, with their skin tones and variation selectors, are text.
        assert!(message("thanks 👍🏽 ❤️\tsee below\nline two").is_ok());
        // A form's line break (CR LF) is one character, stored as LF.
        let from_a_form = format!("{}\r\n{}", "x".repeat(MESSAGE_MAX - 2), "y");
        assert_eq!(message(&from_a_form).unwrap().chars().count(), MESSAGE_MAX);
        match message(&"x".repeat(MESSAGE_MAX + 1)) {
            Err(StoreError::Invalid(e)) => {
                assert_eq!(e[0].rule, "at most 4000 characters, got 4001")
            }
            other => panic!("{other:?}"),
        }
    }
}
