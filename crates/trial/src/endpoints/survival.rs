//! Time-to-event endpoints: remission duration (E05), overall, relapse-free
//! and event-free survival (E06–E08), relapse incidence (E09), duration and
//! continuity of molecular remission (E11, E13) and time to it (E14).

use super::response::best_response;
use super::{COHORTS, Context, Head, Observation, n_of};
use crate::date::Date;
use crate::derive::{Course, MolecularResponse};
use crate::protocol::CcrDeath;
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint, Value};
use crate::vocab::{Cohort, MrdCall, RelapseKind, RelapseSite};

fn days(to: Date, from: Date) -> f64 {
    to.days_since(from) as f64
}

/// The origin of E05, E07 and E09: first CR/CRi in cohort 1, registration
/// in cohort 2. `None` for a cohort-1 patient never in CR/CRi.
pub(crate) fn remission_origin(c: &Course) -> Option<Date> {
    match c.cohort {
        Cohort::RelapsedRefractory => c.first_remission,
        Cohort::MrdPositive => Some(c.registration),
    }
}

/// A relapse that counts from `origin`: on or after it.
fn relapse_after(c: &Course, origin: Date) -> Option<Date> {
    c.hematologic_relapse.filter(|&r| r >= origin)
}

/// Observation of a competing-risks analysis: the event of interest if it
/// happened, else the competing event, else censored at last follow-up.
pub(crate) fn competing(
    p: PatientIx,
    origin: Date,
    event: Option<Date>,
    other: Option<Date>,
    c: &Course,
) -> Observation {
    let (date, status) = match (event, other) {
        (Some(e), _) => (e, 1),
        (None, Some(o)) => (o, 2),
        (None, None) => (c.last_follow_up, 0),
    };
    Observation::new(p, origin, date, status)
}

/// Observation of "first of `events`, else censored at last follow-up".
fn first_event(p: PatientIx, origin: Date, events: &[Option<Date>], c: &Course) -> Observation {
    match events.iter().flatten().min() {
        Some(&d) => Observation::new(p, origin, d, 1),
        None => Observation::new(p, origin, c.last_follow_up, 0),
    }
}

pub(crate) fn e05_to_e09(ctx: &mut Context<'_>) {
    let landmark = ctx.protocol.landmark_days();
    let ccr_death = ctx.protocol.analysis.ccr_death;
    for cohort in COHORTS {
        let fas = ctx.fas(cohort);
        let in_remission: Vec<(PatientIx, Date)> = fas
            .iter()
            .filter_map(|&p| remission_origin(ctx.course(p)).map(|o| (p, o)))
            .collect();

        // E05: continuous complete remission.
        let ccr: Vec<Observation> = in_remission
            .iter()
            .map(|&(p, origin)| {
                let c = ctx.course(p);
                let death = (ccr_death == CcrDeath::Event).then_some(c.death).flatten();
                first_event(p, origin, &[relapse_after(c, origin), death], c)
            })
            .collect();
        let head = Head::new(Endpoint::E05, cohort, "ccr", AnalysisSet::FasSubset);
        ctx.kaplan_meier(head, &ccr, &[landmark], true);

        // E06: overall survival.
        let os: Vec<Observation> = fas
            .iter()
            .map(|&p| {
                let c = ctx.course(p);
                first_event(p, c.registration, &[c.death], c)
            })
            .collect();
        ctx.kaplan_meier(
            Head::new(Endpoint::E06, cohort, "os", AnalysisSet::Fas),
            &os,
            &[landmark],
            true,
        );

        // E07: relapse-free survival.
        let rfs: Vec<Observation> = in_remission
            .iter()
            .map(|&(p, origin)| {
                let c = ctx.course(p);
                first_event(p, origin, &[relapse_after(c, origin), c.death], c)
            })
            .collect();
        let head = Head::new(Endpoint::E07, cohort, "rfs", AnalysisSet::FasSubset);
        ctx.kaplan_meier(head, &rfs, &[landmark], true);

        // E08: event-free survival, induction failure at t = 0.
        let efs: Vec<Observation> = fas
            .iter()
            .map(|&p| {
                let c = ctx.course(p);
                if cohort == Cohort::RelapsedRefractory && !best_response(c).is_remission() {
                    Observation::new(p, c.registration, c.registration, 1)
                } else {
                    first_event(p, c.registration, &[c.hematologic_relapse, c.death], c)
                }
            })
            .collect();
        ctx.kaplan_meier(
            Head::new(Endpoint::E08, cohort, "efs", AnalysisSet::Fas),
            &efs,
            &[landmark],
            true,
        );

        // E09: cumulative incidence of relapse, death without relapse competing.
        let cir: Vec<Observation> = in_remission
            .iter()
            .map(|&(p, origin)| {
                let c = ctx.course(p);
                competing(p, origin, relapse_after(c, origin), c.death, c)
            })
            .collect();
        let head = Head::new(Endpoint::E09, cohort, "cir", AnalysisSet::FasSubset);
        ctx.incidence(head, &cir, &[landmark]);
        relapse_counts(ctx, cohort, &in_remission);
    }
}

/// E09's counts of molecular and hematologic relapses and the localisation
/// table, among the patients of the E05 analysis.
fn relapse_counts(ctx: &mut Context<'_>, cohort: Cohort, patients: &[(PatientIx, Date)]) {
    let cutoff = ctx.data.cutoff;
    let mut molecular = Vec::new();
    let mut hematologic = Vec::new();
    let mut localisation = [0usize; 3 + 5];
    for &(p, origin) in patients {
        let book = ctx.books.get(p);
        let relapses: Vec<_> = book
            .relapses
            .iter()
            .filter(|r| r.date >= origin && r.date <= cutoff)
            .collect();
        if relapses.iter().any(|r| r.kind == RelapseKind::Molecular) {
            molecular.push(p);
        }
        if let Some(first) = relapses.iter().find(|r| r.kind == RelapseKind::Hematologic) {
            hematologic.push(p);
            let bm = first.sites.contains(&RelapseSite::BoneMarrow);
            let emd: Vec<_> = first
                .sites
                .iter()
                .filter(|s| **s != RelapseSite::BoneMarrow)
                .collect();
            match (bm, emd.is_empty()) {
                (true, true) => localisation[0] += 1,
                (true, false) => localisation[1] += 1,
                (false, _) => {
                    localisation[2] += 1;
                    for s in emd {
                        let k = match s {
                            RelapseSite::Cns => 3,
                            RelapseSite::Testis => 4,
                            RelapseSite::Mediastinum => 5,
                            RelapseSite::Skin => 6,
                            _ => 7,
                        };
                        localisation[k] += 1;
                    }
                }
            }
        }
    }
    let n_h = hematologic.len();
    let head = |name| Head::new(Endpoint::E09, cohort, name, AnalysisSet::FasSubset);
    ctx.push(
        head("molecular_relapses"),
        Value::Count {
            n: molecular.len() as u64,
        },
        molecular,
    );
    ctx.push(
        head("hematologic_relapses"),
        Value::Count { n: n_h as u64 },
        hematologic,
    );
    let labels = [
        "isolated bone marrow",
        "bone marrow + extramedullary",
        "isolated extramedullary",
        "  of which CNS",
        "  of which testis",
        "  of which mediastinum",
        "  of which skin",
        "  of which other",
    ];
    let rows = labels
        .iter()
        .zip(localisation)
        .map(|(l, n)| vec![(*l).to_owned(), n_of(n, n_h)])
        .collect();
    ctx.table(
        Endpoint::E09,
        format!("e09_localisation_cohort{}", cohort.number()),
        format!(
            "E09 localisation of first hematologic relapse, cohort {}",
            cohort.number()
        ),
        &["localisation", "n/relapses (%)"],
        rows,
    );
}

/// E11 observation for MolCR (or cMolCR when `complete`): from the first
/// such BM sample to the first later sample that ends it, or hematologic
/// relapse; death and last contact censor.
pub(crate) fn molecular_remission(
    c: &Course,
    p: PatientIx,
    complete: bool,
) -> Option<(Date, Observation)> {
    let achieved = |r: MolecularResponse| {
        if complete {
            r == MolecularResponse::CMolCr
        } else {
            r.is_molcr()
        }
    };
    let start = c
        .bm_mrd()
        .find(|m| m.date >= c.day1 && achieved(m.response))?
        .date;
    let ends = |m: &&crate::derive::DerivedMrd| {
        if complete {
            matches!(m.call, Some(MrdCall::Positive | MrdCall::PositiveNq))
        } else {
            m.response == MolecularResponse::MolFail
        }
    };
    let molecular_end = c
        .bm_mrd()
        .filter(|m| m.date > start)
        .find(ends)
        .map(|m| m.date);
    Some((
        start,
        first_event(p, start, &[molecular_end, relapse_after(c, start)], c),
    ))
}

pub(crate) fn e11_e13_e14(ctx: &mut Context<'_>) {
    let landmark = ctx.protocol.landmark_days();
    let t = ctx.protocol.timepoints.clone();
    let reads = [t.d22_day - 1, t.w9_day - 1, t.m3_day - 1, t.m6_day - 1].map(|d| d as f64);
    for cohort in COHORTS {
        let fas = ctx.fas(cohort);
        for (complete, duration, continuous, reached, achievers) in [
            (
                false,
                "molcr_duration",
                "continuous_molcr",
                "time_to_molcr",
                "time_to_molcr_achievers",
            ),
            (
                true,
                "cmolcr_duration",
                "continuous_cmolcr",
                "time_to_cmolcr",
                "time_to_cmolcr_achievers",
            ),
        ] {
            let obs: Vec<Observation> = fas
                .iter()
                .filter_map(|&p| molecular_remission(ctx.course(p), p, complete).map(|(_, o)| o))
                .collect();
            let head = Head::new(Endpoint::E11, cohort, duration, AnalysisSet::FasSubset);
            ctx.kaplan_meier(head, &obs, &[landmark], true);
            // E13 reads the same curve at the timepoints; its curve is E11's.
            let mut times = reads.to_vec();
            times.push(landmark);
            let head = Head::new(Endpoint::E13, cohort, continuous, AnalysisSet::FasSubset);
            let curves = ctx.out.curves.len();
            ctx.kaplan_meier(head, &obs, &times, false);
            ctx.out.curves.truncate(curves);

            // E14: time to the first MolCR (cMolCR) from day 1.
            let achieved = |r: MolecularResponse| {
                if complete {
                    r == MolecularResponse::CMolCr
                } else {
                    r.is_molcr()
                }
            };
            let mut among_achievers = Vec::new();
            let obs: Vec<Observation> = fas
                .iter()
                .map(|&p| {
                    let c = ctx.course(p);
                    let origin = c.day1;
                    let reached_on = c
                        .bm_mrd()
                        .find(|m| m.date >= origin && achieved(m.response))
                        .map(|m| m.date);
                    let competing = [c.hematologic_relapse, c.death, c.sct, c.other_therapy]
                        .into_iter()
                        .flatten()
                        .filter(|&d| d >= origin)
                        .min();
                    match (reached_on, competing) {
                        (Some(r), Some(k)) if k < r => Observation::new(p, origin, k, 2),
                        (Some(r), _) => {
                            among_achievers.push(days(r, origin));
                            Observation::new(p, origin, r, 1)
                        }
                        (None, Some(k)) => Observation::new(p, origin, k, 2),
                        (None, None) => Observation::new(p, origin, c.last_follow_up, 0),
                    }
                })
                .collect();
            let head = Head::new(Endpoint::E14, cohort, reached, AnalysisSet::Fas);
            ctx.incidence(head, &obs, &reads);
            let summary = super::Summary::of(&among_achievers);
            let head = Head::new(Endpoint::E14, cohort, achievers, AnalysisSet::FasSubset);
            let nan = f64::NAN;
            ctx.push(
                head,
                Value::Median {
                    estimate: summary.median,
                    lower: nan,
                    upper: nan,
                },
                obs.iter()
                    .filter(|o| o.status == 1)
                    .map(|o| o.patient)
                    .collect::<Vec<_>>(),
            );
        }
    }
}
