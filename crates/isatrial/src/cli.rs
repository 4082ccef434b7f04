//! The command-line grammar: every command, flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The data system of the phase II isatuximab trial in T-cell ALL.
#[derive(Debug, Parser)]
#[command(name = "isatrial", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Estimators on any CSV file: Kaplan–Meier, cumulative incidence,
    /// binomial proportions, log-rank; the numbers of R's survival and cmprsk.
    #[command(subcommand)]
    Stats(StatsCommand),
}

/// `isatrial stats ...`
#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Kaplan–Meier survival with Greenwood intervals, median and times of interest.
    #[command(
        after_help = "Example:\n  isatrial stats km --input os.csv --time days --status dead --group cohort --at 365,547.875 --json"
    )]
    Km(KmArgs),
    /// Cumulative incidence with competing events (Aalen–Johansen), Gray's test across groups.
    #[command(
        after_help = "Status codes: 0 censored, 1 event of interest, 2 competing event.\n\nExample:\n  isatrial stats cif --input relapse.csv --time days --status status --at 547.875 --json"
    )]
    Cif(CifArgs),
    /// A proportion with its exact (Clopper–Pearson) or Wilson interval and an exact test.
    #[command(
        after_help = "Example:\n  isatrial stats binom --events 9 --total 33 --null-rate 0.1 --json"
    )]
    Binom(BinomArgs),
    /// Log-rank test comparing survival of two or more groups (R's survdiff).
    #[command(
        after_help = "Example:\n  isatrial stats logrank --input os.csv --time days --status dead --group sct --json"
    )]
    Logrank(LogrankArgs),
}

/// The CSV file and its time and status columns.
#[derive(Debug, Args)]
pub struct SurvivalInput {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Column of times from the origin (numbers >= 0).
    #[arg(long, value_name = "COL")]
    pub time: String,
    /// Column of status codes.
    #[arg(long, value_name = "COL")]
    pub status: String,
    /// Write JSON instead of a readable table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `stats km`.
#[derive(Debug, Args)]
pub struct KmArgs {
    #[command(flatten)]
    /// The data.
    pub input: SurvivalInput,
    /// Column whose values split the data into groups, one curve each.
    #[arg(long, value_name = "COL")]
    pub group: Option<String>,
    /// Transform for the pointwise 95 % interval (R's conf.type).
    #[arg(long, value_enum, default_value_t = ConfTypeArg::LogLog)]
    pub conf_type: ConfTypeArg,
    /// Times at which to read the curve, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "T1,T2,...")]
    pub at: Vec<f64>,
}

/// Arguments of `stats cif`.
#[derive(Debug, Args)]
pub struct CifArgs {
    #[command(flatten)]
    /// The data.
    pub input: SurvivalInput,
    /// Column whose values split the data into groups; adds Gray's test.
    #[arg(long, value_name = "COL")]
    pub group: Option<String>,
    /// Times at which to read the incidence, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "T1,T2,...")]
    pub at: Vec<f64>,
}

/// Arguments of `stats logrank`.
#[derive(Debug, Args)]
pub struct LogrankArgs {
    #[command(flatten)]
    /// The data.
    pub input: SurvivalInput,
    /// Column naming each row's group (at least two groups).
    #[arg(long, value_name = "COL")]
    pub group: String,
}

/// Arguments of `stats binom`.
#[derive(Debug, Args)]
pub struct BinomArgs {
    /// Number of patients with the event (responders).
    #[arg(long)]
    pub events: u64,
    /// Number of patients counted.
    #[arg(long)]
    pub total: u64,
    /// Interval method.
    #[arg(long, value_enum, default_value_t = BinomMethod::ClopperPearson)]
    pub method: BinomMethod,
    /// Coverage of the two-sided interval.
    #[arg(long, default_value_t = 0.95)]
    pub conf_level: f64,
    /// Null response rate for the exact one-sided test (H1: rate > null).
    #[arg(long)]
    pub null_rate: Option<f64>,
    /// Write JSON instead of a readable line.
    #[arg(long)]
    pub json: bool,
}

/// Interval methods for a proportion.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum BinomMethod {
    /// Exact, from beta quantiles (R's binom.test).
    ClopperPearson,
    /// Score interval without continuity correction (R's prop.test(correct = FALSE)).
    Wilson,
}

/// `--conf-type` values, spelled as R spells them.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ConfTypeArg {
    /// log(-log S): the protocol's default.
    #[value(name = "log-log")]
    LogLog,
    /// log S: R's survfit default.
    Log,
    /// S itself, clipped to [0, 1].
    Plain,
}

impl From<ConfTypeArg> for stats::ConfType {
    fn from(c: ConfTypeArg) -> Self {
        match c {
            ConfTypeArg::LogLog => stats::ConfType::LogLog,
            ConfTypeArg::Log => stats::ConfType::Log,
            ConfTypeArg::Plain => stats::ConfType::Plain,
        }
    }
}
