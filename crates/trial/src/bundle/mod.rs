//! The trial bundle (DATA-FORMAT.md §1): a folder of CSV files and
//! `bundle.toml`, read whole or refused whole, and written back in the same
//! shape.

mod cells;
mod read;
mod spec;
mod write;

pub use cells::Problem;
pub use read::read_bundle;
pub use spec::QLQ_ITEM_COLUMNS;
pub use write::write_bundle;
