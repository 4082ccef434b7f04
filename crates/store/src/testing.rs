//! For tests of this crate and the ones above it: a fresh database of each
//! engine — a SQLite file in a temporary folder, and a uniquely named
//! PostgreSQL database (dropped afterwards) on the server of
//! `ISATRIAL_TEST_PG`, by default the local one.

use std::path::PathBuf;

use crate::{Actor, Store};

/// The PostgreSQL server the tests use.
/// The PostgreSQL server URL (no database).
pub fn pg_server() -> String {
    std::env::var("ISATRIAL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn unique(tag: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    format!("isatrial_t_{tag}_{}", hex::encode(b))
}

/// A test database; dropped (PostgreSQL) or deleted (SQLite) at the end.
pub struct TestDb {
    /// Database URL.
    pub url: String,
    pg_name: Option<String>,
    dir: Option<PathBuf>,
}

impl TestDb {
    /// A fresh SQLite file.
    pub async fn sqlite(tag: &str) -> TestDb {
        let dir = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&dir).unwrap();
        TestDb {
            url: format!("sqlite://{}", dir.join("trial.db").display()),
            pg_name: None,
            dir: Some(dir),
        }
    }

    /// A fresh PostgreSQL database. Fails (never skips) when the server
    /// cannot be reached: the test command starts one.
    pub async fn postgres(tag: &str) -> TestDb {
        Self::postgres_created_with(tag, "").await
    }

    /// A fresh PostgreSQL database made with `options` after
    /// `CREATE DATABASE name` (an encoding, say).
    pub async fn postgres_created_with(tag: &str, options: &str) -> TestDb {
        use sqlx::Connection;
        let name = unique(tag);
        let admin = format!("{}/postgres", pg_server());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for the store tests (scripts/test-all starts one): {e}"));
        sqlx::query(&format!("CREATE DATABASE {name} {options}"))
            .execute(&mut conn)
            .await
            .unwrap();
        TestDb {
            url: format!("{}/{name}", pg_server()),
            pg_name: Some(name),
            dir: None,
        }
    }

    /// Opens the store on it.
    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Dropping needs async; a thread of its own keeps it out of the
            // test's runtime.
            let admin = format!("{}/postgres", pg_server());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Both engines, for a test to run against each.
pub async fn both(tag: &str) -> Vec<TestDb> {
    vec![TestDb::sqlite(tag).await, TestDb::postgres(tag).await]
}

/// The worked example bundle of the trial crate.
pub fn bundle_60() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../trial/tests/fixtures/bundle-60")
}

/// An administrator acting from the command line.
pub fn admin() -> Actor {
    Actor::system("tester")
}

/// A data manager: reads and corrects every site.
pub fn data_manager() -> Actor {
    Actor {
        user: "dm".into(),
        role: crate::Role::DataManager,
        scope: crate::Scope::All,
    }
}

/// A store of each engine holding bundle-60.
pub async fn both_with_bundle_60(tag: &str) -> Vec<(TestDb, Store)> {
    let mut out = Vec::new();
    for db in both(tag).await {
        let store = db.open().await;
        store.import_bundle(&admin(), &bundle_60()).await.unwrap();
        out.push((db, store));
    }
    out
}

/// The engine's own limit, for the load benches: durable single-row
/// commits per second on one connection with nothing of ours in between
/// (SQLite: WAL, `synchronous=FULL`, the file created if missing), into a
/// scratch table of the database at `url` for `seconds`.
pub async fn durable_commit_rate(url: &str, seconds: u64) -> f64 {
    use sqlx::Connection;
    use std::time::{Duration, Instant};
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connects");
    if url.starts_with("sqlite") {
        for p in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL"] {
            sqlx::query(p).execute(&mut conn).await.unwrap();
        }
    }
    sqlx::query("CREATE TABLE bench_commits (n BIGINT NOT NULL, note TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    let start = Instant::now();
    let mut n: i64 = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        sqlx::query("INSERT INTO bench_commits (n, note) VALUES ($1, $2)")
            .bind(n)
            .bind("a row of about the size of an audit entry")
            .execute(&mut conn)
            .await
            .unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Processor seconds a process has used so far, all its threads, user and
/// kernel (`utime` + `stime` of `/proc/PID/stat`, clock ticks of 1/100 s);
/// `None` reads this process. The load benches divide it by the operations
/// of a step: it moves much less than a rate when the VM's neighbours take
/// the cores, so two builds compare by it (in alternating runs: it still
/// drifts as the machine's speed does).
pub fn cpu_seconds(pid: Option<u32>) -> f64 {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path).expect("Linux /proc");
    // The fields after the command name, which is in parentheses and may
    // hold spaces; utime and stime are the 12th and 13th of them.
    let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("a tick count");
    (ticks(11) + ticks(12)) / 100.0
}
