//! Load on the server over loopback, beside the engine's own limit in the
//! same run.
//!
//! ```text
//! cargo bench -p isatrial-web --bench load              # 10 s per step
//! cargo bench -p isatrial-web --bench load -- --quick   # 3 s per step
//! cargo bench -p isatrial-web --bench load -- --sqlite-only
//! cargo bench -p isatrial-web --bench load -- --only writes --clients 32   # for a profiler
//! ```
//!
//! For SQLite (a file, WAL, synchronous=FULL) and PostgreSQL (the server of
//! `ISATRIAL_TEST_PG`): first the rate of durable single-row commits the
//! engine reaches with nothing of ours in between; then `isatrial`'s API
//! served in this process on a free port over a synthetic trial of 2,000
//! patients, driven by 1, 8 and 32 concurrent
//! clients, each signed in with its own session: audited writes (a new
//! adverse event through the full write path — parse, edit checks on the
//! patient's casebook, version, audit entry, queries), with p50/p99
//! latency; and reads of a whole patient casebook. Beside each rate, the
//! processor time the whole process spent per operation. Prints a Markdown table
//! for BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant as Clock};

use serde_json::json;
use store::testing::{TestDb, admin, cpu_seconds, durable_commit_rate};
use store::{Role, Store};

/// The allocator `isatrial` itself runs with, so the server measured here is the one shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PASSWORD: &str = "load test password";

struct Args {
    seconds: u64,
    /// Runs only the steps of this kind (`writes`, `store-writes`,
    /// `reads`); the engine's limit is measured whatever it says.
    only: Option<String>,
    /// Runs the client steps only at this number of clients.
    clients: Option<usize>,
}

impl Args {
    fn runs(&self, step: &str, clients: usize) -> bool {
        self.only.as_deref().is_none_or(|o| o == step) && self.clients.is_none_or(|c| c == clients)
    }
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1).cloned())
    };
    let quick = argv.iter().any(|a| a == "--quick");
    let only = value("--only");
    if let Some(step) = &only {
        assert!(
            ["writes", "store-writes", "reads"].contains(&step.as_str()),
            "--only takes writes, store-writes or reads, not {step:?}"
        );
    }
    Args {
        seconds: if quick { 3 } else { 10 },
        only,
        clients: value("--clients").map(|c| c.parse().expect("--clients takes a number")),
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    csrf: String,
    /// The AE this client entered last, which its next write retracts.
    entered: std::sync::Mutex<Option<String>>,
}

async fn login(base: &str, user: &str) -> Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let r: serde_json::Value = http
        .post(format!("{base}/api/login"))
        .json(&json!({"user": user, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Client {
        http,
        base: base.to_owned(),
        csrf: r["csrf"].as_str().unwrap().to_owned(),
        entered: std::sync::Mutex::new(None),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// Processor time of this whole process (server and load generator)
    /// per operation, by [`cpu_seconds`].
    cpu_us: f64,
}

/// Runs `clients` loops of `op` for `seconds`, each op timed.
async fn drive<C, F, Fut>(clients: Vec<C>, seconds: u64, op: F) -> Measured
where
    C: Send + Sync + 'static,
    F: Fn(Arc<C>, u64) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu = cpu_seconds(None);
    let start = Clock::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let c = Arc::new(c);
            let counter = counter.clone();
            let errors = errors.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Clock::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Clock::now();
                    if op(c.clone(), n).await {
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(None) - cpu;
    all.sort_by(f64::total_cmp);
    Measured {
        cpu_us: cpu * 1e6 / all.len().max(1) as f64,
        rate: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 0.5),
        p99_ms: percentile(&all, 0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// Patients of the synthetic trial alive at the cut-off, each with a date
/// on which an AE may start: writes spread over them as over a real trial's
/// sites, so no casebook grows far beyond a real one during the run.
static PATIENTS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();

fn patient(n: u64) -> &'static (String, String) {
    let all = PATIENTS.get().expect("set before the run");
    &all[(n as usize * 7919) % all.len()]
}

/// Size of the synthetic trial the server holds.
const TRIAL_PATIENTS: usize = 2000;

fn trial_bundle() -> std::path::PathBuf {
    use trial::simulate::{SimulationConfig, simulate};
    let data = simulate(&SimulationConfig {
        patients: TRIAL_PATIENTS,
        seed: 5,
        ..SimulationConfig::default()
    });
    let alive = data
        .status
        .iter()
        .filter(|s| s.vital_status == trial::vocab::VitalStatus::Alive)
        .map(|s| {
            let p = &data.patients[s.patient.get()];
            (p.id.to_string(), p.registration_date.to_string())
        })
        .collect();
    let _ = PATIENTS.set(alive);
    let dir = std::env::temp_dir().join(format!("isatrial-load-bundle-{}", std::process::id()));
    trial::bundle::write_bundle(&data, &dir).expect("bundle written");
    dir
}

/// Makes AE ids unique across the steps of a run.
static NEXT_AE: AtomicU64 = AtomicU64::new(0);

/// A new AE, and the client's next write retracts it ("entered in error"):
/// both go through the whole audited path, and the casebooks keep the size
/// of a real trial's however long the run (inserts alone grew each alive
/// patient's casebook by dozens of AEs in a 10 s step, and every write
/// re-checks its patient's whole casebook).
fn new_ae(n: u64) -> serde_json::Value {
    let id = NEXT_AE.fetch_add(1, Ordering::Relaxed);
    let (patient, onset) = patient(n);
    json!({"patient_id": patient, "ae_id": format!("LOAD{id:08}"), "term": "Fatigue", "grade": 1,
           "onset_date": onset, "serious": false, "relatedness": "unlikely"})
}

async fn write_ae(c: Arc<Client>, n: u64) -> bool {
    let entered = c.entered.lock().unwrap().take();
    let sent = match &entered {
        Some(id) => c
            .http
            .delete(format!("{}/api/adverse_events/{id}", c.base))
            .header("x-csrf-token", &c.csrf)
            .json(&json!({"version": 1, "reason": "entered in error"}))
            .send()
            .await
            .map(|r| r.status() == reqwest::StatusCode::OK),
        None => {
            let record = new_ae(n);
            let id = record["ae_id"].as_str().unwrap().to_owned();
            let created = c
                .http
                .post(format!("{}/api/adverse_events", c.base))
                .header("x-csrf-token", &c.csrf)
                .json(&json!({ "record": record }))
                .send()
                .await
                .map(|r| r.status() == reqwest::StatusCode::CREATED);
            if let Ok(true) = created {
                *c.entered.lock().unwrap() = Some(id);
            }
            created
        }
    };
    sent.unwrap_or(false)
}

/// The same writes straight through the store: the audited write path and
/// group commit without HTTP, sessions or JSON.
struct Direct {
    store: Store,
    actor: store::Actor,
    entered: std::sync::Mutex<Option<String>>,
}

async fn store_write_ae(d: Arc<Direct>, n: u64) -> bool {
    let spec = store::table("adverse_events").expect("a bundle table");
    let entered = d.entered.lock().unwrap().take();
    match entered {
        Some(key) => d
            .store
            .write(
                &d.actor,
                spec,
                store::RecordChange::Retract {
                    key,
                    expected_version: 1,
                },
                Some("entered in error"),
            )
            .await
            .is_ok(),
        None => {
            let record = new_ae(n);
            let cells = store::cells_from_json(spec, record.as_object().expect("an object"))
                .expect("valid");
            let id = record["ae_id"].as_str().unwrap().to_owned();
            let ok = d
                .store
                .write(&d.actor, spec, store::RecordChange::Insert { cells }, None)
                .await
                .is_ok();
            if ok {
                *d.entered.lock().unwrap() = Some(id);
            }
            ok
        }
    }
}

async fn read_casebook(c: Arc<Client>, n: u64) -> bool {
    let (patient, _) = patient(n);
    match c
        .http
        .get(format!("{}/api/patients/{patient}/casebook", c.base))
        .send()
        .await
    {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    }
}

async fn run_backend(name: &str, db: TestDb, a: &Args) -> Vec<String> {
    let seconds = a.seconds;
    let limit = durable_commit_rate(&db.url, seconds).await;
    let store = Store::open(&db.url).await.unwrap();
    let bundle = trial_bundle();
    store.import_bundle(&admin(), &bundle).await.unwrap();
    let _ = std::fs::remove_dir_all(&bundle);
    store
        .add_user("loader", Role::DataManager, &[], PASSWORD)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let state = web::AppState {
        store: store.clone(),
        secure_cookies: false,
        behind_proxy: false,
    };
    tokio::spawn(async move {
        web::serve(state, "127.0.0.1:0".parse().unwrap(), |a| {
            let _ = tx.send(a);
        })
        .await
        .unwrap();
    });
    let base = format!("http://{}", rx.await.unwrap());
    let mut rows = vec![format!(
        "| {name} | engine: durable single-row commits, 1 connection | 1 | {limit:.0}/s | — | — | — | — |"
    )];
    for clients in [1usize, 8, 32] {
        if !a.runs("writes", clients) {
            continue;
        }
        let mut cs = Vec::new();
        for _ in 0..clients {
            cs.push(login(&base, "loader").await);
        }
        let m = drive(cs, seconds, write_ae).await;
        rows.push(format!(
            "| {name} | audited writes (new AE / its retraction, full checks) | {clients} | {:.0}/s | {:.1} ms | {:.1} ms | {:.2} | {:.0} µs |",
            m.rate,
            m.p50_ms,
            m.p99_ms,
            m.rate / limit,
            m.cpu_us
        ));
        if m.errors > 0 {
            rows.push(format!(
                "| {name} | (errors during the step above: {}) | | | | | | |",
                m.errors
            ));
        }
    }
    for clients in [32usize] {
        if !a.runs("store-writes", clients) {
            continue;
        }
        let cs: Vec<Direct> = (0..clients)
            .map(|_| Direct {
                store: store.clone(),
                actor: admin(),
                entered: std::sync::Mutex::new(None),
            })
            .collect();
        let m = drive(cs, seconds, store_write_ae).await;
        rows.push(format!(
            "| {name} | audited writes through the store, no HTTP | {clients} | {:.0}/s | {:.1} ms | {:.1} ms | {:.2} | {:.0} µs |",
            m.rate,
            m.p50_ms,
            m.p99_ms,
            m.rate / limit,
            m.cpu_us
        ));
    }
    for clients in [8usize] {
        if !a.runs("reads", clients) {
            continue;
        }
        let mut cs = Vec::new();
        for _ in 0..clients {
            cs.push(login(&base, "loader").await);
        }
        let m = drive(cs, seconds, read_casebook).await;
        rows.push(format!("| {name} | casebook reads (all records of a patient) | {clients} | {:.0}/s | {:.1} ms | {:.1} ms | — | {:.0} µs |", m.rate, m.p50_ms, m.p99_ms, m.cpu_us));
    }
    store.close().await;
    rows
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    sqlx::any::install_default_drivers();
    let mut rows = vec![
        "| engine | what | clients | rate | p50 | p99 | rate / engine limit | CPU per operation |"
            .to_owned(),
        "|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    eprintln!("SQLite …");
    rows.extend(run_backend("SQLite", TestDb::sqlite("load").await, &a).await);
    if std::env::args().any(|a| a == "--sqlite-only") {
        println!("{}", rows.join("\n"));
        return;
    }
    eprintln!("PostgreSQL …");
    rows.extend(run_backend("PostgreSQL", TestDb::postgres("load").await, &a).await);
    println!("{}", rows.join("\n"));
}
