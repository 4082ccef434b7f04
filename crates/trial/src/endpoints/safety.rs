//! E02: treatment-emergent adverse events by CTCAE 5.0 — incidence in the
//! cumulative windows, worst grade per patient, and the tables by system
//! organ class and term, with infusion-related reactions apart.

use std::collections::BTreeMap;

use super::{COHORTS, Context, Head, n_of, windows};
use crate::ctcae::Dictionary;
use crate::derive::Course;
use crate::records::{AdverseEvent, PatientIx};
use crate::results::{AnalysisSet, Endpoint};
use crate::vocab::AeAction;

/// Whether an AE is treatment-emergent: onset from day 1 to the last dose
/// plus the protocol's days, and not after the cut-off.
pub(crate) fn is_teae(ae: &AdverseEvent, c: &Course, days_after: i64, cutoff: crate::Date) -> bool {
    let Some(last) = c.last_dose else {
        return false;
    };
    ae.onset_date >= c.day1
        && ae.onset_date <= last.plus_days(days_after)
        && ae.onset_date <= cutoff
}

pub(crate) fn e02(ctx: &mut Context<'_>) {
    let dict = Dictionary::ctcae_v5();
    let after = ctx.protocol.analysis.teae_days_after_last_dose;
    let cutoff = ctx.data.cutoff;
    let windows = windows(ctx.protocol);
    for cohort in COHORTS {
        let safety = ctx.fas(cohort);
        let total = safety.len();
        // (patient, onset day, AE) for every TEAE of the cohort.
        let mut teaes: Vec<(PatientIx, i64, &AdverseEvent)> = Vec::new();
        for &p in &safety {
            let c = ctx.course(p);
            for ae in ctx.books.get(p).adverse_events {
                if is_teae(ae, c, after, cutoff) {
                    teaes.push((p, ae.onset_date.days_since(c.day1) + 1, ae));
                }
            }
        }
        type Rule = fn(&AdverseEvent) -> bool;
        let rules: [(&'static str, Rule); 5] = [
            ("ae_any", |_| true),
            ("ae_grade_3plus", |ae| ae.grade.get() >= 3),
            ("ae_serious", |ae| ae.serious),
            ("ae_related", |ae| ae.relatedness.is_related()),
            ("ae_fatal", |ae| ae.grade.get() == 5),
        ];
        let mut summary_rows = Vec::new();
        for (label, last_day) in windows {
            let in_window: Vec<_> = teaes
                .iter()
                .filter(|(_, day, _)| *day <= last_day)
                .collect();
            let patients_with = |rule: &dyn Fn(&AdverseEvent) -> bool| -> Vec<PatientIx> {
                let mut ps: Vec<PatientIx> = in_window
                    .iter()
                    .filter(|(_, _, ae)| rule(ae))
                    .map(|(p, _, _)| *p)
                    .collect();
                ps.sort();
                ps.dedup();
                ps
            };
            for (name, rule) in rules {
                let counted = patients_with(&rule);
                summary_rows.push(vec![
                    label.into(),
                    name.trim_start_matches("ae_").into(),
                    n_of(counted.len(), total),
                ]);
                let head =
                    Head::new(Endpoint::E02, cohort, name, AnalysisSet::Safety).window(label);
                ctx.proportion(head, counted, total);
            }
            let discontinued = patients_with(&|ae| ae.action == Some(AeAction::Withdrawn));
            summary_rows.push(vec![
                label.into(),
                "leading to discontinuation".into(),
                n_of(discontinued.len(), total),
            ]);
            let irr = patients_with(&|ae| dict.term(ae.term).is_infusion_reaction());
            summary_rows.push(vec![
                label.into(),
                "infusion-related reaction".into(),
                n_of(irr.len(), total),
            ]);
            let mut worst: std::collections::HashMap<PatientIx, u8> =
                std::collections::HashMap::new();
            for (p, _, ae) in &in_window {
                let g = worst.entry(*p).or_insert(0);
                *g = (*g).max(ae.grade.get());
            }
            for g in 1..=5u8 {
                let n = worst.values().filter(|&&w| w == g).count();
                summary_rows.push(vec![
                    label.into(),
                    format!("worst grade {g}"),
                    n_of(n, total),
                ]);
            }
        }
        ctx.table(
            Endpoint::E02,
            format!("e02_summary_cohort{}", cohort.number()),
            format!("E02 patients with treatment-emergent AEs by cumulative window, cohort {} (safety set, N = {total})", cohort.number()),
            &["window", "patients with", "n/N (%)"],
            summary_rows,
        );

        // By SOC and term, each patient once at the worst grade; IRR apart.
        for (irr, suffix, title) in [
            (
                false,
                "soc_term",
                "by system organ class and term (infusion-related reactions apart)",
            ),
            (true, "irr", "infusion-related reactions"),
        ] {
            let mut worst: BTreeMap<(&str, &str), BTreeMap<PatientIx, u8>> = BTreeMap::new();
            for (p, _, ae) in &teaes {
                let term = dict.term(ae.term);
                if term.is_infusion_reaction() != irr {
                    continue;
                }
                let g = worst
                    .entry((term.soc.as_str(), term.term.as_str()))
                    .or_default()
                    .entry(*p)
                    .or_insert(0);
                *g = (*g).max(ae.grade.get());
            }
            let rows = worst
                .iter()
                .map(|((soc, term), by_patient)| {
                    let mut row = vec![
                        (*soc).to_owned(),
                        (*term).to_owned(),
                        n_of(by_patient.len(), total),
                    ];
                    for g in 1..=5 {
                        row.push(by_patient.values().filter(|&&w| w == g).count().to_string());
                    }
                    row.push(by_patient.values().filter(|&&w| w >= 3).count().to_string());
                    row
                })
                .collect();
            ctx.table(
                Endpoint::E02,
                format!("e02_{suffix}_cohort{}", cohort.number()),
                format!(
                    "E02 treatment-emergent AEs {title}, cohort {}, patients by worst grade",
                    cohort.number()
                ),
                &[
                    "system organ class",
                    "term",
                    "patients n/N (%)",
                    "grade 1",
                    "grade 2",
                    "grade 3",
                    "grade 4",
                    "grade 5",
                    "grade ≥3",
                ],
                rows,
            );
        }
    }
}
