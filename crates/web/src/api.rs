//! The JSON API: sign-in, every record type of the bundle (list, read,
//! create, change, retract, history), a patient's casebook, data queries,
//! the audit trail, the lock, and the endpoints report now or as of a date.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use store::{Instant, LoginError, RecordChange, StoreError, cells_from_json, stem, table};
use trial::bundle::{FileSpec, TABLES};

use crate::AppState;
use crate::auth::{Signed, Writing, clear_cookie, set_cookie};
use crate::error::ApiError;

/// Reads a JSON body: not JSON is 400; JSON of the wrong shape (unknown or
/// missing fields, wrong types) is 422 naming the field; too large is 413.
pub(crate) fn body<T: DeserializeOwned>(
    bytes: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = bytes.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::Malformed(e.body_text())
        }
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::Malformed(format!("the body is not JSON: {e}")))?;
    // serde reads a struct from an array too, by position: a body is an
    // object, its fields named.
    if !value.is_object() {
        return Err(ApiError::Invalid(vec![store::FieldError {
            field: None,
            rule: "the body must be a JSON object of named fields".into(),
        }]));
    }
    if let Err(e) = serde_json::from_slice::<crate::distinct::Distinct>(&bytes) {
        let message = e.to_string();
        return Err(ApiError::Invalid(vec![store::FieldError {
            field: message.split('`').nth(1).map(str::to_owned),
            rule: message
                .split(" at line")
                .next()
                .unwrap_or(&message)
                .to_owned(),
        }]));
    }
    // The path of the value that broke the shape names the field; a
    // missing or unknown field has no path of its own, and its message
    // names it between backticks.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let field = if path == "." {
            message.split('`').nth(1).map(str::to_owned)
        } else {
            Some(path)
        };
        ApiError::Invalid(vec![store::FieldError {
            field,
            rule: message,
        }])
    })
}

/// A query string read into `T`; one that does not fit (an unknown or
/// repeated parameter, a value of the wrong type) is the API's 422 in its
/// JSON shape, not axum's plain-text 400.
pub(crate) struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(e) => {
                let message = e.body_text();
                let rule = message
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&message)
                    .to_owned();
                Err(ApiError::Invalid(vec![store::FieldError {
                    field: rule.split('`').nth(1).map(str::to_owned),
                    rule: format!("query string: {rule}"),
                }]))
            }
        }
    }
}

pub(crate) fn spec(name: &str) -> Result<&'static FileSpec, ApiError> {
    table(name).ok_or(ApiError::NotFound)
}

/// `POST /api/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Login { user, password } = body(bytes)?;
    let from = client_address(state.behind_proxy, peer, &request_headers);
    match state.store.login(&user, &password, Some(&from)).await {
        Ok(session) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&set_cookie(&session.token, state.secure_cookies))
                    .expect("a cookie is ASCII"),
            );
            tracing::info!(user = %user, "login");
            Ok((headers, Json(json!({"user": session.actor.user, "role": session.actor.role, "scope": session.actor.scope, "csrf": session.csrf}))).into_response())
        }
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(e @ LoginError::LockedOut) => Err(ApiError::Login(
            e.to_string(),
            StatusCode::TOO_MANY_REQUESTS,
        )),
        Err(
            e @ LoginError::Throttled {
                retry_after_seconds,
            },
        ) => {
            tracing::warn!(address = %from, "login throttled");
            Err(ApiError::Throttled {
                message: e.to_string(),
                retry_after_seconds,
            })
        }
        Err(e) => {
            tracing::warn!(user = %user, "login refused");
            Err(ApiError::Login(e.to_string(), StatusCode::UNAUTHORIZED))
        }
    }
}

/// The key login throttling counts a client by: its address, the peer's
/// or, behind a reverse proxy, the last entry of `X-Forwarded-For` (the
/// one the proxy appended; those before it come from the client and may be
/// forged). An IPv6 client is counted by its /64, the block one host is
/// usually given. An entry that is no address is counted as it is, never
/// as the proxy's address, which would throttle every client with it.
pub(crate) fn client_address(behind_proxy: bool, peer: SocketAddr, headers: &HeaderMap) -> String {
    let forwarded = behind_proxy
        .then(|| headers.get_all("x-forwarded-for").iter().next_back())
        .flatten()
        .and_then(|v| v.as_bytes().rsplit(|&b| b == b',').next())
        .map(|entry| String::from_utf8_lossy(entry).trim().to_owned());
    let address = match forwarded {
        Some(entry) => match parse_address(&entry) {
            Some(ip) => ip,
            None if entry.is_empty() => return "(empty X-Forwarded-For entry)".into(),
            None => return entry.chars().take(100).collect(),
        },
        None => peer.ip(),
    };
    match address {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            let block = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{block}/64")
        }
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().expect("mapped").to_string(),
        v4 => v4.to_string(),
    }
}

/// An address as proxies write it: bare, with a port, or bracketed IPv6
/// with a port.
fn parse_address(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.split_once(']'))
                .and_then(|(ip, _)| ip.parse().ok())
        })
}

pub async fn logout(
    State(state): State<AppState>,
    Writing(session): Writing,
) -> Result<Response, ApiError> {
    state.store.logout(&session.token).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_cookie()).expect("ASCII"),
    );
    Ok((headers, Json(json!({"signed_out": true}))).into_response())
}

pub async fn me(Signed(session): Signed) -> Json<Value> {
    Json(
        json!({"user": session.actor.user, "role": session.actor.role, "scope": session.actor.scope, "csrf": session.csrf}),
    )
}

/// `GET /api/tables`: every record type and its fields.
pub async fn tables() -> Json<Value> {
    Json(Value::Array(
        TABLES
            .iter()
            .map(|t| {
                json!({
                    "table": stem(t),
                    "fields": t.columns.iter().map(|(c, required)| json!({"name": c, "required": required})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    patient_id: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(name): Path<String>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let records = state
        .store
        .list(&session.actor, spec(&name)?, q.patient_id.as_deref())
        .await?;
    Ok(Json(
        serde_json::to_value(records).expect("records serialize"),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let record = state.store.get(&session.actor, spec(&name)?, &key).await?;
    Ok(Json(
        serde_json::to_value(record).expect("records serialize"),
    ))
}

pub async fn history(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path((name, key)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let versions = state
        .store
        .history(&session.actor, spec(&name)?, &key)
        .await?;
    Ok(Json(
        serde_json::to_value(versions).expect("versions serialize"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    record: Map<String, Value>,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    version: i64,
    reason: String,
    record: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Retract {
    version: i64,
    reason: String,
}

async fn apply(
    state: &AppState,
    session: &store::Session,
    spec: &'static FileSpec,
    change: RecordChange,
    reason: Option<&str>,
    key: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    match state
        .store
        .write(&session.actor, spec, change, reason)
        .await
    {
        Ok(written) => {
            tracing::info!(user = %session.actor.user, table = written.record.table, key = %written.record.key, version = written.record.version, "write");
            Ok(Json(
                serde_json::to_value(written).expect("writes serialize"),
            ))
        }
        Err(e @ StoreError::Conflict { .. }) => {
            let current = match key {
                Some(k) => state
                    .store
                    .get(&session.actor, spec, k)
                    .await
                    .ok()
                    .map(Box::new),
                None => None,
            };
            Err(ApiError::Conflict {
                message: e.to_string(),
                current,
            })
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Writing(session): Writing,
    Path(name): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let spec = spec(&name)?;
    let Create { record, reason } = body(bytes)?;
    let cells = cells_from_json(spec, &record)?;
    let out = apply(
        &state,
        &session,
        spec,
        RecordChange::Insert { cells },
        reason.as_deref(),
        None,
    )
    .await?;
    Ok((StatusCode::CREATED, out).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Writing(session): Writing,
    Path((name, key)): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let spec = spec(&name)?;
    let Change {
        version,
        reason,
        record,
    } = body(bytes)?;
    let cells = cells_from_json(spec, &record)?;
    let change = RecordChange::Update {
        key: key.clone(),
        expected_version: version,
        cells,
    };
    apply(&state, &session, spec, change, Some(&reason), Some(&key)).await
}

pub async fn retract(
    State(state): State<AppState>,
    Writing(session): Writing,
    Path((name, key)): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let spec = spec(&name)?;
    let Retract { version, reason } = body(bytes)?;
    let change = RecordChange::Retract {
        key: key.clone(),
        expected_version: version,
    };
    apply(&state, &session, spec, change, Some(&reason), Some(&key)).await
}

/// `GET /api/patients/{id}/casebook`: every current record of one patient.
pub async fn casebook(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // The version first, then the records: a change between the two makes
    // the version older than the records, and a signature naming it a 409.
    let version = state.store.casebook_version(&session.actor, &id).await?;
    let all = state.store.casebook(&session.actor, &id).await?;
    let mut patient = None;
    let mut records = Map::new();
    for t in TABLES.iter().skip(1) {
        records.insert(stem(t).to_owned(), Value::Array(Vec::new()));
    }
    for r in all {
        if r.table == "patients" {
            patient = Some(r);
        } else if let Some(Value::Array(list)) = records.get_mut(r.table) {
            list.push(serde_json::to_value(r).expect("records serialize"));
        }
    }
    Ok(Json(
        json!({"patient": patient, "records": records, "casebook_version": version}),
    ))
}

pub async fn queries(
    State(state): State<AppState>,
    Signed(session): Signed,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Array(
        state.store.open_queries(&session.actor).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    table: Option<String>,
    key: Option<String>,
}

pub async fn audit(
    State(state): State<AppState>,
    Signed(session): Signed,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let record = match (&q.table, &q.key) {
        (Some(t), Some(k)) => Some((stem(spec(t)?), k.as_str())),
        (None, None) => None,
        _ => {
            return Err(ApiError::Invalid(vec![store::FieldError {
                field: Some("key".into()),
                rule: "give both table and key, or neither".into(),
            }]));
        }
    };
    Ok(Json(Value::Array(
        state.store.audit_trail(&session.actor, record).await?,
    )))
}

pub async fn state(
    State(state): State<AppState>,
    Signed(_): Signed,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        serde_json::to_value(state.store.state().await?).expect("state serializes"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

pub async fn lock(
    State(state): State<AppState>,
    Writing(session): Writing,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Reason { reason } = body(bytes)?;
    state.store.set_lock(&session.actor, true, &reason).await?;
    Ok(Json(json!({"locked": true})))
}

pub async fn unlock(
    State(state): State<AppState>,
    Writing(session): Writing,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Reason { reason } = body(bytes)?;
    state.store.set_lock(&session.actor, false, &reason).await?;
    Ok(Json(json!({"locked": false})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cutoff {
    cutoff: String,
    reason: String,
}

/// `POST /api/cutoff`: a new data cut-off (data manager, reason required).
pub async fn cutoff(
    State(state): State<AppState>,
    Writing(session): Writing,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Cutoff { cutoff, reason } = body(bytes)?;
    let date = cutoff.parse::<trial::Date>().map_err(|e| {
        ApiError::Invalid(vec![store::FieldError {
            field: Some("cutoff".into()),
            rule: e.to_string(),
        }])
    })?;
    state
        .store
        .set_cutoff(&session.actor, date, &reason)
        .await?;
    Ok(Json(json!({"cutoff": date})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    as_of: Option<String>,
}

/// `GET /api/report`: `endpoints.json` of the data the user may see, now
/// or as of an instant.
pub async fn report(
    State(state): State<AppState>,
    Signed(session): Signed,
    Params(q): Params<ReportQuery>,
) -> Result<Json<Value>, ApiError> {
    let as_of = q
        .as_of
        .as_deref()
        .map(|s| s.parse::<Instant>())
        .transpose()
        .map_err(|e| {
            ApiError::Invalid(vec![store::FieldError {
                field: Some("as_of".into()),
                rule: e.to_string(),
            }])
        })?;
    // The data of an instant still to come would change until then: not
    // reproducible, which is what as_of is for.
    if as_of.is_some_and(|at| at > Instant::now()) {
        return Err(ApiError::Invalid(vec![store::FieldError {
            field: Some("as_of".into()),
            rule: "is in the future; an analysis as of an instant needs it to have passed".into(),
        }]));
    }
    let data = state.store.dataset(&session.actor, as_of).await?;
    let results = tokio::task::spawn_blocking(move || trial::endpoints::compute(&data))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(report::endpoints_json(&results)))
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// An unknown address: a JSON refusal under `/api`, a page elsewhere.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api") {
        ApiError::NotFound.into_response()
    } else {
        crate::pages::not_found_page()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(behind_proxy: bool, forwarded: Option<&[u8]>) -> String {
        let mut headers = HeaderMap::new();
        if let Some(v) = forwarded {
            headers.insert("x-forwarded-for", HeaderValue::from_bytes(v).unwrap());
        }
        client_address(behind_proxy, "198.51.100.1:5000".parse().unwrap(), &headers)
    }

    #[test]
    fn a_client_is_counted_by_the_address_the_proxy_appended() {
        // Served directly, the header is the client's own and ignored.
        assert_eq!(from(false, Some(b"203.0.113.9")), "198.51.100.1");
        assert_eq!(from(true, None), "198.51.100.1");
        assert_eq!(from(true, Some(b"10.0.0.1, 203.0.113.9")), "203.0.113.9");
        assert_eq!(from(true, Some(b"203.0.113.9:4711")), "203.0.113.9");
        assert_eq!(from(true, Some(b"\xff\xfe, 203.0.113.9")), "203.0.113.9");
        assert_eq!(from(true, Some(b"::ffff:192.0.2.5")), "192.0.2.5");
        // One IPv6 host usually has a /64 to rotate through.
        assert_eq!(
            from(true, Some(b"2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            from(true, Some(b"[2001:db8:1:2:aa::1]:443")),
            "2001:db8:1:2::/64"
        );
        // Not an address: counted as written, not as the proxy.
        assert_eq!(from(true, Some(b"1.2.3.4, unknown")), "unknown");
        assert_eq!(
            from(true, Some(b"1.2.3.4, ")),
            "(empty X-Forwarded-For entry)"
        );
    }
}
