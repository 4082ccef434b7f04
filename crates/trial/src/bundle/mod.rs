//! The trial bundle (DATA-FORMAT.md §1): a folder of CSV files and
//! `bundle.toml`, read whole or refused whole, and written back in the same
//! shape.

mod cells;
mod kinds;
mod read;
pub mod spec;
mod write;

pub use cells::{FileSpec, Problem};
pub use kinds::{ColumnKind, column_kind};
pub use read::{MemorySource, RowSource, TableRows, read_bundle, read_rows};
pub use spec::{QLQ_ITEM_COLUMNS, TABLES};
pub use write::write_bundle;

use crate::checks::{Finding, Severity, check};
use crate::dataset::Dataset;

/// A bundle that passed every error check, with the warnings that become
/// data queries.
#[derive(Debug)]
pub struct Loaded {
    /// The data.
    pub data: Dataset,
    /// Warnings of the cross-record edit checks.
    pub warnings: Vec<Finding>,
}

/// Reads a bundle and runs the edit checks of PROTOCOL.md §8: any row
/// problem or cross-record error refuses the whole bundle.
pub fn load_bundle(dir: &std::path::Path) -> Result<Loaded, Vec<Problem>> {
    let data = read_bundle(dir)?;
    let (errors, warnings): (Vec<Finding>, Vec<Finding>) = check(&data)
        .into_iter()
        .partition(|f| f.severity == Severity::Error);
    if errors.is_empty() {
        Ok(Loaded { data, warnings })
    } else {
        Err(errors
            .into_iter()
            .map(|f| Problem {
                file: f.file.to_owned(),
                line: None,
                column: None,
                rule: format!(
                    "patient {} ({}): {} [{}]",
                    f.patient, f.record, f.message, f.check
                ),
            })
            .collect())
    }
}
