//! Integration tests of the `isatrial` binary, one module per command
//! family; each runs the real executable.

mod stats_cli;
