//! Every refusal of the API as one JSON shape — `{"error", "message",
//! "fields"}` — with the status a client can act on.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::{FieldError, StoreError, StoredRecord};

/// A refused or failed request.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not JSON.
    Malformed(String),
    /// 401: no valid session.
    Unauthenticated,
    /// 403: the CSRF token is missing or wrong, or the role forbids it.
    Forbidden(String),
    /// 404.
    NotFound,
    /// 409, with the record as it now is.
    Conflict {
        message: String,
        current: Option<Box<StoredRecord>>,
    },
    /// 413.
    TooLarge,
    /// 422: fields break rules.
    Invalid(Vec<FieldError>),
    /// 423: the database is locked.
    Locked(String),
    /// 401 / 429: login refused.
    Login(String, StatusCode),
    /// 429 with `Retry-After`: too many failed logins from the address.
    Throttled {
        message: String,
        retry_after_seconds: i64,
    },
    /// 500.
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<Box<StoredRecord>>,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(fields) => ApiError::Invalid(fields),
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Forbidden(m) => ApiError::Forbidden(m),
            e @ StoreError::Conflict { .. } => ApiError::Conflict {
                message: e.to_string(),
                current: None,
            },
            StoreError::Locked(m) => ApiError::Locked(m),
            StoreError::ReasonRequired => ApiError::Invalid(vec![FieldError {
                field: Some("reason".into()),
                rule: store::REASON_REQUIRED.into(),
            }]),
            e @ (StoreError::BadUrl(_) | StoreError::Database(_)) => {
                tracing::error!(error = %e, "store failure");
                ApiError::Internal("the database failed; the request was not applied".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            ApiError::Throttled {
                retry_after_seconds,
                ..
            } => Some((*retry_after_seconds).max(1)),
            _ => None,
        };
        let (status, code, message, fields, current) = match self {
            ApiError::Malformed(m) => (StatusCode::BAD_REQUEST, "malformed_json", m, vec![], None),
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "sign in first: POST /api/login".into(),
                vec![],
                None,
            ),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m, vec![], None),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such record".into(),
                vec![],
                None,
            ),
            ApiError::Conflict { message, current } => {
                (StatusCode::CONFLICT, "conflict", message, vec![], current)
            }
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the request body is larger than 256 KiB".into(),
                vec![],
                None,
            ),
            ApiError::Invalid(fields) => {
                let message = fields
                    .iter()
                    .map(|f| match &f.field {
                        Some(name) => format!("{name}: {}", f.rule),
                        None => f.rule.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    message,
                    fields,
                    None,
                )
            }
            ApiError::Locked(m) => (StatusCode::LOCKED, "locked", m, vec![], None),
            ApiError::Login(m, status) => (status, "login_refused", m, vec![], None),
            ApiError::Throttled { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "login_refused",
                message,
                vec![],
                None,
            ),
            ApiError::Internal(m) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                m,
                vec![],
                None,
            ),
        };
        let mut response = (
            status,
            Json(Body {
                error: code,
                message,
                fields,
                current,
            }),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}
