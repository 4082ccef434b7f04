//! The bundle at the edge: every problem named by file, line, column and
//! rule, all of them at once; and what is written reads back the same.

use std::path::{Path, PathBuf};

use trial::bundle::{Problem, read_bundle, write_bundle};

fn bundle_60() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundle-60")
}

/// A copy of bundle-60 in a fresh folder, removed afterwards.
struct Copy(PathBuf);

impl Copy {
    fn new(tag: &str) -> Copy {
        let dir =
            std::env::temp_dir().join(format!("isatrial-bundle-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(bundle_60()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        Copy(dir)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.0.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} in {file}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn messages(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// Appends a copy of `file`'s last row for patient `P999`, who is not in
/// `patients.csv`.
fn append_unknown_patient(b: &Copy, file: &str) {
    let path = b.0.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let last = text.lines().last().unwrap();
    let (_, rest) = last.split_once(',').unwrap();
    std::fs::write(&path, format!("{}P999,{rest}\n", text)).unwrap();
}

#[test]
fn problems_come_in_file_order_though_tables_are_read_on_two_threads() {
    let b = Copy::new("order");
    // Read by this thread and by the second one, alternately.
    let files = [
        "status.csv",
        "doses.csv",
        "assessments.csv",
        "mrd.csv",
        "adverse_events.csv",
        "relapses.csv",
        "qlq_c30.csv",
        "hospital_stays.csv",
    ];
    for file in files {
        append_unknown_patient(&b, file);
    }
    let mut got: Vec<String> = read_bundle(&b.0)
        .unwrap_err()
        .into_iter()
        .map(|p| p.file)
        .collect();
    // The copied AE row is also a duplicate AE id: two problems, one file.
    got.dedup();
    assert_eq!(got, files);
}

#[test]
fn every_problem_is_named_by_file_line_column_and_rule() {
    let b = Copy::new("problems");
    b.edit(
        "patients.csv",
        "P002,S1,1,2024-02-23,43",
        "P002,S1,3,2024-02-31,43",
    );
    b.edit(
        "mrd.csv",
        "P001,2025-06-21,d22,BM,negative,,0.001",
        "P001,2025-06-21,d22,BM,negative,0.5,0.001",
    );
    b.edit(
        "relapses.csv",
        "P001,2025-11-30,molecular,",
        "P999,2025-11-30,molecular,",
    );
    b.edit(
        "gvhd.csv",
        "P019,2024-01-06,acute,II",
        "P019,2024-01-06,acute,mild",
    );
    let got = messages(&read_bundle(&b.0).unwrap_err());
    let want = [
        "patients.csv line 3, column \"cohort\": \"3\" is not one of {1, 2}",
        "patients.csv line 3, column \"registration_date\": expected a date YYYY-MM-DD, got \"2024-02-31\"",
        "mrd.csv line 2, column \"level\": a level is recorded only for a positive result",
        "relapses.csv line 2, column \"patient_id\": unknown patient id \"P999\": not in patients.csv",
        "gvhd.csv line 3, column \"grade\": acute GvHD is graded I, II, III or IV, got \"mild\"",
    ];
    for w in want {
        assert!(got.iter().any(|g| g == w), "missing {w:?} in {got:#?}");
    }
}

#[test]
fn unknown_and_missing_columns_are_refused() {
    let b = Copy::new("columns");
    b.edit("sct.csv", "patient_id,date,type", "patient_id,date,typ");
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.iter()
            .any(|g| g.starts_with("sct.csv line 1, column \"typ\": unknown column")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|g| g == "sct.csv line 1, column \"type\": required column is missing"),
        "{got:?}"
    );
}

/// A missing or misspelt file would read as a table without rows, and
/// every endpoint counting its records would be wrong without a word.
#[test]
fn missing_and_unknown_files_are_refused() {
    let b = Copy::new("files");
    std::fs::rename(
        b.0.join("adverse_events.csv"),
        b.0.join("adverse_event.csv"),
    )
    .unwrap();
    std::fs::remove_file(b.0.join("status.csv")).unwrap();
    let got = messages(&read_bundle(&b.0).unwrap_err());
    for (file, rule) in [
        ("adverse_events.csv", "the bundle has no adverse_events.csv"),
        ("status.csv", "the bundle has no status.csv"),
        (
            "adverse_event.csv",
            "not a file of the bundle format (misspelt?)",
        ),
    ] {
        assert!(
            got.iter()
                .any(|g| g.starts_with(&format!("{file}: {rule}"))),
            "{got:?}"
        );
    }
    // Hidden and lock files are not the user's.
    std::fs::write(b.0.join("._patients.csv"), "x").unwrap();
    std::fs::write(b.0.join("~$doses.csv"), "x").unwrap();
    let again = messages(&read_bundle(&b.0).unwrap_err());
    assert_eq!(again.len(), 3, "{again:?}");
    let not_a_folder = messages(&read_bundle(&b.0.join("patients.csv")).unwrap_err());
    assert_eq!(not_a_folder.len(), 1, "{not_a_folder:?}");
    assert!(
        not_a_folder[0]
            .ends_with("is not a folder; a bundle is a folder of CSV files and bundle.toml")
    );
}

/// A row given twice would be counted twice (a dose) or replace the
/// other (a questionnaire): refused.
#[test]
fn a_dose_or_questionnaire_given_twice_is_refused() {
    let b = Copy::new("twice");
    for file in ["doses.csv", "qlq_c30.csv"] {
        let path = b.0.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let second = text.lines().nth(1).unwrap().to_owned();
        std::fs::write(&path, format!("{text}{second}\n")).unwrap();
    }
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.iter().any(|g| g.starts_with("doses.csv: patient ")
            && g.contains("has more than one row for cycle")),
        "{got:?}"
    );
    assert!(
        got.iter().any(|g| g.starts_with("qlq_c30.csv: patient ")
            && g.contains("has more than one questionnaire at")),
        "{got:?}"
    );
}

/// The parser's structure errors in the reader's words: fields against
/// the header, text that is not UTF-8 with its column.
#[test]
fn structure_errors_name_fields_and_encoding() {
    let b = Copy::new("structure");
    let path = b.0.join("sct.csv");
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"P001,2025-01-01\n");
    std::fs::write(&path, &text).unwrap();
    let lines = text.iter().filter(|&&c| c == b'\n').count();
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.iter().any(|g| g.starts_with(&format!(
            "sct.csv line {lines}: 2 fields, but the header has"
        ))),
        "{got:?}"
    );
    let b = Copy::new("utf8");
    let path = b.0.join("patients.csv");
    let text = std::fs::read(&path).unwrap();
    let header_end = text.iter().position(|&c| c == b'\n').unwrap();
    let mut bad = text[..=header_end].to_vec();
    let row_end = header_end
        + 1
        + text[header_end + 1..]
            .iter()
            .position(|&c| c == b'\n')
            .unwrap();
    let row = &text[header_end + 1..row_end];
    let first_comma = row.iter().position(|&c| c == b',').unwrap();
    bad.extend_from_slice(&row[..first_comma + 1]);
    bad.extend_from_slice(b"\xff\xfe");
    let second_comma = first_comma
        + 1
        + row[first_comma + 1..]
            .iter()
            .position(|&c| c == b',')
            .unwrap();
    bad.extend_from_slice(&row[second_comma..]);
    bad.extend_from_slice(&text[row_end..]);
    std::fs::write(&path, bad).unwrap();
    let header: Vec<&str> = std::str::from_utf8(&text[..header_end])
        .unwrap()
        .trim_end()
        .split(',')
        .collect();
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.iter().any(|g| g.starts_with(&format!(
            "patients.csv line 2, column \"{}\": not UTF-8 text",
            header[1]
        ))),
        "{got:?}"
    );
}

/// NUL is no text, and PostgreSQL cannot store it: refused by its cell.
#[test]
fn a_nul_in_a_cell_is_refused() {
    let b = Copy::new("nul");
    let path = b.0.join("sct.csv");
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"P001,2025-01-01,allogeneic,matched_related,MAC,PB\0SC\n");
    std::fs::write(&path, &text).unwrap();
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.iter().any(|g| g.contains("contains a NUL character")),
        "{got:?}"
    );
}

#[test]
fn a_bad_manifest_is_named() {
    let b = Copy::new("manifest");
    std::fs::write(
        b.0.join("bundle.toml"),
        "format = 2\ncutoff = \"2026-13-01\"\n",
    )
    .unwrap();
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.contains(&"bundle.toml: format must be 1, got 2".to_owned()),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|g| g.starts_with("bundle.toml: cutoff: expected a date")),
        "{got:?}"
    );
}

#[test]
fn a_written_bundle_reads_back_to_the_same_dataset() {
    let data = read_bundle(&bundle_60()).unwrap();
    let dir = std::env::temp_dir().join(format!("isatrial-roundtrip-{}", std::process::id()));
    write_bundle(&data, &dir).unwrap();
    let again = read_bundle(&dir).unwrap();
    // Twice written, byte-identical files.
    let dir2 = dir.with_extension("2");
    write_bundle(&again, &dir2).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name();
        assert_eq!(
            std::fs::read(dir.join(&name)).unwrap(),
            std::fs::read(dir2.join(&name)).unwrap(),
            "{name:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
    assert_eq!(again, data);
}

/// Ids that differ only in letter case would read as one patient or one
/// AE: refused like exact duplicates, by file, line and column.
#[test]
fn ids_differing_only_in_case_are_duplicates() {
    let b = Copy::new("case");
    for (file, column) in [("patients.csv", 0), ("adverse_events.csv", 1)] {
        let path = b.0.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let first: Vec<String> = text
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let mut copy = first.clone();
        copy[column] = first[column].to_lowercase();
        std::fs::write(&path, format!("{text}{}\n", copy.join(","))).unwrap();
    }
    let got = messages(&read_bundle(&b.0).unwrap_err());
    assert!(
        got.iter().any(
            |g| g.starts_with("patients.csv line 62, column \"patient_id\"")
                && g.contains("\"p001\": differs from \"P001\" only in letter case")
        ),
        "{got:?}"
    );
    assert!(
        got.iter().any(
            |g| g.starts_with("adverse_events.csv line 169, column \"ae_id\"")
                && g.contains("only in letter case")
        ),
        "{got:?}"
    );
}
