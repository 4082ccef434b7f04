//! `isatrial`: the command line of the trial's data system. This file is
//! glue: parse arguments, run the command, turn the outcome into an exit
//! code (0 done, 2 the input was refused, 1 anything unexpected).

/// Writes a line to standard error, as `eprintln!` does, except that a
/// closed standard error (`2>&1 | head`) ends nothing: `eprintln!` panics.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Writes a line to standard output, as `println!` does, except that a
/// closed pipe (`| head -1`) ends nothing: `println!` panics.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod cli;
mod db_cmd;
mod demo_cmd;
mod input;
mod out_folder;
mod qlq_cmd;
mod report_cmd;
mod simulate_cmd;
mod stats_cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the C library's allocator: the server's requests
/// allocate and free many small values on two threads at once, where
/// glibc's arenas spent about 14 % of the load bench's samples in
/// `malloc`/`free`; with mimalloc casebook reads ran 30–45 % faster and
/// audited writes about 25 % (BENCHMARKS.md). Built without transparent
/// huge pages (`no_thp`): with them the kernel compacted and zeroed 2 MiB
/// pages for the statistics' ten-million-row columns, and `isatrial stats
/// km` on 1e7 rows took 3.3–3.6 s instead of 2.5–2.6 s.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Why a command stopped without doing its job.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The user's input broke a rule; the message says which and where.
    #[error("{0}")]
    Refused(String),
    /// Something outside the user's input went wrong.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<input::InputError> for Failure {
    fn from(e: input::InputError) -> Self {
        Failure::Refused(e.to_string())
    }
}

impl From<stats::StatsError> for Failure {
    fn from(e: stats::StatsError) -> Self {
        Failure::Refused(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Unexpected(e.into())
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Unexpected(e)) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(Failure::Refused(message)) => {
            note!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Unexpected(e)) => {
            note!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Output piped into `head` is not a failure, however deep in the error's
/// chain the closed pipe lies (a JSON writer wraps it in its own error).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn run(args: cli::Cli) -> Result<(), Failure> {
    match args.command {
        cli::Command::Stats(cmd) => stats_cmd::run(cmd),
        cli::Command::Report(args) => report_cmd::run(&args),
        cli::Command::QlqC30(args) => qlq_cmd::run(&args),
        cli::Command::Simulate(args) => simulate_cmd::run(&args),
        cli::Command::Demo(args) => demo_cmd::run(&args),
        cli::Command::Serve(args) => db_cmd::serve(&args),
        cli::Command::Import(args) => db_cmd::import(&args),
        cli::Command::Export(args) => db_cmd::export(&args),
        cli::Command::User(cmd) => db_cmd::user(&cmd),
    }
}
