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
    /// Every endpoint of the protocol from a CSV bundle or the database:
    /// report.html, endpoints.json, a CSV per table, and with --adam the
    /// CDISC analysis datasets.
    #[command(
        after_help = "The bundle is refused whole, with every problem listed by file, line and column, if any row or cross-record check fails.\n\nExample:\n  isatrial report --bundle trial-data/ --out report/ --as-of 2026-03-31\n  isatrial report --db sqlite://trial.db --out report/ --adam"
    )]
    Report(ReportArgs),
    /// EORTC QLQ-C30 scores (15 scales and the summary score) of any
    /// questionnaire file with columns q1..q30.
    #[command(
        name = "qlq-c30",
        after_help = "Other columns (patient id, timepoint, ...) are copied to the output.\n\nExample:\n  isatrial qlq-c30 --input qlq_c30.csv --json"
    )]
    QlqC30(QlqArgs),
    /// A realistic synthetic trial bundle (both cohorts, responses, MRD,
    /// AEs, SCT, GvHD, relapses, deaths, questionnaires, hospital stays).
    #[command(
        after_help = "Example:\n  isatrial simulate --patients 500 --seed 7 --cr-rate 0.4 --out synthetic/"
    )]
    Simulate(SimulateArgs),
    /// The whole job on a synthetic trial: simulate it into a SQLite
    /// database, compute every endpoint, write the report, serve the case
    /// report forms and the API.
    #[command(
        after_help = "Example:\n  isatrial demo --out isatrial-demo/\n  isatrial demo --no-serve"
    )]
    Demo(DemoArgs),
    /// The multi-user server: case report forms at /, the JSON API with
    /// sessions, roles and sites, OpenAPI at /api/openapi.json.
    #[command(
        after_help = "Logs go to stderr (RUST_LOG=debug for more).\n\nExample:\n  isatrial serve --db sqlite://trial.db --listen 127.0.0.1:8080\n  isatrial serve --db postgres://isatrial@db-host/trial --listen 0.0.0.0:8080 --secure-cookies"
    )]
    Serve(ServeArgs),
    /// Imports a CSV bundle into an empty trial database, in one
    /// transaction: any problem refuses it all.
    #[command(
        after_help = "An exported folder's manual_queries.json and signatures.json are not loaded: queries raised by hand and signatures belong to the database they were made in.\n\nExample:\n  isatrial import trial-data/ --db sqlite://trial.db"
    )]
    Import(ImportArgs),
    /// Writes the database (now or as of an instant) as a CSV bundle.
    #[command(
        after_help = "Beside the bundle's files it writes manual_queries.json (the queries raised by hand, with their threads) and signatures.json (the investigators' casebook signatures): the archive's copy. Import loads the trial data only; those stay in the database they were made in.\n\nExample:\n  isatrial export --bundle snapshot/ --db sqlite://trial.db --as-of 2026-06-30"
    )]
    Export(ExportArgs),
    /// Manages users: add, reset a password, disable.
    #[command(subcommand)]
    User(UserCommand),
}

/// Where the trial database is.
#[derive(Debug, Args)]
pub struct DbArg {
    /// Database URL: sqlite://FILE (embedded) or postgres://USER@HOST/DB.
    #[arg(long, value_name = "URL", env = "ISATRIAL_DB")]
    pub db: String,
}

/// `isatrial serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Mark the session cookie Secure (when served behind HTTPS).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Served behind a reverse proxy that appends the client's address to
    /// X-Forwarded-For: login throttling counts failures by that address
    /// instead of the proxy's. Without it the header is ignored.
    #[arg(long)]
    pub behind_proxy: bool,
}

/// `isatrial import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Folder of the CSV bundle.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub db: DbArg,
    /// Name written into the audit trail for this import.
    #[arg(long = "as", value_name = "NAME", default_value = "import")]
    pub user: String,
}

/// `isatrial export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Folder to write the bundle into.
    #[arg(long, value_name = "DIR")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub db: DbArg,
    /// The state as of this instant (YYYY-MM-DD = end of that day, UTC).
    #[arg(long, value_name = "INSTANT")]
    pub as_of: Option<String>,
}

/// `isatrial user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a user; the password comes from ISATRIAL_PASSWORD, a hidden prompt, or the first line of piped stdin.
    #[command(
        after_help = "Roles: admin, investigator, study_nurse, monitor, data_manager, statistician. Site staff need one --site; a monitor gets the sites they monitor.\n\nExample:\n  echo 'a long password' | isatrial user add nina --role study_nurse --site S1 --db sqlite://trial.db\n  echo 'another long password' | isatrial user add berg --role investigator --site S1 --full-name 'Dr Anna Berg' --db sqlite://trial.db"
    )]
    Add(UserAddArgs),
    /// Sets a new password (ISATRIAL_PASSWORD or stdin) and lifts a lockout.
    #[command(
        after_help = "Example:\n  isatrial user reset nina --db sqlite://trial.db < new-password.txt"
    )]
    Reset(UserNameArgs),
    /// Disables a user and ends their sessions.
    #[command(after_help = "Example:\n  isatrial user disable nina --db sqlite://trial.db")]
    Disable(UserNameArgs),
}

/// `isatrial user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// User name.
    pub name: String,
    /// Role.
    #[arg(long)]
    pub role: String,
    /// Site (site staff: exactly one; monitor: each monitored site).
    #[arg(long = "site", value_name = "SITE")]
    pub sites: Vec<String>,
    /// Full name, printed with the user's electronic signatures (an
    /// investigator's casebook signatures); the user name when left out.
    #[arg(long = "full-name", value_name = "NAME")]
    pub full_name: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
}

/// `isatrial user reset|disable`.
#[derive(Debug, Args)]
pub struct UserNameArgs {
    /// User name.
    pub name: String,
    #[command(flatten)]
    pub db: DbArg,
}

/// `isatrial report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Folder of the CSV bundle (DATA-FORMAT.md §1).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "db",
        conflicts_with = "db"
    )]
    pub bundle: Option<PathBuf>,
    /// Or the trial database (sqlite://FILE or postgres://...).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Folder to write the report into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also print endpoints.json on standard output.
    #[arg(long)]
    pub json: bool,
    /// Also write the CDISC ADaM datasets ADSL, ADAE and ADTTE into
    /// OUT/adam/, each as a SAS transport file (.xpt, version 5) and CSV.
    /// They about double the report's time at scale (BENCHMARKS.md).
    #[arg(long)]
    pub adam: bool,
    /// With --bundle: analyse as of this date (YYYY-MM-DD), an earlier
    /// cut-off than the bundle's. With --db: the database as it was at this
    /// instant (YYYY-MM-DD = end of that day, UTC, or an RFC 3339 instant),
    /// giving the numbers a report gave then.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

/// `isatrial qlq-c30`.
#[derive(Debug, Args)]
pub struct QlqArgs {
    /// CSV file with columns q1..q30 (answers 1–4, items 29–30 1–7; empty = missing).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `isatrial simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Patients to register (1 to 1,000,000).
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    pub patients: usize,
    /// Seed: the same seed gives the same bundle.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder to write the bundle into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Share of patients in cohort 1.
    #[arg(long, allow_negative_numbers = true)]
    pub cohort1_share: Option<f64>,
    /// Cohort 1: probability of CR/CRi by w9.
    #[arg(long, allow_negative_numbers = true)]
    pub cr_rate: Option<f64>,
    /// Cohort 2: probability of MolCR at d22.
    #[arg(long, allow_negative_numbers = true)]
    pub molcr_rate: Option<f64>,
    /// Probability of SCT among responders.
    #[arg(long, allow_negative_numbers = true)]
    pub sct_rate: Option<f64>,
    /// Probability of hematologic relapse among responders.
    #[arg(long, allow_negative_numbers = true)]
    pub relapse_rate: Option<f64>,
    /// Monthly hazard of death.
    #[arg(long, allow_negative_numbers = true)]
    pub death_hazard: Option<f64>,
    /// Mean adverse events per patient.
    #[arg(long, allow_negative_numbers = true)]
    pub ae_per_patient: Option<f64>,
}

/// `isatrial demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write the report and stop instead of serving the forms and the API.
    #[arg(long)]
    pub no_serve: bool,
    /// Address the demo server listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Folder for the synthetic bundle and the report.
    #[arg(long, value_name = "DIR", default_value = "isatrial-demo")]
    pub out: PathBuf,
    /// Patients in the synthetic trial.
    #[arg(long, default_value_t = 120)]
    pub patients: usize,
    /// Seed of the synthetic trial.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
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

/// A time asked for with `--at`: the rule of the time column (a finite
/// number >= 0), so that no curve is read at a time it cannot have.
fn at_time(text: &str) -> Result<f64, String> {
    if text.trim().is_empty() {
        return Err("an empty time; give numbers separated by commas".into());
    }
    crate::input::parse_time(text.as_bytes()).map(|t| t + 0.0)
}

/// The CSV file and its time and status columns.
#[derive(Debug, Args)]
pub struct SurvivalInput {
    /// CSV file with a header row; `-` reads standard input.
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
    /// Times at which to read the curve, comma-separated (each >= 0).
    /// Past the last observed time the curve is unknown and reads NA,
    /// unless it has reached 0 (R's `summary(extend = TRUE)` carries the
    /// last value forward instead).
    #[arg(long, value_delimiter = ',', value_name = "T1,T2,...",
          allow_negative_numbers = true, value_parser = at_time)]
    pub at: Vec<f64>,
    /// Print every row of a readable table longer than 100 rows, not only
    /// its first and last 10 (`--json` always holds the whole table).
    #[arg(long, conflicts_with = "json")]
    pub all_rows: bool,
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
    /// Times at which to read the incidence, comma-separated (each >= 0).
    #[arg(long, value_delimiter = ',', value_name = "T1,T2,...",
          allow_negative_numbers = true, value_parser = at_time)]
    pub at: Vec<f64>,
    /// Print every row of a readable table longer than 100 rows, not only
    /// its first and last 10 (`--json` always holds the whole table).
    #[arg(long, conflicts_with = "json")]
    pub all_rows: bool,
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
    #[arg(long, allow_negative_numbers = true)]
    pub events: u64,
    /// Number of patients counted (at most 10^9).
    #[arg(long, allow_negative_numbers = true)]
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
