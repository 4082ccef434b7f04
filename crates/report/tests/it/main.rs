//! The report crate's one integration test binary: the rendered outputs of
//! the real bundle-60, each module one output format.

mod common;
mod csv_files;
mod html_page;
mod json_document;
mod transport;
