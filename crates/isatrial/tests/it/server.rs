//! `isatrial serve` as real processes: two servers on one PostgreSQL share
//! sessions and keep optimistic concurrency; a server killed with SIGKILL
//! in a burst of writes loses no acknowledged write and leaves no
//! half-written record; import and export round-trip through the CLI.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use store::testing::{TestDb, bundle_60};

use super::support::isatrial;

const PASSWORD: &str = "server test password";

/// A running `isatrial serve`; killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_isatrial"))
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("isatrial serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, base }
    }

    fn kill(&mut self) {
        // SIGKILL: no chance to flush or shut down.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn prepare(url: &str) {
    let b = bundle_60();
    let run = isatrial(&["import", b.to_str().unwrap(), "--db", url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = Command::new(env!("CARGO_BIN_EXE_isatrial"))
        .args(["user", "add", "dm", "--role", "data_manager", "--db", url])
        .env("ISATRIAL_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Client {
    http: reqwest::Client,
    csrf: String,
}

impl Client {
    async fn get(&self, url: String) -> Value {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn login(base: &str) -> Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r: Value = http
        .post(format!("{base}/api/login"))
        .json(&json!({"user": "dm", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Client {
        http,
        csrf: r["csrf"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn two_servers_on_one_postgresql_share_sessions_and_keep_optimistic_concurrency() {
    let db = TestDb::postgres("scaleout").await;
    prepare(&db.url);
    let (a, b) = (Server::start(&db.url), Server::start(&db.url));
    let client = login(&a.base).await;
    // The session made on A is valid on B: same cookie jar, other server.
    let me: Value = client.get(format!("{}/api/me", b.base)).await;
    assert_eq!(me["user"], "dm");
    let current: Value = client
        .get(format!("{}/api/adverse_events/AE0001", a.base))
        .await;
    let mut record = current["fields"].clone();
    let mut edit = |server: &str, grade: &str| {
        record["grade"] = json!(grade);
        client
            .http
            .put(format!("{server}/api/adverse_events/AE0001"))
            .header("x-csrf-token", &client.csrf)
            .json(
                &json!({"version": 1, "reason": "race between servers", "record": record.clone()}),
            )
            .send()
    };
    let (to_a, to_b) = (edit(&a.base, "2"), edit(&b.base, "3"));
    let (ra, rb) = tokio::join!(to_a, to_b);
    let mut codes = [ra.unwrap().status().as_u16(), rb.unwrap().status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 409], "one edit wins, the other conflicts");
    let history: Value = client
        .get(format!("{}/api/adverse_events/AE0001/history", b.base))
        .await;
    assert_eq!(history.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn sigkill_during_a_burst_loses_no_acknowledged_write() {
    let db = TestDb::sqlite("durability").await;
    prepare(&db.url);
    let mut server = Server::start(&db.url);
    let base = server.base.clone();
    let mut writers = Vec::new();
    for w in 0..8 {
        let client = login(&base).await;
        let base = base.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0.. {
                let id = format!("K{w}{i:05}");
                let body = json!({"record": {"patient_id": "P001", "ae_id": id, "term": "Fatigue", "grade": 1,
                                              "onset_date": "2025-06-01", "serious": false, "relatedness": "unlikely"}});
                match client.http.post(format!("{base}/api/adverse_events")).header("x-csrf-token", &client.csrf).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 201 => acked.push(id),
                    Ok(r) => panic!("write refused: {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
            acked
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 20,
        "the burst wrote something before the kill: {}",
        acked.len()
    );
    let server = Server::start(&db.url);
    let client = login(&server.base).await;
    let list: Value = client
        .get(format!(
            "{}/api/adverse_events?patient_id=P001",
            server.base
        ))
        .await;
    let stored: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .filter(|k| k.starts_with('K'))
        .collect();
    for id in &acked {
        assert!(
            stored.contains(&id.as_str()),
            "acknowledged {id} is missing after SIGKILL"
        );
    }
    // No half-written record: each stored one has its version and its audit entry.
    let trail: Value = client.get(format!("{}/api/audit", server.base)).await;
    let audited: std::collections::HashSet<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "insert")
        .filter_map(|a| a["key"].as_str())
        .collect();
    for id in &stored {
        assert!(
            audited.contains(id),
            "{id} is stored without its audit entry"
        );
    }
    assert!(
        stored.len() <= acked.len() + 8,
        "at most one unacknowledged write per writer may have landed"
    );
}

#[test]
fn import_then_export_gives_back_identical_files() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::sqlite("cli_roundtrip"));
    let b = bundle_60();
    assert_eq!(
        isatrial(&["import", b.to_str().unwrap(), "--db", &db.url]).code,
        0
    );
    let again = isatrial(&["import", b.to_str().unwrap(), "--db", &db.url]);
    assert_eq!(
        again.code, 2,
        "a second import is refused: {}",
        again.stderr
    );
    let out = std::env::temp_dir().join(format!("isatrial-cli-export-{}", std::process::id()));
    let run = isatrial(&["export", "--bundle", out.to_str().unwrap(), "--db", &db.url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The threads and signatures go beside the bundle, said so, and an
    // import of the folder leaves them.
    assert!(
        run.stderr
            .contains("0 queries raised by hand in manual_queries.json"),
        "{}",
        run.stderr
    );
    for file in ["manual_queries.json", "signatures.json"] {
        assert_eq!(std::fs::read_to_string(out.join(file)).unwrap(), "[]\n");
    }
    let elsewhere = rt.block_on(TestDb::sqlite("cli_roundtrip_again"));
    let reimport = isatrial(&["import", out.to_str().unwrap(), "--db", &elsewhere.url]);
    assert_eq!(reimport.code, 0, "{}", reimport.stderr);
    for entry in std::fs::read_dir(&b).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read(b.join(&name)).unwrap(),
            std::fs::read(out.join(&name)).unwrap(),
            "{name:?}"
        );
    }
    let report = isatrial(&[
        "report",
        "--db",
        &db.url,
        "--out",
        out.join("report").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let doc: Value = serde_json::from_str(&report.stdout).unwrap();
    let orr = doc["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "orr_w9")
        .unwrap();
    assert_eq!(
        (orr["n"].as_u64(), orr["total"].as_u64()),
        (Some(6), Some(33))
    );
    // As of now, the report's data queries are the database's open ones;
    // as of an instant (here: now, every record having been imported
    // before it), they are the warnings of the data as they stood then:
    // the same queries, not none.
    // `date` gives whole seconds: a second after the import, its second
    // has begun after it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let now = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap();
    let as_of = isatrial(&[
        "report",
        "--db",
        &db.url,
        "--out",
        out.join("as-of").to_str().unwrap(),
        "--as-of",
        now.trim(),
    ]);
    assert_eq!(as_of.code, 0, "{}", as_of.stderr);
    let rows = |dir: &str| {
        std::fs::read_to_string(out.join(dir).join("queries.csv"))
            .unwrap()
            .lines()
            .count()
    };
    assert!(rows("report") > 1);
    assert_eq!(rows("as-of"), rows("report"));
    let bad = isatrial(&["serve", "--db", "mysql://nope"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("sqlite://") && bad.stderr.contains("postgres://"),
        "{}",
        bad.stderr
    );
    let _ = std::fs::remove_dir_all(&out);
}
