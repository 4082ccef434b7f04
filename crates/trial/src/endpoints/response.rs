//! Response endpoints: E01 (ORR after two induction cycles, primary, cohort
//! 1), E03 (MolCR after one cycle, primary, cohort 2) and E04 (best
//! hematologic and molecular response over d22 and w9, cohort 1).

use super::{Context, Head, n_of};
use crate::derive::{Course, MolecularResponse};
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint};
use crate::vocab::{AssessmentTimepoint, Cohort, HemResponse};

/// E01's responder rule: derived CR/CRi at w9; or CR/CRi at d22, no w9
/// assessment, and an SCT on or before day 57 with no relapse before it.
pub(crate) fn e01_responder(c: &Course, w9_day: i64) -> bool {
    match c.response_at(AssessmentTimepoint::W9) {
        Some(r) => r.is_remission(),
        None => {
            let d22 = c
                .response_at(AssessmentTimepoint::D22)
                .is_some_and(HemResponse::is_remission);
            let sct_in_time = c.sct.is_some_and(|s| {
                s <= c.day(w9_day) && c.hematologic_relapse.is_none_or(|r| r >= s)
            });
            d22 && sct_in_time
        }
    }
}

/// Best derived response over d22 and w9; NE when neither was assessed.
pub(crate) fn best_response(c: &Course) -> HemResponse {
    [AssessmentTimepoint::D22, AssessmentTimepoint::W9]
        .into_iter()
        .filter_map(|tp| c.response_at(tp))
        .max_by_key(|r| r.rank())
        .unwrap_or(HemResponse::Ne)
}

/// Best molecular response of BM results over d22 and w9.
pub(crate) fn best_molecular(c: &Course) -> MolecularResponse {
    [AssessmentTimepoint::D22, AssessmentTimepoint::W9]
        .into_iter()
        .filter_map(|tp| c.bm_molecular_at(tp))
        .max()
        .unwrap_or(MolecularResponse::Ne)
}

pub(crate) fn e01_e03_e04(ctx: &mut Context<'_>) {
    let c1 = Cohort::RelapsedRefractory;
    let fas1 = ctx.fas(c1);
    let w9_day = ctx.protocol.timepoints.w9_day;

    // E01
    let responders: Vec<PatientIx> = fas1
        .iter()
        .copied()
        .filter(|&p| e01_responder(ctx.course(p), w9_day))
        .collect();
    let unassessed = fas1
        .iter()
        .filter(|&&p| {
            let c = ctx.course(p);
            // `responders` is in patient order: a binary search, not a scan.
            c.response_at(AssessmentTimepoint::W9).is_none()
                && responders.binary_search(&p).is_err()
        })
        .count();
    let mut head = Head::new(Endpoint::E01, c1, "orr_w9", AnalysisSet::Fas);
    let null = ctx.protocol.analysis.null_orr;
    head.p_value = stats::Proportion::new(responders.len() as u64, fas1.len() as u64)
        .and_then(|p| p.p_greater(null))
        .ok();
    let n = responders.len();
    ctx.proportion(head, responders, fas1.len());
    ctx.table(
        Endpoint::E01,
        "e01_orr_cohort1".into(),
        format!("E01 ORR after 2 induction cycles, cohort 1 (FAS; H0: ORR ≤ {null})"),
        &[
            "responders",
            "FAS",
            "without w9 assessment (non-responders)",
        ],
        vec![vec![
            n.to_string(),
            fas1.len().to_string(),
            unassessed.to_string(),
        ]],
    );

    // E03
    let c2 = Cohort::MrdPositive;
    let fas2 = ctx.fas(c2);
    let molcr: Vec<PatientIx> = fas2
        .iter()
        .copied()
        .filter(|&p| {
            ctx.course(p)
                .bm_molecular_at(AssessmentTimepoint::D22)
                .is_some_and(|m| m.is_molcr())
        })
        .collect();
    let missing = fas2
        .iter()
        .filter(|&&p| {
            ctx.course(p)
                .bm_molecular_at(AssessmentTimepoint::D22)
                .is_none()
        })
        .count();
    let n3 = molcr.len();
    ctx.proportion(
        Head::new(Endpoint::E03, c2, "molcr_d22", AnalysisSet::Fas),
        molcr,
        fas2.len(),
    );
    ctx.table(
        Endpoint::E03,
        "e03_molcr_d22_cohort2".into(),
        "E03 MolCR at d22, cohort 2 (FAS, BM samples)".into(),
        &["MolCR", "FAS", "without d22 BM result (non-responders)"],
        vec![vec![
            n3.to_string(),
            fas2.len().to_string(),
            missing.to_string(),
        ]],
    );

    // E04
    let best: Vec<(PatientIx, HemResponse, MolecularResponse)> = fas1
        .iter()
        .map(|&p| {
            (
                p,
                best_response(ctx.course(p)),
                best_molecular(ctx.course(p)),
            )
        })
        .collect();
    let pick = |f: &dyn Fn(HemResponse, MolecularResponse) -> bool| -> Vec<PatientIx> {
        best.iter()
            .filter(|(_, h, m)| f(*h, *m))
            .map(|(p, _, _)| *p)
            .collect()
    };
    let cr = pick(&|h, _| h.is_remission());
    let mol = pick(&|_, m| m.is_molcr());
    let cmol = pick(&|_, m| m == MolecularResponse::CMolCr);
    let total = fas1.len();
    ctx.proportion(
        Head::new(Endpoint::E04, c1, "best_cr_cri", AnalysisSet::Fas),
        cr,
        total,
    );
    ctx.proportion(
        Head::new(Endpoint::E04, c1, "best_molcr", AnalysisSet::Fas),
        mol,
        total,
    );
    ctx.proportion(
        Head::new(Endpoint::E04, c1, "best_cmolcr", AnalysisSet::Fas),
        cmol,
        total,
    );
    let mut rows = Vec::new();
    for r in HemResponse::ALL {
        let n = best.iter().filter(|(_, h, _)| h == r).count();
        rows.push(vec!["hematologic".into(), r.to_string(), n_of(n, total)]);
    }
    for m in [
        MolecularResponse::CMolCr,
        MolecularResponse::MolCr,
        MolecularResponse::MolFail,
        MolecularResponse::Ne,
    ] {
        let n = best.iter().filter(|(_, _, x)| *x == m).count();
        let label = if m == MolecularResponse::MolCr {
            "MolCR (not cMolCR)"
        } else {
            m.label()
        };
        rows.push(vec!["molecular".into(), label.into(), n_of(n, total)]);
    }
    ctx.table(
        Endpoint::E04,
        "e04_best_response_cohort1".into(),
        "E04 best response over d22 and w9, cohort 1 (FAS)".into(),
        &["kind", "best response", "n/N (%)"],
        rows,
    );
}
