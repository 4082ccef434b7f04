//! What a store call can answer besides success, split so that the server
//! maps each to its HTTP status without guessing: bad input (422), not
//! found or not visible (404), not allowed (403), stale version (409),
//! locked (423), and the database itself failing (500).

use serde::Serialize;

/// The rule a change to saved data without a reason breaks: the message of
/// [`StoreError::ReasonRequired`], and the rule of the `reason` field when
/// the change breaks other rules too.
pub const REASON_REQUIRED: &str = "a reason is required for any change to saved data";

/// One refused field of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Column (field) name; `null` for a rule across records.
    pub field: Option<String>,
    /// The rule broken.
    pub rule: String,
}

/// Why a store call did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported engine, or no database that
    /// can be opened (no such file, not a database, no server there).
    #[error("{0}")]
    BadUrl(String),
    /// The record breaks rules; nothing was stored.
    #[error("refused: {}", .0.iter().map(|e| match &e.field { Some(f) => format!("{f}: {}", e.rule), None => e.rule.clone() }).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such record, or not one the user may see.
    #[error("not found")]
    NotFound,
    /// The user's role or sites do not allow it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The record changed since the version the user edited.
    #[error(
        "conflict: the record is at version {current}, the change was made to version {expected}"
    )]
    Conflict {
        /// Version the change was based on.
        expected: i64,
        /// Version now stored.
        current: i64,
    },
    /// The database is locked for analysis.
    #[error("the database is locked: {0}")]
    Locked(String),
    /// A change to saved data without a reason.
    #[error("{REASON_REQUIRED}")]
    ReasonRequired,
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl StoreError {
    /// A single refused field.
    pub fn field(field: &str, rule: impl Into<String>) -> StoreError {
        StoreError::Invalid(vec![FieldError {
            field: Some(field.to_owned()),
            rule: rule.into(),
        }])
    }
}
