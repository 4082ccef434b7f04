//! The API of data queries raised by hand (list, raise, read one with its
//! thread, take a step: answer, reopen, close) and of casebook signatures.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use store::{FieldError, ManualQuery, QueryFilter, QueryStatus, QueryStep};

use crate::AppState;
use crate::api::{Params, body, spec};
use crate::auth::{Signed, Writing};
use crate::error::ApiError;

/// `GET /api/manual-queries`'s filters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    patient: Option<String>,
    table: Option<String>,
    key: Option<String>,
}

/// `GET /api/manual-queries`: the queries of the user's sites, oldest first.
pub async fn list(
    State(state): State<AppState>,
    Signed(session): Signed,
    Params(q): Params<ListQuery>,
) -> Result<Json<Vec<ManualQuery>>, ApiError> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(QueryStatus::parse(s).ok_or_else(|| {
            invalid(
                "status",
                format!("status must be open, answered or closed, got {s:?}"),
            )
        })?),
    };
    let record = match (&q.table, &q.key) {
        (Some(t), Some(k)) => Some((store::stem(spec(t)?), k.as_str())),
        (None, None) => None,
        _ => return Err(invalid("key", "give both table and key, or neither")),
    };
    let filter = QueryFilter {
        patient_id: q.patient.as_deref(),
        record,
        status,
        waiting: false,
    };
    Ok(Json(
        state.store.manual_queries(&session.actor, filter).await?,
    ))
}

/// `POST /api/manual-queries`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raise {
    table: String,
    key: String,
    field: Option<String>,
    text: String,
}

pub async fn raise(
    State(state): State<AppState>,
    Writing(session): Writing,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Raise {
        table,
        key,
        field,
        text,
    } = body(bytes)?;
    let spec = spec(&table)?;
    let raised = state
        .store
        .raise_manual_query(&session.actor, spec, &key, field.as_deref(), &text)
        .await?;
    Ok((StatusCode::CREATED, Json(raised)).into_response())
}

/// `GET /api/manual-queries/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<String>,
) -> Result<Json<ManualQuery>, ApiError> {
    let id = number(&id)?;
    Ok(Json(state.store.manual_query(&session.actor, id).await?))
}

/// `POST /api/manual-queries/{id}/{step}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    text: String,
}

pub async fn step(
    State(state): State<AppState>,
    Writing(session): Writing,
    Path((id, step)): Path<(String, String)>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<ManualQuery>, ApiError> {
    let id = number(&id)?;
    let step = QueryStep::parse(&step).ok_or(ApiError::NotFound)?;
    let Step { text } = body(bytes)?;
    Ok(Json(
        state
            .store
            .step_manual_query(&session.actor, id, step, &text)
            .await?,
    ))
}

/// A query's number from the path; anything else names no query.
fn number(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound)
}

fn invalid(field: &str, rule: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: Some(field.into()),
        rule: rule.into(),
    }])
}

/// `GET /api/patients/{id}/signatures`.
pub async fn signatures(
    State(state): State<AppState>,
    Signed(session): Signed,
    Path(id): Path<String>,
) -> Result<Json<Vec<store::Signature>>, ApiError> {
    Ok(Json(state.store.signatures(&session.actor, &id).await?))
}

/// `POST /api/patients/{id}/signatures`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sign {
    user: String,
    password: String,
    /// The casebook's version the signer read (`casebook_version` of
    /// `GET /api/patients/{id}/casebook`): a change since is a 409.
    casebook_version: i64,
}

pub async fn sign(
    State(state): State<AppState>,
    Writing(session): Writing,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Sign {
        user,
        password,
        casebook_version,
    } = body(bytes)?;
    let signing = store::Signing {
        user: &user,
        password: &password,
        casebook_version,
    };
    let signed = match state
        .store
        .sign_casebook(&session.actor, &id, signing)
        .await
    {
        Err(store::StoreError::Conflict { expected, current }) => {
            return Err(ApiError::Conflict {
                message: format!(
                    "the casebook changed since it was read: it is at version {current}, the signature named {expected}; read it again, then sign"
                ),
                current: None,
            });
        }
        other => other?,
    };
    Ok((StatusCode::CREATED, Json(signed)).into_response())
}
