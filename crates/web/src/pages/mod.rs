//! The electronic case report forms: server-rendered pages for the sites'
//! staff, monitors, data managers and statisticians, over the same store
//! calls as the JSON API, so a form and the API accept and refuse exactly
//! the same data. No script runs in the browser: every page works with
//! plain HTML forms, each change carries the session's CSRF token, and a
//! refused form comes back with what the user typed and each field's rule.

mod administration;
mod casebook;
mod labels;
mod login;
mod manual_queries;
mod queries;
mod record_form;
mod report;
mod viewer;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use store::StoreError;

use crate::AppState;

pub(crate) use viewer::Viewer;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(casebook::home))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", get(to("/")).post(login::logout))
        .route("/patients", get(casebook::patients))
        .route("/patients/{id}", get(casebook::casebook))
        .route(
            "/patients/{id}/sign",
            get(casebook_of_signing).post(casebook::sign),
        )
        .route(
            "/register",
            get(record_form::register).post(record_form::register_submit),
        )
        .route(
            "/patients/{id}/new/{table}",
            get(record_form::new).post(record_form::new_submit),
        )
        .route(
            "/records/{table}/{key}",
            get(record_form::edit).post(record_form::edit_submit),
        )
        .route(
            "/records/{table}/{key}/retract",
            get(record_form::to_record).post(record_form::retract),
        )
        .route("/records/{table}/{key}/history", get(record_form::history))
        .route(
            "/records/{table}/{key}/queries",
            get(manual_queries::of_record).post(manual_queries::raise),
        )
        .route("/manual-queries/{id}", get(manual_queries::show))
        .route(
            "/manual-queries/{id}/{step}",
            get(manual_query_of_step).post(manual_queries::step),
        )
        .route("/queries", get(queries::list))
        .route("/report", get(report::show))
        .route("/audit", get(administration::audit))
        .route("/administration", get(administration::show))
        .route(
            "/administration/lock",
            get(to("/administration")).post(administration::lock),
        )
        .route(
            "/administration/cutoff",
            get(to("/administration")).post(administration::cutoff),
        )
        .route("/assets/app.css", get(stylesheet))
}

/// An address that only takes a form's post, opened as a page (a
/// bookmark, a reload after signing in again): the page of that form.
fn to(path: &'static str) -> impl Fn() -> std::future::Ready<Redirect> + Clone {
    move || std::future::ready(Redirect::to(path))
}

/// The signing form's address opened as a page: the casebook.
async fn casebook_of_signing(axum::extract::Path(id): axum::extract::Path<String>) -> Redirect {
    Redirect::to(&casebook_path(&id))
}

/// A query's step opened as a page: the query's page.
async fn manual_query_of_step(
    axum::extract::Path((id, _)): axum::extract::Path<(String, String)>,
) -> Redirect {
    Redirect::to(&format!("/manual-queries/{}", path_component(&id)))
}

/// The one stylesheet, served from the binary.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/app.css"),
    )
        .into_response()
}

/// What a form page may load and do: its own style sheet, no script, no
/// frame around it, forms posted to this server only.
const FORM_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with the headers every page carries: patient data is
/// never cached, never framed, and no script or foreign resource runs.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => html(status, body, FORM_POLICY),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

/// An HTML answer under the content security `policy`, kept out of caches.
pub(crate) fn html(status: StatusCode, body: String, policy: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A page that could not be shown.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Option<Nav>,
    title: &'static str,
    message: String,
}

/// Why a page is not shown: signed out (to the login page), or an error
/// page with its status.
pub(crate) enum PageError {
    SignedOut {
        next: String,
    },
    Status(StatusCode, &'static str, String),
    /// A page of its own that answers the request instead (a form shown
    /// again).
    Shown(Box<Response>),
}

impl PageError {
    pub(crate) fn not_found() -> Self {
        PageError::Status(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page or record, or it belongs to a site you do not reach.".into(),
        )
    }
}

/// The page of an address that names nothing.
pub(crate) fn not_found_page() -> Response {
    PageError::not_found().into_response()
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => PageError::not_found(),
            StoreError::Forbidden(m) => PageError::Status(StatusCode::FORBIDDEN, "Not allowed", m),
            StoreError::Locked(m) => {
                PageError::Status(StatusCode::LOCKED, "The database is locked", m)
            }
            e @ (StoreError::BadUrl(_) | StoreError::Database(_)) => {
                tracing::error!(error = %e, "store failure");
                PageError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The database failed",
                    "Nothing was changed. Try again; if it fails again, tell the data manager."
                        .into(),
                )
            }
            e @ StoreError::Conflict { .. } => {
                PageError::Status(StatusCode::CONFLICT, "The record changed", e.to_string())
            }
            e @ (StoreError::Invalid(_) | StoreError::ReasonRequired) => {
                PageError::Status(StatusCode::UNPROCESSABLE_ENTITY, "Refused", e.to_string())
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignedOut { next } => {
                let to = if next == "/" {
                    "/login".to_owned()
                } else {
                    format!("/login?next={}", path_component(&next))
                };
                Redirect::to(&to).into_response()
            }
            PageError::Shown(response) => *response,
            PageError::Status(status, title, message) => page(
                status,
                &ErrorPage {
                    nav: None,
                    title,
                    message,
                },
            ),
        }
    }
}

/// What the navigation bar shows of the signed-in user.
pub(crate) struct Nav {
    pub user: String,
    pub role: &'static str,
    pub sites: String,
    pub csrf: String,
    pub locked: bool,
    /// Reads the audit trail (monitors, data managers, admins).
    pub audits: bool,
}

/// What a form's page says once after it was sent (`?done=locked`): the
/// redirect after a post names what was done, the page words it.
#[derive(serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

impl Done {
    /// The words for what was done, from `said` (`(done, words)` pairs);
    /// nothing for a value not in it.
    pub(crate) fn said(&self, said: &[(&str, &'static str)]) -> Option<&'static str> {
        let done = self.done.as_deref()?;
        said.iter()
            .find(|(d, _)| *d == done)
            .map(|(_, words)| *words)
    }
}

/// The rules a store refusal names at `field`, joined, for a form to show
/// beside it; `None` when it names none there.
pub(crate) fn rules_at(fields: &[store::FieldError], field: &str) -> Option<String> {
    let rules: Vec<&str> = fields
        .iter()
        .filter(|f| f.field.as_deref() == Some(field))
        .map(|f| f.rule.as_str())
        .collect();
    (!rules.is_empty()).then(|| rules.join("; "))
}

/// The page of a record.
pub(crate) fn record_path(table: &str, key: &str) -> String {
    format!("/records/{table}/{}", path_component(key))
}

/// A patient's casebook.
pub(crate) fn casebook_path(patient: &str) -> String {
    format!("/patients/{}", path_component(patient))
}

/// `s` as one component of a URL's query or path.
pub(crate) fn path_component(s: &str) -> String {
    askama::filters::urlencode_strict(s)
        .map(|encoded| encoded.to_string())
        .unwrap_or_default()
}
