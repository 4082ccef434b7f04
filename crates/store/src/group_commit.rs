//! Group commit for SQLite, whose one writer would otherwise pay a durable
//! commit (an fsync) per change and decide every change alone.
//!
//! A change is decided first, outside the writer lock, on a reading
//! connection: the read and the edit checks of concurrent changes run side
//! by side on every core, and a refusal is answered at once. The decided
//! change then joins a queue. Whoever takes the writer lock next runs every
//! queued change in one transaction: a change whose [`Stamp`] still holds
//! (nothing it read has changed since) and whose patient no earlier change
//! of the batch touched is written as decided; any other is decided again
//! inside the transaction, seeing everything before it, exactly as if the
//! changes had committed one by one. One commit, and only then the
//! answers: nothing is acknowledged before it is durable. If the batch
//! cannot be written (a natural key taken by a change decided at the same
//! time, say), each change runs again alone.
//!
//! The batches run on a thread of their own ([`WriterThread`]): on the
//! server's runtime, each of a batch's statements waited behind the
//! requests being decided for its turn to go on, and the one serial step
//! of all writes stretched with the load. A client that hangs up while its
//! change is being written cannot cancel the others.
//!
//! Checkpoints (copying the WAL back into the database file) are taken off
//! the serial step too ([`Checkpointer`]). The writer lock is
//! also taken by the store's other writes (imports, logins, the lock
//! itself), which then queue instead of spinning in SQLite's busy handler.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor, Row};
use tokio::sync::{OwnedMutexGuard, oneshot};
use trial::bundle::FileSpec;

use crate::access::Actor;
use crate::apply::{Failure, write_changes};
use crate::clock::Instant;
use crate::error::StoreError;
use crate::records::{RecordChange, Written};
use crate::state::MANIFEST;
use crate::write::{Prepared, Stamp, prepare, write_alone};
use crate::{Backend, Store, begin_write, sqlite_settings};

/// Changes one transaction takes at most, bounding the latency of its last.
const MOST_PER_BATCH: usize = 64;

/// Commits (batches, and the writes outside them) between two checkpoints:
/// 2,500 to 6,500 WAL pages (10 to 25 MiB) under load, where SQLite's own checkpoint comes every 1,000. A
/// checkpoint copies each page once however often it changed since the
/// last, and its writes slow the commits beside it.
const COMMITS_PER_CHECKPOINT: u32 = 256;

/// WAL frames (pages; 128 MiB) past which a checkpoint waits for the
/// readers to restart the WAL, when its restarts by chance keep failing.
/// It waits under the writer lock, up to the busy timeout (10 s).
const RESTART_AT_FRAMES: i64 = 32_768;

/// A change as submitted: who, which table, what, why.
pub(crate) struct Change {
    pub actor: Actor,
    pub spec: &'static FileSpec,
    pub change: RecordChange,
    pub reason: Option<String>,
}

/// A decided change waiting for its commit.
struct Job {
    change: Change,
    decided: Prepared,
    reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The writer lock. It owns the connection the batches are written on,
/// outside the pool: the writer is the one serial step, and waiting for a
/// pooled connection behind the changes being decided stretched each batch
/// by about a quarter under load. Opened at the first batch, and again
/// after a batch whose transaction could not be ended.
pub(crate) type WriterGuard = OwnedMutexGuard<Option<AnyConnection>>;

/// The queue of decided changes and the writer lock.
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<Job>>,
    lock: Arc<tokio::sync::Mutex<Option<AnyConnection>>>,
    options: AnyConnectOptions,
    runner: WriterThread,
    checkpointer: Checkpointer,
}

/// When the next checkpoint is due, and the connection that takes it
/// (locked while one runs).
#[derive(Default)]
struct Checkpointer {
    /// Set by `close`: a batch still running then starts no checkpoint.
    closed: AtomicBool,
    /// Commits since the last checkpoint began.
    commits: AtomicU32,
    connection: Arc<tokio::sync::Mutex<Option<AnyConnection>>>,
}

/// Runs a checkpoint in `mode`; returns the frames the WAL held when it
/// began.
async fn wal_checkpoint(conn: &mut AnyConnection, mode: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(&format!("PRAGMA wal_checkpoint({mode})"))
        .fetch_one(conn)
        .await?;
    Ok(row.get(1))
}

/// A thread of its own that runs the batches and checkpoints, with a
/// runtime of its own; it ends when the store is dropped.
struct WriterThread {
    handle: tokio::runtime::Handle,
    _stop: oneshot::Sender<()>,
}

impl WriterThread {
    fn start() -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("isatrial-writer".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                let _ = tx.send(rt.handle().clone());
                let _ = rt.block_on(stopped);
            })
            .expect("a thread");
        WriterThread {
            handle: rx.recv().expect("the writer thread started"),
            _stop: stop,
        }
    }
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Group commit over connections opened with `options`.
    pub fn new(options: AnyConnectOptions) -> Self {
        GroupCommit {
            queue: Mutex::default(),
            lock: Arc::default(),
            options,
            runner: WriterThread::start(),
            checkpointer: Checkpointer::default(),
        }
    }

    /// Closes the batches' connection and the checkpoints', waiting for a
    /// batch or checkpoint in flight.
    pub async fn close(&self) {
        self.checkpointer.closed.store(true, Ordering::Relaxed);
        if let Some(conn) = self.checkpointer.connection.lock().await.take() {
            let _ = conn.close().await;
        }
        if let Some(conn) = self.lock().await.take() {
            let _ = conn.close().await;
        }
    }

    /// Counts a commit (a batch, or a write of [`crate::records::writing`])
    /// and starts a checkpoint when one is due and none is running.
    pub(crate) fn committed(self: &Arc<Self>) {
        self.count_commits(1);
    }

    /// Starts a checkpoint now unless one is running (after an import,
    /// which writes as much as thousands of batches).
    pub(crate) fn checkpoint_due(self: &Arc<Self>) {
        self.count_commits(COMMITS_PER_CHECKPOINT);
    }

    fn count_commits(self: &Arc<Self>, commits: u32) {
        let due = self
            .checkpointer
            .commits
            .fetch_add(commits, Ordering::Relaxed)
            + commits;
        if due < COMMITS_PER_CHECKPOINT || self.checkpointer.closed.load(Ordering::Relaxed) {
            return;
        }
        let Ok(slot) = self.checkpointer.connection.clone().try_lock_owned() else {
            return;
        };
        self.checkpointer.commits.store(0, Ordering::Relaxed);
        let this = self.clone();
        self.runner.handle.spawn(async move {
            let mut slot = slot;
            if let Err(e) = this.checkpoint(&mut slot).await {
                tracing::warn!("WAL checkpoint failed (the next is due in {COMMITS_PER_CHECKPOINT} commits): {e}");
                *slot = None;
            }
        });
    }

    /// Copies the WAL into the database file beside the writes, then,
    /// under the writer lock, the pages written meanwhile: with the whole
    /// WAL copied, the next write starts it afresh instead of growing it.
    /// (Without the second step, the WAL grew by every page written for
    /// as long as the load lasted: some reader was always reading it.)
    /// That restart still needs a moment when no reader holds an old
    /// snapshot; should the WAL grow past [`RESTART_AT_FRAMES`] regardless,
    /// the checkpoint under the lock waits for the readers and restarts it.
    async fn checkpoint(&self, slot: &mut Option<AnyConnection>) -> Result<(), sqlx::Error> {
        let conn = match slot {
            Some(conn) => conn,
            empty => {
                let mut conn = self.options.connect().await?;
                sqlite_settings(&mut conn).await?;
                empty.insert(conn)
            }
        };
        let frames = wal_checkpoint(conn, "PASSIVE").await?;
        // Under the lock no connection of this process commits (all their
        // writes take it), so none can restart the WAL while the second
        // checkpoint runs: a checkpoint straight after a complete one while
        // another connection's commit restarts the WAL is SQLite's
        // "WAL-reset bug" (fixed in 3.51.3; sqlx 0.8 bundles 3.46).
        let _writer = self.lock().await;
        let mode = if frames > RESTART_AT_FRAMES {
            "RESTART"
        } else {
            "PASSIVE"
        };
        wal_checkpoint(conn, mode).await?;
        Ok(())
    }

    /// Waits for the writer lock (for writes other than record changes).
    pub async fn lock(&self) -> WriterGuard {
        self.lock.clone().lock_owned().await
    }

    /// Decides a change, queues it and waits for its outcome after its
    /// commit.
    pub async fn submit(&self, store: &Store, change: Change) -> Result<Written, StoreError> {
        let decided = {
            let mut conn = store.pool.acquire().await?;
            prepare(
                &mut conn,
                &change.actor,
                change.spec,
                change.change.clone(),
                change.reason.as_deref(),
            )
            .await?
        };
        let (reply, mut outcome) = oneshot::channel();
        self.queue.lock().expect("not poisoned").push(Job {
            change,
            decided,
            reply,
        });
        loop {
            tokio::select! {
                biased;
                done = &mut outcome => {
                    return done.unwrap_or_else(|_| {
                        Err(StoreError::Database("the writer stopped before the change was committed".into()))
                    });
                }
                mut writer = self.lock.clone().lock_owned() => {
                    let batch = self.take();
                    if !batch.is_empty() {
                        let store = store.clone();
                        self.runner.handle.spawn(async move {
                            store.commit_batch(&mut writer, batch).await;
                        });
                    }
                }
            }
        }
    }

    fn take(&self) -> Vec<Job> {
        let mut queue = self.queue.lock().expect("not poisoned");
        let n = queue.len().min(MOST_PER_BATCH);
        queue.drain(..n).collect()
    }
}

impl Store {
    /// Runs a batch in one transaction and answers each change after the
    /// commit; if the batch cannot be written, each change runs again on
    /// its own, so one bad change costs the others only time.
    async fn commit_batch(&self, writer: &mut Option<AnyConnection>, batch: Vec<Job>) {
        let mut changes = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            changes.push((job.change, Some(job.decided)));
            replies.push(job.reply);
        }
        match self.try_batch(writer, &mut changes).await {
            Ok(outcomes) => {
                if let Some(writer) = &self.writer {
                    writer.committed();
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(_) => {
                for (reply, (c, _)) in replies.into_iter().zip(changes) {
                    let outcome = write_alone(
                        &self.pool,
                        Backend::Sqlite,
                        &c.actor,
                        c.spec,
                        c.change,
                        c.reason.as_deref(),
                    )
                    .await;
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    /// Runs a batch on the writer's connection (`slot`, held under the
    /// writer lock).
    async fn try_batch(
        &self,
        slot: &mut Option<AnyConnection>,
        changes: &mut [(Change, Option<Prepared>)],
    ) -> Result<Vec<Result<Written, StoreError>>, StoreError> {
        let options = &self
            .writer
            .as_ref()
            .expect("group commit is SQLite's")
            .options;
        let conn = match &mut *slot {
            Some(conn) => conn,
            empty => {
                let mut conn = options.connect().await?;
                sqlite_settings(&mut conn).await?;
                empty.insert(conn)
            }
        };
        conn.execute(begin_write(Backend::Sqlite)).await?;
        let mut outcomes: Vec<Result<Written, StoreError>> = Vec::with_capacity(changes.len());
        let decided = decide_and_write(conn, changes, &mut outcomes).await;
        let ended = match decided {
            Ok(written) => match conn.execute("COMMIT").await {
                Ok(_) => {
                    for (i, p) in written {
                        outcomes[i] = Ok(p.written());
                    }
                    return Ok(outcomes);
                }
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        if conn.execute("ROLLBACK").await.is_err() {
            // Neither committed nor rolled back: the next batch starts afresh.
            *slot = None;
        }
        ended
    }
}

/// Inside the batch's transaction: keeps each decision whose stamp holds,
/// decides the others again, and writes them all. Returns the written
/// changes by their index; `outcomes` gets a slot per change, holding the
/// refusals.
async fn decide_and_write(
    conn: &mut AnyConnection,
    changes: &mut [(Change, Option<Prepared>)],
    outcomes: &mut Vec<Result<Written, StoreError>>,
) -> Result<Vec<(usize, Prepared)>, StoreError> {
    let stamps = current_stamps(conn, changes.iter().filter_map(|(_, p)| p.as_ref())).await?;
    let mut written: Vec<(usize, Prepared)> = Vec::with_capacity(changes.len());
    let mut pending: Vec<Prepared> = Vec::new();
    let mut pending_at: Vec<usize> = Vec::new();
    // Patients and records changed earlier in this batch.
    let mut patients: HashSet<String> = HashSet::new();
    let mut records: HashSet<(&'static str, String)> = HashSet::new();
    for (i, (change, decided)) in changes.iter_mut().enumerate() {
        // A placeholder until the batch commits.
        outcomes.push(Err(StoreError::NotFound));
        let decided = decided.take().expect("each change is decided once");
        let touched = patients.contains(&decided.row.patient_id)
            || records.contains(&(decided.row.tbl, decided.row.key.clone()));
        let holds = !touched && stamps.holds(&decided);
        let decided = if holds {
            decided
        } else {
            if touched && !pending.is_empty() {
                restamp(&mut pending);
                write_changes(conn, &pending).await.map_err(failure)?;
                written.extend(pending_at.drain(..).zip(pending.drain(..)));
            }
            match prepare(
                conn,
                &change.actor,
                change.spec,
                change.change.clone(),
                change.reason.as_deref(),
            )
            .await
            {
                Ok(p) => p,
                Err(refused) => {
                    outcomes[i] = Err(refused);
                    continue;
                }
            }
        };
        patients.insert(decided.row.patient_id.clone());
        records.insert((decided.row.tbl, decided.row.key.clone()));
        pending.push(decided);
        pending_at.push(i);
    }
    restamp(&mut pending);
    write_changes(conn, &pending).await.map_err(failure)?;
    written.extend(pending_at.into_iter().zip(pending));
    Ok(written)
}

/// Dates the changes when they are written, under the writer lock, not
/// when they were decided (which may be a batch earlier): an analysis "as
/// of" an instant then sees the changes committed by it, save those of the
/// commit in flight at that very instant, as before group commit. A change
/// dated later at its decision (one microsecond past its record's previous
/// version, against clock skew between servers) keeps that date.
fn restamp(pending: &mut [Prepared]) {
    let now = Instant::now().to_db();
    for p in pending {
        if p.row.at_db < now {
            p.row.at_db.clone_from(&now);
        }
    }
}

/// The stamps as they are now, under the writer lock.
struct Stamps {
    locked: bool,
    manifest: Option<i64>,
    patients: HashMap<String, i64>,
}

impl Stamps {
    fn holds(&self, p: &Prepared) -> bool {
        !self.locked
            && p.stamp
                == Stamp {
                    patient: self.patients.get(&p.row.patient_id).copied(),
                    manifest: self.manifest,
                }
    }
}

/// Reads the lock, the manifest's version and each patient's last version
/// in one query and one row ([`crate::packed`]): it runs under the writer
/// lock, where every row handed over on its own delays the whole batch.
async fn current_stamps(
    conn: &mut AnyConnection,
    decided: impl Iterator<Item = &Prepared>,
) -> Result<Stamps, StoreError> {
    let mut ids: Vec<&str> = decided.map(|p| p.row.patient_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut placeholders = String::new();
    for n in 0..ids.len().max(1) {
        placeholders.push_str(if n == 0 { "$" } else { ", $" });
        placeholders.push_str(&(n + 2).to_string());
    }
    let sql = format!(
        "SELECT
 (SELECT version FROM record_current WHERE tbl = $1 AND record_key = 'manifest'),
 (SELECT CAST(locked AS BIGINT) FROM trial_state WHERE id = 1),
 (SELECT {last} FROM (SELECT patient_id, MAX(seq) AS last FROM record_current
   WHERE patient_id IN ({placeholders}) GROUP BY patient_id) AS p)",
        last = crate::packed::records(&["patient_id", "last"], "patient_id"),
    );
    let mut q = sqlx::query(&sql).persistent(false).bind(MANIFEST);
    if ids.is_empty() {
        q = q.bind("");
    }
    for id in ids {
        q = q.bind(id);
    }
    let row = q.fetch_one(&mut *conn).await?;
    let last: Option<String> = row.get(2);
    let mut fields = crate::packed::Fields::new(last.as_deref());
    let mut patients = HashMap::new();
    while !fields.is_empty() {
        let patient = fields.text()?.to_owned();
        patients.insert(patient, fields.int()?);
    }
    Ok(Stamps {
        locked: row.get::<Option<i64>, _>(1) == Some(1),
        manifest: row.get(0),
        patients,
    })
}

fn failure(f: Failure) -> StoreError {
    match f {
        Failure::Race => {
            StoreError::Database("a version of the batch was taken by another writer".into())
        }
        Failure::Database(e) => e,
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::records::table;
    use crate::testing::{TestDb, admin, bundle_60, data_manager};

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn new_ae(patient: &str, ae_id: &str, onset: &str) -> Change {
        Change {
            actor: data_manager(),
            spec: table("adverse_events").unwrap(),
            change: RecordChange::Insert {
                cells: cells(&[
                    patient, ae_id, "Fever", "", "1", onset, "", "false", "possible", "", "",
                ]),
            },
            reason: None,
        }
    }

    async fn decide(store: &Store, c: &Change) -> Prepared {
        let mut conn = store.pool.acquire().await.unwrap();
        prepare(&mut conn, &c.actor, c.spec, c.change.clone(), None)
            .await
            .unwrap()
    }

    async fn trial() -> (TestDb, Store) {
        let db = TestDb::sqlite("group-commit").await;
        let store = db.open().await;
        store.import_bundle(&admin(), &bundle_60()).await.unwrap();
        (db, store)
    }

    /// Only the stamp stands between this change and a wrong write: the
    /// new AE was valid when decided, the patient's death recorded since
    /// makes it start after death. (Checked: with the stamp ignored, this
    /// test fails.)
    #[tokio::test]
    async fn a_change_whose_patient_changed_since_its_decision_is_decided_again() {
        let (_db, store) = trial().await;
        let dm = data_manager();
        let ae = new_ae("P001", "AE7001", "2026-02-01");
        let decided = decide(&store, &ae).await;
        let status = table("status").unwrap();
        let before = store.get(&dm, status, "P001").await.unwrap();
        store
            .write(
                &dm,
                status,
                RecordChange::Update {
                    key: "P001".into(),
                    expected_version: before.version,
                    cells: cells(&[
                        "P001",
                        "2026-01-10",
                        "dead",
                        "2026-01-10",
                        "infection",
                        "2025-09-20",
                        "toxicity",
                        "",
                    ]),
                },
                Some("death reported by the site"),
            )
            .await
            .unwrap();
        let mut writer = store.writer.as_ref().unwrap().lock().await;
        let outcomes = store
            .try_batch(&mut writer, &mut [(ae, Some(decided))])
            .await
            .unwrap();
        drop(writer);
        match &outcomes[0] {
            Err(StoreError::Invalid(errors)) => assert!(
                errors.iter().any(|e| e.rule.contains("after_death")),
                "{errors:?}"
            ),
            other => panic!("{other:?}"),
        }
        let spec = table("adverse_events").unwrap();
        assert!(matches!(
            store.get(&dm, spec, "AE7001").await,
            Err(StoreError::NotFound)
        ));
    }

    /// The writer leaves checkpoints to the checkpointer: once one is due,
    /// the database file alone, without its WAL, holds every change; and
    /// the WAL is started afresh, not grown, by the writes after it.
    /// (Checked: with the checkpointer not started, none of the changes is
    /// in the file. The step under the writer lock matters only with
    /// writes beside the checkpoint; the load bench showed the WAL growing
    /// without it.)
    #[tokio::test]
    async fn the_checkpointer_copies_the_wal_into_the_database_file_and_restarts_it() {
        let (db, store) = trial().await;
        let dm = data_manager();
        let file = db.url.strip_prefix("sqlite://").unwrap().to_owned();
        let wal = format!("{file}-wal");
        let writer = store.writer.as_ref().unwrap();
        let mut wal_bytes = Vec::new();
        for cycle in 0..2 {
            for n in 0..COMMITS_PER_CHECKPOINT {
                let ae = new_ae("P001", &format!("CK{cycle}{n:03}"), "2025-07-01");
                store.write(&dm, ae.spec, ae.change, None).await.unwrap();
            }
            // Taken before the last change was answered; free once done.
            drop(writer.checkpointer.connection.lock().await);
            wal_bytes.push(std::fs::metadata(&wal).unwrap().len());
        }
        let copy = format!("{file}.copy");
        std::fs::copy(&file, &copy).unwrap();
        let mut conn = AnyConnection::connect(&format!("sqlite://{copy}"))
            .await
            .unwrap();
        // A file without the table yet holds none of them.
        let in_file: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM record_versions WHERE record_key LIKE 'CK%'")
                .fetch_one(&mut conn)
                .await
                .unwrap_or(0);
        assert_eq!(in_file, 2 * i64::from(COMMITS_PER_CHECKPOINT));
        assert!(
            wal_bytes[1] < wal_bytes[0] * 3 / 2,
            "WAL file grew from {} to {} bytes",
            wal_bytes[0],
            wal_bytes[1]
        );
    }

    /// Two new records of one natural key for two patients, decided at the
    /// same time: the batch of the second cannot be written, so each of its
    /// changes runs again alone: the duplicate is refused, the other stored.
    #[tokio::test]
    async fn a_batch_that_cannot_be_written_runs_each_change_alone() {
        let (_db, store) = trial().await;
        let dm = data_manager();
        let first = new_ae("P003", "AE7100", "2024-08-01");
        let second = new_ae("P001", "AE7100", "2025-07-01");
        let other = new_ae("P001", "AE7101", "2025-07-02");
        let decided_second = decide(&store, &second).await;
        let decided_other = decide(&store, &other).await;
        store
            .write(&dm, first.spec, first.change, None)
            .await
            .unwrap();
        let mut replies = Vec::new();
        let mut batch = Vec::new();
        for (change, decided) in [(second, decided_second), (other, decided_other)] {
            let (reply, outcome) = oneshot::channel();
            batch.push(Job {
                change,
                decided,
                reply,
            });
            replies.push(outcome);
        }
        let mut writer = store.writer.as_ref().unwrap().lock().await;
        store.commit_batch(&mut writer, batch).await;
        drop(writer);
        match replies.remove(0).await.unwrap() {
            Err(StoreError::Invalid(errors)) => {
                assert_eq!(errors[0].field.as_deref(), Some("ae_id"), "{errors:?}")
            }
            other => panic!("{other:?}"),
        }
        let written = replies.remove(0).await.unwrap().unwrap();
        assert_eq!(written.record.key, "AE7101");
        let spec = table("adverse_events").unwrap();
        assert_eq!(
            store.get(&dm, spec, "AE7100").await.unwrap().patient_id,
            "P003"
        );
        assert_eq!(store.history(&dm, spec, "AE7100").await.unwrap().len(), 1);
    }
}
