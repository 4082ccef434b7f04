//! `isatrial report` and the analysis half of `isatrial demo`: load a bundle
//! (refusing it whole on any error), compute every endpoint, write the report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use trial::Date;
use trial::bundle::load_bundle;

use crate::Failure;
use crate::cli::ReportArgs;

/// Where a report went, for the caller to print.
pub struct Outcome {
    /// report.html.
    pub html: PathBuf,
    /// endpoints.json.
    pub json: PathBuf,
    /// Data queries raised by the edit checks.
    pub queries: usize,
    /// Patients registered.
    pub patients: usize,
    /// The endpoints.json document, for `--json`.
    pub document: serde_json::Value,
    /// With `--adam`: the folder of the CDISC analysis datasets, the texts
    /// cut to fit a transport file's 200 bytes, and those written in ASCII,
    /// per dataset.
    pub adam: Option<AdamNotes>,
}

/// What `--adam` wrote and changed: the folder, then per dataset the
/// texts cut and the texts transliterated.
type AdamNotes = (
    PathBuf,
    Vec<(&'static str, usize)>,
    Vec<(&'static str, usize)>,
);

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// One data query for `queries.csv`.
pub struct Query {
    file: String,
    patient: String,
    record: String,
    check: String,
    message: String,
}

impl From<trial::checks::Finding> for Query {
    fn from(f: trial::checks::Finding) -> Query {
        Query {
            file: f.file.into(),
            patient: f.patient,
            record: f.record,
            check: f.check.into(),
            message: f.message,
        }
    }
}

/// Loads and checks a bundle (refusing it whole on any error), then writes
/// its report; `as_of` moves the cut-off earlier.
pub fn build(
    bundle: &Path,
    out: &Path,
    as_of: Option<Date>,
    adam: bool,
) -> Result<Outcome, Failure> {
    let bar = spinner();
    bar.set_message(format!("reading and checking {}", bundle.display()));
    let loaded = load_bundle(bundle).map_err(|problems| {
        bar.finish_and_clear();
        let shown: Vec<String> = problems.iter().take(50).map(|p| format!("  {p}")).collect();
        let more = problems.len().saturating_sub(50);
        let tail = if more > 0 {
            format!("\n  … and {more} more")
        } else {
            String::new()
        };
        Failure::Refused(format!(
            "bundle {} refused ({} problem{}), nothing was analysed:\n{}{tail}",
            bundle.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            shown.join("\n")
        ))
    })?;
    let mut data = loaded.data;
    if let Some(as_of) = as_of {
        if as_of > data.cutoff {
            return Err(Failure::Refused(format!(
                "--as-of {as_of} is after the bundle's cut-off {}: the data say nothing \
                 of later days; give an earlier date or none",
                data.cutoff
            )));
        }
        let first = data.patients.iter().map(|p| p.registration_date).min();
        if first.is_none_or(|first| as_of < first) {
            return Err(Failure::Refused(format!(
                "--as-of {as_of}: no patient was registered by then{}",
                first.map_or(String::new(), |d| format!(" (the first on {d})"))
            )));
        }
        data.cutoff = as_of;
    }
    let queries = loaded.warnings.into_iter().map(Query::from).collect();
    write(&bar, data, queries, out, adam)
}

/// Reads the database (now or as of an instant) and writes its report.
pub fn build_from_db(
    url: &str,
    out: &Path,
    as_of: Option<store::Instant>,
    adam: bool,
) -> Result<Outcome, Failure> {
    let bar = spinner();
    bar.set_message("reading the database");
    let (data, open) = crate::db_cmd::block_on(async {
        let store = store::Store::open_existing(url).await?;
        let actor = store::Actor::system("report");
        let data = store.dataset(&actor, as_of).await?;
        let open = if as_of.is_none() {
            store.open_queries(&actor).await?
        } else {
            Vec::new()
        };
        store.close().await;
        Ok((data, open))
    })?;
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let queries = if as_of.is_none() {
        open.iter()
            .map(|q| Query {
                file: text(q, "table"),
                patient: text(q, "patient_id"),
                record: text(q, "key"),
                check: text(q, "check"),
                message: text(q, "message"),
            })
            .collect()
    } else {
        // The queries of an earlier instant are the warnings of the data
        // as they stood then, as a bundle's report raises them.
        trial::checks::check(&data)
            .into_iter()
            .filter(|f| f.severity == trial::checks::Severity::Warning)
            .map(Query::from)
            .collect()
    };
    write(&bar, data, queries, out, adam)
}

fn write(
    bar: &ProgressBar,
    data: trial::Dataset,
    queries: Vec<Query>,
    out: &Path,
    adam: bool,
) -> Result<Outcome, Failure> {
    // The data queries are written first and freed: at a million patients
    // they are hundreds of thousands of strings the computation does not need.
    let queries = write_queries(out, queries)?;
    bar.set_message(format!(
        "computing endpoints for {} patients",
        data.patients.len()
    ));
    let patients = data.patients.len();
    // The endpoints and the analysis datasets hold the same patients: not
    // those registered after the cut-off (left out once, here).
    let data = data.registered_by_cutoff().unwrap_or(data);
    let results = trial::endpoints::compute(&data);
    let adam = if adam {
        bar.set_message("writing the CDISC analysis datasets");
        let dir = out.join("adam");
        let courses = trial::adam::Courses::derive(&data);
        let datasets: [&(dyn trial::adam::AnalysisDataset + Sync); 3] = [
            &courses.adsl(),
            &courses.adae(),
            &trial::adam::Adtte(&results),
        ];
        let written = report::write_adam(&datasets, data.cutoff, &dir)?;
        Some((dir, written.cut, written.transliterated))
    } else {
        None
    };
    // The records are no longer needed: free them before rendering.
    drop(data);
    bar.set_message("writing the report");
    let written = report::write_report(&results, out)?;
    bar.finish_and_clear();
    Ok(Outcome {
        html: written.html,
        json: written.json,
        queries,
        patients,
        document: report::endpoints_json(&results),
        adam,
    })
}

/// Writes `queries.csv` into `out`; returns how many queries it holds.
fn write_queries(out: &Path, queries: Vec<Query>) -> Result<usize, Failure> {
    use anyhow::Context as _;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join("queries.csv");
    let mut w = csv::Writer::from_path(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(["file", "patient", "record", "check", "message"])
        .map_err(anyhow::Error::from)?;
    for q in &queries {
        w.write_record([&q.file, &q.patient, &q.record, &q.check, &q.message])
            .map_err(anyhow::Error::from)?;
    }
    w.flush()?;
    Ok(queries.len())
}

/// This process's peak resident memory, where the system tells it (Linux).
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let kb: f64 = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.0} MiB", kb / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Runs `isatrial report`.
pub fn run(args: &ReportArgs) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    crate::out_folder::check("--out", &args.out, &["tables"])?;
    let outcome = match (&args.bundle, &args.db) {
        (Some(bundle), _) => {
            let as_of = args
                .as_of
                .as_deref()
                .map(|s| {
                    s.parse::<Date>()
                        .map_err(|e| Failure::Refused(format!("--as-of: {e}")))
                })
                .transpose()?;
            build(bundle, &args.out, as_of, args.adam)?
        }
        (None, Some(url)) => build_from_db(
            url,
            &args.out,
            crate::db_cmd::instant(args.as_of.as_deref())?,
            args.adam,
        )?,
        (None, None) => return Err(Failure::Refused("give --bundle DIR or --db URL".into())),
    };
    if args.json {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        serde_json::to_writer_pretty(&mut lock, &outcome.document).map_err(anyhow::Error::from)?;
        writeln!(lock)?;
    }
    note!(
        "{} patients analysed in {:.2} s, peak memory {}; {} data queries in {}\nreport: {}\nendpoints: {}",
        outcome.patients,
        started.elapsed().as_secs_f64(),
        peak_memory(),
        outcome.queries,
        args.out.join("queries.csv").display(),
        outcome.html.display(),
        outcome.json.display(),
    );
    if let Some((dir, cut, transliterated)) = &outcome.adam {
        note!(
            "CDISC ADaM (ADSL, ADAE, ADTTE as .xpt and .csv): {}",
            dir.display()
        );
        for (dataset, cut) in cut.iter().filter(|(_, n)| *n > 0) {
            note!(
                "{dataset}.xpt: {cut} texts longer than 200 bytes cut to fit the transport format; the .csv holds them whole"
            );
        }
        for (dataset, n) in transliterated.iter().filter(|(_, n)| *n > 0) {
            note!(
                "{dataset}.xpt: {n} {} with characters outside ASCII written in ASCII (for example é as e), as a submission reads version 5; the .csv holds them as entered",
                if *n == 1 { "text" } else { "texts" }
            );
        }
    }
    Ok(())
}
