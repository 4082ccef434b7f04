//! `isatrial qlq-c30`: scores of hand-worked questionnaires, and refusals.

use serde_json::Value;

use super::support::{Scratch, isatrial};

fn header() -> String {
    let mut h = vec!["patient_id".to_owned()];
    h.extend((1..=30).map(|i| format!("q{i}")));
    h.join(",")
}

#[test]
fn scores_follow_the_eortc_manual_and_the_half_item_rule() {
    let scratch = Scratch::new("qlq");
    // Row A: every item 2, items 29–30 at 4 → functional (1 − 1/3)·100,
    // symptoms 1/3·100, QL (4 − 1)/6·100 = 50.
    let a: Vec<String> = (1..=30)
        .map(|i| if i >= 29 { "4" } else { "2" }.to_owned())
        .collect();
    // Row B: only items 1 and 2 answered: PF (5 items) is missing, QL missing.
    let mut b = vec![String::new(); 30];
    b[0] = "1".into();
    b[1] = "1".into();
    let file = scratch.file(
        "q.csv",
        &format!("{}\nA,{}\nB,{}\n", header(), a.join(","), b.join(",")),
    );
    let run = isatrial(&["qlq-c30", "--input", &file, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-9;
    assert_eq!(rows[0]["patient_id"], "A");
    assert!(close(&rows[0]["QL"], 50.0));
    assert!(close(&rows[0]["PF"], 200.0 / 3.0));
    assert!(close(&rows[0]["FA"], 100.0 / 3.0));
    // Summary: 5 functional at 66.67 and 8 symptoms reversed to 66.67.
    assert!(close(&rows[0]["SUMMARY"], 200.0 / 3.0));
    assert!(rows[1]["PF"].is_null() && rows[1]["QL"].is_null() && rows[1]["SUMMARY"].is_null());
    assert_eq!(doc["scales"].as_array().unwrap().len(), 15);
}

#[test]
fn an_answer_out_of_range_or_a_missing_item_column_is_refused() {
    let scratch = Scratch::new("qlqbad");
    let mut a = vec!["1".to_owned(); 30];
    a[4] = "5".into();
    let file = scratch.file("bad.csv", &format!("{}\nA,{}\n", header(), a.join(",")));
    let run = isatrial(&["qlq-c30", "--input", &file, "--json"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("line 2, column \"q5\": must be an answer 1–4"),
        "{}",
        run.stderr
    );
    let file = scratch.file("short.csv", "patient_id,q1\nA,1\n");
    let run = isatrial(&["qlq-c30", "--input", &file]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("\"q2\" is missing"), "{}", run.stderr);
}

/// A column named twice, or an id column named like a score the output
/// adds, would be read or written ambiguously: refused.
#[test]
fn a_repeated_or_clashing_column_name_is_refused() {
    let scratch = Scratch::new("qlqnames");
    let answers = vec!["1"; 30].join(",");
    for (name, head, row, expected) in [
        (
            "twice.csv",
            format!("{},q1", header()),
            format!("A,{answers},2"),
            "column \"q1\" is named twice (fields 2 and 32)",
        ),
        (
            "clash.csv",
            format!("QL,{}", &header()["patient_id,".len()..]),
            answers.clone(),
            "column \"QL\" has the name of a score",
        ),
    ] {
        let file = scratch.file(name, &format!("{head}\n{row}\n"));
        let run = isatrial(&["qlq-c30", "--input", &file, "--json"]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{name}: {}", run.stderr);
    }
}
