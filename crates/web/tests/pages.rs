//! The case report forms through real HTTP, on SQLite and on PostgreSQL:
//! signing in, the site walls, a refused form that keeps what was typed
//! and names each field's rule, a change that needs its reason, a
//! conflict shown beside the user's values, the CSRF token, retraction,
//! history, the lock, and a statistician who only reads.

use std::net::SocketAddr;

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use store::testing::{TestDb, admin, both};
use store::{Role, Store};
use trial::bundle::spec::ADVERSE_EVENTS;
mod common;

use common::PASSWORD;

struct TestApp {
    addr: SocketAddr,
    store: Store,
    _db: TestDb,
}

async fn spawn_app(db: TestDb) -> TestApp {
    let store = common::bundle_60_with(
        &db,
        &[
            ("nurse_s1", Role::StudyNurse, &["S1"]),
            ("monitor_s1", Role::Monitor, &["S1"]),
            ("inv_s1", Role::Investigator, &["S1"]),
            ("dm", Role::DataManager, &[]),
            ("stat", Role::Statistician, &[]),
        ],
    )
    .await;
    TestApp {
        addr: common::serve(&store, false).await,
        store,
        _db: db,
    }
}

/// The value of a page's hidden field `name` (a form's version).
fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no hidden {name} in the page"))
        .to_owned()
}

/// A browser without script: a cookie jar that does not follow redirects,
/// so each answer can be looked at.
struct Browser {
    http: reqwest::Client,
    base: String,
}

/// An answer: status, where it sends the browser, the page.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    html: String,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: format!("http://{}", app.addr),
        }
    }

    async fn signed_in(app: &TestApp, user: &str) -> Browser {
        let browser = Browser::new(app);
        let a = browser
            .post("/login", &[("user", user), ("password", PASSWORD)])
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{user} signs in");
        browser
    }

    async fn answer(r: reqwest::Response) -> Answer {
        Answer {
            status: r.status(),
            location: r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            html: r.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        Self::answer(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        Self::answer(
            self.http
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The CSRF token of a page's forms.
    async fn csrf(&self) -> String {
        let html = self.get("/patients").await.html;
        let at = html
            .find("name=\"_csrf\" value=\"")
            .expect("a form with a token")
            + 20;
        html[at..at + 32].to_owned()
    }
}

/// The AE form's cells, with `changes` over a valid new AE of P006 (S1).
fn ae<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("patient_id", "P006"),
        ("ae_id", "AE9001"),
        ("term", "Fever"),
        ("verbatim", ""),
        ("grade", "2"),
        ("onset_date", "2025-04-01"),
        ("end_date", ""),
        ("serious", "false"),
        ("relatedness", "possible"),
        ("outcome", ""),
        ("action", ""),
    ];
    for (k, v) in changes {
        match form.iter_mut().find(|(c, _)| c == k) {
            Some(cell) => cell.1 = v,
            None => form.push((k, v)),
        }
    }
    form
}

/// The `<p class="field-error">` of a field.
fn field_error<'a>(html: &'a str, field: &str) -> Option<&'a str> {
    let start = html.find(&format!("id=\"error-{field}\">"))?;
    let text = &html[start..];
    let text = &text[text.find('>')? + 1..];
    Some(&text[..text.find("</p>")?])
}

async fn ae_count(app: &TestApp) -> usize {
    app.store
        .list(&admin(), &ADVERSE_EVENTS, None)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_nurse_enters_corrects_and_retracts_an_adverse_event() {
    for db in both("pages_nurse").await {
        let app = spawn_app(db).await;

        // Signed out, a page sends the browser to sign in, then back.
        let anon = Browser::new(&app);
        let a = anon.get("/patients/P006").await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(
            a.location.as_deref(),
            Some("/login?next=%2Fpatients%2FP006")
        );
        let a = anon
            .post(
                "/login",
                &[
                    ("user", "nurse_s1"),
                    ("password", "wrong"),
                    ("next", "/patients/P006"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(a.html.contains("value=\"nurse_s1\""), "the name is kept");
        assert!(a.html.contains("id=\"login-error\""));
        let a = anon
            .post(
                "/login",
                &[
                    ("user", "nurse_s1"),
                    ("password", PASSWORD),
                    ("next", "/patients/P006"),
                ],
            )
            .await;
        assert_eq!(a.location.as_deref(), Some("/patients/P006"));
        // A link to another server is not followed after signing in.
        let a = Browser::new(&app)
            .post(
                "/login",
                &[
                    ("user", "nurse_s1"),
                    ("password", PASSWORD),
                    ("next", "//evil.example/"),
                ],
            )
            .await;
        assert_eq!(a.location.as_deref(), Some("/patients"));
        // Browsers drop a tab from a URL and read `\` as `/`: either would
        // lead off the server.
        for next in [
            "/\t/evil.example",
            "/\\evil.example",
            "https://evil.example/",
        ] {
            let a = Browser::new(&app)
                .post(
                    "/login",
                    &[("user", "nurse_s1"), ("password", PASSWORD), ("next", next)],
                )
                .await;
            assert_eq!(a.location.as_deref(), Some("/patients"), "{next:?}");
        }
        // A sign-in form posted from another site's page is refused.
        for (header, value) in [
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let r = Browser::new(&app)
                .http
                .post(format!("http://{}/login", app.addr))
                .header(header, value)
                .form(&[("user", "nurse_s1"), ("password", PASSWORD)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{header}");
            assert!(r.headers().get("set-cookie").is_none());
        }

        let nurse = anon;
        let csrf = nurse.csrf().await;

        // Her site's patients only; another site's casebook is not found.
        let list = nurse.get("/patients").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.html.contains(">P006</a>"));
        assert!(!list.html.contains(">P001</a>"), "P001 is at S3");
        assert_eq!(
            nurse.get("/patients/P001").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            nurse.get("/patients/P001/new/adverse_events").await.status,
            StatusCode::NOT_FOUND
        );

        // Every page is kept out of caches and frames, and runs no script.
        let r = nurse
            .http
            .get(format!("{}/patients/P006", nurse.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));

        // The blank form offers the vocabulary and every CTCAE term.
        let blank = nurse.get("/patients/P006/new/adverse_events").await;
        assert_eq!(blank.status, StatusCode::OK);
        assert!(
            blank
                .html
                .contains("<option value=\"probable\">probable</option>")
        );
        assert!(
            blank
                .html
                .contains("<option value=\"Febrile neutropenia\">")
        );
        assert!(
            blank
                .html
                .contains("id=\"patient_id\" name=\"patient_id\" value=\"P006\" readonly")
        );

        // A refused form keeps every typed value and names each rule.
        let before = ae_count(&app).await;
        let mut bad = ae(&[
            ("term", "Feverish"),
            ("grade", "7"),
            ("onset_date", "2025-02-30"),
            ("verbatim", "fièvre <38.5°C> & frissons"),
        ]);
        bad.push(("_csrf", &csrf));
        let a = nurse.post("/patients/P006/new/adverse_events", &bad).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.html);
        assert_eq!(ae_count(&app).await, before, "nothing stored");
        assert!(a.html.contains("value=\"Feverish\""));
        assert!(
            a.html
                .contains("value=\"fièvre &#60;38.5°C&#62; &#38; frissons\""),
            "{}",
            a.html
        );
        assert!(
            a.html
                .contains("<option value=\"7\" selected>7 (not in the list)</option>")
        );
        assert!(a.html.contains("value=\"2025-02-30\""));
        assert!(
            field_error(&a.html, "term").is_some_and(|e| e.contains("CTCAE")),
            "{}",
            a.html
        );
        assert!(field_error(&a.html, "grade").is_some());
        assert!(field_error(&a.html, "onset_date").is_some());

        // An AE number taken at another site is refused as at her own,
        // at its field, without naming the site, and nothing is lost.
        let mut taken = ae(&[("ae_id", "AE0001"), ("verbatim", "long narrative")]);
        taken.push(("_csrf", &csrf));
        let a = nurse
            .post("/patients/P006/new/adverse_events", &taken)
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&a.html, "ae_id").is_some_and(|e| e.contains("already has a record")));
        assert!(a.html.contains("value=\"long narrative\"") && !a.html.contains("S3"));
        // Identifiers are plain ASCII: a Cyrillic look-alike is refused.
        let mut lookalike = ae(&[("ae_id", "АE9001")]);
        lookalike.push(("_csrf", &csrf));
        let a = nurse
            .post("/patients/P006/new/adverse_events", &lookalike)
            .await;
        assert!(
            field_error(&a.html, "ae_id").is_some_and(|e| e.contains("ASCII")),
            "{}",
            a.html
        );

        // Without the session's token nothing is saved.
        let a = nurse
            .post("/patients/P006/new/adverse_events", &ae(&[]))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(ae_count(&app).await, before);

        // Corrected, it is saved and the casebook shows it.
        let mut good = ae(&[]);
        good.push(("_csrf", &csrf));
        let a = nurse.post("/patients/P006/new/adverse_events", &good).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.html);
        assert_eq!(
            a.location.as_deref(),
            Some("/patients/P006?saved=adverse_events#adverse_events")
        );
        assert_eq!(ae_count(&app).await, before + 1);
        let book = nurse.get("/patients/P006?saved=adverse_events").await;
        assert!(book.html.contains("Saved: Adverse events."));
        assert!(book.html.contains("/records/adverse_events/AE9001"));

        // A change without its reason is refused together with the
        // record's own problems, and keeps what was typed.
        let mut change = ae(&[("grade", "3"), ("end_date", "2025-03-25")]);
        change.extend([
            ("_csrf", csrf.as_str()),
            ("_version", "1"),
            ("_reason", " "),
        ]);
        let a = nurse.post("/records/adverse_events/AE9001", &change).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&a.html, "_reason").is_some_and(|e| e.contains("reason is required")));
        // A rule across fields (the end before the onset) is shown at the
        // field it names first.
        assert!(
            field_error(&a.html, "end_date").is_some_and(
                |e| e.starts_with("end_date 2025-03-25 is before onset_date 2025-04-01")
            ),
            "{}",
            a.html
        );
        assert!(a.html.contains("value=\"2025-03-25\""));
        assert!(a.html.contains("<option value=\"3\" selected>3</option>"));

        // With a reason and a valid end, the change is a new version.
        let mut change = ae(&[
            ("grade", "3"),
            ("end_date", "2025-04-20"),
            ("outcome", "recovering"),
        ]);
        change.extend([
            ("_version", "1"),
            ("_reason", "grade corrected from the source"),
        ]);
        // Without the session's token: refused, what was typed kept.
        let a = nurse.post("/records/adverse_events/AE9001", &change).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert!(a.html.contains("earlier session") && a.html.contains("value=\"2025-04-20\""));
        change.push(("_csrf", csrf.as_str()));
        let a = nurse.post("/records/adverse_events/AE9001", &change).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.html);

        // A second change made to version 1 meets version 2: the form
        // shows what was saved meanwhile, and saving again knowingly wins.
        let mut stale = ae(&[("grade", "4"), ("end_date", "2025-04-20")]);
        stale.extend([
            ("_csrf", csrf.as_str()),
            ("_version", "1"),
            ("_reason", "worse than recorded"),
        ]);
        let a = nurse.post("/records/adverse_events/AE9001", &stale).await;
        assert_eq!(a.status, StatusCode::CONFLICT);
        // Both changed the grade: hers stays, theirs is beside it.
        assert!(
            a.html.contains("id=\"theirs-grade\">Saved meanwhile: 3"),
            "{}",
            a.html
        );
        assert!(a.html.contains("<option value=\"4\" selected>4</option>"));
        // She left the outcome as it was: it now holds the value saved
        // meanwhile, so saving again cannot undo it.
        assert!(
            a.html
                .contains("<option value=\"recovering\" selected>recovering</option>")
        );
        assert!(!a.html.contains("id=\"theirs-outcome\""));
        assert!(
            !a.html.contains("id=\"theirs-end_date\""),
            "both wrote the same end"
        );
        assert!(a.html.contains("name=\"_version\" value=\"2\""));
        assert!(a.html.contains("value=\"worse than recorded\""));
        // Saving the merged form again knowingly wins.
        stale.iter_mut().find(|(k, _)| *k == "_version").unwrap().1 = "2";
        stale.iter_mut().find(|(k, _)| *k == "outcome").unwrap().1 = "recovering";
        let a = nurse.post("/records/adverse_events/AE9001", &stale).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.html);
        let now = app
            .store
            .get(&admin(), &ADVERSE_EVENTS, "AE9001")
            .await
            .unwrap();
        assert_eq!(
            (&now.fields["grade"], &now.fields["outcome"]),
            (&"4".into(), &"recovering".into())
        );

        // The history shows each version with who and why.
        let h = nurse.get("/records/adverse_events/AE9001/history").await;
        assert_eq!(h.status, StatusCode::OK);
        assert!(h.html.contains("grade corrected from the source"));
        assert!(h.html.contains("worse than recorded"));
        assert_eq!(h.html.matches("<td>nurse_s1</td>").count(), 3);

        // Saving a form unchanged makes no new version.
        let mut same = stale.clone();
        same.iter_mut().find(|(k, _)| *k == "_version").unwrap().1 = "3";
        let a = nurse.post("/records/adverse_events/AE9001", &same).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(a.html.contains("nothing changed"));

        // Retracting needs the session's token and a reason; then the AE
        // leaves the casebook.
        let a = nurse
            .post(
                "/records/adverse_events/AE9001/retract",
                &[("_version", "3"), ("_reason", "duplicate")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert!(a.html.contains("value=\"duplicate\""));
        assert_eq!(ae_count(&app).await, before + 1);
        let a = nurse
            .post(
                "/records/adverse_events/AE9001/retract",
                &[("_csrf", &csrf), ("_version", "3"), ("_reason", "")],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&a.html, "retract").is_some());
        let a = nurse
            .post(
                "/records/adverse_events/AE9001/retract",
                &[
                    ("_csrf", &csrf),
                    ("_version", "3"),
                    ("_reason", "entered for the wrong patient"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        assert_eq!(ae_count(&app).await, before);
        let book = nurse.get(a.location.as_deref().unwrap()).await;
        assert!(book.html.contains("Retracted: a record of Adverse events."));
        let book = nurse.get("/patients/P006").await;
        assert!(!book.html.contains("/records/adverse_events/AE9001"));
        let h = nurse.get("/records/adverse_events/AE9001/history").await;
        assert!(h.html.contains("(retracted)") && h.html.contains("entered for the wrong patient"));
        // A change sent from a form opened before the retraction comes
        // back with what was typed and who retracted the record.
        let mut late = ae(&[("grade", "5"), ("verbatim", "typed before the retraction")]);
        late.extend([
            ("_csrf", csrf.as_str()),
            ("_version", "3"),
            ("_reason", "late"),
        ]);
        let a = nurse.post("/records/adverse_events/AE9001", &late).await;
        assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.html);
        assert!(a.html.contains("nurse_s1 retracted this record"));
        assert!(a.html.contains("value=\"typed before the retraction\""));
        assert!(!a.html.contains("id=\"save\""));

        // A relapse's sites are ticked boxes: several arrive as one list,
        // and a refused form keeps each one ticked.
        let relapse = |date: &'static str| {
            vec![
                ("_csrf", csrf.clone()),
                ("patient_id", "P006".to_owned()),
                ("date", date.to_owned()),
                ("kind", "hematologic".to_owned()),
                ("sites", "bone_marrow".to_owned()),
                ("sites", "cns".to_owned()),
            ]
        };
        let form = relapse("2025-13-01");
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let a = nurse.post("/patients/P006/new/relapses", &form).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            a.html.contains("value=\"bone_marrow\" checked")
                && a.html.contains("value=\"cns\" checked")
        );
        assert!(!a.html.contains("value=\"testis\" checked"));
        assert!(a.html.contains("<legend>Sites</legend>"));

        // An address that takes only a form's post, opened as a page,
        // leads to that form's page instead of an empty 405.
        let a = nurse.get("/records/adverse_events/AE9001/retract").await;
        assert_eq!(
            a.location.as_deref(),
            Some("/records/adverse_events/AE9001")
        );
        assert_eq!(nurse.get("/logout").await.location.as_deref(), Some("/"));

        // Signing out needs the token; then it ends the session.
        assert_eq!(
            nurse.post("/logout", &[]).await.status,
            StatusCode::FORBIDDEN
        );
        let a = nurse.post("/logout", &[("_csrf", &csrf)]).await;
        assert_eq!(a.location.as_deref(), Some("/login"));
        assert_eq!(nurse.get("/patients").await.status, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn a_registration_a_lock_and_a_statistician() {
    for db in both("pages_roles").await {
        let app = spawn_app(db).await;
        let dm = Browser::signed_in(&app, "dm").await;
        let csrf = dm.csrf().await;

        // A nurse registers at her own site only: the site is fixed.
        let nurse = Browser::signed_in(&app, "nurse_s1").await;
        let blank = nurse.get("/register").await;
        assert!(
            blank
                .html
                .contains("id=\"site_id\" name=\"site_id\" value=\"S1\" readonly")
        );
        // The data manager picks a known site from a list.
        let blank = dm.get("/register").await;
        assert!(blank.html.contains("<option value=\"S1\">S1</option>"));
        assert!(blank.html.contains("<option value=\"S3\">S3</option>"));

        // Every data query leads to a page that exists.
        let queries = dm.get("/queries").await;
        let links: Vec<&str> = queries
            .html
            .split("<td><a href=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        assert!(links.len() > 5, "{}", queries.html);
        for link in links {
            assert_eq!(dm.get(link).await.status, StatusCode::OK, "{link}");
        }

        // An address that names nothing is a page; the API's answers are
        // kept out of caches too.
        let a = dm.get("/nothing/here").await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
        assert!(a.html.contains("<h1>Not found</h1>"));
        let r = dm
            .http
            .get(format!("{}/api/me", dm.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], "no-store");

        // A new patient registered through the form.
        let form = [
            ("_csrf", csrf.as_str()),
            ("patient_id", "P900"),
            ("site_id", "S1"),
            ("cohort", "1"),
            ("registration_date", "2025-01-15"),
            ("age", "40"),
            ("sex", "F"),
            ("cd38_positive", "true"),
            ("immunophenotype", "thymic"),
            ("disease_status", "early_relapse"),
            ("prior_cycles", "3"),
            ("screening_bm_blasts_pct", "35,5"),
        ];
        let a = dm.post("/register", &form).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a decimal comma"
        );
        assert!(
            field_error(&a.html, "screening_bm_blasts_pct").is_some(),
            "{}",
            a.html
        );
        assert!(a.html.contains("value=\"35,5\""));
        let mut form = form.to_vec();
        form.last_mut().unwrap().1 = "35.5";
        let a = dm.post("/register", &form).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.html);
        assert_eq!(
            a.location.as_deref(),
            Some("/patients/P900?saved=patients#patients")
        );
        // A site the trial does not have, or one spelt in other case, is
        // refused at the site; so is a patient id that differs from
        // another only in letter case.
        for (field, value, rule) in [
            ("site_id", "S9", "not a site of the trial"),
            ("site_id", "s1", "not a site of the trial"),
            ("patient_id", "p900", "differs only in letter case"),
        ] {
            let mut again = form.clone();
            again
                .iter_mut()
                .find(|(k, _)| *k == "patient_id")
                .unwrap()
                .1 = "P901";
            again.iter_mut().find(|(k, _)| *k == field).unwrap().1 = value;
            let a = dm.post("/register", &again).await;
            assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{value}");
            assert!(
                field_error(&a.html, field).is_some_and(|e| e.contains(rule)),
                "{value}: {}",
                a.html
            );
        }

        // The statistician reads pseudonyms and cannot save.
        let stat = Browser::signed_in(&app, "stat").await;
        let list = stat.get("/patients").await;
        assert!(!list.html.contains(">P006</a>") && !list.html.contains(">P900</a>"));
        assert!(!list.html.contains("Register a patient"));
        let pseudonym = app.store.pseudonym("P006");
        let book = stat.get(&format!("/patients/{pseudonym}")).await;
        assert_eq!(book.status, StatusCode::OK);
        assert!(!book.html.contains("P006") && !book.html.contains(">Add</a>"));
        let stat_csrf = stat.csrf().await;
        // Nowhere does the statistician meet a real patient id.
        for path in [
            "/queries".to_owned(),
            "/report".to_owned(),
            "/records/adverse_events/AE0001".to_owned(),
            "/records/adverse_events/AE0001/history".to_owned(),
            format!("/patients/{}", app.store.pseudonym("P001")),
        ] {
            let a = stat.get(&path).await;
            assert_eq!(a.status, StatusCode::OK, "{path}");
            for id in ["P001", "P002", "P003", "P006", "P900"] {
                assert!(!a.html.contains(id), "{path} names {id}");
            }
        }
        let a = stat
            .post(
                &format!("/patients/{pseudonym}/new/adverse_events"),
                &[("_csrf", stat_csrf.as_str()), ("term", "Fever")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.html);

        // Without the session's token neither the lock nor the cut-off
        // changes, and what was typed stays.
        let a = dm
            .post(
                "/administration/lock",
                &[("action", "lock"), ("_reason", "DSMB")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert!(a.html.contains("value=\"DSMB\""));
        let a = dm
            .post(
                "/administration/cutoff",
                &[("cutoff", "2026-01-31"), ("_reason", "DSMB")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert!(a.html.contains("value=\"2026-01-31\""));
        assert!(!app.store.state().await.unwrap().locked);

        // The data manager locks the database from the administration
        // page; without a reason it is refused and nothing changes.
        let a = dm
            .post(
                "/administration/lock",
                &[
                    ("_csrf", csrf.as_str()),
                    ("action", "lock"),
                    ("_reason", "\u{200b}"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&a.html, "lock").is_some_and(|e| e.contains("reason is required")));
        assert!(!app.store.state().await.unwrap().locked);
        let a = dm
            .post(
                "/administration/lock",
                &[
                    ("_csrf", csrf.as_str()),
                    ("action", "lock"),
                    ("_reason", "interim analysis"),
                ],
            )
            .await;
        assert_eq!(a.location.as_deref(), Some("/administration?done=locked"));
        assert!(app.store.state().await.unwrap().locked);
        // A statistician cannot.
        let a = stat
            .post(
                "/administration/lock",
                &[
                    ("_csrf", stat_csrf.as_str()),
                    ("action", "unlock"),
                    ("_reason", "mine"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        let book = dm.get("/patients/P900").await;
        assert!(book.html.contains("The database is locked"));
        let read_only = dm.get("/records/patients/P900").await;
        assert!(
            read_only.html.contains("id=\"locked\"") && !read_only.html.contains("id=\"save\"")
        );
        let admin_page = dm.get("/administration").await;
        assert!(!admin_page.html.contains("id=\"cutoff-form\""));
        let mut change: Vec<(&str, &str)> = form.clone();
        change[0] = ("_csrf", &csrf);
        change.extend([("_version", "1"), ("_reason", "age checked")]);
        change.iter_mut().find(|(k, _)| *k == "age").unwrap().1 = "41";
        let a = dm.post("/records/patients/P900", &change).await;
        assert_eq!(a.status, StatusCode::LOCKED, "{}", a.html);
        assert!(a.html.contains("value=\"41\""), "what was typed is kept");

        // A cut-off that is no date is refused with what was typed.
        let a = dm
            .post(
                "/administration/cutoff",
                &[
                    ("_csrf", csrf.as_str()),
                    ("cutoff", "2026-02-30"),
                    ("_reason", "DSMB"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(a.html.contains("value=\"2026-02-30\"") && a.html.contains("value=\"DSMB\""));
        assert!(field_error(&a.html, "cutoff").is_some_and(|e| e.contains("2026-02-30")));
        assert!(field_error(&a.html, "cutoff-reason").is_none());
        let a = dm
            .post(
                "/administration/lock",
                &[
                    ("_csrf", csrf.as_str()),
                    ("action", "unlock"),
                    ("_reason", "analysis done"),
                ],
            )
            .await;
        assert_eq!(a.location.as_deref(), Some("/administration?done=unlocked"));

        // A cut-off is a day already past; an earlier one is set with its
        // reason.
        let a = dm
            .post(
                "/administration/cutoff",
                &[
                    ("_csrf", csrf.as_str()),
                    ("cutoff", "2999-01-01"),
                    ("_reason", "DSMB"),
                ],
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&a.html, "cutoff").is_some_and(|e| e.contains("after today")));
        let a = dm
            .post(
                "/administration/cutoff",
                &[
                    ("_csrf", csrf.as_str()),
                    ("cutoff", "2026-01-31"),
                    ("_reason", "DSMB"),
                ],
            )
            .await;
        assert_eq!(a.location.as_deref(), Some("/administration?done=cutoff"));
        assert_eq!(
            app.store.state().await.unwrap().cutoff.as_deref(),
            Some("2026-01-31")
        );
        // The queries that name the cut-off are raised again with it.
        let queries = dm.get("/queries").await;
        assert!(queries.html.contains("dated after the cut-off 2026-01-31"));
        assert!(!queries.html.contains("after the cut-off 2026-06-30"));

        // The audit trail shows both, with their reasons; the statistician
        // is refused it.
        let audit = dm.get("/audit").await;
        assert_eq!(audit.status, StatusCode::OK);
        assert!(audit.html.contains("<td>lock</td>") && audit.html.contains("interim analysis"));
        assert!(audit.html.contains("analysis done"));
        assert!(
            audit
                .html
                .contains("href=\"/records/patients/P900/history\"")
        );
        assert_eq!(stat.get("/audit").await.status, StatusCode::FORBIDDEN);

        // The report of what each user may see: the statistician's is
        // computed from every site under pseudonyms.
        let report = stat.get("/report").await;
        assert_eq!(report.status, StatusCode::OK);
        assert!(report.html.contains("E01") && !report.html.contains("P002"));
        assert_eq!(
            stat.get("/report?as_of=2999-01-01").await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}

/// A monitor raises a query on an AE's grade through the form (refused
/// once, keeping what was typed), the site's nurse finds it on her queries
/// page and in the casebook and answers it, the monitor closes it; a step
/// taken after the query moved on keeps its text to copy.
#[tokio::test]
async fn a_monitor_raises_a_query_the_nurse_answers_and_the_monitor_closes_it() {
    for db in both("pages_manual_queries").await {
        let app = spawn_app(db).await;
        let monitor = Browser::signed_in(&app, "monitor_s1").await;
        let nurse = Browser::signed_in(&app, "nurse_s1").await;
        let stat = Browser::signed_in(&app, "stat").await;
        // P002 is at site S1; AE0011 a grade 4 platelet count decreased.
        let record = monitor.get("/records/adverse_events/AE0011").await;
        assert!(
            record
                .html
                .contains("/records/adverse_events/AE0011/queries")
        );
        let page = monitor.get("/records/adverse_events/AE0011/queries").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("id=\"no-queries\""), "{}", page.html);
        assert!(page.html.contains("id=\"raise-form\""));
        let csrf = monitor.csrf().await;

        // No question: refused, the field chosen stays chosen.
        let refused = monitor
            .post(
                "/records/adverse_events/AE0011/queries",
                &[("_csrf", &csrf), ("field", "grade"), ("text", "  ")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.html.contains("<option value=\"grade\" selected>"),
            "{}",
            refused.html
        );
        assert!(
            refused
                .html
                .contains("id=\"error-text\">a query&#39;s message is required"),
            "{}",
            refused.html
        );

        let raised = monitor
            .post(
                "/records/adverse_events/AE0011/queries",
                &[
                    ("_csrf", &csrf),
                    ("field", "grade"),
                    ("text", "Source shows <grade 3>?"),
                ],
            )
            .await;
        assert_eq!(raised.status, StatusCode::SEE_OTHER, "{}", raised.html);
        let to = raised.location.unwrap();
        assert!(
            to.starts_with("/manual-queries/") && to.ends_with("?done=raise"),
            "{to}"
        );
        let query = to.split('?').next().unwrap().to_owned();
        let shown = monitor.get(&to).await;
        assert!(shown.html.contains("id=\"done\""));
        assert!(
            shown.html.contains("Source shows &#60;grade 3&#62;?"),
            "escaped: {}",
            shown.html
        );
        assert!(
            !shown.html.contains("id=\"answer-form\""),
            "a monitor does not answer"
        );

        // The nurse finds it on her queries page and in the casebook.
        let list = nurse.get("/queries").await;
        assert!(
            list.html.contains("id=\"raised-queries\"") && list.html.contains(&query),
            "{}",
            list.html
        );
        let casebook = nurse.get("/patients/P002").await;
        assert!(casebook.html.contains(&query), "{}", casebook.html);
        let page = nurse.get(&query).await;
        assert!(page.html.contains("id=\"answer-form\""));
        assert!(!page.html.contains("id=\"close-form\""));
        let answered = nurse
            .post(
                &format!("{query}/answer"),
                &[
                    ("_csrf", &nurse.csrf().await),
                    ("text", "Grade 4 is right: 18 G/L."),
                ],
            )
            .await;
        assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.html);

        // The monitor closes it; the nurse's second answer, sent from the
        // page she had open, comes back with its text and the rule.
        let page = monitor.get(&query).await;
        assert!(
            page.html.contains("id=\"close-form\"") && page.html.contains("id=\"reopen-form\"")
        );
        let closed = monitor
            .post(
                &format!("{query}/close"),
                &[("_csrf", &csrf), ("text", "Thank you.")],
            )
            .await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.html);
        let late = nurse
            .post(
                &format!("{query}/answer"),
                &[
                    ("_csrf", &nurse.csrf().await),
                    ("text", "And the count on day 3."),
                ],
            )
            .await;
        assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(late.html.contains("the query is closed"), "{}", late.html);
        assert!(
            late.html.contains("id=\"not-sent\"") && late.html.contains("And the count on day 3.")
        );
        let thread = monitor.get(&query).await.html;
        for said in ["Source shows", "Grade 4 is right", "Thank you."] {
            assert!(thread.contains(said), "{said}");
        }
        assert!(
            !nurse.get("/queries").await.html.contains(&query),
            "closed queries leave the list"
        );

        // Another session's token is refused and keeps the text; a
        // statistician reads no thread.
        let reopened = monitor
            .post(
                &format!("{query}/reopen"),
                &[("_csrf", "x"), ("text", "kept")],
            )
            .await;
        assert_eq!(reopened.status, StatusCode::FORBIDDEN);
        assert_eq!(stat.get(&query).await.status, StatusCode::FORBIDDEN);
        assert!(
            !stat
                .get("/records/adverse_events/AE0011")
                .await
                .html
                .contains("id=\"record-queries-link\""),
            "no queries link for a statistician"
        );
        assert!(stat.get("/queries").await.html.contains("id=\"no-raised\""));
        app.store.close().await;
    }
}

/// The site's investigator signs P002's casebook with their password
/// (refused once, the rule at the password); the nurse has no signing
/// form; a change to the casebook afterwards shows the signature no longer
/// covers the data.
#[tokio::test]
async fn an_investigator_signs_a_casebook_and_a_later_change_shows_on_it() {
    for db in both("pages_signatures").await {
        let app = spawn_app(db).await;
        let investigator = Browser::signed_in(&app, "inv_s1").await;
        let nurse = Browser::signed_in(&app, "nurse_s1").await;
        let page = investigator.get("/patients/P002").await.html;
        assert!(
            page.contains("id=\"unsigned\"") && page.contains("id=\"sign-form\""),
            "{page}"
        );
        assert!(
            !nurse
                .get("/patients/P002")
                .await
                .html
                .contains("id=\"sign-form\"")
        );
        let csrf = investigator.csrf().await;
        let version_of = |html: &str| hidden(html, "_casebook_version");
        let version = version_of(&page);
        let refused = investigator
            .post(
                "/patients/P002/sign",
                &[
                    ("_csrf", &csrf),
                    ("_casebook_version", &version),
                    ("user", "inv_s1"),
                    ("password", "not mine"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused
                .html
                .contains("id=\"error-password\">this is not your password"),
            "{}",
            refused.html
        );
        assert!(
            !refused.html.contains("not mine"),
            "a password is never shown back"
        );
        let signed = investigator
            .post(
                "/patients/P002/sign",
                &[
                    ("_csrf", &csrf),
                    ("_casebook_version", &version),
                    ("user", "inv_s1"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
        assert_eq!(signed.location.as_deref(), Some("/patients/P002?signed=1"));
        let page = investigator.get("/patients/P002?signed=1").await.html;
        assert!(page.contains("Covers the data as they stand."), "{page}");
        assert!(page.contains(store::SIGNATURE_MEANING));
        let refused = nurse
            .post(
                "/patients/P002/sign",
                &[
                    ("_csrf", &nurse.csrf().await),
                    ("_casebook_version", &version),
                    ("user", "nurse_s1"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        // The nurse corrects an AE: the signature stays, no longer covering.
        let form = nurse.get("/records/adverse_events/AE0012").await.html;
        let version = hidden(&form, "_version");
        let changed = nurse
            .post(
                "/records/adverse_events/AE0012",
                &[
                    ("_csrf", &nurse.csrf().await),
                    ("_version", &version),
                    ("_reason", "end date found in the chart"),
                    ("patient_id", "P002"),
                    ("ae_id", "AE0012"),
                    ("term", "Diarrhea"),
                    ("grade", "3"),
                    ("onset_date", "2024-02-24"),
                    ("end_date", "2024-02-28"),
                    ("serious", "false"),
                    ("relatedness", "unlikely"),
                    ("outcome", "recovered"),
                    ("action", "none"),
                ],
            )
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.html);
        let page = investigator.get("/patients/P002").await.html;
        assert!(page.contains("no longer covers the data"), "{page}");
        assert!(page.contains("id=\"sign-form\""));
        // The form opened before the change signs nothing: 409, the user
        // name kept, the casebook shown as it stands.
        let stale = investigator
            .post(
                "/patients/P002/sign",
                &[
                    ("_csrf", &csrf),
                    ("_casebook_version", &version),
                    ("user", "inv_s1"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert!(
            stale
                .html
                .contains("The casebook changed since this page was opened")
        );
        assert!(stale.html.contains("value=\"inv_s1\""));
        let version = version_of(&stale.html);
        // The list shows it, and "casebooks to sign" keeps it.
        let list = investigator.get("/patients?q=p002").await.html;
        assert!(list.contains("changed since signed"), "{list}");
        let to_sign = investigator.get("/patients?show=unsigned").await.html;
        assert!(to_sign.contains(">P002</a>"));
        investigator
            .post(
                "/patients/P002/sign",
                &[
                    ("_csrf", &csrf),
                    ("_casebook_version", &version),
                    ("user", "inv_s1"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        let to_sign = investigator.get("/patients?show=unsigned").await.html;
        assert!(!to_sign.contains(">P002</a>"), "{to_sign}");
        app.store.close().await;
    }
}

/// The patient list finds by part of an id in any case, by site and
/// cohort, and pages a hundred at a time keeping the search.
#[tokio::test]
async fn the_patient_list_finds_filters_and_pages() {
    let app = spawn_app(TestDb::sqlite("pages_patient_list").await).await;
    let dm = Browser::signed_in(&app, "dm").await;
    let all = dm.get("/patients").await.html;
    assert!(all.contains("1–60 of 60 patients"), "{all}");
    assert!(!all.contains("rel=\"next\""));
    let found = dm.get("/patients?q=p00").await.html;
    assert!(found.contains("of 9 patients"), "P001–P009: {found}");
    assert!(
        found.contains("value=\"p00\""),
        "the search stays in its box"
    );
    let s1 = dm.get("/patients?site=S1&cohort=2").await.html;
    let rows = s1.matches("<tr>").count() - 1;
    assert!(
        rows > 0 && !s1.contains("<td>S2</td>") && !s1.contains("<td>1</td><td>2"),
        "{s1}"
    );
    let none = dm.get("/patients?q=nobody").await.html;
    assert!(none.contains("No patient matches."));
    // 60 patients fit one page: a page past the last shows the last.
    let past = dm.get("/patients?page=7&q=P").await.html;
    assert!(past.contains("1–60 of 60 patients"), "{past}");
    let bad = dm.get("/patients?page=x").await;
    assert_eq!(bad.status, StatusCode::OK);
    let huge = dm.get("/patients?page=99999999999999999999999").await.html;
    assert!(
        huge.contains("1–60 of 60 patients"),
        "past the last page: {huge}"
    );
    let one = dm.get("/patients?q=P060").await.html;
    assert!(one.contains("id=\"shown\">1 patient"), "{one}");
    // A statistician's list leads to each pseudonymized casebook.
    let stat = Browser::signed_in(&app, "stat").await;
    let list = stat.get("/patients").await.html;
    let link = list
        .split("<td><a href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert!(link.starts_with("/patients/PS-"), "{link}");
    let casebook = stat.get(&link).await;
    assert_eq!(casebook.status, StatusCode::OK, "{link}: {}", casebook.html);
    app.store.close().await;
}

/// A raise refused by the lock keeps its text and says why; a retracted
/// record's queries are still read and settled, and its page raises none.
#[tokio::test]
async fn a_locked_raise_keeps_its_text_and_a_retracted_records_queries_stay_readable() {
    let app = spawn_app(TestDb::sqlite("pages_query_edges").await).await;
    let monitor = Browser::signed_in(&app, "monitor_s1").await;
    let dm = Browser::signed_in(&app, "dm").await;
    let csrf = monitor.csrf().await;
    let dm_csrf = dm.csrf().await;
    assert_eq!(
        dm.post(
            "/administration/lock",
            &[
                ("_csrf", &dm_csrf),
                ("action", "lock"),
                ("_reason", "interim")
            ]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let page = monitor
        .get("/records/adverse_events/AE0011/queries")
        .await
        .html;
    assert!(
        page.contains("id=\"locked\"") && page.contains("id=\"raise-form\""),
        "{page}"
    );
    let refused = monitor
        .post(
            "/records/adverse_events/AE0011/queries",
            &[
                ("_csrf", &csrf),
                ("field", "grade"),
                ("text", "Typed while locked"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::LOCKED);
    assert!(
        refused.html.contains("Typed while locked</textarea>"),
        "{}",
        refused.html
    );
    assert!(refused.html.contains("id=\"form-errors\""));
    dm.post(
        "/administration/lock",
        &[
            ("_csrf", &dm_csrf),
            ("action", "unlock"),
            ("_reason", "go on"),
        ],
    )
    .await;

    let raised = monitor
        .post(
            "/records/adverse_events/AE0011/queries",
            &[
                ("_csrf", &csrf),
                ("field", ""),
                ("text", "Is this AE a duplicate?"),
            ],
        )
        .await;
    let query = raised
        .location
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // The data manager retracts the record the query is on.
    let form = dm.get("/records/adverse_events/AE0011").await.html;
    let version = hidden(&form, "_version");
    let retracted = dm
        .post(
            "/records/adverse_events/AE0011/retract",
            &[
                ("_csrf", &dm_csrf),
                ("_version", &version),
                ("_reason", "entered twice"),
            ],
        )
        .await;
    assert_eq!(
        retracted.status,
        StatusCode::SEE_OTHER,
        "{}",
        retracted.html
    );
    // A raise sent from the form opened before the retraction: refused,
    // the text kept to copy.
    let late = monitor
        .post(
            "/records/adverse_events/AE0011/queries",
            &[
                ("_csrf", &csrf),
                ("field", ""),
                ("text", "Typed before the retraction"),
            ],
        )
        .await;
    assert_eq!(late.status, StatusCode::NOT_FOUND);
    assert!(
        late.html.contains("id=\"not-sent\"") && late.html.contains("Typed before the retraction"),
        "{}",
        late.html
    );
    let thread = monitor.get(&query).await.html;
    assert!(thread.contains("id=\"retracted\""), "{thread}");
    assert!(thread.contains("/records/adverse_events/AE0011/history"));
    let page = monitor.get("/records/adverse_events/AE0011/queries").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains(&query) && !page.html.contains("id=\"raise-form\""),
        "{}",
        page.html
    );
    let closed = monitor
        .post(
            &format!("{query}/close"),
            &[("_csrf", &csrf), ("text", "Yes: retracted.")],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.html);
    app.store.close().await;
}
