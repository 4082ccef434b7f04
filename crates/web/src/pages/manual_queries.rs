//! Data queries raised by hand, as pages: a record's queries with the form
//! that raises one (monitors, data managers), and one query's thread with
//! the steps the user may take (the site answers; the monitor or data
//! manager reopens or closes). A refused form comes back with what was
//! typed and the rule at its field.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use store::{ManualQuery, QueryFilter, QueryStatus, QueryStep, StoreError, stem, table};
use trial::bundle::FileSpec;

use super::labels::{column_label, table_title};
use super::{Done, Nav, PageError, Viewer, page, record_path, rules_at};
use crate::AppState;

/// Said on a form posted with another session's token.
const FORM_EXPIRED: &str = "This form was opened in an earlier session, so nothing was sent. Check what it holds and send it again.";

/// Said when the record or query went out of reach while the form was
/// open.
const GONE: &str = "Since this form was opened, the record was retracted or its patient moved to a site you do not reach: nothing was sent.";

/// A page shown again after a refusal, or, when the page itself is gone
/// (out of the user's reach now), an error page that still holds `text`:
/// what the user typed is never lost.
fn not_lost(page: Result<Response, PageError>, text: &str) -> Result<Response, PageError> {
    match page {
        Err(PageError::Status(StatusCode::NOT_FOUND, _, _)) if !text.trim().is_empty() => {
            Err(PageError::Status(
                StatusCode::NOT_FOUND,
                "Not sent",
                format!("{GONE} What you wrote, to keep: {text}"),
            ))
        }
        other => other,
    }
}

/// A query as a list row or a thread's heading.
pub(crate) struct QueryView {
    pub id: i64,
    pub link: String,
    pub record_link: String,
    pub form: &'static str,
    pub key: String,
    pub patient: String,
    pub site: String,
    /// The field's label, or empty for the whole record.
    pub field: String,
    pub status: &'static str,
    pub raised_by: String,
    pub raised_at: String,
    /// The last message: what the query waits on, cut for a list.
    pub last: String,
    /// The record was retracted since: its link leads to its history.
    pub retracted: bool,
    /// The record's version when raised, and now.
    pub version: i64,
    pub version_now: i64,
    pub messages: Vec<MessageView>,
}

pub(crate) struct MessageView {
    pub at: String,
    pub user: String,
    pub role: String,
    pub step: &'static str,
    pub text: String,
}

impl QueryView {
    pub(crate) fn of(q: ManualQuery) -> QueryView {
        let spec = table(&q.table);
        let field = match &q.field {
            Some(f) => column_label(&q.table, f),
            None => String::new(),
        };
        let record_link = record_path(&q.table, &q.key);
        QueryView {
            id: q.id,
            link: format!("/manual-queries/{}", q.id),
            record_link: if q.record_retracted {
                format!("{record_link}/history")
            } else {
                record_link
            },
            retracted: q.record_retracted,
            version: q.version,
            version_now: q.record_version,
            form: spec.map_or("", table_title),
            key: q.key,
            patient: q.patient_id,
            site: q.site_id,
            field,
            status: status_label(q.status),
            raised_by: q.raised_by,
            raised_at: minutes(&q.raised_at),
            last: q
                .messages
                .last()
                .map(|m| excerpt(&m.text))
                .unwrap_or_default(),
            messages: q
                .messages
                .into_iter()
                .map(|m| MessageView {
                    at: minutes(&m.at),
                    step: step_label(&m.step),
                    user: m.user,
                    role: m.role.replace('_', " "),
                    text: m.text,
                })
                .collect(),
        }
    }
}

/// Characters of a message a list shows.
const EXCERPT: usize = 200;

/// The start of a message, for a list.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// A stored instant to the minute, as the pages show times.
fn minutes(at: &str) -> String {
    at.get(..16).unwrap_or(at).replace('T', " ")
}

fn status_label(status: QueryStatus) -> &'static str {
    match status {
        QueryStatus::Open => "open, waiting for the site",
        QueryStatus::Answered => "answered, waiting for the monitor",
        QueryStatus::Closed => "closed",
    }
}

fn step_label(step: &str) -> &'static str {
    match step {
        "raise" => "raised",
        "answer" => "answered",
        "reopen" => "reopened",
        "close" => "closed",
        _ => "wrote",
    }
}

/// The queries of the user's sites still waiting on someone, for the
/// queries page; none for a statistician, who reads no thread.
pub(crate) async fn waiting(
    state: &AppState,
    viewer: &Viewer,
    patient_id: Option<&str>,
) -> Result<Vec<QueryView>, PageError> {
    let filter = QueryFilter {
        patient_id,
        waiting: true,
        ..QueryFilter::default()
    };
    let found = match state
        .store
        .manual_queries(&viewer.session.actor, filter)
        .await
    {
        Err(StoreError::Forbidden(_)) if viewer.session.actor.pseudonymized() => Vec::new(),
        other => other?,
    };
    Ok(found.into_iter().map(QueryView::of).collect())
}

/// Whether the user raises queries (the lock aside: a locked form is
/// still shown, says why it cannot be sent, and keeps what was typed).
fn asks(viewer: &Viewer) -> bool {
    viewer.session.actor.role.raises_queries()
}

/// What a refused form held, and each rule at its field.
#[derive(Default)]
struct Typed {
    field: String,
    text: String,
    field_error: Option<String>,
    text_error: Option<String>,
    /// A rule at no field of the form (the query's state, the lock).
    error: Option<String>,
}

impl Typed {
    /// Places a store refusal at the form's fields; other refusals are
    /// error pages.
    fn refused(mut self, e: StoreError) -> Result<(StatusCode, Typed), PageError> {
        let status = match e {
            StoreError::Invalid(fields) => {
                self.field_error = rules_at(&fields, "field");
                self.text_error = rules_at(&fields, "text");
                self.error = rules_at(&fields, "step");
                StatusCode::UNPROCESSABLE_ENTITY
            }
            StoreError::Locked(m) => {
                self.error = Some(format!("The database is locked: {m}"));
                StatusCode::LOCKED
            }
            StoreError::Forbidden(m) if m.is_empty() => {
                self.error = Some(FORM_EXPIRED.into());
                StatusCode::FORBIDDEN
            }
            StoreError::NotFound => {
                self.error = Some(GONE.into());
                StatusCode::NOT_FOUND
            }
            other => return Err(other.into()),
        };
        Ok((status, self))
    }
}

#[derive(Template)]
#[template(path = "record_queries.html")]
struct RecordQueriesPage {
    nav: Option<Nav>,
    title: &'static str,
    key: String,
    record_link: String,
    patient: String,
    /// The record was retracted: its queries are read, none is raised.
    retracted: bool,
    locked: bool,
    queries: Vec<QueryView>,
    asks: bool,
    /// (column, label) of the record's fields, for the raise form.
    fields: Vec<(&'static str, String)>,
    /// The refused form named a field the record does not have: kept as
    /// typed.
    field_unknown: bool,
    action: String,
    csrf: String,
    typed: Typed,
}

async fn record_page(
    state: &AppState,
    viewer: &Viewer,
    spec: &'static FileSpec,
    key: &str,
    status: StatusCode,
    typed: Typed,
) -> Result<Response, PageError> {
    let actor = &viewer.session.actor;
    // A retracted record keeps its queries: they are read through its
    // history, and no new one is raised on it.
    let (key, patient, retracted) = match state.store.get(actor, spec, key).await {
        Ok(record) => (record.key, record.patient_id, false),
        Err(StoreError::NotFound) => {
            let versions = state.store.history(actor, spec, key).await?;
            let patient = versions
                .last()
                .and_then(|v| v.fields.get("patient_id"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            (key.to_owned(), patient, true)
        }
        Err(e) => return Err(e.into()),
    };
    let filter = QueryFilter {
        record: Some((stem(spec), &key)),
        ..QueryFilter::default()
    };
    let queries = state.store.manual_queries(actor, filter).await?;
    let record_link = record_path(stem(spec), &key);
    Ok(page(
        status,
        &RecordQueriesPage {
            nav: Some(viewer.nav()),
            title: table_title(spec),
            action: format!("{record_link}/queries"),
            record_link: if retracted {
                format!("{record_link}/history")
            } else {
                record_link
            },
            key,
            patient,
            retracted,
            locked: viewer.locked,
            queries: queries.into_iter().map(QueryView::of).collect(),
            asks: asks(viewer) && !retracted,
            field_unknown: !typed.field.is_empty()
                && !spec.columns.iter().any(|(c, _)| *c == typed.field),
            fields: spec
                .columns
                .iter()
                .map(|(c, _)| (*c, column_label(stem(spec), c)))
                .collect(),
            csrf: viewer.session.csrf.clone(),
            typed,
        },
    ))
}

fn spec_of(name: &str) -> Result<&'static FileSpec, PageError> {
    table(name).ok_or_else(PageError::not_found)
}

/// `GET /records/{table}/{key}/queries`.
pub async fn of_record(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    record_page(
        &state,
        &viewer,
        spec,
        &key,
        StatusCode::OK,
        Typed::default(),
    )
    .await
}

#[derive(Deserialize)]
pub struct RaiseForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    field: String,
    #[serde(default)]
    text: String,
}

/// `POST /records/{table}/{key}/queries`: raises a query, then shows it.
pub async fn raise(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
    Form(form): Form<RaiseForm>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let field = Some(form.field.as_str()).filter(|f| !f.is_empty());
    let outcome = if viewer.csrf_matches(form.csrf.as_deref()) {
        state
            .store
            .raise_manual_query(&viewer.session.actor, spec, &key, field, &form.text)
            .await
    } else {
        Err(StoreError::Forbidden(String::new()))
    };
    let e = match outcome {
        Ok(q) => {
            tracing::info!(user = %viewer.session.actor.user, query = q.id, "query raised (page)");
            return Ok(
                Redirect::to(&format!("/manual-queries/{}?done=raise", q.id)).into_response(),
            );
        }
        Err(e) => e,
    };
    let typed = Typed {
        field: form.field,
        text: form.text,
        ..Typed::default()
    };
    let (status, typed) = typed.refused(e)?;
    let text = typed.text.clone();
    not_lost(
        record_page(&state, &viewer, spec, &key, status, typed).await,
        &text,
    )
}

#[derive(Template)]
#[template(path = "manual_query.html")]
struct QueryPage {
    nav: Option<Nav>,
    query: QueryView,
    /// The steps this user may take now: (step, button label).
    steps: Vec<(&'static str, &'static str)>,
    csrf: String,
    typed: Typed,
    /// The step whose form was refused.
    refused_step: String,
    /// What a refused step held, when its form is no longer offered (the
    /// query moved on meanwhile): shown to copy.
    unsent: bool,
    done: Option<&'static str>,
}

async fn query_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    status: StatusCode,
    typed: Typed,
    refused_step: String,
    done: Option<&'static str>,
) -> Result<Response, PageError> {
    let q = state.store.manual_query(&viewer.session.actor, id).await?;
    // The store's own table of who takes which step from where.
    let steps = if viewer.locked {
        Vec::new()
    } else {
        [
            (QueryStep::Answer, "Answer"),
            (QueryStep::Close, "Close the query"),
            (QueryStep::Reopen, "Reopen: the answer is not enough"),
        ]
        .into_iter()
        .filter(|(step, _)| step.next(viewer.session.actor.role, q.status).is_ok())
        .map(|(step, label)| (step.as_str(), label))
        .collect()
    };
    let unsent = !refused_step.is_empty()
        && !typed.text.is_empty()
        && !steps.iter().any(|s| s.0 == refused_step);
    Ok(page(
        status,
        &QueryPage {
            unsent,
            nav: Some(viewer.nav()),
            query: QueryView::of(q),
            steps,
            csrf: viewer.session.csrf.clone(),
            typed,
            refused_step,
            done,
        },
    ))
}

fn number(id: &str) -> Result<i64, PageError> {
    id.parse().map_err(|_| PageError::not_found())
}

/// `GET /manual-queries/{id}`.
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let done = q.said(&[
        ("raise", "The query is raised; the site sees it now."),
        ("answer", "Your answer is sent; the monitor sees it now."),
        ("reopen", "The query is open again; the site sees it now."),
        ("close", "The query is closed."),
    ]);
    let id = number(&id)?;
    query_page(
        &state,
        &viewer,
        id,
        StatusCode::OK,
        Typed::default(),
        String::new(),
        done,
    )
    .await
}

#[derive(Deserialize)]
pub struct StepForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(default)]
    text: String,
}

/// `POST /manual-queries/{id}/{step}`.
pub async fn step(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, step)): Path<(String, String)>,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let id = number(&id)?;
    let step = QueryStep::parse(&step).ok_or_else(PageError::not_found)?;
    let outcome = if viewer.csrf_matches(form.csrf.as_deref()) {
        state
            .store
            .step_manual_query(&viewer.session.actor, id, step, &form.text)
            .await
    } else {
        Err(StoreError::Forbidden(String::new()))
    };
    let e = match outcome {
        Ok(_) => {
            tracing::info!(user = %viewer.session.actor.user, query = id, step = step.as_str(), "query step (page)");
            return Ok(
                Redirect::to(&format!("/manual-queries/{id}?done={}", step.as_str()))
                    .into_response(),
            );
        }
        Err(e) => e,
    };
    let typed = Typed {
        text: form.text,
        ..Typed::default()
    };
    let (status, typed) = typed.refused(e)?;
    let text = typed.text.clone();
    let page = query_page(
        &state,
        &viewer,
        id,
        status,
        typed,
        step.as_str().to_owned(),
        None,
    )
    .await;
    not_lost(page, &text)
}
