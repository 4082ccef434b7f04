//! E10: GvHD after registration in patients transplanted before it.

use super::survival::competing;
use super::{COHORTS, Context, Head, Observation};
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint};
use crate::vocab::{GvhdGrade, GvhdKind};

/// Which episodes count for a statistic.
type EpisodeRule<'a> = &'a dyn Fn(GvhdKind, GvhdGrade) -> bool;

pub(crate) fn e10(ctx: &mut Context<'_>) {
    let cutoff = ctx.data.cutoff;
    let landmark = ctx.protocol.landmark_days();
    for cohort in COHORTS {
        let prior_sct: Vec<PatientIx> = ctx
            .fas(cohort)
            .into_iter()
            .filter(|&p| {
                let patient = &ctx.data.patients[p.get()];
                patient
                    .prior_sct_date
                    .is_some_and(|d| d < patient.registration_date)
            })
            .collect();
        let total = prior_sct.len();
        let with =
            |ctx: &Context<'_>, f: &dyn Fn(GvhdKind, GvhdGrade) -> bool| -> Vec<PatientIx> {
                prior_sct
                    .iter()
                    .copied()
                    .filter(|&p| {
                        let reg = ctx.data.patients[p.get()].registration_date;
                        ctx.books.get(p).gvhd.iter().any(|g| {
                            g.onset_date > reg && g.onset_date <= cutoff && f(g.kind, g.grade)
                        })
                    })
                    .collect()
            };
        use GvhdGrade::*;
        let specs: [(&'static str, EpisodeRule<'_>); 5] = [
            ("agvhd_any", &|k, _| k == GvhdKind::Acute),
            ("agvhd_2_4", &|k, g| {
                k == GvhdKind::Acute && matches!(g, Ii | Iii | Iv)
            }),
            ("agvhd_3_4", &|k, g| {
                k == GvhdKind::Acute && matches!(g, Iii | Iv)
            }),
            ("cgvhd_any", &|k, _| k == GvhdKind::Chronic),
            ("cgvhd_moderate_severe", &|k, g| {
                k == GvhdKind::Chronic && matches!(g, Moderate | Severe)
            }),
        ];
        for (name, f) in specs {
            let counted = with(ctx, f);
            ctx.proportion(
                Head::new(Endpoint::E10, cohort, name, AnalysisSet::FasSubset),
                counted,
                total,
            );
        }
        for (kind, name) in [
            (GvhdKind::Acute, "agvhd_incidence"),
            (GvhdKind::Chronic, "cgvhd_incidence"),
        ] {
            let obs: Vec<Observation> = prior_sct
                .iter()
                .map(|&p| {
                    let c = ctx.course(p);
                    let onset = ctx
                        .books
                        .get(p)
                        .gvhd
                        .iter()
                        .filter(|g| {
                            g.kind == kind
                                && g.onset_date > c.registration
                                && g.onset_date <= cutoff
                        })
                        .map(|g| g.onset_date)
                        .min();
                    competing(p, c.registration, onset, c.death, c)
                })
                .collect();
            ctx.incidence(
                Head::new(Endpoint::E10, cohort, name, AnalysisSet::FasSubset),
                &obs,
                &[landmark],
            );
        }
    }
}
