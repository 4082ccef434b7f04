//! Load on `isatrial serve` as it is deployed: the release binary in a
//! process of its own, driven over loopback by `wrk` (Debian's package),
//! beside SQLite's own limit measured in the same run.
//!
//! ```text
//! apt-get install wrk                                   # once
//! cargo bench -p isatrial --bench serve_load            # 10 s per step
//! cargo bench -p isatrial --bench serve_load -- --quick # 3 s per step
//! ```
//!
//! The in-process bench (`cargo bench -p isatrial-web --bench load`) also
//! covers PostgreSQL and the store without HTTP; this one answers what a
//! separate client sees: the server does not share its process, allocator
//! or runtime with the load generator (it still shares the two cores).
//!
//! Steps: a synthetic trial of 2,000 patients is imported into a fresh
//! SQLite file; then durable single-row commits on a scratch table of
//! another file in the same folder (WAL, `synchronous=FULL`, one
//! connection, nothing of ours in between) give the engine's limit; then
//! `isatrial serve` runs, a data manager signs in, and `wrk` sends audited
//! writes at 1, 8 and 32 connections (a new adverse event, and the thread's
//! next write retracts one it entered, `benches/serve_wrk.lua`) and reads of
//! whole casebooks at 8. Beside each rate, the server process's processor
//! time per request. Prints a Markdown table for BENCHMARKS.md.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "load test password";

/// The server, killed when the bench ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn isatrial() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isatrial"))
}

fn run(command: &mut Command) {
    let out = command.output().expect("isatrial runs");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The synthetic trial as a bundle, and its alive patients as
/// "id,registration date" lines for the wrk script.
fn trial(dir: &Path) -> (PathBuf, PathBuf) {
    use trial::simulate::{SimulationConfig, simulate};
    let data = simulate(&SimulationConfig {
        patients: 2000,
        seed: 5,
        ..SimulationConfig::default()
    });
    let bundle = dir.join("bundle");
    trial::bundle::write_bundle(&data, &bundle).expect("bundle written");
    let mut alive = String::new();
    for s in &data.status {
        if s.vital_status == trial::vocab::VitalStatus::Alive {
            let p = &data.patients[s.patient.get()];
            alive.push_str(&format!("{},{}\n", p.id, p.registration_date));
        }
    }
    let patients = dir.join("patients.csv");
    std::fs::write(&patients, alive).expect("patients written");
    (bundle, patients)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts the server and waits until it answers.
async fn serve(db: &str, port: u16) -> Server {
    let child = isatrial()
        .args([
            "serve",
            "--db",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let server = Server(child);
    let url = format!("http://127.0.0.1:{port}/api/openapi.json");
    let start = Instant::now();
    while reqwest::get(&url).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server did not answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// Signs in; the session cookie's value and the CSRF token.
async fn login(base: &str) -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"user": "loader", "password": PASSWORD}))
        .send()
        .await
        .expect("login answered");
    let cookie = response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("isatrial_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let body: serde_json::Value = response.json().await.expect("login JSON");
    (
        cookie,
        body["csrf"].as_str().expect("a CSRF token").to_owned(),
    )
}

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    refused: u64,
    /// The server process's processor time per request
    /// ([`store::testing::cpu_seconds`]); wrk's own is not in it.
    cpu_us: f64,
}

/// The server under load: its process, address, and the alive patients
/// the script writes to.
struct Target<'a> {
    pid: u32,
    base: &'a str,
    patients: &'a Path,
}

/// One wrk step; parses the `RESULT` line the script's `done` prints.
fn wrk(
    target: &Target,
    step: usize,
    mode: &str,
    clients: usize,
    seconds: u64,
    session: &(String, String),
) -> Measured {
    let Target {
        pid,
        base,
        patients,
    } = *target;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/serve_wrk.lua");
    let cpu = store::testing::cpu_seconds(Some(pid));
    let out = Command::new("wrk")
        .args([
            format!("-t{}", clients.min(2)),
            format!("-c{clients}"),
            format!("-d{seconds}s"),
            "--timeout".into(),
            "10s".into(),
            "-s".into(),
            script.display().to_string(),
            base.to_owned(),
            "--".into(),
            mode.into(),
            session.0.clone(),
            session.1.clone(),
            patients.display().to_string(),
            step.to_string(),
        ])
        .output()
        .expect("wrk runs");
    let cpu = store::testing::cpu_seconds(Some(pid)) - cpu;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "no RESULT from wrk: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let field = |name: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    let socket_errors = field("socket_errors");
    assert!(socket_errors == 0.0, "wrk saw socket errors: {line}");
    Measured {
        cpu_us: cpu * 1e6 / field("requests").max(1.0),
        rate: field("requests") / field("seconds"),
        p50_ms: field("p50_ms"),
        p99_ms: field("p99_ms"),
        refused: field("refused") as u64,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let seconds = if std::env::args().any(|a| a == "--quick") {
        3
    } else {
        10
    };
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("wrk is not installed (apt-get install wrk): serve_load not run.");
        return;
    }
    let dir = std::env::temp_dir().join(format!("isatrial-serve-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let db = format!("sqlite://{}", dir.join("trial.db").display());
    let (bundle, patients) = trial(&dir);
    run(isatrial().args(["import"]).arg(&bundle).args(["--db", &db]));
    let mut add = isatrial()
        .args([
            "user",
            "add",
            "loader",
            "--role",
            "data_manager",
            "--db",
            &db,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user add starts");
    writeln!(add.stdin.take().expect("stdin"), "{PASSWORD}").expect("password written");
    let added = add.wait_with_output().expect("user add ends");
    assert!(
        added.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&added.stderr)
    );

    let engine = format!("sqlite://{}", dir.join("engine.db").display());
    let limit = store::testing::durable_commit_rate(&engine, seconds).await;
    let port = free_port();
    let server = serve(&db, port).await;
    let base = format!("http://127.0.0.1:{port}");
    let mut rows = vec![
        "| what | connections | rate | p50 | p99 | rate / engine limit | server CPU per request |"
            .to_owned(),
        "|---|---|---|---|---|---|---|".to_owned(),
        format!(
            "| engine: durable single-row commits, 1 connection | 1 | {limit:.0}/s | — | — | — | — |"
        ),
    ];
    for (step, (mode, clients)) in [("write", 1), ("write", 8), ("write", 32), ("read", 8)]
        .into_iter()
        .enumerate()
    {
        let session = login(&base).await;
        let target = Target {
            pid: server.0.id(),
            base: &base,
            patients: &patients,
        };
        let m = wrk(&target, step, mode, clients, seconds, &session);
        let what = if mode == "write" {
            "audited writes (new AE / its retraction, full checks)"
        } else {
            "casebook reads (all records of a patient)"
        };
        let ratio = if mode == "write" {
            format!("{:.2}", m.rate / limit)
        } else {
            "—".into()
        };
        rows.push(format!(
            "| {what} | {clients} | {:.0}/s | {:.1} ms | {:.1} ms | {ratio} | {:.0} µs |",
            m.rate, m.p50_ms, m.p99_ms, m.cpu_us
        ));
        if m.refused > 0 {
            rows.push(format!(
                "| (answers other than 200/201 in the step above: {}) | | | | | | |",
                m.refused
            ));
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", rows.join("\n"));
}
