//! `isatrial stats ...` end to end: R's numbers through the command line,
//! and every kind of bad input refused with exit code 2 and a message that
//! names line and column.

use serde_json::Value;

use super::support::{Closed, Scratch, isatrial, isatrial_with_closed, isatrial_with_stdin};

fn r_fixture(file: &str, dataset: &str) -> Value {
    let path = format!(
        "{}/../stats/tests/fixtures/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == dataset)
        .unwrap()
        .clone()
}

fn csv_of(d: &Value, status_name: &str) -> String {
    let mut csv = format!("time,{status_name},group\n");
    let groups = d.get("group");
    for i in 0..d["time"].as_array().unwrap().len() {
        let g = groups.map_or("all".to_owned(), |g| g[i].as_str().unwrap().to_owned());
        csv.push_str(&format!("{},{},{g}\n", d["time"][i], d["status"][i]));
    }
    csv
}

fn assert_close(ours: &Value, r: &Value, what: &str) {
    match (ours.as_f64(), r.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1e-3),
            "{what}: {a} vs R {b}"
        ),
        _ => panic!("{what}: ours {ours}, R {r}"),
    }
}

#[test]
fn km_json_gives_survfit_numbers_for_each_group() {
    let d = r_fixture("km.json", "lung_by_sex");
    let dir = Scratch::new("km");
    let input = dir.file("lung.csv", &csv_of(&d, "status"));
    let run = isatrial(&[
        "stats",
        "km",
        "--input",
        &input,
        "--time",
        "time",
        "--status",
        "status",
        "--group",
        "group",
        "--at",
        "180,365,547.875",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(ours["conf_type"], "log-log");
    for (g, r) in ours["groups"]
        .as_array()
        .unwrap()
        .iter()
        .zip(d["by_conf_type"]["log-log"].as_array().unwrap())
    {
        assert_eq!(g["group"], r["group"]);
        let table = g["table"].as_array().unwrap();
        assert_eq!(table.len(), r["table"]["time"].as_array().unwrap().len());
        for (i, row) in table.iter().enumerate() {
            for (ours_key, r_key) in [
                ("time", "time"),
                ("n_risk", "n_risk"),
                ("surv", "surv"),
                ("std_err", "std_err"),
                ("lower", "lower"),
                ("upper", "upper"),
            ] {
                assert_close(
                    &row[ours_key],
                    &r["table"][r_key][i],
                    &format!("{} row {i} {ours_key}", g["group"]),
                );
            }
        }
        assert_close(
            &g["median"]["estimate"],
            &r["quantiles"]["quantile"][1],
            "median",
        );
        assert_close(
            &g["median"]["lower"],
            &r["quantiles"]["lower"][1],
            "median lower",
        );
        assert_close(
            &g["median"]["upper"],
            &r["quantiles"]["upper"][1],
            "median upper",
        );
        for (i, at) in g["at"].as_array().unwrap().iter().enumerate() {
            assert_close(&at["surv"], &r["at"]["surv"][i], "surv at");
        }
    }
}

#[test]
fn cif_json_gives_cuminc_numbers_and_gray_test() {
    let d = r_fixture("cif.json", "two_groups_gray");
    let dir = Scratch::new("cif");
    let input = dir.file("cif.csv", &csv_of(&d, "status"));
    let run = isatrial(&[
        "stats",
        "cif",
        "--input",
        &input,
        "--time",
        "time",
        "--status",
        "status",
        "--group",
        "group",
        "--at",
        "90,365,547.875",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_close(&ours["gray"]["stat"], &d["gray"]["stat"], "Gray statistic");
    assert_close(&ours["gray"]["p"], &d["gray"]["p"], "Gray p");
    for (g, r) in ours["groups"]
        .as_array()
        .unwrap()
        .iter()
        .zip(d["groups"].as_array().unwrap())
    {
        for (i, at) in g["at"].as_array().unwrap().iter().enumerate() {
            assert_close(&at["estimate"], &r["at"]["est"][i], "incidence at");
            assert_close(&at["variance"], &r["at"]["var"][i], "variance at");
        }
    }
}

#[test]
fn binom_json_gives_binom_test_numbers() {
    let run = isatrial(&[
        "stats",
        "binom",
        "--events",
        "6",
        "--total",
        "33",
        "--null-rate",
        "0.1",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours: Value = serde_json::from_str(&run.stdout).unwrap();
    // binom.test(6, 33): the values of bundle-60.expected.json's E01 too.
    assert_close(&ours["lower"], &Value::from(0.06978788366630997), "lower");
    assert_close(&ours["upper"], &Value::from(0.3546005594502688), "upper");
    assert_eq!(ours["method"], "clopper-pearson");
    assert!(ours["p_value"].as_f64().unwrap() < 0.2);
}

#[test]
fn logrank_json_gives_survdiff_numbers() {
    let d = r_fixture("km.json", "veteran_by_trt");
    let dir = Scratch::new("lr");
    let input = dir.file("vet.csv", &csv_of(&d, "status"));
    let run = isatrial(&[
        "stats", "logrank", "--input", &input, "--time", "time", "--status", "status", "--group",
        "group", "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ours: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_close(&ours["chisq"], &d["logrank"]["chisq"], "chisq");
    assert_close(&ours["p"], &d["logrank"]["p"], "p");
    assert_eq!(ours["df"], d["logrank"]["df"]);
}

/// The data rows of a readable table: the lines between its header (the
/// line starting with `time`) and the first line that does not start
/// with a number or the ellipsis of rows left out.
fn table_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("time"))
        .skip(1)
        .take_while(|l| {
            let l = l.trim_start();
            l.starts_with('…') || l.starts_with(|c: char| c.is_ascii_digit())
        })
        .collect()
}

#[test]
fn a_readable_table_lists_every_row_of_a_short_table() {
    let d = r_fixture("km.json", "ties_event_and_censor_same_time");
    let dir = Scratch::new("km-readable");
    let input = dir.file("lung.csv", &csv_of(&d, "status"));
    let readable_args = [
        "stats", "km", "--input", &input, "--time", "time", "--status", "status",
    ];
    let mut json_args = readable_args.to_vec();
    json_args.push("--json");
    let json = isatrial(&json_args);
    let ours: Value = serde_json::from_str(&json.stdout).unwrap();
    let rows = ours["groups"][0]["table"].as_array().unwrap();
    let readable = isatrial(&readable_args);
    assert_eq!(readable.code, 0, "{}", readable.stderr);
    let lines = table_lines(&readable.stdout);
    assert!(rows.len() <= 100, "the fixture is a short table");
    assert_eq!(lines.len(), rows.len(), "{}", readable.stdout);
    for (line, row) in lines.iter().zip(rows) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let time: f64 = cells[0].parse().unwrap();
        let t = row["time"].as_f64().unwrap();
        assert!((time - t).abs() <= 1e-5 * t.abs(), "{line} vs {row}");
        assert_eq!(cells[1], row["n_risk"].to_string(), "{line}");
        assert_eq!(cells[2], row["n_event"].to_string(), "{line}");
        assert_eq!(cells[3], row["n_censor"].to_string(), "{line}");
    }
    assert!(!readable.stdout.contains("not shown"));
}

#[test]
fn a_readable_table_of_many_rows_shows_its_ends_unless_all_rows_are_asked() {
    let dir = Scratch::new("long-readable");
    let mut csv = String::from("time,status,cause\n");
    for i in 1..=500 {
        csv.push_str(&format!("{i}.5,{},{}\n", i % 2, i % 3));
    }
    let input = dir.file("long.csv", &csv);
    for (command, status) in [("km", "status"), ("cif", "cause")] {
        let base = [
            "stats", command, "--input", &input, "--time", "time", "--status", status,
        ];
        let mut json = base.to_vec();
        json.push("--json");
        let json: Value = serde_json::from_str(&isatrial(&json).stdout).unwrap();
        let times: Vec<f64> = json["groups"][0]["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["time"].as_f64().unwrap())
            .collect();
        let n = times.len();
        assert!(n > 100, "{command}: a long table");
        let time_of = |line: &str| {
            line.split_whitespace()
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        let short = isatrial(&base);
        assert_eq!(short.code, 0, "{}", short.stderr);
        let lines = table_lines(&short.stdout);
        assert_eq!(lines.len(), 21, "{command}: {}", short.stdout);
        for i in 0..10 {
            assert_eq!(time_of(lines[i]), times[i], "{command}: {}", lines[i]);
            assert_eq!(
                time_of(lines[11 + i]),
                times[n - 10 + i],
                "{command}: {}",
                lines[11 + i]
            );
        }
        assert!(
            lines[10].contains(&format!("{} rows not shown", n - 20))
                && lines[10].contains("--all-rows"),
            "{}",
            lines[10]
        );
        let mut all = base.to_vec();
        all.push("--all-rows");
        let full = isatrial(&all);
        assert_eq!(full.code, 0, "{}", full.stderr);
        let lines = table_lines(&full.stdout);
        assert_eq!(lines.len(), n, "{command}");
        assert!(!full.stdout.contains("not shown"));
    }
}

fn refused(args: &[&str], expected: &[&str]) {
    let run = isatrial(args);
    assert_eq!(run.code, 2, "exit code for {args:?}; stderr {}", run.stderr);
    for part in expected {
        assert!(
            run.stderr.contains(part),
            "message {:?} lacks {part:?}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "nothing is printed for refused input"
    );
}

#[test]
fn bad_input_is_refused_with_line_and_column() {
    let dir = Scratch::new("bad");
    let km = |file: &str| {
        vec![
            "stats".to_owned(),
            "km".into(),
            "--input".into(),
            file.into(),
            "--time".into(),
            "t".into(),
            "--status".into(),
            "s".into(),
        ]
    };
    let run_km = |content: &str, name: &str, expected: &[&str]| {
        let f = dir.file(name, content);
        let args = km(&f);
        refused(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            expected,
        );
    };
    run_km(
        "x,s\n1,1\n",
        "missing.csv",
        &["line 1", "no column \"t\"", "x, s"],
    );
    run_km(
        "t,s\n1,1\nabc,0\n",
        "nonnumeric.csv",
        &["line 3", "column \"t\"", "\"abc\" is not a number"],
    );
    run_km(
        "t,s\n1,1\n-2,0\n",
        "negative.csv",
        &["line 3", "column \"t\"", "negative"],
    );
    run_km(
        "t,s\n1,1\n2,3\n",
        "status.csv",
        &["line 3", "column \"s\"", "0 (censored) or 1 (event)"],
    );
    run_km(
        "t,s\n1,1\n,0\n",
        "emptycell.csv",
        &["line 3", "column \"t\"", "missing value"],
    );
    run_km("", "empty.csv", &["empty"]);
    run_km("t,s\n", "header-only.csv", &["no data rows"]);
    run_km("t,s\n1,1\n2\n", "short.csv", &["line 3", "column \"s\""]);
    run_km(
        "t,s\n\"1\",1\n\"x\",0\n",
        "quoted.csv",
        &["line 3", "column \"t\"", "not a number"],
    );
    refused(
        &[
            "stats",
            "km",
            "--input",
            "/nonexistent/file.csv",
            "--time",
            "t",
            "--status",
            "s",
        ],
        &["cannot read"],
    );
    let one = dir.file("one.csv", "t,s,g\n1,1,a\n2,0,a\n");
    refused(
        &[
            "stats", "logrank", "--input", &one, "--time", "t", "--status", "s", "--group", "g",
        ],
        &["only one group"],
    );
    let cif = dir.file("cif.csv", "t,s\n1,1\n2,3\n");
    refused(
        &[
            "stats", "cif", "--input", &cif, "--time", "t", "--status", "s",
        ],
        &["line 3", "2 (competing event)"],
    );
    refused(
        &["stats", "binom", "--events", "5", "--total", "3"],
        &["cannot exceed"],
    );
    refused(
        &[
            "stats",
            "binom",
            "--events",
            "1",
            "--total",
            "3",
            "--null-rate",
            "1.5",
        ],
        &["null rate"],
    );
    refused(
        &[
            "stats",
            "km",
            "--input",
            &one,
            "--time",
            "t",
            "--status",
            "s",
            "--conf-type",
            "logit",
        ],
        &["logit"],
    );
}

/// A pipe cannot be read at an offset: `--input /dev/stdin` reads it
/// whole, and gives the same table as the file.
#[test]
fn a_csv_piped_to_standard_input_reads_as_the_file() {
    let dir = Scratch::new("stdin");
    let mut content = String::from("t,s\r\n");
    for i in 0..3_000 {
        content.push_str(&format!("{}.25,{}\r\n", i % 701, i % 3 % 2));
    }
    let file = dir.file("piped.csv", &content);
    let from_file = isatrial(&[
        "stats", "km", "--input", &file, "--time", "t", "--status", "s", "--json",
    ]);
    assert_eq!(from_file.code, 0, "{}", from_file.stderr);
    let piped = isatrial_with_stdin(
        &[
            "stats",
            "km",
            "--input",
            "/dev/stdin",
            "--time",
            "t",
            "--status",
            "s",
            "--json",
        ],
        content.as_bytes(),
    );
    assert!(piped.code == 0, "{}", piped.stderr);
    assert_eq!(piped.stdout, from_file.stdout);
    let dash = isatrial_with_stdin(
        &[
            "stats", "km", "--input", "-", "--time", "t", "--status", "s", "--json",
        ],
        content.as_bytes(),
    );
    assert!(dash.code == 0, "{}", dash.stderr);
    assert_eq!(dash.stdout, from_file.stdout);
    let bad = isatrial_with_stdin(
        &[
            "stats", "km", "--input", "-", "--time", "t", "--status", "s",
        ],
        b"t,s\n1,x\n",
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("standard input line 2"),
        "{}",
        bad.stderr
    );
}

/// Options are held to the rules of the columns they stand for, and a
/// comparison to the groups it can make: exit code 2 and the option or
/// column named, never a panic or a curve read at a time it cannot have.
#[test]
fn bad_options_and_impossible_comparisons_are_refused() {
    let dir = Scratch::new("options");
    let data = dir.file("d.csv", "t,s,g\n1,1,a\n2,0,b\n3,1,a\n4,0,b\n");
    for (at, expected) in [
        ("-1", "negative"),
        ("NaN", "not a finite time"),
        ("inf", "not a finite time"),
        ("abc", "not a number"),
    ] {
        for command in ["km", "cif"] {
            refused(
                &[
                    "stats", command, "--input", &data, "--time", "t", "--status", "s", "--at", at,
                ],
                &["--at", expected],
            );
        }
    }
    refused(
        &["stats", "binom", "--events", "1", "--total", "10000000000"],
        &["total", "1000000000"],
    );
    refused(
        &["stats", "binom", "--events", "-1", "--total", "3"],
        &["--events"],
    );
    let mut ids = String::from("t,s,id\n");
    for i in 0..500 {
        ids.push_str(&format!("{i},{},{i}\n", i % 2));
    }
    let ids = dir.file("ids.csv", &ids);
    for command in ["logrank", "cif"] {
        refused(
            &[
                "stats", command, "--input", &ids, "--time", "t", "--status", "s", "--group", "id",
            ],
            &["column \"id\" has 500 different values", "at most 100"],
        );
    }
    let censored = dir.file("censored.csv", "t,s,g\n1,0,a\n2,0,b\n");
    refused(
        &[
            "stats", "logrank", "--input", &censored, "--time", "t", "--status", "s", "--group",
            "g",
        ],
        &["no row has an event"],
    );
}

/// As `cmprsk::cuminc`, the curves are given when Gray's test cannot be:
/// one group, or no event of the cause; the JSON says why.
#[test]
fn cif_gives_its_curves_when_grays_test_cannot_be_computed() {
    let dir = Scratch::new("gray-omitted");
    for (content, why) in [
        ("t,s,g\n1,1,a\n2,0,a\n3,2,a\n", "only one group (a)"),
        (
            "t,s,g\n1,0,a\n2,2,b\n3,0,a\n",
            "no row has an event of type 1",
        ),
    ] {
        let input = dir.file("one.csv", content);
        let run = isatrial(&[
            "stats", "cif", "--input", &input, "--time", "t", "--status", "s", "--group", "g",
            "--json",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out: Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(out.get("gray").is_none());
        assert!(out["gray_omitted"].as_str().unwrap().contains(why), "{out}");
        assert_eq!(out["n"], 3);
        let readable = isatrial(&[
            "stats", "cif", "--input", &input, "--time", "t", "--status", "s", "--group", "g",
        ]);
        assert_eq!(readable.code, 0, "{}", readable.stderr);
        assert!(
            readable.stdout.contains("Gray's test: not computed"),
            "{}",
            readable.stdout
        );
    }
}

/// A reader that stops early (`| head`) ends the command quietly, for
/// every command's readable output as for its JSON.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dir = Scratch::new("pipe");
    let data = dir.file("d.csv", "t,s,g\n1,1,a\n2,0,b\n3,1,a\n4,1,b\n");
    let commands: [&[&str]; 4] = [
        &["stats", "binom", "--events", "3", "--total", "10"],
        &[
            "stats", "logrank", "--input", &data, "--time", "t", "--status", "s", "--group", "g",
        ],
        &[
            "stats", "km", "--input", &data, "--time", "t", "--status", "s",
        ],
        &[
            "stats", "cif", "--input", &data, "--time", "t", "--status", "s",
        ],
    ];
    for args in commands {
        let (code, stderr) = isatrial_with_closed(args, Closed::Stdout);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn an_error_deep_in_a_large_file_names_its_exact_line() {
    let dir = Scratch::new("large");
    let mut content = String::from("t,s\n");
    let rows = 800_000; // > 4 MiB, read on two threads
    for i in 0..rows {
        if i == 500_000 {
            content.push_str("12.5,maybe\n");
        } else {
            content.push_str(&format!("{},{}\n", i % 997, i % 2));
        }
    }
    assert!(content.len() > 4 << 20);
    let f = dir.file("large.csv", &content);
    refused(
        &["stats", "km", "--input", &f, "--time", "t", "--status", "s"],
        &["line 500002", "column \"s\"", "\"maybe\""],
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    let commands: [&[&str]; 14] = [
        &["stats", "km"],
        &["stats", "cif"],
        &["stats", "binom"],
        &["stats", "logrank"],
        &["report"],
        &["qlq-c30"],
        &["simulate"],
        &["demo"],
        &["serve"],
        &["import"],
        &["export"],
        &["user", "add"],
        &["user", "reset"],
        &["user", "disable"],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let run = isatrial(&args);
        assert_eq!(run.code, 0, "{cmd:?}");
        let example = format!("isatrial {}", cmd.join(" "));
        assert!(
            run.stdout.contains("Example:") && run.stdout.contains(&example),
            "{cmd:?}: {}",
            run.stdout
        );
    }
}
