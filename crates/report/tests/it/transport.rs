//! SAS transport files checked against haven (R), an independent
//! implementation: it writes the same sample (the observations must match
//! byte for byte) and reads ours back (every value, label and format).
//! `fixtures/xpt/make_reference.R` made both references.

use std::path::PathBuf;

use report::xpt::{DatasetWriter, Kind, Value, Variable};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xpt")
}

/// The sample of `make_reference.R`, written by isatrial.
fn sample() -> Vec<u8> {
    let date = |y, m, d| {
        Some(report::xpt::sas_date(
            trial::Date::from_ymd(y, m, d).unwrap(),
        ))
    };
    let variables = vec![
        Variable {
            name: "USUBJID".into(),
            label: "Unique Subject Identifier".into(),
            kind: Kind::Char { length: 15 },
        },
        Variable {
            name: "AVAL".into(),
            label: "Analysis Value".into(),
            kind: Kind::Num,
        },
        Variable {
            name: "TINY".into(),
            label: "Extremes".into(),
            kind: Kind::Num,
        },
        Variable {
            name: "ADT".into(),
            label: "Analysis Date".into(),
            kind: Kind::Date,
        },
    ];
    let rows = [
        ("ISA-T-ALL-P001", Some(0.1), Some(1e-5), date(2026, 6, 30)),
        ("ISA-T-ALL-P0002", Some(-2.5), Some(0.0), date(1959, 12, 31)),
        ("", None, Some(1e60), None),
        (
            "fièvre & <x>",
            Some(123_456_789.123),
            Some(-1e-70),
            date(1960, 1, 1),
        ),
    ];
    let mut out = Vec::new();
    let dated = trial::Date::from_ymd(2026, 6, 30).unwrap();
    let mut writer = DatasetWriter::begin(&mut out, "SAMPLE", "", dated, variables).unwrap();
    for (id, aval, tiny, adt) in rows {
        writer
            .row(&[
                Value::Char(id),
                Value::Num(aval),
                Value::Num(tiny),
                Value::Num(adt),
            ])
            .unwrap();
    }
    assert_eq!(writer.finish().unwrap(), 0);
    out
}

/// The observations of a transport file: what follows its OBS header.
fn observations(file: &[u8]) -> &[u8] {
    let header = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!";
    let at = file
        .windows(header.len())
        .position(|w| w == header)
        .expect("an OBS header");
    &file[at + 80..]
}

#[test]
fn observations_match_haven_byte_for_byte() {
    let ours = sample();
    let path = fixtures().join("sample.xpt");
    if std::env::var_os("ISATRIAL_REGENERATE").is_some() {
        std::fs::write(&path, &ours).unwrap();
    }
    assert_eq!(ours, std::fs::read(&path).unwrap(), "sample.xpt changed");
    let haven = std::fs::read(fixtures().join("sample_haven.xpt")).unwrap();
    assert_eq!(ours.len() % 80, 0);
    assert_eq!(observations(&ours), observations(&haven));
}

#[test]
fn haven_reads_every_value_name_label_and_format() {
    let read: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("sample_read.json")).unwrap(),
    )
    .unwrap();
    // The bytes haven read are the ones the writer writes today.
    let hex: String = sample().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        read["bytes"],
        hex.as_str(),
        "sample_read.json is of another sample.xpt"
    );
    let column = |name: &str| {
        read["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} read"))
            .clone()
    };
    let id = column("USUBJID");
    assert_eq!(id["label"], "Unique Subject Identifier");
    assert_eq!(
        id["values"],
        serde_json::json!(["ISA-T-ALL-P001", "ISA-T-ALL-P0002", "", "fièvre & <x>"])
    );
    let aval = column("AVAL");
    assert_eq!(aval["label"], "Analysis Value");
    assert_eq!(
        aval["values"],
        serde_json::json!([0.1, -2.5, null, 123_456_789.123])
    );
    let tiny = column("TINY");
    assert_eq!(tiny["values"], serde_json::json!([1e-5, 0, 1e60, -1e-70]));
    let adt = column("ADT");
    assert_eq!(adt["format"], "DATE9");
    assert_eq!(
        adt["values"],
        serde_json::json!(["2026-06-30", "1959-12-31", null, "1960-01-01"])
    );
}
