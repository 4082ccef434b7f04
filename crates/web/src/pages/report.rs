//! The endpoints report of the data the user may see, now or as of an
//! instant: the same HTML `isatrial report` writes, computed on request.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use store::Instant;

use super::{PageError, Viewer};
use crate::AppState;

#[derive(Deserialize)]
pub struct AsOf {
    as_of: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AsOf>,
) -> Result<Response, PageError> {
    let refused = |rule: String| {
        PageError::Status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Refused",
            format!("as_of {rule}"),
        )
    };
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => Some(
            text.parse::<Instant>()
                .map_err(|e| refused(e.to_string()))?,
        ),
        None => None,
    };
    if as_of.is_some_and(|at| at > Instant::now()) {
        return Err(refused(
            "is in the future; an analysis as of an instant needs it to have passed".into(),
        ));
    }
    let data = state.store.dataset(&viewer.session.actor, as_of).await?;
    let html =
        tokio::task::spawn_blocking(move || report::render_html(&trial::endpoints::compute(&data)))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the report failed");
                PageError::Status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The report failed",
                    "The report could not be computed; tell the data manager.".into(),
                )
            })?;
    // The report carries its own style sheet inline and no script.
    Ok(super::html(
        StatusCode::OK,
        html,
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ))
}
