//! A fixed synthetic trial (seed 20261124, 300 patients) pins two things:
//! its `endpoints.json` and time-to-event analysis data are golden files
//! (reviewed once by hand; any change to them must be deliberate), and
//! every survival and incidence curve on it agrees with R's `survival` and
//! `cmprsk`, re-run by `fixtures/synthetic/make_reference.R` on the
//! exported analysis data, to 1e-9.
//!
//! After an intended change: `ISATRIAL_REGENERATE=1 cargo test -p
//! isatrial-trial --test synthetic_golden`, then `Rscript make_reference.R`
//! in the fixture folder, and review the diff.

use std::path::PathBuf;

use serde_json::Value;
use trial::results::{Results, Value as Stat};
use trial::simulate::{SimulationConfig, simulate};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/synthetic")
}

fn results() -> Results {
    trial::endpoints::compute(&simulate(&SimulationConfig {
        patients: 300,
        seed: 20261124,
        ..SimulationConfig::default()
    }))
}

fn adtte(r: &Results) -> String {
    let mut out = String::from("endpoint,cohort,parameter,patient,time,status,method\n");
    for t in &r.time_to_event {
        let parameter = &r.parameters[usize::from(t.parameter)];
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            parameter.endpoint.code(),
            parameter.cohort,
            parameter.name,
            r.patient_ids[t.patient.get()],
            t.time,
            t.status,
            if parameter.survival { "km" } else { "cif" }
        ));
    }
    out
}

fn endpoints(r: &Results) -> String {
    let doc = serde_json::json!({"format": 1, "cutoff": r.cutoff, "statistics": r.statistics});
    serde_json::to_string_pretty(&doc).unwrap() + "\n"
}

fn golden(name: &str, now: &str) {
    let path = fixtures().join(name);
    if std::env::var_os("ISATRIAL_REGENERATE").is_some() {
        std::fs::write(&path, now).unwrap();
    }
    let then = std::fs::read_to_string(&path).unwrap();
    assert!(
        then == now,
        "{name} changed; if intended, regenerate (see this file's header) and review the diff"
    );
}

#[test]
fn the_fixed_trial_gives_the_reviewed_endpoints_and_analysis_data() {
    let r = results();
    golden("adtte.csv", &adtte(&r));
    golden("endpoints.json", &endpoints(&r));
}

fn close(ours: f64, r: &Value) -> bool {
    match r.as_f64() {
        None => ours.is_nan(),
        Some(want) => {
            (ours - want).abs() <= 1e-9 * want.abs().max(1e-12) || (ours - want).abs() < 1e-12
        }
    }
}

fn series(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

#[test]
fn every_curve_of_the_fixed_trial_agrees_with_r() {
    let r = results();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("r_reference.json")).unwrap(),
    )
    .unwrap();
    let mut compared = 0usize;
    let mut failures = Vec::new();
    for a in reference["analyses"].as_array().unwrap() {
        let (endpoint, cohort, param) = (
            a["endpoint"].as_str().unwrap(),
            a["cohort"].as_u64().unwrap() as u8,
            a["parameter"].as_str().unwrap(),
        );
        let label = format!("{endpoint} c{cohort} {param}");
        let curve = r
            .curves
            .iter()
            .find(|c| c.endpoint.code() == endpoint && c.cohort == cohort && c.name == param);
        if a["method"] == "km" {
            if let Some(c) = curve {
                let t = series(&a["curve"]["time"]);
                assert_eq!(c.time.len(), t.len(), "{label}: rows");
                for (i, want) in t.iter().enumerate() {
                    for (ours, theirs, what) in [
                        (c.time[i], want, "time"),
                        (c.estimate[i], &series(&a["curve"]["surv"])[i], "surv"),
                        (c.lower[i], &series(&a["curve"]["lower"])[i], "lower"),
                        (c.upper[i], &series(&a["curve"]["upper"])[i], "upper"),
                    ] {
                        compared += 1;
                        if !close(ours, theirs) {
                            failures
                                .push(format!("{label} row {i} {what}: ours {ours}, R {theirs}"));
                        }
                    }
                }
            }
            for s in r
                .statistics
                .iter()
                .filter(|s| s.endpoint.code() == endpoint && s.cohort == cohort && s.name == param)
            {
                match s.value {
                    Stat::Median {
                        estimate,
                        lower,
                        upper,
                    } => {
                        for (ours, what) in
                            [(estimate, "estimate"), (lower, "lower"), (upper, "upper")]
                        {
                            compared += 1;
                            if !close(ours, &a["median"][what]) {
                                failures.push(format!(
                                    "{label} median {what}: ours {ours}, R {}",
                                    a["median"][what]
                                ));
                            }
                        }
                    }
                    Stat::KmAt {
                        time,
                        estimate,
                        lower,
                        upper,
                        ..
                    } => {
                        let times = series(&a["at"]["time"]);
                        let Some(k) = times
                            .iter()
                            .position(|x| x.as_f64().is_some_and(|x| (x - time).abs() < 1e-9))
                        else {
                            failures.push(format!("{label}: R has no row at {time}"));
                            continue;
                        };
                        for (ours, what) in [(estimate, "surv"), (lower, "lower"), (upper, "upper")]
                        {
                            compared += 1;
                            if !close(ours, &series(&a["at"][what])[k]) {
                                failures.push(format!(
                                    "{label} at {time} {what}: ours {ours}, R {}",
                                    series(&a["at"][what])[k]
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        } else {
            if let Some(c) = curve {
                let t = series(&a["curve"]["time"]);
                // cuminc's curve doubles each time (before and after the step);
                // compare our estimate at each of R's times.
                for (i, want) in t.iter().enumerate() {
                    let x = want.as_f64().unwrap();
                    let k = c.time.partition_point(|&u| u <= x);
                    let ours = if k == 0 { 0.0 } else { c.estimate[k - 1] };
                    let theirs = &series(&a["curve"]["est"])[i];
                    // R lists the value just before a jump at the same time.
                    let before = if k >= 1 && c.time[k - 1] == x {
                        if k >= 2 { c.estimate[k - 2] } else { 0.0 }
                    } else {
                        ours
                    };
                    compared += 1;
                    if !close(ours, theirs) && !close(before, theirs) {
                        failures.push(format!("{label} curve at {x}: ours {ours}, R {theirs}"));
                    }
                }
            }
            for s in r
                .statistics
                .iter()
                .filter(|s| s.endpoint.code() == endpoint && s.cohort == cohort && s.name == param)
            {
                if let Stat::CifAt { time, estimate, .. } = s.value {
                    let times = series(&a["at"]["time"]);
                    let Some(k) = times
                        .iter()
                        .position(|x| x.as_f64().is_some_and(|x| (x - time).abs() < 1e-9))
                    else {
                        failures.push(format!("{label}: R has no row at {time}"));
                        continue;
                    };
                    compared += 1;
                    if !close(estimate, &series(&a["at"]["est"])[k]) {
                        failures.push(format!(
                            "{label} at {time}: ours {estimate}, R {}",
                            series(&a["at"]["est"])[k]
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} numbers differ from R:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        compared > 1000,
        "the comparison covers the curves: {compared}"
    );
}
