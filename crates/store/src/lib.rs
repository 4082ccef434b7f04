//! The audited trial database: SQLite (a file, WAL) as the embedded default
//! and PostgreSQL for a multi-site server, chosen by URL, through one code
//! path (sqlx `Any`, portable SQL, `$n` parameters that both engines read).
//!
//! Every record of the bundle is stored as its row of cells, exactly as the
//! bundle writes it, and parsed by the same code that reads a bundle; each
//! change is a new version (nothing is updated in place or deleted), so the
//! state as of any past instant is a query away.

mod access;
mod apply;
mod clock;
mod error;
mod group_commit;
mod manual_queries;
mod packed;
mod records;
mod signatures;
mod snapshot;
mod state;
#[cfg(feature = "testing")]
pub mod testing;
mod transfer;
mod users;
mod write;

pub use access::{Actor, Role, Scope};
pub use clock::{BadInstant, Instant};
pub use error::{FieldError, REASON_REQUIRED, StoreError};
pub use manual_queries::{
    MESSAGE_MAX, ManualQuery, QueryFilter, QueryMessage, QueryStatus, QueryStep, STATISTICIANS,
};
pub use records::{RecordChange, StoredRecord, Version, Written, cells_from_json, stem, table};
pub use signatures::{SIGNATURE_MEANING, Signature, Signing};
pub use snapshot::Snapshot;
pub use state::TrialState;
pub use transfer::ImportSummary;
pub use users::{
    ADDRESS_WINDOW_SECONDS, LoginError, MAX_FAILED_LOGINS_PER_ADDRESS, SESSION_SECONDS, Session,
    check_full_name,
};

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

/// Which engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path/to/trial.db`
    Sqlite,
    /// `postgres://user@host/db`
    Postgres,
}

impl Backend {
    /// The engine of a database URL, or a message saying which URLs work.
    pub fn of_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::BadUrl(format!(
                "database URL must start with sqlite:// (a file, e.g. sqlite://trial.db) or postgres:// (e.g. postgres://user@host/trial), got \"{url}\""
            )))
        }
    }
}

/// An open trial database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    pseudonym_key: String,
    /// Patient ids by their pseudonyms, filled as pseudonyms are asked
    /// for: a pseudonym cannot be inverted, only matched, and matching
    /// every patient's on each statistician's request would grow with
    /// the trial.
    unmasked: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    /// SQLite's single writer: its queue and group commit. `None` on
    /// PostgreSQL, where writers run side by side and row locks and the
    /// version check do the work.
    writer: Option<std::sync::Arc<group_commit::GroupCommit>>,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, true).await
    }

    /// Opens a database that must exist already, for what only reads or
    /// changes one (a report, an export, a user's password): a mistyped
    /// SQLite path is refused instead of leaving an empty database behind.
    pub async fn open_existing(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, false).await
    }

    async fn open_with(url: &str, create: bool) -> Result<Store, StoreError> {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let given = url;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => format!(
                "{url}{}mode={}",
                if url.contains('?') { '&' } else { '?' },
                if create { "rwc" } else { "rw" }
            ),
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::BadUrl(format!("{e}")))?
            .disable_statement_logging();
        // SQLite: one connection first, alone, so that its error is the
        // cause (no such file, not a database) where the pool retries for
        // its whole acquire timeout and then reports only the timeout. A
        // PostgreSQL server may be starting: the pool's retries are kept,
        // and only a timeout asks one connection for its cause.
        let shown = redact(given);
        if backend == Backend::Sqlite {
            let cannot_open =
                |e: sqlx::Error| StoreError::BadUrl(format!("cannot open {shown}: {e}"));
            let mut first = sqlx::AnyConnection::connect_with(&options)
                .await
                .map_err(cannot_open)?;
            sqlite_settings(&mut first).await.map_err(cannot_open)?;
            first.close().await.map_err(cannot_open)?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            // The ping before each acquire guards against a server that went
            // away; an embedded SQLite connection cannot, and its ping is a
            // hand-off to the connection's thread and back on every request.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlite_settings(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await;
        let pool = match pool {
            Err(sqlx::Error::PoolTimedOut) => {
                let cause = match sqlx::AnyConnection::connect_with(&options).await {
                    Err(e) => e.to_string(),
                    Ok(_) => "the server answered only now".to_owned(),
                };
                return Err(StoreError::Database(format!(
                    "cannot open {shown}: no connection within 30 s ({cause})"
                )));
            }
            other => other?,
        };
        if backend == Backend::Postgres {
            require_utf8(&pool).await?;
        }
        migrate(&pool, backend).await?;
        let pseudonym_key = users::pseudonym_key(&pool).await?;
        let writer = (backend == Backend::Sqlite)
            .then(|| std::sync::Arc::new(group_commit::GroupCommit::new(options)));
        Ok(Store {
            pool,
            backend,
            pseudonym_key,
            unmasked: Default::default(),
            writer,
        })
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// `url` with its password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Durable commits (the fsync before an acknowledgement), readers beside
/// the writer, and a wait instead of an error when another process holds
/// the write lock: on every SQLite connection, the pool's and the writer's.
async fn sqlite_settings(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA journal_mode = WAL").await?;
    conn.execute("PRAGMA synchronous = FULL").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    // 32 MiB of page cache instead of 2: a change reads its patient's
    // records from pages all over the file.
    conn.execute("PRAGMA cache_size = -32768").await?;
    // Checkpoints are the group commit's checkpointer's alone, which takes
    // them off the commits and runs them so that no connection of this
    // process commits during its second step (see group_commit.rs).
    conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
    Ok(())
}

/// The packed reads ([`packed`]) count a field's length in the bytes the
/// server stores; they match the UTF-8 text sqlx receives only when the
/// server stores UTF-8 (or, as SQL_ASCII does, the bytes as sent). In
/// another encoding, say LATIN1, every read of a record with an "é" would
/// fail, so such a database is refused when opened.
async fn require_utf8(pool: &AnyPool) -> Result<(), StoreError> {
    let encoding: String = sqlx::query_scalar("SELECT current_setting('server_encoding')")
        .fetch_one(pool)
        .await?;
    if encoding == "UTF8" || encoding == "SQL_ASCII" {
        Ok(())
    } else {
        Err(StoreError::Database(format!(
            "the PostgreSQL database uses the encoding {encoding}; isatrial needs UTF8 \
             (CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)"
        )))
    }
}

/// The statement that opens a write transaction: SQLite takes the write
/// lock at once, so two writers queue instead of failing on upgrade.
fn begin_write(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    }
}

/// Applies the embedded migrations of the engine (idempotent; several
/// processes starting at once are serialized by sqlx's migration lock).
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    let migrator = match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("migrations/postgres"),
    };
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Database(e.to_string()))
}
