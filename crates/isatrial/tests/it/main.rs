//! Integration tests of the `isatrial` binary, one module per command
//! family; each runs the real executable.

mod qlq_cli;
mod refusals;
mod report_cli;
mod server;
mod stats_cli;
mod support;
