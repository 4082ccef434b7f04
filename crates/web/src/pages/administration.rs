//! The data manager's page: the lock and the data cut-off, each changed
//! with a reason, and the audit trail that monitors and data managers read.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use store::{Role, StoreError};

use super::{Nav, PageError, Viewer, page};
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
    /// The form a refusal concerns (`lock` or `cutoff`), its typed values
    /// and the rule broken.
    refused: Option<&'static str>,
    reason: String,
    cutoff_typed: String,
    error: String,
    done: Option<String>,
}

fn manages(viewer: &Viewer) -> bool {
    matches!(viewer.session.actor.role, Role::DataManager | Role::Admin)
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    refused: Option<(&'static str, String, String, String)>,
    done: Option<String>,
) -> Result<Response, PageError> {
    let trial = state.store.state().await?;
    let (form, reason, cutoff_typed, error) = match refused {
        Some((form, reason, cutoff, error)) => (Some(form), reason, cutoff, error),
        None => (None, String::new(), String::new(), String::new()),
    };
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
            refused: form,
            reason,
            cutoff_typed,
            error,
            done,
        },
    ))
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<Done>,
) -> Result<Response, PageError> {
    let done = q.done.as_deref().and_then(|d| match d {
        "locked" => Some("The database is locked.".to_owned()),
        "unlocked" => Some("The database is unlocked.".to_owned()),
        "cutoff" => Some("The data cut-off is set.".to_owned()),
        _ => None,
    });
    render(&state, &viewer, StatusCode::OK, None, done).await
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

/// A refusal of the store as the form shows it.
fn refusal(e: StoreError) -> Result<(StatusCode, String), PageError> {
    Ok(match e {
        StoreError::ReasonRequired => (
            StatusCode::UNPROCESSABLE_ENTITY,
            store::REASON_REQUIRED.into(),
        ),
        StoreError::Invalid(fields) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            fields
                .iter()
                .map(|f| f.rule.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        StoreError::Locked(m) => (StatusCode::LOCKED, format!("the database is locked: {m}")),
        other => return Err(other.into()),
    })
}

pub async fn lock(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LockForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(form.csrf.as_deref())?;
    let locked = match form.action.as_str() {
        "lock" => true,
        "unlock" => false,
        _ => return Err(PageError::not_found()),
    };
    match state
        .store
        .set_lock(&viewer.session.actor, locked, &form.reason)
        .await
    {
        Ok(()) => {
            tracing::info!(user = %viewer.session.actor.user, locked, "lock changed (page)");
            let done = if locked { "locked" } else { "unlocked" };
            Ok(Redirect::to(&format!("/administration?done={done}")).into_response())
        }
        Err(e) => {
            let (status, error) = refusal(e)?;
            let refused = ("lock", form.reason, String::new(), error);
            render(&state, &viewer, status, Some(refused), None).await
        }
    }
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
    viewer.check_csrf(form.csrf.as_deref())?;
    let outcome = match form.cutoff.trim().parse::<trial::Date>() {
        Ok(date) => {
            state
                .store
                .set_cutoff(&viewer.session.actor, date, &form.reason)
                .await
        }
        Err(e) => Err(StoreError::field("cutoff", e.to_string())),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/administration?done=cutoff").into_response()),
        Err(e) => {
            let (status, error) = refusal(e)?;
            let refused = ("cutoff", form.reason, form.cutoff, error);
            render(&state, &viewer, status, Some(refused), None).await
        }
    }
}

/// One entry of the audit trail.
struct Entry {
    at: String,
    user: String,
    action: String,
    record: String,
    link: Option<String>,
    reason: String,
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
                    .then(|| format!("/records/{table}/{}/history", super::form_urlencode(&key))),
                record: match e["version"].as_i64() {
                    Some(v) if !key.is_empty() => format!("{table} {key} v{v}"),
                    _ => format!("{table} {key}").trim().to_owned(),
                },
                reason: text(&e["reason"]),
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
