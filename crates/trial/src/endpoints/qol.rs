//! E16: EORTC QLQ-C30 scales per timepoint, change from baseline, the share
//! improved or worsened by a meaningful change, and compliance.

use super::{COHORTS, Context, Head, Summary, n_of, num};
use crate::qlq::{SCALES, Scores, score};
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint, Value};
use crate::vocab::QlqTimepoint;

fn tp_day(ctx: &Context<'_>, tp: QlqTimepoint) -> Option<i64> {
    let t = &ctx.protocol.timepoints;
    match tp {
        QlqTimepoint::Baseline => None,
        QlqTimepoint::D22 => Some(t.d22_day),
        QlqTimepoint::W9 => Some(t.w9_day),
        QlqTimepoint::M3 => Some(t.m3_day),
        QlqTimepoint::M6 => Some(t.m6_day),
    }
}

pub(crate) fn e16(ctx: &mut Context<'_>) {
    let conf = ctx.protocol.analysis.conf_level;
    let delta = ctx.protocol.analysis.qlq_meaningful_change;
    let cutoff = ctx.data.cutoff;
    for cohort in COHORTS {
        let fas = ctx.fas(cohort);
        let scores = Scored::of(ctx, &fas, cutoff);
        let scored = |p: PatientIx, tp: QlqTimepoint| scores.get(p, tp);
        let mut rows = Vec::new();
        let mut change_rows = Vec::new();
        let mut compliance_rows = Vec::new();
        for tp in QlqTimepoint::ALL.iter().copied() {
            let received: Vec<PatientIx> = fas
                .iter()
                .copied()
                .filter(|&p| scored(p, tp).is_some())
                .collect();
            let expected: Vec<PatientIx> = fas
                .iter()
                .copied()
                .filter(|&p| {
                    let c = ctx.course(p);
                    let due = tp_day(ctx, tp).map_or(c.registration, |d| c.day(d));
                    due <= cutoff && c.last_follow_up >= due && c.death.is_none_or(|d| d >= due)
                })
                .collect();
            if received.is_empty() && expected.is_empty() {
                continue;
            }
            compliance_rows.push(vec![tp.to_string(), n_of(received.len(), expected.len())]);
            if received.is_empty() {
                continue;
            }
            for (k, scale) in SCALES
                .iter()
                .enumerate()
                .map(|(k, s)| (Some(k), Some(s)))
                .chain([(None, None)])
            {
                let pick = |s: &Packed| s.get(k);
                let (who, values): (Vec<PatientIx>, Vec<f64>) = received
                    .iter()
                    .filter_map(|&p| pick(scored(p, tp)?).map(|v| (p, v)))
                    .unzip();
                let code = scale.map_or("SUMMARY", |s| s.code);
                let s = Summary::of(&values);
                let name: &'static str = qlq_name(code);
                let head =
                    Head::new(Endpoint::E16, cohort, name, AnalysisSet::Fas).timepoint(tp.as_str());
                ctx.push(
                    head,
                    Value::Mean {
                        estimate: s.mean,
                        n: s.n as u64,
                    },
                    who,
                );
                rows.push(vec![
                    tp.to_string(),
                    code.to_owned(),
                    s.n.to_string(),
                    num(s.mean, 1),
                    num(s.sd, 1),
                    num(s.median, 1),
                    format!("{}–{}", num(s.q1, 1), num(s.q3, 1)),
                ]);
                if tp == QlqTimepoint::Baseline {
                    continue;
                }
                let changes: Vec<f64> = received
                    .iter()
                    .filter_map(|&p| {
                        let base = pick(scored(p, QlqTimepoint::Baseline)?)?;
                        Some(pick(scored(p, tp)?)? - base)
                    })
                    .collect();
                let c = Summary::of(&changes);
                let (lo, hi) = c.mean_interval(conf);
                let better = scale.is_none_or(|s| s.higher_is_better());
                let improved = changes
                    .iter()
                    .filter(|&&d| if better { d >= delta } else { d <= -delta })
                    .count();
                let worsened = changes
                    .iter()
                    .filter(|&&d| if better { d <= -delta } else { d >= delta })
                    .count();
                change_rows.push(vec![
                    tp.to_string(),
                    code.to_owned(),
                    c.n.to_string(),
                    num(c.mean, 1),
                    format!("{} to {}", num(lo, 1), num(hi, 1)),
                    n_of(improved, c.n),
                    n_of(worsened, c.n),
                ]);
            }
        }
        let n = cohort.number();
        ctx.table(
            Endpoint::E16,
            format!("e16_scores_cohort{n}"),
            format!("E16 QLQ-C30 scores by timepoint, cohort {n} (FAS)"),
            &["timepoint", "scale", "n", "mean", "SD", "median", "IQR"],
            rows,
        );
        ctx.table(
            Endpoint::E16,
            format!("e16_change_cohort{n}"),
            format!(
                "E16 QLQ-C30 change from baseline, cohort {n} (improved/worsened: ≥ {delta} points)"
            ),
            &[
                "timepoint",
                "scale",
                "n",
                "mean change",
                "95 % CI (t)",
                "improved",
                "worsened",
            ],
            change_rows,
        );
        ctx.table(
            Endpoint::E16,
            format!("e16_compliance_cohort{n}"),
            format!("E16 questionnaire compliance, cohort {n} (received / expected from patients alive and on study)"),
            &["timepoint", "received/expected (%)"],
            compliance_rows,
        );
    }
}

/// The latest questionnaire of each FAS patient at each timepoint, scored
/// once. Only questionnaires received take room (about two and a half per
/// patient, against five slots of sixteen optional scores each, which at a
/// million patients took most of a gigabyte).
struct Scored {
    /// Per patient in the FAS, by its place: the index of its scores at
    /// each timepoint, or `u32::MAX`.
    slots: Vec<[u32; 5]>,
    place: rustc_hash::FxHashMap<PatientIx, u32>,
    scores: Vec<Packed>,
}

const NONE: u32 = u32::MAX;

impl Scored {
    fn of(ctx: &Context<'_>, fas: &[PatientIx], cutoff: crate::Date) -> Scored {
        let mut slots = vec![[NONE; 5]; fas.len()];
        let received = fas.iter().map(|&p| ctx.books.get(p).qlq_c30.len()).sum();
        let mut scores = Vec::with_capacity(received);
        for (k, &p) in fas.iter().enumerate() {
            for q in ctx.books.get(p).qlq_c30.iter().filter(|q| q.date <= cutoff) {
                let slot = &mut slots[k][tp_index(q.timepoint)];
                let packed = Packed::of(&score(&q.items));
                if *slot == NONE {
                    *slot = u32::try_from(scores.len()).expect("fewer than 4e9 questionnaires");
                    scores.push(packed);
                } else {
                    scores[*slot as usize] = packed;
                }
            }
        }
        let place = fas
            .iter()
            .enumerate()
            .map(|(k, &p)| (p, k as u32))
            .collect();
        Scored {
            slots,
            place,
            scores,
        }
    }

    fn get(&self, p: PatientIx, tp: QlqTimepoint) -> Option<&Packed> {
        let slot = self.slots[self.place[&p] as usize][tp_index(tp)];
        (slot != NONE).then(|| &self.scores[slot as usize])
    }
}

/// Scores of one questionnaire, a missing score as NaN (a score is never
/// NaN): 128 bytes instead of 264.
struct Packed([f64; 16]);

impl Packed {
    fn of(s: &Scores) -> Packed {
        let mut v = [f64::NAN; 16];
        for (out, x) in v.iter_mut().zip(s.scales.iter().chain([&s.summary])) {
            *out = x.unwrap_or(f64::NAN);
        }
        Packed(v)
    }

    /// Scale `k`, or the summary score for `None`.
    fn get(&self, k: Option<usize>) -> Option<f64> {
        let v = self.0[k.unwrap_or(15)];
        (!v.is_nan()).then_some(v)
    }
}

fn tp_index(tp: QlqTimepoint) -> usize {
    QlqTimepoint::ALL
        .iter()
        .position(|t| *t == tp)
        .expect("a timepoint")
}

/// `qlq_<SCALE>` names of DATA-FORMAT.md §2.
fn qlq_name(code: &str) -> &'static str {
    match code {
        "QL" => "qlq_QL",
        "PF" => "qlq_PF",
        "RF" => "qlq_RF",
        "EF" => "qlq_EF",
        "CF" => "qlq_CF",
        "SF" => "qlq_SF",
        "FA" => "qlq_FA",
        "NV" => "qlq_NV",
        "PA" => "qlq_PA",
        "DY" => "qlq_DY",
        "SL" => "qlq_SL",
        "AP" => "qlq_AP",
        "CO" => "qlq_CO",
        "DI" => "qlq_DI",
        "FI" => "qlq_FI",
        _ => "qlq_SUMMARY",
    }
}
