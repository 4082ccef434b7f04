//! The open data queries a user reaches: the edit checks' warnings on
//! saved records, each leading to its record's form, and the queries
//! raised by hand still waiting on the site or the monitor.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::casebook::QueryRow;
use super::{Nav, PageError, Viewer, page};
use crate::AppState;

/// An open query with the patient it concerns.
struct PatientQuery {
    patient: String,
    site: String,
    query: QueryRow,
}

#[derive(Template)]
#[template(path = "queries.html")]
struct QueriesPage {
    nav: Option<Nav>,
    queries: Vec<PatientQuery>,
    /// Queries raised by hand, not yet closed.
    raised: Vec<super::manual_queries::QueryView>,
    /// Statisticians read no query raised by hand.
    statistician: bool,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let queries = state
        .store
        .open_queries(&viewer.session.actor)
        .await?
        .into_iter()
        .map(|q| {
            let text = |k: &str| q[k].as_str().unwrap_or_default().to_owned();
            PatientQuery {
                patient: text("patient_id"),
                site: text("site_id"),
                query: QueryRow::of(&q, |_, _| false),
            }
        })
        .collect();
    let raised = super::manual_queries::waiting(&state, &viewer, None).await?;
    Ok(page(
        StatusCode::OK,
        &QueriesPage {
            nav: Some(viewer.nav()),
            queries,
            raised,
            statistician: viewer.session.actor.pseudonymized(),
        },
    ))
}
