//! The data manager's page: the lock and the data cut-off, each changed
//! with a reason, and the audit trail that monitors and data managers read.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use store::{Role, StoreError};

use super::{Done, Nav, PageError, Viewer, page, rules_at};
use crate::AppState;

#[derive(Template)]
#[template(path = "administration.html")]
struct AdministrationPage {
    nav: Option<Nav>,
    locked: bool,
    cutoff: String,
    protocol: String,
    csrf: String,
    manages: bool,
    refused: Refused,
    done: Option<String>,
}

/// A refused lock or cut-off: what was typed and each rule at its field.
#[derive(Default)]
struct Refused {
    /// `lock` or `cutoff`; empty when nothing was refused.
    form: &'static str,
    reason: String,
    cutoff: String,
    reason_error: Option<String>,
    cutoff_error: Option<String>,
}

fn manages(viewer: &Viewer) -> bool {
    matches!(viewer.session.actor.role, Role::DataManager | Role::Admin)
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    refused: Refused,
    done: Option<String>,
) -> Result<Response, PageError> {
    let trial = state.store.state().await?;
    let mut nav = viewer.nav();
    nav.locked = trial.locked;
    Ok(page(
        status,
        &AdministrationPage {
            nav: Some(nav),
            locked: trial.locked,
            cutoff: trial.cutoff.unwrap_or_default(),
            protocol: trial.protocol.unwrap_or_default(),
            csrf: viewer.session.csrf.clone(),
            manages: manages(viewer),
            refused,
            done,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<Done>,
) -> Result<Response, PageError> {
    let done = q
        .said(&[
            ("locked", "The database is locked."),
            ("unlocked", "The database is unlocked."),
            ("cutoff", "The data cut-off is set."),
        ])
        .map(str::to_owned);
    render(&state, &viewer, StatusCode::OK, Refused::default(), done).await
}

#[derive(Deserialize)]
pub struct LockForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(rename = "_reason", default)]
    reason: String,
    /// `lock` or `unlock`.
    action: String,
}

/// Said on a form posted with another session's token.
const FORM_EXPIRED: &str = "this form was opened in an earlier session, so nothing was changed: check it and send it again";

/// A refusal of the store as the form shows it: the status, and the rule
/// at the cut-off field or else at the reason.
fn refusal(e: StoreError) -> Result<(StatusCode, Option<String>, Option<String>), PageError> {
    Ok(match e {
        StoreError::ReasonRequired => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some(store::REASON_REQUIRED.into()),
        ),
        StoreError::Invalid(fields) => {
            // Every rule not at the cut-off is shown at the reason.
            let elsewhere: Vec<store::FieldError> = fields
                .iter()
                .filter(|f| f.field.as_deref() != Some("cutoff"))
                .map(|f| store::FieldError {
                    field: Some("reason".into()),
                    rule: f.rule.clone(),
                })
                .collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                rules_at(&fields, "cutoff"),
                rules_at(&elsewhere, "reason"),
            )
        }
        StoreError::Locked(m) => (
            StatusCode::LOCKED,
            None,
            Some(format!("the database is locked: {m}")),
        ),
        e @ StoreError::Conflict { .. } => (
            StatusCode::CONFLICT,
            None,
            Some(format!(
                "{e}: someone changed the cut-off at the same moment; look at it above and send yours again if it still applies"
            )),
        ),
        other => return Err(other.into()),
    })
}

pub async fn lock(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LockForm>,
) -> Result<Response, PageError> {
    let locked = match form.action.as_str() {
        "lock" => true,
        "unlock" => false,
        _ => return Err(PageError::not_found()),
    };
    let outcome = if viewer.csrf_matches(form.csrf.as_deref()) {
        state
            .store
            .set_lock(&viewer.session.actor, locked, &form.reason)
            .await
    } else {
        Err(StoreError::Forbidden(String::new()))
    };
    let (status, _, reason_error) = match outcome {
        Ok(()) => {
            tracing::info!(user = %viewer.session.actor.user, locked, "lock changed (page)");
            let done = if locked { "locked" } else { "unlocked" };
            return Ok(Redirect::to(&format!("/administration?done={done}")).into_response());
        }
        Err(StoreError::Forbidden(m)) if m.is_empty() => {
            (StatusCode::FORBIDDEN, None, Some(FORM_EXPIRED.to_owned()))
        }
        Err(e) => refusal(e)?,
    };
    let refused = Refused {
        form: "lock",
        reason: form.reason,
        reason_error,
        ..Refused::default()
    };
    render(&state, &viewer, status, refused, None).await
}

#[derive(Deserialize)]
pub struct CutoffForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(rename = "_reason", default)]
    reason: String,
    #[serde(default)]
    cutoff: String,
}

pub async fn cutoff(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CutoffForm>,
) -> Result<Response, PageError> {
    let outcome = if !viewer.csrf_matches(form.csrf.as_deref()) {
        Err(StoreError::Forbidden(String::new()))
    } else {
        match form.cutoff.trim().parse::<trial::Date>() {
            Ok(date) => {
                state
                    .store
                    .set_cutoff(&viewer.session.actor, date, &form.reason)
                    .await
            }
            Err(e) => Err(StoreError::field("cutoff", e.to_string())),
        }
    };
    let (status, cutoff_error, reason_error) = match outcome {
        Ok(()) => return Ok(Redirect::to("/administration?done=cutoff").into_response()),
        Err(StoreError::Forbidden(m)) if m.is_empty() => {
            (StatusCode::FORBIDDEN, None, Some(FORM_EXPIRED.to_owned()))
        }
        Err(e) => refusal(e)?,
    };
    let refused = Refused {
        form: "cutoff",
        reason: form.reason,
        cutoff: form.cutoff,
        reason_error,
        cutoff_error,
    };
    render(&state, &viewer, status, refused, None).await
}

/// One entry of the audit trail.
struct Entry {
    at: String,
    user: String,
    action: String,
    record: String,
    link: Option<String>,
    reason: String,
    /// What an entry of no record did: the user added, the cut-off set.
    detail: String,
}

/// The latest entries shown; the whole trail is in `GET /api/audit` and in
/// an export.
const AUDIT_SHOWN: usize = 500;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    entries: Vec<Entry>,
    total: usize,
}

pub async fn audit(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let trail = state.store.audit_trail(&viewer.session.actor, None).await?;
    let total = trail.len();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let entries = trail
        .iter()
        .rev()
        .take(AUDIT_SHOWN)
        .map(|e| {
            let (table, key) = (text(&e["table"]), text(&e["key"]));
            Entry {
                at: text(&e["at"]),
                user: text(&e["user"]),
                action: text(&e["action"]),
                link: (!table.is_empty() && !key.is_empty() && key != "manifest")
                    .then(|| format!("{}/history", super::record_path(&table, &key))),
                record: match e["version"].as_i64() {
                    Some(v) if !key.is_empty() => format!("{table} {key} v{v}"),
                    _ => format!("{table} {key}").trim().to_owned(),
                },
                reason: text(&e["reason"]),
                detail: text(&e["detail"]),
            }
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &AuditPage {
            nav: Some(viewer.nav()),
            entries,
            total,
        },
    ))
}
