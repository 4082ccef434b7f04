//! The isatuximab T-ALL trial's domain: the recorded facts as types that
//! cannot hold invalid values, the protocol file, the CSV bundle, the edit
//! checks, the derivations of PROTOCOL.md §3 and the endpoint engine of §4.
//!
//! Pure: a [`Dataset`] in, [`Results`] out; the only I/O is reading and
//! writing a bundle folder.

pub mod adam;
pub mod bundle;
pub mod checks;
pub mod ctcae;
pub mod dataset;
pub mod date;
pub mod derive;
pub mod endpoints;
pub mod protocol;
pub mod qlq;
pub mod records;
pub mod results;
pub mod simulate;
pub mod values;
pub mod vocab;

pub use dataset::{Casebook, Casebooks, Dataset};
pub use date::Date;
pub use protocol::Protocol;
pub use results::{Results, Statistic, Value};
