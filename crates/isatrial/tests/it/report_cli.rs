//! `isatrial report`, `simulate` and `demo` end to end: a valid bundle
//! gives its report; a bundle with any error is refused whole, naming file,
//! line and column, and nothing is written.

use std::str::FromStr;

use serde_json::Value;

use super::support::{Scratch, bundle_60, isatrial};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// `isatrial report --bundle B --out O` with further arguments.
fn report(bundle: &str, out: &str, extra: &[&str]) -> super::support::Run {
    let mut args = vec!["report", "--bundle", bundle, "--out", out];
    args.extend_from_slice(extra);
    isatrial(&args)
}

fn stat<'a>(doc: &'a Value, endpoint: &str, cohort: u64, name: &str, kind: &str) -> &'a Value {
    doc["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["endpoint"] == endpoint
                && s["cohort"] == cohort
                && s["name"] == name
                && s["kind"] == kind
        })
        .unwrap_or_else(|| panic!("{endpoint} {name} {kind} missing"))
}

#[test]
fn a_report_of_bundle_60_writes_html_json_and_tables() {
    let scratch = Scratch::new("report60");
    let out = scratch.0.join("report");
    let bundle = bundle_60();
    let run = report(bundle.to_str().unwrap(), out.to_str().unwrap(), &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["format"], 1);
    assert_eq!(doc["cutoff"], "2026-06-30");
    let orr = stat(&doc, "E01", 1, "orr_w9", "proportion");
    assert_eq!(
        (orr["n"].as_u64(), orr["total"].as_u64()),
        (Some(6), Some(33))
    );
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("endpoints.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk, doc);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("E06"),
        "the report has plots and every endpoint"
    );
    assert!(out.join("queries.csv").exists());
    assert!(run.stderr.contains("data queries"), "{}", run.stderr);
}

#[test]
fn as_of_an_earlier_date_moves_the_cutoff() {
    let scratch = Scratch::new("asof");
    let bundle = bundle_60();
    let out = scratch.0.join("r");
    let run = report(
        bundle.to_str().unwrap(),
        out.to_str().unwrap(),
        &["--json", "--as-of", "2025-06-30"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["cutoff"], "2025-06-30");
    let os = stat(&doc, "E06", 1, "os", "km_at");
    let later = report(bundle.to_str().unwrap(), out.to_str().unwrap(), &["--json"]);
    let later: Value = serde_json::from_str(&later.stdout).unwrap();
    assert_ne!(
        os["events"],
        stat(&later, "E06", 1, "os", "km_at")["events"],
        "fewer deaths by mid-2025"
    );
    let bad = report(
        bundle.to_str().unwrap(),
        out.to_str().unwrap(),
        &["--as-of", "2025-02-30"],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--as-of"), "{}", bad.stderr);
}

#[test]
fn a_bundle_with_errors_is_refused_whole_and_nothing_is_written() {
    let scratch = Scratch::new("refused");
    let bundle = scratch.0.join("bundle");
    copy_dir(&bundle_60(), &bundle);
    // A row error (grade 7) and a CTCAE term that does not exist.
    let ae = std::fs::read_to_string(bundle.join("adverse_events.csv")).unwrap();
    let mut lines: Vec<String> = ae.lines().map(str::to_owned).collect();
    lines[1] = lines[1].replacen(",1,", ",7,", 1);
    lines[2] = lines[2].replacen("Sepsis", "Sepsis syndrome", 1);
    std::fs::write(bundle.join("adverse_events.csv"), lines.join("\n") + "\n").unwrap();
    let out = scratch.0.join("out");
    let run = report(bundle.to_str().unwrap(), out.to_str().unwrap(), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "adverse_events.csv line 2, column \"grade\": must be a CTCAE grade 1–5, got \"7\""
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("adverse_events.csv line 3, column \"term\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2 problems"), "{}", run.stderr);
    assert!(!out.exists(), "nothing is written for a refused bundle");
}

#[test]
fn a_cross_record_error_refuses_the_bundle() {
    let scratch = Scratch::new("crossrecord");
    let bundle = scratch.0.join("bundle");
    copy_dir(&bundle_60(), &bundle);
    let status = std::fs::read_to_string(bundle.join("status.csv")).unwrap();
    // P002 died on 2024-03-10: say they are alive with that death date.
    let status = status.replacen("P002,2024-03-10,dead", "P002,2024-03-10,alive", 1);
    std::fs::write(bundle.join("status.csv"), status).unwrap();
    let run = report(
        bundle.to_str().unwrap(),
        scratch.0.join("o").to_str().unwrap(),
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("patient P002") && run.stderr.contains("death_without_dead_status"),
        "{}",
        run.stderr
    );
}

#[test]
fn simulate_then_report_and_demo_run_end_to_end() {
    let scratch = Scratch::new("simulate");
    let bundle = scratch.0.join("sim");
    let run = isatrial(&[
        "simulate",
        "--patients",
        "80",
        "--seed",
        "3",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = report(
        bundle.to_str().unwrap(),
        scratch.0.join("r").to_str().unwrap(),
        &["--json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let registered: u64 = doc["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "registered")
        .map(|s| s["n"].as_u64().unwrap())
        .sum();
    assert_eq!(
        registered, 80,
        "both cohorts together hold every simulated patient"
    );
    let bad = isatrial(&[
        "simulate",
        "--patients",
        "10",
        "--cr-rate",
        "1.5",
        "--out",
        scratch.0.join("x").to_str().unwrap(),
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--cr-rate"), "{}", bad.stderr);

    let demo = scratch.0.join("demo");
    let run = isatrial(&[
        "demo",
        "--out",
        demo.to_str().unwrap(),
        "--patients",
        "60",
        "--no-serve",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("report.html"), "{}", run.stdout);
    assert!(demo.join("report/report.html").exists() && demo.join("bundle/patients.csv").exists());
    // One user of each role signs in with the demo's password.
    let url = format!("sqlite://{}", demo.join("trial.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = store::Store::open_existing(&url).await.unwrap();
        for user in ["demo", "investigator", "nurse", "monitor", "statistician"] {
            let session = store.login(user, "isatrial-demo-password", None).await;
            assert!(session.is_ok(), "{user}: {session:?}");
        }
        store.close().await;
    });
}

/// The observations of a transport file, counted from its variable
/// descriptions: each observation is as long as its variables together.
fn transport_rows(xpt: &[u8]) -> usize {
    let header = b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!";
    let at = xpt.windows(header.len()).position(|w| w == header).unwrap();
    let count: usize = std::str::from_utf8(&xpt[at + 54..at + 58])
        .unwrap()
        .parse()
        .unwrap();
    let descriptions = &xpt[at + 80..];
    let width: usize = (0..count)
        .map(|i| {
            u16::from_be_bytes([descriptions[i * 140 + 4], descriptions[i * 140 + 5]]) as usize
        })
        .sum();
    let obs = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!";
    let at = xpt.windows(obs.len()).position(|w| w == obs).unwrap();
    let data = &xpt[at + 80..];
    // The last record is padded with blanks to 80 bytes, less than a row.
    assert!(width > 80, "rows wider than the padding");
    data.len() / width
}

/// The rows of a CSV file as maps of column to cell.
fn csv_rows(path: &std::path::Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .zip(r.unwrap().iter())
                .map(|(h, c)| (h.to_owned(), c.to_owned()))
                .collect()
        })
        .collect()
}

/// The CDISC analysis datasets agree with the report they come with: a
/// subject per patient with the analysis sets the endpoints counted, an AE
/// row per recorded AE, the time-to-event rows behind every curve; each as
/// a transport file as well.
#[test]
fn the_analysis_datasets_of_bundle_60_agree_with_its_endpoints() {
    let scratch = Scratch::new("adam60");
    let out = scratch.0.join("report");
    let bundle = bundle_60();
    let plain = report(bundle.to_str().unwrap(), out.to_str().unwrap(), &[]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(!out.join("adam").exists(), "only with --adam");
    let run = report(
        bundle.to_str().unwrap(),
        out.to_str().unwrap(),
        &["--json", "--adam"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("CDISC ADaM"), "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let adam = out.join("adam");

    let adsl = csv_rows(&adam.join("adsl.csv"));
    let patients = csv_rows(&bundle.join("patients.csv"));
    assert_eq!(adsl.len(), patients.len());
    for cohort in [1u64, 2] {
        let fas = adsl
            .iter()
            .filter(|r| r["COHORT"] == cohort.to_string() && r["FASFL"] == "Y")
            .count() as u64;
        let total = stat(&doc, "E06", cohort, "os", "km_at")["total"]
            .as_u64()
            .unwrap();
        assert_eq!(fas, total, "cohort {cohort}: the FAS of OS");
    }
    assert!(
        adsl.iter()
            .all(|r| r["USUBJID"] == format!("ISA-T-ALL-{}", r["SUBJID"]))
    );
    assert!(adsl.iter().all(|r| r["DCUTDT"] == "2026-06-30"));

    // ADAE holds the AEs that started by the cut-off, each once.
    let adae = csv_rows(&adam.join("adae.csv"));
    let by_cutoff = csv_rows(&bundle.join("adverse_events.csv"))
        .iter()
        .filter(|r| r["onset_date"].as_str() <= "2026-06-30")
        .count();
    assert_eq!(adae.len(), by_cutoff);
    assert!(adae.iter().all(|r| r["ASTDT"].as_str() <= "2026-06-30"));
    assert!(adae.iter().all(|r| r["AENDT"].as_str() <= "2026-06-30"));
    // Treatment-emergent: from day 1 to 30 days after the last dose.
    let subject = |id: &str| adsl.iter().find(|s| s["USUBJID"] == id).unwrap();
    let day = |d: &str| trial::Date::from_str(d).unwrap();
    for r in adae.iter().filter(|r| r["TRTEMFL"] == "Y") {
        let s = subject(&r["USUBJID"]);
        let last = day(&s["TRTEDT"]).days_since(day(&s["TRTSDT"])) + 1;
        let study_day: i64 = r["ASTDY"].parse().unwrap();
        assert!((1..=last + 30).contains(&study_day), "{r:?}");
    }
    assert!(adae.iter().any(|r| r["TRTEMFL"] == "Y"));
    assert!(adae.iter().any(|r| r["TRTEMFL"].is_empty()));

    let adtte = csv_rows(&adam.join("adtte.csv"));
    let os1: Vec<_> = adtte
        .iter()
        .filter(|r| r["PARAMCD"] == "OS" && r["COHORT"] == "1")
        .collect();
    assert_eq!(
        os1.len() as u64,
        stat(&doc, "E06", 1, "os", "km_at")["total"]
            .as_u64()
            .unwrap()
    );
    // A competing event is neither the event nor a censoring.
    assert!(adtte.iter().all(|r| r["PARAMCD"].len() <= 8));
    let cir: Vec<_> = adtte.iter().filter(|r| r["PARAMCD"] == "CIR").collect();
    assert!(
        cir.iter()
            .any(|r| r["CNSR"] == "2" && r["EVNTDESC"] == "COMPETING EVENT")
    );
    assert!(
        adtte
            .iter()
            .filter(|r| r["METHOD"] == "KM")
            .all(|r| r["CNSR"] != "2")
    );
    // Each row's dates give its time: AVAL = ADT − STARTDT, or 0 when
    // the date came before the origin; OS starts at registration.
    for r in &adtte {
        let (start, at) = (day(&r["STARTDT"]), day(&r["ADT"]));
        let aval: f64 = r["AVAL"].parse().unwrap();
        assert_eq!(aval, at.days_since(start).max(0) as f64, "{r:?}");
    }
    for r in &os1 {
        let s = subject(&r["USUBJID"]);
        assert_eq!(r["STARTDT"], s["REGDT"], "{r:?}");
    }

    for (name, rows) in [
        ("adsl", adsl.len()),
        ("adae", adae.len()),
        ("adtte", adtte.len()),
    ] {
        let xpt = std::fs::read(adam.join(format!("{name}.xpt"))).unwrap();
        assert_eq!(xpt.len() % 80, 0, "{name}.xpt is 80-byte records");
        let member = format!("SAS     {:<8}SASDATA ", name.to_uppercase());
        assert!(
            xpt.windows(member.len()).any(|w| w == member.as_bytes()),
            "{name}.xpt names its dataset"
        );
        assert_eq!(transport_rows(&xpt), rows, "{name}.xpt");
    }
    let adsl_xpt = std::fs::read(adam.join("adsl.xpt")).unwrap();
    for p in &patients {
        let id = format!("ISA-T-ALL-{}", p["patient_id"]);
        assert!(
            adsl_xpt.windows(id.len()).any(|w| w == id.as_bytes()),
            "{id}"
        );
    }
}
