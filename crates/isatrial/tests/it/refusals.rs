//! Mistakes of the command line refused at once, with the option or file
//! named and exit code 2, leaving nothing behind: the findings of a
//! black-box review of every command.

use super::support::{
    Closed, Scratch, bundle_60, isatrial, isatrial_with_closed, isatrial_with_stdin,
};

fn refused(run: &super::support::Run, expected: &str) {
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains(expected),
        "{:?} lacks {expected:?}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn report_and_simulate_refuse_impossible_dates_counts_and_folders() {
    let dir = Scratch::new("refusals");
    let bundle = bundle_60();
    let bundle = bundle.to_str().unwrap();
    let out = dir.0.join("out");
    let out = out.to_str().unwrap();
    for (as_of, expected) in [
        ("2027-01-01", "is after the bundle's cut-off 2026-06-30"),
        ("2020-01-01", "no patient was registered by then"),
    ] {
        let run = isatrial(&["report", "--bundle", bundle, "--out", out, "--as-of", as_of]);
        refused(&run, expected);
    }
    let file = dir.file("a-file", "x");
    let run = isatrial(&["report", "--bundle", bundle, "--out", &file]);
    refused(&run, "is a file, not a folder");
    std::fs::create_dir_all(dir.0.join("with-tables")).unwrap();
    std::fs::write(dir.0.join("with-tables/tables"), "x").unwrap();
    let with_tables = dir.0.join("with-tables");
    let run = isatrial(&[
        "report",
        "--bundle",
        bundle,
        "--out",
        with_tables.to_str().unwrap(),
    ]);
    refused(&run, "tables is a file, not a folder");
    assert!(!with_tables.join("report.html").exists(), "nothing written");
    for patients in ["0", "1000001", "-1"] {
        let run = isatrial(&["simulate", "--patients", patients, "--out", out]);
        assert_eq!(run.code, 2, "{patients}: {}", run.stderr);
        assert!(run.stderr.contains("--patients"), "{}", run.stderr);
    }
    assert!(
        !std::path::Path::new(out).exists(),
        "a refused run creates no folder"
    );
}

/// A mistyped SQLite path is refused without leaving a database there.
#[test]
fn commands_that_read_a_database_do_not_create_one() {
    let dir = Scratch::new("no-db");
    let db = dir.0.join("missing.db");
    let url = format!("sqlite://{}", db.display());
    let out = dir.0.join("export");
    let run = isatrial(&["export", "--db", &url, "--bundle", out.to_str().unwrap()]);
    refused(&run, "cannot open sqlite://");
    let run = isatrial(&["report", "--db", &url, "--out", out.to_str().unwrap()]);
    refused(&run, "cannot open sqlite://");
    let not_a_db = dir.file("text.db", "not a database");
    let run = isatrial(&[
        "export",
        "--db",
        &format!("sqlite://{not_a_db}"),
        "--bundle",
        "x",
    ]);
    refused(&run, "file is not a database");
    let run = isatrial(&[
        "export",
        "--db",
        &url,
        "--bundle",
        "x",
        "--as-of",
        "2999-01-01",
    ]);
    refused(&run, "is in the future");
    assert!(!db.exists(), "no database file was created");
}

/// Site staff and monitors are given real sites, once; the commonest
/// passwords, sites that are no identifiers and names that differ from
/// another only in case are refused; a site neither users nor records know
/// is said to be new.
#[test]
fn user_add_checks_sites_and_passwords() {
    let dir = Scratch::new("users");
    let url = format!("sqlite://{}/trial.db", dir.0.display());
    let bundle = bundle_60();
    let run = isatrial(&["import", bundle.to_str().unwrap(), "--db", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let add = |args: &[&str], password: &str| {
        let mut all = vec!["user", "add"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--db", &url]);
        isatrial_with_stdin(&all, format!("{password}\n{password}\n").as_bytes())
    };
    let good = "correct horse battery";
    refused(
        &add(&["m1", "--role", "monitor"], good),
        "give at least one",
    );
    refused(
        &add(
            &["m2", "--role", "monitor", "--site", "S1", "--site", "S1"],
            good,
        ),
        "site S1 is given twice",
    );
    refused(
        &add(&["a1", "--role", "admin"], "1234567890"),
        "guessed first",
    );
    refused(
        &add(&["a2", "--role", "admin"], "          "),
        "guessed first",
    );
    refused(
        &add(&["a3", "--role", "admin", "--site", "S1"], good),
        "an admin sees every site",
    );
    let known = add(&["nina", "--role", "study_nurse", "--site", "S1"], good);
    assert_eq!(known.code, 0, "{}", known.stderr);
    assert!(!known.stderr.contains("not known"), "{}", known.stderr);
    // A site id follows the rule of every identifier; a user name that
    // differs only in case would read as the same user in the audit trail.
    refused(
        &add(&["nell", "--role", "study_nurse", "--site", "S 1"], good),
        "site \"S 1\" must be an identifier",
    );
    refused(
        &add(&["NINA", "--role", "study_nurse", "--site", "S3"], good),
        "nina already exists",
    );
    let typo = add(&["nino", "--role", "study_nurse", "--site", "S99"], good);
    assert_eq!(typo.code, 0, "{}", typo.stderr);
    assert!(
        typo.stderr.contains("site S99 was not known"),
        "{}",
        typo.stderr
    );
}

/// A reader that stops early ends a JSON report quietly, and a closed
/// standard error ends a refusal with its exit code, not a panic.
#[test]
fn closed_pipes_end_commands_quietly() {
    let dir = Scratch::new("pipes");
    let bundle = bundle_60();
    let out = dir.0.join("out");
    let out = out.to_str().unwrap();
    let report = [
        "report",
        "--bundle",
        bundle.to_str().unwrap(),
        "--out",
        out,
        "--json",
    ];
    assert_eq!(isatrial_with_closed(&report, Closed::Stdout).0, Some(0));
    let refused = ["simulate", "--patients", "0", "--out", out];
    assert_eq!(isatrial_with_closed(&refused, Closed::Stderr).0, Some(2));
}
