//! The API through real HTTP, on SQLite and on PostgreSQL: sites walled
//! off, roles enforced, the lock, reasons, conflicts, history, as-of
//! reports, and every kind of bad input refused with its own 4xx.

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{Value, json};
use store::testing::{TestDb, both};
use store::{Role, Store};
mod common;

use common::PASSWORD;

/// A server on a free port over a fresh database holding bundle-60, with
/// one user per role.
struct TestApp {
    addr: SocketAddr,
    store: Store,
    _db: TestDb,
}

async fn spawn_app(db: TestDb) -> TestApp {
    spawn_app_with(db, false).await
}

async fn spawn_app_with(db: TestDb, behind_proxy: bool) -> TestApp {
    let store = common::bundle_60_with(
        &db,
        &[
            ("nurse_s1", Role::StudyNurse, &["S1"]),
            ("inv_s3", Role::Investigator, &["S3"]),
            ("monitor_s3", Role::Monitor, &["S3"]),
            ("dm", Role::DataManager, &[]),
            ("stat", Role::Statistician, &[]),
        ],
    )
    .await;
    TestApp {
        addr: common::serve(&store, behind_proxy).await,
        store,
        _db: db,
    }
}

/// A signed-in client: cookie jar plus the CSRF token.
struct Client {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl TestApp {
    async fn login(&self, user: &str) -> Client {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let base = format!("http://{}", self.addr);
        let r = http
            .post(format!("{base}/api/login"))
            .json(&json!({"user": user, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "login of {user}");
        let body: Value = r.json().await.unwrap();
        Client {
            http,
            base,
            csrf: body["csrf"].as_str().unwrap().to_owned(),
        }
    }
}

impl Client {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, &body.to_string())
            .await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, &body.to_string())
            .await
    }
}

fn fever(patient: &str, ae_id: &str, onset: &str) -> Value {
    json!({"patient_id": patient, "ae_id": ae_id, "term": "Fever", "grade": 2, "onset_date": onset,
           "serious": false, "relatedness": "possible"})
}

#[tokio::test]
async fn sites_and_roles_are_enforced_over_http() {
    for db in both("api_roles").await {
        let app = spawn_app(db).await;
        let nurse = app.login("nurse_s1").await;
        // P001 is a patient of site S3.
        assert_eq!(
            nurse.get("/api/patients/P001").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            nurse.get("/api/patients/P001/casebook").await.0,
            StatusCode::NOT_FOUND
        );
        let (status, list) = nurse.get("/api/patients").await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["patient_id"].as_str().unwrap())
            .collect();
        assert!(!ids.is_empty() && !ids.contains(&"P001"), "{ids:?}");
        let (status, body) = nurse
            .post(
                "/api/adverse_events",
                json!({"record": fever("P001", "AE9001", "2025-07-01")}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let inv = app.login("inv_s3").await;
        let (status, casebook) = inv.get("/api/patients/P001/casebook").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !casebook["records"]["adverse_events"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let stat = app.login("stat").await;
        let (status, _) = stat
            .post(
                "/api/adverse_events",
                json!({"record": fever("P001", "AE9002", "2025-07-01")}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, patients) = stat.get("/api/patients").await;
        assert!(
            patients
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["patient_id"].as_str().unwrap().starts_with("PS-"))
        );
        let monitor = app.login("monitor_s3").await;
        assert_eq!(monitor.get("/api/patients/P001").await.0, StatusCode::OK);
        assert_eq!(
            monitor
                .post(
                    "/api/adverse_events",
                    json!({"record": fever("P001", "AE9003", "2025-07-01")})
                )
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        // No session, no data; a session without the CSRF header cannot write.
        let anon = reqwest::Client::new();
        assert_eq!(
            anon.get(format!("{}/api/patients", inv.base))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::UNAUTHORIZED
        );
        let no_csrf = inv
            .http
            .post(format!("{}/api/adverse_events", inv.base))
            .json(&json!({"record": fever("P001", "AE9004", "2025-07-01")}))
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
        app.store.close().await;
    }
}

#[tokio::test]
async fn changes_need_reasons_keep_versions_and_stale_edits_get_409() {
    for db in both("api_versions").await {
        let app = spawn_app(db).await;
        let inv = app.login("inv_s3").await;
        let (status, created) = inv
            .post(
                "/api/adverse_events",
                json!({"record": fever("P001", "AE9010", "2025-07-01")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["record"]["version"], 1);
        let mut record = fever("P001", "AE9010", "2025-07-01");
        record["grade"] = json!(3);
        let (status, body) = inv
            .put(
                "/api/adverse_events/AE9010",
                json!({"version": 1, "reason": "", "record": record}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["fields"][0]["field"], "reason");
        let (status, _) = inv
            .put(
                "/api/adverse_events/AE9010",
                json!({"version": 1, "reason": "grade per source", "record": record}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = inv
            .put(
                "/api/adverse_events/AE9010",
                json!({"version": 1, "reason": "stale", "record": record}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["current"]["version"], 2);
        assert_eq!(body["current"]["fields"]["grade"], "3");
        let (status, _) = inv
            .send(
                reqwest::Method::DELETE,
                "/api/adverse_events/AE9010",
                &json!({"version": 2, "reason": "duplicate entry"}).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            inv.get("/api/adverse_events/AE9010").await.0,
            StatusCode::NOT_FOUND
        );
        let (_, history) = inv.get("/api/adverse_events/AE9010/history").await;
        let versions: Vec<(i64, bool)> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["version"].as_i64().unwrap(),
                    v["retracted"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(versions, [(1, false), (2, false), (3, true)]);
        let dm = app.login("dm").await;
        let (_, trail) = dm.get("/api/audit?table=adverse_events&key=AE9010").await;
        assert_eq!(trail.as_array().unwrap().len(), 3);
        app.store.close().await;
    }
}

#[tokio::test]
async fn a_locked_database_refuses_writes_over_http() {
    for db in both("api_lock").await {
        let app = spawn_app(db).await;
        let dm = app.login("dm").await;
        let inv = app.login("inv_s3").await;
        assert_eq!(
            inv.post("/api/lock", json!({"reason": "cut-off"})).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            dm.post("/api/lock", json!({"reason": "interim cut-off"}))
                .await
                .0,
            StatusCode::OK
        );
        let (status, body) = inv
            .post(
                "/api/adverse_events",
                json!({"record": fever("P001", "AE9020", "2025-07-01")}),
            )
            .await;
        assert_eq!(status, StatusCode::LOCKED, "{body}");
        assert_eq!(
            dm.post("/api/unlock", json!({"reason": "done"})).await.0,
            StatusCode::OK
        );
        assert_eq!(
            inv.post(
                "/api/adverse_events",
                json!({"record": fever("P001", "AE9020", "2025-07-01")})
            )
            .await
            .0,
            StatusCode::CREATED
        );
        app.store.close().await;
    }
}

#[tokio::test]
async fn an_as_of_report_equals_the_report_saved_at_that_time() {
    for db in both("api_asof").await {
        let app = spawn_app(db).await;
        let dm = app.login("dm").await;
        let (status, saved) = dm.get("/api/report").await;
        assert_eq!(status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let then = store::Instant::now().to_db();
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        let record = json!({"patient_id": "P002", "date": "2024-03-05", "timepoint": "w9", "bm_blasts_pct": 1, "pb_blasts": false,
                            "anc": 2, "platelets": 150, "emd": false, "investigator_response": "CR"});
        assert_eq!(
            dm.post("/api/assessments", json!({"record": record}))
                .await
                .0,
            StatusCode::CREATED
        );
        let (_, now) = dm.get("/api/report").await;
        let (_, as_of) = dm.get(&format!("/api/report?as_of={then}")).await;
        assert_eq!(as_of, saved);
        assert_ne!(now, saved);
        assert_eq!(
            dm.get("/api/report?as_of=yesterday").await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        app.store.close().await;
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_nothing_is_stored() {
    for db in both("api_bad").await {
        let app = spawn_app(db).await;
        let inv = app.login("inv_s3").await;
        let count = |v: Value| v.as_array().unwrap().len();
        let before = count(inv.get("/api/adverse_events").await.1);
        let (s, b) = inv
            .send(
                reqwest::Method::POST,
                "/api/adverse_events",
                "{\"record\": {",
            )
            .await;
        assert_eq!(
            (s, b["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("malformed_json"))
        );
        let mut unknown = fever("P001", "AE9030", "2025-07-01");
        unknown["colour"] = json!("red");
        let (s, b) = inv
            .post("/api/adverse_events", json!({"record": unknown}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b["fields"][0]["field"], "colour");
        let (s, b) = inv
            .post(
                "/api/adverse_events",
                json!({"record": fever("P001", "AE9031", "2025-07-01"), "extra": 1}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b["fields"][0]["field"], "extra", "{b}");
        let (s, b) = inv
            .post("/api/adverse_events", json!({"record": [1, 2]}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let mut wrong_type = fever("P001", "AE9032", "2025-07-01");
        wrong_type["grade"] = json!({"value": 2});
        assert_eq!(
            inv.post("/api/adverse_events", json!({"record": wrong_type}))
                .await
                .0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let mut term = fever("P001", "AE9033", "2025-07-01");
        term["term"] = json!("Feverishness");
        let (s, b) = inv
            .post("/api/adverse_events", json!({"record": term}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(b["fields"][0]["field"], "term");
        let mut order = fever("P001", "AE9034", "2025-07-01");
        order["end_date"] = json!("2025-06-01");
        let (s, b) = inv
            .post("/api/adverse_events", json!({"record": order}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            b["message"].as_str().unwrap().contains("end_before_start"),
            "{b}"
        );
        let big = format!(
            "{{\"record\": {{\"verbatim\": \"{}\"}}}}",
            "x".repeat(300 * 1024)
        );
        assert_eq!(
            inv.send(reqwest::Method::POST, "/api/adverse_events", &big)
                .await
                .0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        // A key named twice would keep its last value silently.
        let twice =
            serde_json::to_string(&json!({"record": fever("P001", "AE9035", "2025-07-01")}))
                .unwrap()
                .replacen("{\"record\":{", "{\"record\":{\"grade\":\"3\",", 1);
        let (s, b) = inv
            .send(reqwest::Method::POST, "/api/adverse_events", &twice)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["fields"][0]["field"], "grade", "{b}");
        let (s, b) = inv.get("/api/report?as_of=2999-01-01").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["fields"][0]["field"], "as_of", "{b}");
        assert_eq!(inv.get("/api/no_such_table").await.0, StatusCode::NOT_FOUND);
        assert_eq!(count(inv.get("/api/adverse_events").await.1), before);
        app.store.close().await;
    }
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let app = spawn_app(TestDb::sqlite("api_openapi").await).await;
    let dm = app.login("dm").await;
    let (status, doc) = dm.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for table in [
        "patients",
        "doses",
        "assessments",
        "mrd",
        "adverse_events",
        "sct",
        "gvhd",
        "relapses",
        "qlq_c30",
        "hospital_stays",
        "status",
    ] {
        assert!(paths.contains_key(&format!("/api/{table}")), "{table}");
        let schema = &doc["components"]["schemas"][format!("Record_{table}")];
        assert_eq!(schema["additionalProperties"], false);
    }
    // Every documented GET without path parameters answers (not 404).
    for (path, item) in paths {
        if item.get("get").is_some() && !path.contains('{') {
            let (status, _) = dm.get(path).await;
            assert!(status.is_success(), "{path}: {status}");
        }
    }
    // A documented path with parameters answers for a real key.
    assert_eq!(dm.get("/api/patients/P001/history").await.0, StatusCode::OK);
    app.store.close().await;
}

/// Behind a proxy, an address with too many failed logins (on any
/// accounts) gets 429 with `Retry-After` before its password is checked;
/// the address is the one the proxy appended to `X-Forwarded-For`, not the
/// ones the client wrote before it. Served directly, the header is ignored:
/// every attempt of this test comes from 127.0.0.1.
#[tokio::test]
async fn an_address_with_too_many_failed_logins_is_throttled() {
    for behind_proxy in [true, false] {
        let tag = if behind_proxy {
            "throttle_proxy"
        } else {
            "throttle_direct"
        };
        for db in both(tag).await {
            let app = spawn_app_with(db, behind_proxy).await;
            let http = reqwest::Client::new();
            let url = format!("http://{}/api/login", app.addr);
            let attempt = |user: String, password: &str, forwarded: String| {
                http.post(&url)
                    .header("x-forwarded-for", forwarded)
                    .json(&json!({"user": user, "password": password}))
                    .send()
            };
            for n in 0..store::MAX_FAILED_LOGINS_PER_ADDRESS {
                let r = attempt(
                    format!("nobody{n}"),
                    "a guessed password",
                    format!("10.0.0.{n}, 203.0.113.9"),
                )
                .await
                .unwrap();
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            }
            let r = attempt("dm".into(), PASSWORD, "10.9.9.9, 203.0.113.9".into())
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
            let retry: i64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                (1..=store::ADDRESS_WINDOW_SECONDS).contains(&retry),
                "{retry}"
            );
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"], "login_refused");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("too many failed logins from this address"),
                "{body}"
            );
            let other = attempt("dm".into(), PASSWORD, "203.0.113.10".into())
                .await
                .unwrap();
            let expected = if behind_proxy {
                StatusCode::OK
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            assert_eq!(other.status(), expected, "behind a proxy: {behind_proxy}");
        }
    }
}

/// A monitor raises a query over HTTP; the site answers; the monitor
/// closes it. Roles and sites get their status codes, a bad body its
/// field, and the document lists the routes.
#[tokio::test]
async fn a_query_raised_by_hand_goes_from_monitor_to_site_and_back_over_http() {
    for db in both("api_manual_queries").await {
        let app = spawn_app(db).await;
        let monitor = app.login("monitor_s3").await;
        let inv = app.login("inv_s3").await;
        let other_site = app.login("nurse_s1").await;
        let stat = app.login("stat").await;
        let raise = json!({"table": "adverse_events", "key": "AE0001", "field": "grade",
                           "text": "The source says grade 2."});
        let (status, raised) = monitor.post("/api/manual-queries", raise.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{raised}");
        assert_eq!(raised["status"], "open");
        assert_eq!(raised["patient_id"], "P001");
        let id = raised["id"].as_i64().unwrap();
        let path = format!("/api/manual-queries/{id}");

        assert_eq!(
            inv.post("/api/manual-queries", raise.clone()).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, body) = monitor
            .post(
                "/api/manual-queries",
                json!({"table": "adverse_events", "key": "AE0001", "field": "colour", "text": ""}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let named: Vec<&str> = body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, ["field", "text"]);
        for (body, field) in [
            (
                json!({"table": "adverse_events", "key": "AE0001", "text": 5}),
                "text",
            ),
            (
                json!({"table": "adverse_events", "key": "AE0001", "text": null}),
                "text",
            ),
            (
                json!({"table": "adverse_events", "key": "AE0001", "field": ["grade"], "text": "x"}),
                "field",
            ),
        ] {
            let (status, refused) = monitor.post("/api/manual-queries", body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
            assert_eq!(refused["fields"][0]["field"], field, "{refused}");
        }
        let (status, body) = monitor
            .post(
                "/api/manual-queries",
                json!(["adverse_events", "AE0001", null, "an array"]),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["fields"][0]["rule"]
                .as_str()
                .unwrap()
                .contains("JSON object")
        );
        let (status, body) = monitor
            .post(
                "/api/manual-queries",
                json!({"table": "adverse_events", "key": "AE0001"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], "text");

        assert_eq!(other_site.get(&path).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            stat.get("/api/manual-queries").await.0,
            StatusCode::FORBIDDEN
        );
        let (status, listed) = other_site.get("/api/manual-queries").await;
        assert_eq!((status, listed), (StatusCode::OK, json!([])));
        let (status, listed) = inv
            .get("/api/manual-queries?status=open&patient=P001")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let (status, body) = inv.get("/api/manual-queries?status=pending").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // A query string that does not fit is a 422 in the JSON shape too.
        for path in [
            "/api/manual-queries?status=open&status=closed",
            "/api/manual-queries?colour=blue",
            "/api/audit?limit=5",
        ] {
            let (status, body) = inv.get(path).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
            assert_eq!(body["error"], "invalid", "{path}: {body}");
        }

        assert_eq!(
            monitor
                .post(&format!("{path}/answer"), json!({"text": "fine"}))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            inv.post(&format!("{path}/approve"), json!({"text": "fine"}))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        let (status, answered) = inv
            .post(
                &format!("{path}/answer"),
                json!({"text": "Corrected to grade 2."}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answered}");
        assert_eq!(answered["status"], "answered");
        let (status, closed) = monitor
            .post(&format!("{path}/close"), json!({"text": "Thank you."}))
            .await;
        assert_eq!(status, StatusCode::OK, "{closed}");
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["messages"].as_array().unwrap().len(), 3);
        let (status, body) = inv
            .post(&format!("{path}/answer"), json!({"text": "more"}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let (_, read) = inv.get(&path).await;
        assert_eq!(read, closed);

        let (_, doc) = monitor.get("/api/openapi.json").await;
        for route in [
            "/api/manual-queries",
            "/api/manual-queries/{id}",
            "/api/manual-queries/{id}/{step}",
        ] {
            assert!(doc["paths"].get(route).is_some(), "{route}");
        }
        app.store.close().await;
    }
}

/// An investigator signs over HTTP with their password; a wrong one is
/// 422 at `password`, another role 403, another site 404.
#[tokio::test]
async fn a_casebook_is_signed_over_http_with_the_password_again() {
    for db in both("api_signatures").await {
        let app = spawn_app(db).await;
        let inv = app.login("inv_s3").await;
        let monitor = app.login("monitor_s3").await;
        let other_site = app.login("nurse_s1").await;
        let (_, casebook) = inv.get("/api/patients/P001/casebook").await;
        let version = casebook["casebook_version"].as_i64().unwrap();
        let sign = |password: &str| json!({"user": "inv_s3", "password": password, "casebook_version": version});
        let (status, body) = inv
            .post("/api/patients/P001/signatures", sign("wrong"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["fields"][0]["field"], "password");
        assert_eq!(
            monitor
                .post("/api/patients/P001/signatures", sign(PASSWORD))
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            other_site.get("/api/patients/P001/signatures").await.0,
            StatusCode::NOT_FOUND
        );
        // A casebook read before a change is not signed: 409.
        let stale =
            json!({"user": "inv_s3", "password": PASSWORD, "casebook_version": version - 1});
        assert_eq!(
            inv.post("/api/patients/P001/signatures", stale).await.0,
            StatusCode::CONFLICT
        );
        let (status, signed) = inv
            .post("/api/patients/P001/signatures", sign(PASSWORD))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{signed}");
        assert_eq!(signed["covers_current_data"], true);
        assert_eq!(signed["user"], "inv_s3");
        assert_eq!(signed["casebook_version"], version);
        let (status, listed) = monitor.get("/api/patients/P001/signatures").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed, json!([signed]));
        app.store.close().await;
    }
}
