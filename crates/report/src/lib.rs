//! Renders the endpoint engine's [`trial::Results`] for three readers: a
//! person (`report.html`, one self-contained file — inline CSS and SVG, no
//! script, nothing fetched — so it can be mailed, archived with the
//! database lock and printed), a program (`endpoints.json`, DATA-FORMAT.md
//! §2) and a spreadsheet or SAS/R (`tables/<id>.csv`, and the CDISC
//! analysis datasets as `adam/<name>.xpt` and `.csv`).
//!
//! It computes nothing: every number shown comes from `Results`, so the
//! report cannot disagree with the JSON. Output is deterministic (no clock,
//! no hash-map order), so two runs on the same data give the same bytes.

mod adam_files;
mod csv_tables;
mod format;
mod html;
mod json;
mod svg;
pub mod xpt;

pub use adam_files::{AdamWritten, write_adam};
pub use html::render_html;
pub use json::endpoints_json;

use std::path::{Path, PathBuf};

/// What was written, so the caller can name the files it produced without
/// knowing this crate's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `report.html`.
    pub html: PathBuf,
    /// `endpoints.json`.
    pub json: PathBuf,
    /// `tables/<id>.csv` in the order of `Results::tables`, then
    /// `tables/adtte.csv` (the time-to-event rows behind every curve, so a
    /// statistician can re-fit them elsewhere).
    pub tables: Vec<PathBuf>,
}

/// Writes `report.html`, `endpoints.json` and `tables/<table.id>.csv` into
/// `out`, creating it if missing; files already there are replaced.
pub fn write_report(results: &trial::Results, out: &Path) -> std::io::Result<Written> {
    let tables_dir = out.join("tables");
    // Both folders first: a path in the way stops the run before any file.
    std::fs::create_dir_all(&tables_dir).map_err(|e| at(&tables_dir, e))?;
    let html = out.join("report.html");
    std::fs::write(&html, render_html(results)).map_err(|e| at(&html, e))?;
    let json = out.join("endpoints.json");
    let mut text =
        serde_json::to_string_pretty(&endpoints_json(results)).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(&json, text).map_err(|e| at(&json, e))?;
    let tables = csv_tables::write_all(results, &tables_dir).map_err(|e| at(&tables_dir, e))?;
    Ok(Written { html, json, tables })
}

/// `e` with the path it happened at: the operating system's message alone
/// ("No such file or directory") does not say which.
fn at(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
