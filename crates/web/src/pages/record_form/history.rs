//! A record's history: every version with who, when, why, and what
//! changed from the version before.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use store::StoreError;

use super::fields::cell;
use super::spec_of;
use crate::AppState;
use crate::pages::labels::{column_label, table_title};
use crate::pages::record_path;
use crate::pages::{Nav, PageError, Viewer, page};

/// One version in the history page.
struct VersionRow {
    version: i64,
    recorded: String,
    by: String,
    reason: String,
    retracted: bool,
    /// Each column's value and whether it changed from the version before.
    cells: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    nav: Option<Nav>,
    title: &'static str,
    key: String,
    back: String,
    columns: Vec<String>,
    versions: Vec<VersionRow>,
}

/// `GET /records/{table}/{key}/history`: every version of a record, with
/// who, when, why, and what changed.
pub async fn history(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let actor = &viewer.session.actor;
    let versions = state.store.history(actor, spec, &key).await?;
    let mut rows = Vec::with_capacity(versions.len());
    let mut before: Option<&Map<String, Value>> = None;
    for v in &versions {
        rows.push(VersionRow {
            version: v.version,
            recorded: v.recorded_at.clone(),
            by: v.recorded_by.clone(),
            reason: v.reason.clone().unwrap_or_default(),
            retracted: v.retracted,
            cells: spec
                .columns
                .iter()
                .map(|(c, _)| {
                    let now = cell(&v.fields, c);
                    let changed = before.is_some_and(|b| cell(b, c) != now);
                    (now, changed)
                })
                .collect(),
        });
        before = Some(&v.fields);
    }
    let back = match state.store.get(actor, spec, &key).await {
        Ok(r) => record_path(r.table, &r.key),
        Err(StoreError::NotFound) => "/patients".into(),
        Err(e) => return Err(e.into()),
    };
    Ok(page(
        StatusCode::OK,
        &HistoryPage {
            nav: Some(viewer.nav()),
            title: table_title(spec),
            key,
            back,
            columns: spec
                .columns
                .iter()
                .map(|(c, _)| column_label(store::stem(spec), c))
                .collect(),
            versions: rows,
        },
    ))
}
