//! `endpoints.json` is DATA-FORMAT.md §2: format 1, the cut-off, the
//! protocol, and exactly the engine's statistics with unknowns as null.

use crate::common::{bundle_60, scratch};

#[test]
fn endpoints_json_of_bundle_60_has_the_format_of_section_2() {
    let results = bundle_60();
    let doc = report::endpoints_json(results);
    assert_eq!(doc["format"], 1);
    assert_eq!(doc["cutoff"], "2026-06-30");
    assert_eq!(doc["protocol"]["name"], results.protocol_name.as_str());
    assert_eq!(
        doc["protocol"]["version"],
        results.protocol_version.as_str()
    );
    assert_eq!(
        doc["statistics"],
        serde_json::to_value(&results.statistics).unwrap()
    );
    assert_eq!(
        doc["statistics"].as_array().unwrap().len(),
        results.statistics.len()
    );
    assert_eq!(
        doc.as_object().unwrap().len(),
        4,
        "format, cutoff, protocol, statistics and nothing else: {:?}",
        doc.as_object().unwrap().keys().collect::<Vec<_>>()
    );
}

#[test]
fn unknown_numbers_are_null_never_nan_or_made_up() {
    let results = bundle_60();
    let stat = results
        .statistics
        .iter()
        .position(|s| matches!(s.value, trial::Value::Median { upper, .. } if upper.is_nan()))
        .expect("bundle-60 has a median with an unreached upper bound (E05 ccr)");
    let doc = report::endpoints_json(results);
    let record = &doc["statistics"][stat];
    assert_eq!(record["kind"], "median");
    assert!(record["upper"].is_null(), "{record}");
    assert!(record["estimate"].is_number(), "{record}");
    // The written file is this document, and valid JSON (a NaN would not
    // parse).
    let out = scratch("json");
    let written = report::write_report(results, &out).unwrap();
    let text = std::fs::read_to_string(&written.json).unwrap();
    assert_eq!(text, serde_json::to_string_pretty(&doc).unwrap() + "\n");
    assert!(!text.contains("NaN"));
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["statistics"][stat]["upper"], serde_json::Value::Null);
    std::fs::remove_dir_all(out).unwrap();
}
