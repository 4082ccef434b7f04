//! Disposition (a CONSORT-style flow), baseline characteristics, median
//! follow-up by reverse Kaplan–Meier, and the swimmer plot rows.

use std::collections::BTreeMap;

use super::{COHORTS, Context, Head, Summary, n_of, num};
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint, Swimmer, Value};
use crate::values::Cycle;

pub(crate) fn disposition(ctx: &mut Context<'_>) {
    let cutoff = ctx.data.cutoff;
    for cohort in COHORTS {
        let n = cohort.number();
        let registered = ctx.registered(cohort);
        let fas = ctx.fas(cohort);
        let mut flow = vec![
            vec!["registered".to_owned(), registered.len().to_string()],
            vec![
                "treated (FAS, safety set)".to_owned(),
                fas.len().to_string(),
            ],
        ];
        let mut started: BTreeMap<Cycle, usize> = BTreeMap::new();
        for &p in &fas {
            let mut cycles: Vec<Cycle> = ctx
                .books
                .get(p)
                .doses
                .iter()
                .filter(|d| d.was_given() && d.date <= cutoff)
                .map(|d| d.cycle)
                .collect();
            cycles.dedup();
            cycles.sort();
            cycles.dedup();
            for c in cycles {
                *started.entry(c).or_default() += 1;
            }
        }
        for (cycle, k) in started {
            flow.push(vec![format!("  started cycle {cycle}"), k.to_string()]);
        }
        let count = |f: &dyn Fn(PatientIx) -> bool| fas.iter().filter(|&&p| f(p)).count();
        flow.push(vec![
            "SCT after registration".into(),
            count(&|p| ctx.course(p).sct.is_some()).to_string(),
        ]);
        flow.push(vec![
            "hematologic relapse".into(),
            count(&|p| ctx.course(p).hematologic_relapse.is_some()).to_string(),
        ]);
        flow.push(vec![
            "died".into(),
            count(&|p| ctx.course(p).death.is_some()).to_string(),
        ]);
        let mut causes: BTreeMap<String, usize> = BTreeMap::new();
        for &p in &fas {
            if ctx.course(p).death.is_some() {
                let cause = ctx
                    .books
                    .get(p)
                    .status
                    .and_then(|s| s.death_cause)
                    .map_or("unknown".into(), |c| c.to_string());
                *causes.entry(cause).or_default() += 1;
            }
        }
        for (cause, k) in causes {
            flow.push(vec![format!("  death: {cause}"), k.to_string()]);
        }
        flow.push(vec![
            "alive at last contact".into(),
            count(&|p| ctx.course(p).death.is_none()).to_string(),
        ]);
        ctx.table(
            Endpoint::Disposition,
            format!("disposition_cohort{n}"),
            format!("Disposition, cohort {n}"),
            &["", "patients"],
            flow,
        );
        ctx.push(
            Head::new(
                Endpoint::Disposition,
                cohort,
                "registered",
                AnalysisSet::Registered,
            ),
            Value::Count {
                n: registered.len() as u64,
            },
            registered.clone(),
        );
        ctx.push(
            Head::new(Endpoint::Disposition, cohort, "fas", AnalysisSet::Fas),
            Value::Count {
                n: fas.len() as u64,
            },
            fas.clone(),
        );

        // Baseline characteristics of the FAS.
        let pts: Vec<_> = fas.iter().map(|&p| &ctx.data.patients[p.get()]).collect();
        let total = pts.len();
        let ages: Vec<f64> = pts.iter().map(|p| f64::from(p.age.years())).collect();
        let a = Summary::of(&ages);
        let mut rows = vec![vec![
            "age, median (range)".into(),
            format!("{} ({}–{})", num(a.median, 0), num(a.min, 0), num(a.max, 0)),
        ]];
        let mut tally = |label: &str, values: Vec<String>| {
            let mut m: BTreeMap<String, usize> = BTreeMap::new();
            for v in values {
                *m.entry(v).or_default() += 1;
            }
            for (v, k) in m {
                rows.push(vec![format!("{label}: {v}"), n_of(k, total)]);
            }
        };
        tally("sex", pts.iter().map(|p| p.sex.to_string()).collect());
        tally(
            "immunophenotype",
            pts.iter().map(|p| p.immunophenotype.to_string()).collect(),
        );
        tally(
            "disease status",
            pts.iter().map(|p| p.disease_status.to_string()).collect(),
        );
        tally(
            "prior SCT",
            pts.iter()
                .map(|p| {
                    if p.prior_sct_date.is_some() {
                        "yes"
                    } else {
                        "no"
                    }
                    .to_string()
                })
                .collect(),
        );
        tally("site", pts.iter().map(|p| p.site.to_string()).collect());
        let cycles: Vec<f64> = pts.iter().map(|p| f64::from(p.prior_cycles.0)).collect();
        let c = Summary::of(&cycles);
        rows.push(vec![
            "prior cycles, median (range)".into(),
            format!("{} ({}–{})", num(c.median, 0), num(c.min, 0), num(c.max, 0)),
        ]);
        let blasts: Vec<f64> = pts
            .iter()
            .filter_map(|p| p.screening_bm_blasts_pct.map(|b| b.get()))
            .collect();
        let b = Summary::of(&blasts);
        rows.push(vec![
            "screening BM blasts %, median (IQR)".into(),
            format!("{} ({}–{})", num(b.median, 1), num(b.q1, 1), num(b.q3, 1)),
        ]);
        ctx.table(
            Endpoint::Disposition,
            format!("baseline_cohort{n}"),
            format!("Baseline characteristics, cohort {n} (FAS, N = {total})"),
            &["characteristic", "value"],
            rows,
        );

        // Median follow-up: reverse Kaplan–Meier of the OS data.
        if !fas.is_empty() {
            let (time, event): (Vec<f64>, Vec<bool>) = fas
                .iter()
                .map(|&p| {
                    let c = ctx.course(p);
                    (
                        c.last_follow_up.days_since(c.registration).max(0) as f64,
                        c.death.is_some(),
                    )
                })
                .unzip();
            if let Ok(q) = stats::median_follow_up(&time, &event, ctx.protocol.conf_type()) {
                ctx.push(
                    Head::new(
                        Endpoint::Disposition,
                        cohort,
                        "median_follow_up",
                        AnalysisSet::Fas,
                    ),
                    Value::Median {
                        estimate: q.estimate,
                        lower: q.lower,
                        upper: q.upper,
                    },
                    fas.clone(),
                );
            }
        }
        // One row per registered patient of both cohorts, reserved exactly:
        // doubling would leave up to half of a million rows unused.
        if ctx.out.swimmers.capacity() == 0 {
            let everyone = ctx.courses.len();
            ctx.out.swimmers.reserve_exact(everyone);
        }
        for &p in &registered {
            let c = ctx.course(p);
            // A date lies within ±9999 years: its day count fits an i32.
            let day = |d: crate::Date| d.days_since(c.registration) as i32;
            let first_molcr = c
                .bm_mrd()
                .find(|m| m.response.is_molcr())
                .map(|m| day(m.date));
            let swimmer = Swimmer {
                patient: p,
                cohort: n,
                follow_up: day(c.last_follow_up).max(0),
                died: c.death.is_some(),
                remission: c.first_remission.map(day),
                molcr: first_molcr,
                relapse: c.hematologic_relapse.map(day),
                sct: c.sct.map(day),
                treatment: c
                    .treated
                    .then(|| (day(c.day1), day(c.last_dose.unwrap_or(c.day1)))),
            };
            ctx.out.swimmers.push(swimmer);
        }
    }
}
