//! EORTC QLQ-C30 version 3 scoring (PROTOCOL.md §6): the 15 scales by the
//! half-item rule and the summary score.

use std::num::NonZeroU8;

use serde::Serialize;

/// Whether higher scores mean better (functional) or worse (symptom) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScaleKind {
    /// Global health status / QoL.
    Global,
    /// A functional scale: higher is better.
    Functional,
    /// A symptom scale or single item: higher is worse.
    Symptom,
}

/// A QLQ-C30 scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scale {
    /// Abbreviation (`QL`, `PF`, …).
    pub code: &'static str,
    /// Name.
    pub name: &'static str,
    /// Kind.
    pub kind: ScaleKind,
    /// Item numbers (1-based).
    pub items: &'static [usize],
}

impl Scale {
    /// Range of the raw score: 6 for global health status, 3 otherwise.
    fn range(self) -> f64 {
        if self.kind == ScaleKind::Global {
            6.0
        } else {
            3.0
        }
    }

    /// Whether a higher score is a better state.
    pub fn higher_is_better(self) -> bool {
        self.kind != ScaleKind::Symptom
    }
}

const fn scale(
    code: &'static str,
    name: &'static str,
    kind: ScaleKind,
    items: &'static [usize],
) -> Scale {
    Scale {
        code,
        name,
        kind,
        items,
    }
}

/// The 15 scales in the order of PROTOCOL.md §6.
pub const SCALES: [Scale; 15] = [
    scale(
        "QL",
        "global health status / QoL",
        ScaleKind::Global,
        &[29, 30],
    ),
    scale(
        "PF",
        "physical functioning",
        ScaleKind::Functional,
        &[1, 2, 3, 4, 5],
    ),
    scale("RF", "role functioning", ScaleKind::Functional, &[6, 7]),
    scale(
        "EF",
        "emotional functioning",
        ScaleKind::Functional,
        &[21, 22, 23, 24],
    ),
    scale(
        "CF",
        "cognitive functioning",
        ScaleKind::Functional,
        &[20, 25],
    ),
    scale("SF", "social functioning", ScaleKind::Functional, &[26, 27]),
    scale("FA", "fatigue", ScaleKind::Symptom, &[10, 12, 18]),
    scale("NV", "nausea and vomiting", ScaleKind::Symptom, &[14, 15]),
    scale("PA", "pain", ScaleKind::Symptom, &[9, 19]),
    scale("DY", "dyspnoea", ScaleKind::Symptom, &[8]),
    scale("SL", "insomnia", ScaleKind::Symptom, &[11]),
    scale("AP", "appetite loss", ScaleKind::Symptom, &[13]),
    scale("CO", "constipation", ScaleKind::Symptom, &[16]),
    scale("DI", "diarrhoea", ScaleKind::Symptom, &[17]),
    scale("FI", "financial difficulties", ScaleKind::Symptom, &[28]),
];

/// The scores of one questionnaire: the 15 scales in [`SCALES`] order and
/// the summary score; `None` where missing by the half-item rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Scale scores 0–100.
    pub scales: [Option<f64>; 15],
    /// Summary score 0–100.
    pub summary: Option<f64>,
}

/// Scores one questionnaire from its 30 answers (index 0 is item 1).
pub fn score(items: &[Option<NonZeroU8>; 30]) -> Scores {
    let mut scales = [None; 15];
    for (out, s) in scales.iter_mut().zip(SCALES) {
        let answered: Vec<f64> = s
            .items
            .iter()
            .filter_map(|&i| items[i - 1])
            .map(|answer| f64::from(answer.get()))
            .collect();
        // At least half of the items answered (a single item: answered).
        if answered.is_empty() || 2 * answered.len() < s.items.len() {
            continue;
        }
        let raw = answered.iter().sum::<f64>() / answered.len() as f64;
        *out = Some(match s.kind {
            ScaleKind::Functional => (1.0 - (raw - 1.0) / s.range()) * 100.0,
            ScaleKind::Global | ScaleKind::Symptom => (raw - 1.0) / s.range() * 100.0,
        });
    }
    // The 13 scales other than QL and FI, symptoms reversed.
    let parts: Option<Vec<f64>> = SCALES
        .iter()
        .zip(&scales)
        .filter(|(s, _)| s.code != "QL" && s.code != "FI")
        .map(|(s, v)| {
            v.map(|v| {
                if s.kind == ScaleKind::Symptom {
                    100.0 - v
                } else {
                    v
                }
            })
        })
        .collect();
    let summary = parts.map(|p| p.iter().sum::<f64>() / p.len() as f64);
    Scores { scales, summary }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(v: &[(usize, u8)]) -> [Option<NonZeroU8>; 30] {
        let mut items = [None; 30];
        for &(i, a) in v {
            items[i - 1] = NonZeroU8::new(a);
        }
        items
    }

    #[test]
    fn functional_symptom_and_global_scales_use_their_formulas() {
        let all_ones = answers(&(1..=30).map(|i| (i, 1)).collect::<Vec<_>>());
        let s = score(&all_ones);
        assert_eq!(s.scales[0], Some(0.0)); // QL at the worst
        assert_eq!(s.scales[1], Some(100.0)); // PF at the best
        assert_eq!(s.scales[6], Some(0.0)); // FA absent
        // 11 functional-or-reversed symptom scales at 100 plus... all 13 at 100.
        assert_eq!(s.summary, Some(100.0));
        let q = score(&answers(&[(29, 4), (30, 7)]));
        assert_eq!(q.scales[0], Some((5.5 - 1.0) / 6.0 * 100.0));
    }

    #[test]
    fn a_scale_needs_half_of_its_items() {
        // RF has 2 items: one answered is half, so it is scored.
        assert_eq!(
            score(&answers(&[(6, 2)])).scales[2],
            Some((1.0 - 1.0 / 3.0) * 100.0)
        );
        // PF has 5 items: two answered is less than half.
        assert_eq!(score(&answers(&[(1, 2), (2, 2)])).scales[1], None);
        assert!(score(&answers(&[(1, 2), (2, 2), (3, 2)])).scales[1].is_some());
        // FA has 3 items: one answered is less than half.
        assert_eq!(score(&answers(&[(10, 4)])).scales[6], None);
        assert_eq!(score(&answers(&[(10, 4), (12, 4)])).scales[6], Some(100.0));
    }

    #[test]
    fn the_summary_needs_all_thirteen_scales() {
        let mut items = answers(&(1..=30).map(|i| (i, 2)).collect::<Vec<_>>());
        assert!(score(&items).summary.is_some());
        items[27] = None; // FI is not in the summary
        assert!(score(&items).summary.is_some());
        items[7] = None; // DY is
        assert!(score(&items).summary.is_none());
    }
}
