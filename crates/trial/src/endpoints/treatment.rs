//! E12: treatment realization of isatuximab per cohort and cycle.

use std::collections::BTreeMap;

use super::{COHORTS, Context, Head, Summary, n_of, num};
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint, Value};
use crate::values::Cycle;
use crate::vocab::DoseStatus;

#[derive(Default)]
struct CycleTally {
    patients: std::collections::BTreeSet<PatientIx>,
    planned: usize,
    by_status: BTreeMap<DoseStatus, usize>,
}

pub(crate) fn e12(ctx: &mut Context<'_>) {
    let cutoff = ctx.data.cutoff;
    for cohort in COHORTS {
        let registered = ctx.registered(cohort);
        let mut cycles: BTreeMap<Cycle, CycleTally> = BTreeMap::new();
        let mut rdi = Vec::new();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for &p in &registered {
            let book = ctx.books.get(p);
            let doses: Vec<_> = book.doses.iter().filter(|d| d.date <= cutoff).collect();
            for d in &doses {
                let t = cycles.entry(d.cycle).or_default();
                t.planned += 1;
                *t.by_status.entry(d.status).or_default() += 1;
                if d.was_given() {
                    t.patients.insert(p);
                }
            }
            let planned: f64 = doses.iter().map(|d| d.planned_mg_per_kg.get()).sum();
            if planned > 0.0 && doses.iter().any(|d| d.was_given()) {
                rdi.push(doses.iter().map(|d| d.given_mg_per_kg.get()).sum::<f64>() / planned);
            }
            if let Some(s) = book.status
                && s.end_of_treatment_date.is_some_and(|d| d <= cutoff)
            {
                let reason = s
                    .end_of_treatment_reason
                    .as_deref()
                    .unwrap_or("not recorded")
                    .to_owned();
                *reasons.entry(reason).or_default() += 1;
            }
        }
        let n = cohort.number();
        let rows = cycles
            .iter()
            .map(|(cycle, t)| {
                let st = |s| t.by_status.get(&s).copied().unwrap_or(0);
                let given = t.planned - st(DoseStatus::Omitted);
                vec![
                    cycle.to_string(),
                    t.patients.len().to_string(),
                    format!("{given}/{}", t.planned),
                    st(DoseStatus::Given).to_string(),
                    st(DoseStatus::Delayed).to_string(),
                    st(DoseStatus::Reduced).to_string(),
                    st(DoseStatus::Interrupted).to_string(),
                    st(DoseStatus::Omitted).to_string(),
                ]
            })
            .collect();
        ctx.table(
            Endpoint::E12,
            format!("e12_cycles_cohort{n}"),
            format!("E12 isatuximab infusions by cycle, cohort {n}"),
            &[
                "cycle",
                "patients starting",
                "given/planned",
                "as scheduled",
                "delayed",
                "reduced",
                "interrupted",
                "omitted",
            ],
            rows,
        );
        let s = Summary::of(&rdi);
        let treated = ctx.fas(cohort);
        ctx.push(
            Head::new(
                Endpoint::E12,
                cohort,
                "relative_dose_intensity",
                AnalysisSet::Fas,
            ),
            Value::Median {
                estimate: s.median,
                lower: s.q1,
                upper: s.q3,
            },
            treated,
        );
        ctx.table(
            Endpoint::E12,
            format!("e12_rdi_cohort{n}"),
            format!("E12 relative dose intensity (given / planned cumulative mg/kg), cohort {n}"),
            &["n", "median", "IQR", "mean", "min–max"],
            vec![vec![
                s.n.to_string(),
                num(s.median, 3),
                format!("{}–{}", num(s.q1, 3), num(s.q3, 3)),
                num(s.mean, 3),
                format!("{}–{}", num(s.min, 3), num(s.max, 3)),
            ]],
        );
        let ended: usize = reasons.values().sum();
        ctx.table(
            Endpoint::E12,
            format!("e12_end_of_treatment_cohort{n}"),
            format!("E12 reasons for end of treatment, cohort {n}"),
            &["reason", "patients (% of those who ended)"],
            reasons
                .into_iter()
                .map(|(r, k)| vec![r, n_of(k, ended)])
                .collect(),
        );
    }
}
