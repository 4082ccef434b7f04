//! Every estimator against reference values computed by R's `survival` and
//! `cmprsk` (`fixtures/make_fixtures.R`). Numbers agree to 1e-9 relative,
//! counts exactly, and R's `NA` is our `NaN`. A failure lists every
//! mismatch, not just the first.

use serde_json::Value;
use stats::{
    CompetingStatus, ConfType, CumulativeIncidence, GrayTest, KaplanMeier, LogRank, Proportion,
    median_follow_up, normal_quantile,
};

/// Relative tolerance for every real number compared with R.
const REL: f64 = 1e-9;
/// Below this magnitude two numbers are equal whatever their ratio (R
/// prints 15 significant digits, so its zeros can be 1e-17 residues).
const ABS_FLOOR: f64 = 1e-12;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture present"))
        .expect("fixture is JSON")
}

/// Collects mismatches so one run shows all of them.
#[derive(Default)]
struct Check {
    failures: Vec<String>,
    compared: usize,
    /// Compare relatively only, however small the numbers: for
    /// probabilities that are meant to be small (a bound of 1e-9, a
    /// p-value), where `ABS_FLOOR` would accept any value.
    relative_only: bool,
}

impl Check {
    fn num(&mut self, what: &str, actual: f64, expected: &Value) {
        self.compared += 1;
        let ok = match expected.as_f64() {
            None => actual.is_nan(),
            Some(e) => {
                let floor = if self.relative_only { 0.0 } else { ABS_FLOOR };
                !actual.is_nan()
                    && ((actual - e).abs() <= REL * e.abs() || (actual - e).abs() <= floor)
            }
        };
        if !ok {
            self.failures
                .push(format!("{what}: ours {actual:?}, R {expected}"));
        }
    }

    fn nums(&mut self, what: &str, actual: &[f64], expected: &Value) {
        let expected = as_array(expected);
        if actual.len() != expected.len() {
            self.failures.push(format!(
                "{what}: {} values, R has {}",
                actual.len(),
                expected.len()
            ));
            return;
        }
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            self.num(&format!("{what}[{i}]"), *a, &e);
        }
    }

    fn counts<C: Copy + Into<u64>>(&mut self, what: &str, actual: &[C], expected: &Value) {
        self.compared += 1;
        let actual: Vec<u64> = actual.iter().map(|&c| c.into()).collect();
        let expected: Vec<u64> = as_array(expected)
            .iter()
            .map(|v| v.as_f64().unwrap() as u64)
            .collect();
        if actual != expected {
            self.failures
                .push(format!("{what}: ours {actual:?}, R {expected:?}"));
        }
    }

    /// Fails with every mismatch; `at_least` guards against a fixture
    /// that silently stopped containing data.
    fn finish(self, what: &str, at_least: usize) {
        eprintln!("{what}: {} numbers compared with R", self.compared);
        assert!(
            self.compared >= at_least,
            "{what}: only {} numbers compared",
            self.compared
        );
        assert!(
            self.failures.is_empty(),
            "{what}: {} of {} numbers differ from R:\n{}",
            self.failures.len(),
            self.compared,
            self.failures.join("\n")
        );
    }
}

/// jsonlite writes a length-one vector as a scalar.
fn as_array(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn floats(v: &Value) -> Vec<f64> {
    as_array(v)
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    as_array(v)
        .iter()
        .map(|x| x.as_str().expect("string").to_owned())
        .collect()
}

fn labels_of(d: &Value, n: usize) -> Vec<String> {
    d.get("group")
        .map(strings)
        .unwrap_or_else(|| vec!["all".to_owned(); n])
}

#[test]
fn kaplan_meier_tables_quantiles_and_times_match_survfit() {
    let fx = fixture("km.json");
    let mut check = Check::default();
    let datasets = fx["datasets"].as_array().unwrap();
    assert!(
        datasets.len() >= 25,
        "the issue asks for at least 25 datasets"
    );
    for d in datasets {
        let name = d["name"].as_str().unwrap();
        let time = floats(&d["time"]);
        let event: Vec<bool> = floats(&d["status"]).iter().map(|s| *s == 1.0).collect();
        let labels = labels_of(d, time.len());
        for (conf, per_group) in d["by_conf_type"].as_object().unwrap() {
            let conf_type = ConfType::parse(conf).unwrap();
            for g in per_group.as_array().unwrap() {
                let label = g["group"].as_str().unwrap();
                let sel: Vec<usize> = (0..time.len()).filter(|&i| labels[i] == label).collect();
                let t: Vec<f64> = sel.iter().map(|&i| time[i]).collect();
                let e: Vec<bool> = sel.iter().map(|&i| event[i]).collect();
                let fit = KaplanMeier::fit(&t, &e, conf_type).unwrap();
                let at = format!("{name}/{conf}/{label}");
                let table = &g["table"];
                check.nums(&format!("{at} time"), &fit.time, &table["time"]);
                check.counts(&format!("{at} n_risk"), &fit.n_risk, &table["n_risk"]);
                check.counts(&format!("{at} n_event"), &fit.n_event, &table["n_event"]);
                check.counts(&format!("{at} n_censor"), &fit.n_censor, &table["n_censor"]);
                check.nums(&format!("{at} surv"), &fit.surv, &table["surv"]);
                check.nums(&format!("{at} std_err"), &fit.std_err(), &table["std_err"]);
                check.nums(&format!("{at} lower"), &fit.lower, &table["lower"]);
                check.nums(&format!("{at} upper"), &fit.upper, &table["upper"]);
                let q = &g["quantiles"];
                let quantiles = fit.quantiles(&floats(&q["probs"]));
                let pick =
                    |f: fn(&stats::Quantile) -> f64| quantiles.iter().map(f).collect::<Vec<_>>();
                check.nums(
                    &format!("{at} quantile"),
                    &pick(|q| q.estimate),
                    &q["quantile"],
                );
                check.nums(
                    &format!("{at} quantile lower"),
                    &pick(|q| q.lower),
                    &q["lower"],
                );
                check.nums(
                    &format!("{at} quantile upper"),
                    &pick(|q| q.upper),
                    &q["upper"],
                );
                if let Some(r) = g.get("at") {
                    for (i, s) in fit.at(&floats(&r["time"])).iter().enumerate() {
                        let w = format!("{at} at[{i}]");
                        check.counts(
                            &format!("{w} n_risk"),
                            &[s.n_risk],
                            &as_array(&r["n_risk"])[i],
                        );
                        check.counts(
                            &format!("{w} events"),
                            &[s.events],
                            &as_array(&r["events"])[i],
                        );
                        let within = as_array(&r["within_follow_up"])[i].as_bool().unwrap();
                        assert_eq!(s.within_follow_up, within, "{w}");
                        // Past the data R's extend = TRUE carries the last
                        // value forward; we call that unknown unless it is 0.
                        if within || s.surv == 0.0 {
                            check.num(&format!("{w} surv"), s.surv, &as_array(&r["surv"])[i]);
                            check.num(
                                &format!("{w} std_err"),
                                s.std_err,
                                &as_array(&r["std_err"])[i],
                            );
                            check.num(&format!("{w} lower"), s.lower, &as_array(&r["lower"])[i]);
                            check.num(&format!("{w} upper"), s.upper, &as_array(&r["upper"])[i]);
                        } else {
                            assert!(s.surv.is_nan(), "{w}: beyond follow-up must be unknown");
                        }
                    }
                }
            }
        }
        if let Some(sm) = d.get("strata_median") {
            let groups = stats::Groups::new(&labels);
            for (gi, _) in groups.labels.iter().enumerate() {
                let fit = KaplanMeier::fit(
                    &groups.select(gi, &time),
                    &groups.select(gi, &event),
                    ConfType::Log,
                )
                .unwrap();
                let m = fit.median();
                let w = format!("{name} strata {gi}");
                check.num(
                    &format!("{w} median"),
                    m.estimate,
                    &as_array(&sm["median"])[gi],
                );
                check.num(&format!("{w} lower"), m.lower, &as_array(&sm["lower"])[gi]);
                check.num(&format!("{w} upper"), m.upper, &as_array(&sm["upper"])[gi]);
            }
        }
        if let Some(lr) = d.get("logrank") {
            let test = LogRank::test(&time, &event, &labels).unwrap();
            assert_eq!(test.groups, strings(&lr["groups"]), "{name}");
            check.nums(
                &format!("{name} logrank observed"),
                &test.observed,
                &lr["observed"],
            );
            check.nums(
                &format!("{name} logrank expected"),
                &test.expected,
                &lr["expected"],
            );
            // R stores var column-major; ours is row-major but symmetric.
            check.nums(
                &format!("{name} logrank variance"),
                &test.variance,
                &lr["variance"],
            );
            check.num(&format!("{name} logrank chisq"), test.chisq, &lr["chisq"]);
            check.counts(&format!("{name} logrank df"), &[test.df as u64], &lr["df"]);
            check.num(&format!("{name} logrank p"), test.p, &lr["p"]);
        }
        let rev = median_follow_up(&time, &event, ConfType::Log).unwrap();
        let r = &d["reverse_km_median"];
        check.num(
            &format!("{name} follow-up median"),
            rev.estimate,
            &r["median"],
        );
        check.num(&format!("{name} follow-up lower"), rev.lower, &r["lower"]);
        check.num(&format!("{name} follow-up upper"), rev.upper, &r["upper"]);
    }
    check.finish("Kaplan–Meier", 5_000);
}

/// R's `cuminc` curve as corners of a step function: (0, 0), then a pair
/// of points per event time, then the last follow-up time.
fn corners(fit: &CumulativeIncidence) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut x, mut f, mut v) = (vec![0.0], vec![0.0], vec![0.0]);
    for i in 0..fit.time.len() {
        x.extend([fit.time[i], fit.time[i]]);
        f.extend([*f.last().unwrap(), fit.estimate[i]]);
        v.extend([*v.last().unwrap(), fit.variance[i]]);
    }
    x.push(fit.max_time);
    f.push(*f.last().unwrap());
    v.push(*v.last().unwrap());
    (x, f, v)
}

#[test]
fn cumulative_incidence_and_gray_test_match_cuminc() {
    let fx = fixture("cif.json");
    let mut check = Check::default();
    let z = normal_quantile(0.975);
    for d in fx["datasets"].as_array().unwrap() {
        let name = d["name"].as_str().unwrap();
        let time = floats(&d["time"]);
        let status: Vec<CompetingStatus> = floats(&d["status"])
            .iter()
            .map(|s| CompetingStatus::from_code(*s as u8).unwrap())
            .collect();
        let labels = labels_of(d, time.len());
        for g in d["groups"].as_array().unwrap() {
            let label = g["group"].as_str().unwrap();
            let sel: Vec<usize> = (0..time.len()).filter(|&i| labels[i] == label).collect();
            let t: Vec<f64> = sel.iter().map(|&i| time[i]).collect();
            let s: Vec<CompetingStatus> = sel.iter().map(|&i| status[i]).collect();
            let fit = CumulativeIncidence::fit(&t, &s).unwrap();
            let w = format!("{name}/{label}");
            let Some(curve) = g.get("curve") else {
                assert!(
                    fit.time.is_empty(),
                    "{w}: R has no curve, so no events of interest"
                );
                continue;
            };
            let (x, f, v) = corners(&fit);
            check.nums(&format!("{w} time"), &x, &curve["time"]);
            check.nums(&format!("{w} est"), &f, &curve["est"]);
            check.nums(&format!("{w} var"), &v, &curve["var"]);
            if let Some(r) = g.get("at") {
                let at = fit.at(&floats(&r["time"]));
                check.nums(
                    &format!("{w} at est"),
                    &at.iter().map(|a| a.estimate).collect::<Vec<_>>(),
                    &r["est"],
                );
                check.nums(
                    &format!("{w} at var"),
                    &at.iter().map(|a| a.variance).collect::<Vec<_>>(),
                    &r["var"],
                );
                for a in &at {
                    let (lo, hi) = stats::log_log_interval(a.estimate, a.variance, z);
                    assert!(
                        lo.is_nan() || (lo <= a.estimate && a.estimate <= hi),
                        "{w}: bounds"
                    );
                }
            }
        }
        if let Some(gray) = d.get("gray") {
            let test = GrayTest::test(&time, &status, &labels).unwrap();
            check.num(&format!("{name} gray stat"), test.stat, &gray["stat"]);
            check.num(&format!("{name} gray p"), test.p, &gray["p"]);
            check.counts(&format!("{name} gray df"), &[test.df as u64], &gray["df"]);
        }
    }
    check.finish("cumulative incidence", 1_000);
}

#[test]
fn proportions_match_binom_test_and_prop_test() {
    let fx = fixture("binom.json");
    let mut check = Check {
        relative_only: true,
        ..Check::default()
    };
    check.num("qnorm(0.975)", normal_quantile(0.975), &fx["qnorm_975"]);
    for c in fx["cases"].as_array().unwrap() {
        let (x, n) = (c["events"].as_u64().unwrap(), c["total"].as_u64().unwrap());
        let p = Proportion::new(x, n).unwrap();
        let w = format!("{x}/{n}");
        let cp = p.clopper_pearson(0.95).unwrap();
        check.num(
            &format!("{w} CP lower"),
            cp.lower,
            &c["clopper_pearson"]["lower"],
        );
        check.num(
            &format!("{w} CP upper"),
            cp.upper,
            &c["clopper_pearson"]["upper"],
        );
        let wi = p.wilson(0.95).unwrap();
        check.num(
            &format!("{w} Wilson lower"),
            wi.lower,
            &c["wilson"]["lower"],
        );
        check.num(
            &format!("{w} Wilson upper"),
            wi.upper,
            &c["wilson"]["upper"],
        );
        let p0 = c["null_rate"].as_f64().unwrap();
        check.num(
            &format!("{w} p > {p0}"),
            p.p_greater(p0).unwrap(),
            &c["p_greater"],
        );
    }
    check.finish("proportions", 90);
}
