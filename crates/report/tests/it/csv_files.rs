//! Every table is a CSV file with its header row and one record per row,
//! readable by the csv crate, plus the time-to-event rows.

use crate::common::{bundle_60, scratch};

#[test]
fn every_table_is_a_csv_with_its_header_and_all_its_rows() {
    let results = bundle_60();
    assert!(!results.tables.is_empty());
    let out = scratch("csv");
    let written = report::write_report(results, &out).unwrap();
    assert_eq!(written.html, out.join("report.html"));
    assert_eq!(written.json, out.join("endpoints.json"));
    assert_eq!(written.tables.len(), results.tables.len() + 1);
    for (t, path) in results.tables.iter().zip(&written.tables) {
        assert_eq!(*path, out.join("tables").join(format!("{}.csv", t.id)));
        let mut r = csv::Reader::from_path(path).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header, t.columns, "{}", t.id);
        let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), t.rows.len(), "{}", t.id);
        for (record, row) in records.iter().zip(&t.rows) {
            assert_eq!(record.len(), t.columns.len(), "{}", t.id);
            let expected: Vec<&str> = row
                .iter()
                .map(|c| if c == "NaN" { "NA" } else { c.as_str() })
                .collect();
            assert_eq!(record.iter().collect::<Vec<_>>(), expected, "{}", t.id);
        }
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn cells_with_commas_quotes_and_newlines_survive_the_round_trip() {
    let mut results = bundle_60().clone();
    let t = &mut results.tables[0];
    let awkward = "a, \"quoted\"\nline";
    t.rows[0][0] = awkward.to_owned();
    let out = scratch("csv-quoting");
    let written = report::write_report(&results, &out).unwrap();
    let mut r = csv::Reader::from_path(&written.tables[0]).unwrap();
    let first = r.records().next().unwrap().unwrap();
    assert_eq!(&first[0], awkward);
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn the_time_to_event_rows_name_parameter_and_patient() {
    let results = bundle_60();
    let out = scratch("adtte");
    let written = report::write_report(results, &out).unwrap();
    let path = written.tables.last().unwrap();
    assert_eq!(*path, out.join("tables/adtte.csv"));
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "endpoint",
            "cohort",
            "parameter",
            "patient",
            "time",
            "status",
            "method"
        ]
    );
    let records: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), results.time_to_event.len());
    let os = records
        .iter()
        .find(|r| &r[0] == "E06" && &r[2] == "os")
        .expect("an OS row");
    assert!(results.patient_ids.iter().any(|p| p.as_str() == &os[3]));
    assert!(["0", "1"].contains(&&os[5]) && &os[6] == "km");
    std::fs::remove_dir_all(out).unwrap();
}
