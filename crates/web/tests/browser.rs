//! The case report forms in a real browser: headless Chromium driven
//! through Debian's `chromedriver`, as a study nurse uses them. She signs
//! in, opens a patient, enters an adverse event with mistakes, sees each
//! mistake named beside what she typed, corrects it, and changes it later
//! with a reason. Then the monitor raises a query on the grade, and the
//! investigator answers it and signs the casebook with user name and
//! password. `scripts/test-all` installs Chromium and its driver when
//! they are missing; without them this test fails, it never skips.
//!
//! fantoccini rather than thirtyfour: thirtyfour turns on serde_json's
//! `preserve_order`, which feature unification would spread to every crate
//! of the test build, so the binaries under test would order JSON keys
//! otherwise than the ones shipped.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use store::Role;
use store::testing::{TestDb, admin};
use trial::bundle::spec::ADVERSE_EVENTS;
mod common;

use common::PASSWORD;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// `chromedriver` on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile_dir::Dir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throw-away browser profile folder.
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let path = std::env::temp_dir().join(format!(
                "isatrial-{tag}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn start_driver() -> Driver {
    for program in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: run scripts/test-all, which installs it, or `apt-get install chromium chromium-driver`"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on port {port} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        port,
        profile: tempfile_dir::Dir::new("chromium"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let args = json!([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,1024",
        format!("--user-data-dir={}", driver.profile.0.display()),
    ]);
    let capabilities = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session through chromedriver")
}

async fn fill(web: &Client, id: &str, text: &str) {
    let input = web.find(Locator::Id(id)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn choose(web: &Client, id: &str, value: &str) {
    web.find(Locator::Id(id))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

/// What the field `id` holds now (its property, not the page's markup).
async fn value(web: &Client, id: &str) -> String {
    web.find(Locator::Id(id))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The text of the element `id`, waiting for the page that has it: a
/// click that submits a form returns before the next page has loaded.
async fn text(web: &Client, id: &str) -> String {
    let found = web
        .wait()
        .at_most(Duration::from_secs(10))
        .every(Duration::from_millis(50))
        .for_element(Locator::Id(id))
        .await;
    match found {
        Ok(element) => element.text().await.unwrap(),
        Err(e) => panic!("no #{id} on {}: {e}", web.current_url().await.unwrap()),
    }
}

/// Waits until the browser shows `path`.
async fn arrive(web: &Client, path: &str) {
    let started = Instant::now();
    loop {
        let now = web.current_url().await.unwrap();
        if now.path() == path {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still at {now} instead of {path}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click(web: &Client, css: &str) -> Result<(), CmdError> {
    web.find(Locator::Css(css)).await?.click().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_study_nurse_enters_and_corrects_an_adverse_event_in_chromium() {
    let db = TestDb::sqlite("browser").await;
    let store = common::bundle_60_with(
        &db,
        &[
            ("nurse_s1", Role::StudyNurse, &["S1"]),
            ("monitor_s1", Role::Monitor, &["S1"]),
            ("inv_s1", Role::Investigator, &["S1"]),
        ],
    )
    .await;
    let addr = common::serve(&store, false).await;
    let driver = start_driver();
    let web = browser(&driver).await;
    let base = format!("http://{addr}");
    let outcome = async {
        // Signed out, the casebook's address leads to the sign-in form
        // and, once signed in, back to the casebook.
        web.goto(&format!("{base}/patients/P006")).await?;
        assert!(web.current_url().await?.path().starts_with("/login"));
        fill(&web, "user", "nurse_s1").await;
        fill(&web, "password", PASSWORD).await;
        click(&web, "form.login button").await?;
        arrive(&web, "/patients/P006").await;

        // The adverse events' "Add" opens a blank form of this patient.
        click(&web, "section#adverse_events a.button").await?;
        arrive(&web, "/patients/P006/new/adverse_events").await;
        assert_eq!(value(&web, "patient_id").await, "P006");
        fill(&web, "ae_id", "AE9100").await;
        fill(&web, "term", "Feverish").await;
        fill(&web, "verbatim", "fièvre & frissons").await;
        choose(&web, "grade", "2").await;
        fill(&web, "onset_date", "2025-02-30").await;
        choose(&web, "serious", "false").await;
        choose(&web, "relatedness", "possible").await;
        click(&web, "#save").await?;

        // Refused: each mistake beside its field, everything typed kept.
        assert!(text(&web, "error-term").await.contains("CTCAE"));
        assert!(!text(&web, "error-onset_date").await.is_empty());
        assert_eq!(value(&web, "term").await, "Feverish");
        assert_eq!(value(&web, "verbatim").await, "fièvre & frissons");
        assert_eq!(value(&web, "onset_date").await, "2025-02-30");
        assert_eq!(value(&web, "grade").await, "2");
        assert_eq!(value(&web, "ae_id").await, "AE9100");
        assert!(
            store
                .get(&admin(), &ADVERSE_EVENTS, "AE9100")
                .await
                .is_err()
        );

        // Corrected and saved: back in the casebook, which lists it.
        fill(&web, "term", "Fever").await;
        fill(&web, "onset_date", "2025-04-01").await;
        click(&web, "#save").await?;
        arrive(&web, "/patients/P006").await;
        assert!(text(&web, "saved").await.contains("Adverse events"));
        let saved = store
            .get(&admin(), &ADVERSE_EVENTS, "AE9100")
            .await
            .unwrap();
        assert_eq!(saved.fields["verbatim"], "fièvre & frissons");

        // A later change needs a reason; without one it is refused and
        // the new grade stays on the form.
        click(&web, "a[href='/records/adverse_events/AE9100']").await?;
        arrive(&web, "/records/adverse_events/AE9100").await;
        choose(&web, "grade", "3").await;
        click(&web, "#save").await?;
        assert!(
            text(&web, "error-_reason")
                .await
                .contains("reason is required")
        );
        assert_eq!(value(&web, "grade").await, "3");
        fill(&web, "_reason", "grade 3 per the source document").await;
        click(&web, "#save").await?;
        arrive(&web, "/patients/P006").await;

        let history = store
            .history(&admin(), &ADVERSE_EVENTS, "AE9100")
            .await
            .unwrap();
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].fields["grade"], "3");
        assert_eq!(
            history[1].reason.as_deref(),
            Some("grade 3 per the source document")
        );
        assert_eq!(history[1].recorded_by, "nurse_s1");

        // The monitor raises a query on the grade; the investigator
        // answers it and signs the casebook with user name and password.
        let sign_in = |user: &'static str| {
            let (web, base) = (&web, &base);
            async move {
                click(web, "form[action='/logout'] button").await?;
                web.goto(&format!("{base}/login")).await?;
                fill(web, "user", user).await;
                fill(web, "password", PASSWORD).await;
                click(web, "form.login button").await?;
                arrive(web, "/patients").await;
                Ok::<(), CmdError>(())
            }
        };
        sign_in("monitor_s1").await?;
        web.goto(&format!("{base}/records/adverse_events/AE9100"))
            .await?;
        click(&web, "#record-queries-link").await?;
        arrive(&web, "/records/adverse_events/AE9100/queries").await;
        choose(&web, "field", "grade").await;
        fill(&web, "text", "Grade 3 needs the lab value: which one?").await;
        click(&web, "#raise-form button").await?;
        assert!(text(&web, "done").await.contains("raised"));
        let query = web.current_url().await?.path().to_owned();

        sign_in("inv_s1").await?;
        web.goto(&format!("{base}{query}")).await?;
        fill(&web, "answer-text", "Platelets 18 G/L on 2025-04-02.").await;
        click(&web, "#answer-form button").await?;
        assert!(text(&web, "done").await.contains("answer"));
        web.goto(&format!("{base}/patients/P006")).await?;
        fill(&web, "sign-user", "inv_s1").await;
        fill(&web, "password", PASSWORD).await;
        click(&web, "#sign-form button").await?;
        assert!(text(&web, "saved").await.starts_with("Signed"));
        let signatures = store.signatures(&admin(), "P006").await.unwrap();
        assert_eq!(signatures.len(), 1);
        assert!(signatures[0].covers_current_data);
        let queries = store
            .manual_queries(&admin(), store::QueryFilter::default())
            .await
            .unwrap();
        assert_eq!(queries[0].status, store::QueryStatus::Answered);
        assert_eq!(queries[0].messages[1].user, "inv_s1");
        Ok::<(), CmdError>(())
    }
    .await;
    web.close().await.unwrap();
    outcome.unwrap();
}
