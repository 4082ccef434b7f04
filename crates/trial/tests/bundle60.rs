//! Acceptance: `bundle-60` (from `shared/examples`) gives every headline
//! statistic of `bundle-60.expected.json`, computed by an independent
//! implementation of PROTOCOL.md, to 1e-6.

use std::path::Path;

use serde_json::Value as Json;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

#[test]
fn bundle_60_gives_every_expected_headline_statistic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let loaded = trial::bundle::load_bundle(&dir.join("bundle-60"))
        .expect("bundle-60 passes every error check");
    let data = loaded.data;
    let results = trial::endpoints::compute(&data);
    let ours: Vec<Json> = results
        .statistics
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    let expected: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.join("bundle-60.expected.json")).unwrap(),
    )
    .unwrap();
    let mut failures = Vec::new();
    let stats = expected["statistics"].as_array().unwrap();
    for e in stats {
        let key = |s: &Json| {
            (
                s["endpoint"].clone(),
                s["cohort"].clone(),
                s["name"].clone(),
                s["kind"].clone(),
                s.get("window").cloned(),
                s.get("timepoint").cloned(),
                s.get("time")
                    .and_then(Json::as_f64)
                    .map(|t| (t * 1000.0).round() as i64),
            )
        };
        let Some(o) = ours.iter().find(|o| key(o) == key(e)) else {
            failures.push(format!("missing: {e}"));
            continue;
        };
        for field in ["n", "total", "estimate", "lower", "upper"] {
            let Some(want) = e.get(field) else { continue };
            let got = o.get(field).cloned().unwrap_or(Json::Null);
            let ok = match (want.as_f64(), got.as_f64()) {
                (Some(w), Some(g)) => close(g, w),
                (None, None) => true,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{} c{} {} {} {:?}{:?}: {field} expected {want}, got {got}",
                    e["endpoint"],
                    e["cohort"],
                    e["name"],
                    e["kind"],
                    e.get("window"),
                    e.get("timepoint")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} statistics differ:\n{}",
        failures.len(),
        stats.len(),
        failures.join("\n")
    );
}

#[test]
fn bundle_60_raises_queries_but_no_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundle-60");
    let loaded = trial::bundle::load_bundle(&dir).expect("no errors");
    let mut counts = std::collections::BTreeMap::new();
    for w in &loaded.warnings {
        *counts.entry(w.check).or_insert(0) += 1;
    }
    eprintln!("{counts:?}");
    assert!(
        loaded
            .warnings
            .iter()
            .all(|w| w.severity == trial::checks::Severity::Warning)
    );
    // The example records investigator calls that disagree with the counts
    // (the query the protocol asks for), and MRD at 1e-3 sensitivity.
    assert!(
        counts.get("response_differs").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    assert!(
        counts
            .get("mrd_insufficient_sensitivity")
            .copied()
            .unwrap_or(0)
            > 0,
        "{counts:?}"
    );
}
