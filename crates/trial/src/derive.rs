//! The derivations of PROTOCOL.md §3–4: hematologic and molecular response
//! from the recorded facts (never typed in), and each patient's course —
//! day 1, first remission, relapse, death and follow-up — as the endpoints
//! need them. Data after the cut-off are ignored here, once, for everyone.

use serde::Serialize;

use crate::dataset::Casebook;
use crate::date::Date;
use crate::protocol::Protocol;
use crate::records::{Assessment, MrdResult};
use crate::vocab::{
    AssessmentTimepoint, Cohort, HemResponse, MrdCall, RelapseKind, Sample, VitalStatus,
};

/// Molecular response of one MRD result. `CMolCr` is also a MolCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum MolecularResponse {
    /// Not evaluable: missing, or negative / positive_nq at insufficient sensitivity.
    #[serde(rename = "NE")]
    Ne,
    /// Quantifiable MRD at or above the threshold.
    #[serde(rename = "MolFail")]
    MolFail,
    /// Molecular remission that is not complete.
    #[serde(rename = "MolCR")]
    MolCr,
    /// Complete molecular remission: negative at sufficient sensitivity.
    #[serde(rename = "cMolCR")]
    CMolCr,
}

impl MolecularResponse {
    /// MolCR in the protocol's sense (cMolCR included).
    pub fn is_molcr(self) -> bool {
        matches!(self, MolecularResponse::MolCr | MolecularResponse::CMolCr)
    }

    /// As the report labels it.
    pub fn label(self) -> &'static str {
        match self {
            MolecularResponse::Ne => "NE",
            MolecularResponse::MolFail => "MolFail",
            MolecularResponse::MolCr => "MolCR",
            MolecularResponse::CMolCr => "cMolCR",
        }
    }
}

/// Classifies one MRD result by PROTOCOL.md §3.
pub fn molecular_response(m: &MrdResult, p: &Protocol) -> MolecularResponse {
    let threshold = p.molecular.level_threshold;
    let sensitive = m
        .sensitivity
        .is_some_and(|s| s.get() <= p.molecular.required_sensitivity);
    match m.result {
        Some(MrdCall::Negative) if sensitive => MolecularResponse::CMolCr,
        Some(MrdCall::PositiveNq) if sensitive => MolecularResponse::MolCr,
        Some(MrdCall::Positive) => match m.level {
            Some(l) if l.get() < threshold => MolecularResponse::MolCr,
            Some(_) => MolecularResponse::MolFail,
            None => MolecularResponse::Ne,
        },
        _ => MolecularResponse::Ne,
    }
}

/// Classifies one hematologic assessment by PROTOCOL.md §3: the first rule
/// that holds, in the protocol's order.
pub fn hematologic_response(
    a: &Assessment,
    cohort: Cohort,
    screening_blasts: Option<f64>,
    earlier_remission: bool,
    p: &Protocol,
) -> HemResponse {
    let r = &p.response;
    let (Some(bm), Some(pb), Some(emd), Some(anc), Some(plt)) =
        (a.bm_blasts_pct, a.pb_blasts, a.emd, a.anc, a.platelets)
    else {
        return HemResponse::Ne;
    };
    let bm = bm.get();
    if bm < r.cr_max_bm_blasts_pct && !pb && !emd {
        return if anc.get() >= r.cr_min_anc && plt.get() >= r.cr_min_platelets {
            HemResponse::Cr
        } else {
            HemResponse::Cri
        };
    }
    if cohort == Cohort::MrdPositive || earlier_remission {
        return HemResponse::Relapse;
    }
    let fell = screening_blasts.is_some_and(|s| s > 0.0 && bm <= s * (1.0 - r.pr_min_fall));
    if bm >= r.cr_max_bm_blasts_pct && bm <= r.pr_max_bm_blasts_pct && fell {
        return HemResponse::Pr;
    }
    HemResponse::Nr
}

/// One assessment with its derived category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DerivedAssessment {
    /// Date.
    pub date: Date,
    /// Recorded timepoint.
    pub timepoint: AssessmentTimepoint,
    /// Derived response.
    pub response: HemResponse,
    /// The investigator's call, for the query when they differ.
    pub investigator: Option<HemResponse>,
}

/// One MRD result with its derived category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DerivedMrd {
    /// Sampling date.
    pub date: Date,
    /// Recorded timepoint.
    pub timepoint: AssessmentTimepoint,
    /// BM or PB (only BM counts for endpoints).
    pub sample: Sample,
    /// Derived category.
    pub response: MolecularResponse,
    /// The raw call, for "any later positive" in cMolCR duration.
    pub call: Option<MrdCall>,
}

/// One patient's course as the endpoints read it, cut at the data cut-off.
#[derive(Debug, Clone, Serialize)]
pub struct Course {
    /// Cohort.
    pub cohort: Cohort,
    /// Registration date.
    pub registration: Date,
    /// Day 1: first isatuximab dose, or registration when never dosed.
    pub day1: Date,
    /// Received at least one dose: member of the FAS and safety set.
    pub treated: bool,
    /// Date of the last dose given.
    pub last_dose: Option<Date>,
    /// Assessments (screening included) in date order, derived.
    pub assessments: Vec<DerivedAssessment>,
    /// MRD results in date order, derived.
    pub mrd: Vec<DerivedMrd>,
    /// Date of the first assessment derived CR or CRi.
    pub first_remission: Option<Date>,
    /// First hematologic relapse on or before the cut-off.
    pub hematologic_relapse: Option<Date>,
    /// First molecular relapse record on or before the cut-off.
    pub molecular_relapse_record: Option<Date>,
    /// Death on or before the cut-off.
    pub death: Option<Date>,
    /// Last date the patient is known alive, or the death date; never after the cut-off.
    pub last_follow_up: Date,
    /// First SCT after registration, on or before the cut-off.
    pub sct: Option<Date>,
    /// Start of other anti-leukemic therapy, on or before the cut-off.
    pub other_therapy: Option<Date>,
}

impl Course {
    /// Derives a course from a casebook.
    pub fn derive(c: &Casebook<'_>, p: &Protocol, cutoff: Date) -> Course {
        let patient = c.patient;
        let within = |d: Date| d <= cutoff;
        let given: Vec<Date> = c
            .doses
            .iter()
            .filter(|d| d.was_given() && within(d.date))
            .map(|d| d.date)
            .collect();
        let day1 = given
            .iter()
            .min()
            .copied()
            .unwrap_or(patient.registration_date);
        let screening_blasts = patient
            .screening_bm_blasts_pct
            .map(|b| b.get())
            .or_else(|| {
                c.assessments
                    .iter()
                    .filter(|a| a.timepoint == AssessmentTimepoint::Screening)
                    .find_map(|a| a.bm_blasts_pct.map(|b| b.get()))
            });
        let mut assessments = Vec::with_capacity(c.assessments.len());
        let mut in_remission = false;
        for a in c.assessments.iter().filter(|a| within(a.date)) {
            let response =
                hematologic_response(a, patient.cohort, screening_blasts, in_remission, p);
            in_remission |= response.is_remission();
            assessments.push(DerivedAssessment {
                date: a.date,
                timepoint: a.timepoint,
                response,
                investigator: a.investigator_response,
            });
        }
        let first_remission = assessments
            .iter()
            .find(|a| a.timepoint != AssessmentTimepoint::Screening && a.response.is_remission())
            .map(|a| a.date);
        let mrd = c
            .mrd
            .iter()
            .filter(|m| within(m.date))
            .map(|m| DerivedMrd {
                date: m.date,
                timepoint: m.timepoint,
                sample: m.sample,
                response: molecular_response(m, p),
                call: m.result,
            })
            .collect();
        let first_relapse = |kind| {
            c.relapses
                .iter()
                .filter(|r| r.kind == kind && within(r.date) && r.date >= patient.registration_date)
                .map(|r| r.date)
                .min()
        };
        let death = c
            .status
            .filter(|s| s.vital_status == VitalStatus::Dead)
            .and_then(|s| s.death_date)
            .filter(|&d| within(d));
        let last_contact = c
            .status
            .map_or(patient.registration_date, |s| s.last_contact_date);
        let last_follow_up = death.unwrap_or_else(|| last_contact.min(cutoff));
        Course {
            cohort: patient.cohort,
            registration: patient.registration_date,
            day1,
            treated: !given.is_empty(),
            last_dose: given.iter().max().copied(),
            assessments,
            mrd,
            first_remission,
            hematologic_relapse: first_relapse(RelapseKind::Hematologic),
            molecular_relapse_record: first_relapse(RelapseKind::Molecular),
            death,
            last_follow_up,
            sct: c
                .sct
                .iter()
                .filter(|s| within(s.date) && s.date >= patient.registration_date)
                .map(|s| s.date)
                .min(),
            other_therapy: c
                .status
                .and_then(|s| s.other_therapy_date)
                .filter(|&d| within(d)),
        }
    }

    /// The derived response at a timepoint (the latest assessment recorded
    /// for it), if assessed.
    pub fn response_at(&self, tp: AssessmentTimepoint) -> Option<HemResponse> {
        self.assessments
            .iter()
            .rev()
            .find(|a| a.timepoint == tp)
            .map(|a| a.response)
    }

    /// The molecular response of the latest BM result at a timepoint.
    pub fn bm_molecular_at(&self, tp: AssessmentTimepoint) -> Option<MolecularResponse> {
        self.bm_mrd()
            .rev()
            .find(|m| m.timepoint == tp)
            .map(|m| m.response)
    }

    /// Bone-marrow MRD results in date order: the ones endpoints count.
    pub fn bm_mrd(&self) -> impl DoubleEndedIterator<Item = &DerivedMrd> {
        self.mrd.iter().filter(|m| m.sample == Sample::Bm)
    }

    /// Day `k` of this patient's course.
    pub fn day(&self, k: i64) -> Date {
        self.day1.day(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::PatientIx;
    use crate::values::{Amount, Fraction, Percent};

    fn assessment(bm: f64, pb: bool, anc: f64, plt: f64) -> Assessment {
        Assessment {
            patient: PatientIx(0),
            date: "2025-01-22".parse().unwrap(),
            timepoint: AssessmentTimepoint::D22,
            bm_blasts_pct: Percent::new(bm),
            pb_blasts: Some(pb),
            anc: Amount::new(anc),
            platelets: Amount::new(plt),
            emd: Some(false),
            investigator_response: None,
        }
    }

    fn hem(a: &Assessment, cohort: Cohort, screening: Option<f64>, earlier: bool) -> HemResponse {
        hematologic_response(a, cohort, screening, earlier, &Protocol::default())
    }

    #[test]
    fn the_first_rule_that_holds_gives_the_category() {
        let c1 = Cohort::RelapsedRefractory;
        assert_eq!(
            hem(&assessment(4.9, false, 1.0, 100.0), c1, Some(60.0), false),
            HemResponse::Cr
        );
        assert_eq!(
            hem(&assessment(4.9, false, 0.99, 100.0), c1, Some(60.0), false),
            HemResponse::Cri
        );
        assert_eq!(
            hem(&assessment(4.9, true, 2.0, 200.0), c1, Some(60.0), false),
            HemResponse::Nr
        );
        assert_eq!(
            hem(&assessment(25.0, false, 2.0, 200.0), c1, Some(50.0), false),
            HemResponse::Pr
        );
        assert_eq!(
            hem(&assessment(25.0, false, 2.0, 200.0), c1, Some(49.0), false),
            HemResponse::Nr
        );
        assert_eq!(
            hem(&assessment(25.1, false, 2.0, 200.0), c1, Some(90.0), false),
            HemResponse::Nr
        );
        assert_eq!(
            hem(&assessment(10.0, false, 2.0, 200.0), c1, Some(60.0), true),
            HemResponse::Relapse
        );
        assert_eq!(
            hem(
                &assessment(5.0, false, 2.0, 200.0),
                Cohort::MrdPositive,
                None,
                false
            ),
            HemResponse::Relapse
        );
        let mut missing = assessment(1.0, false, 2.0, 200.0);
        missing.emd = None;
        assert_eq!(hem(&missing, c1, Some(60.0), false), HemResponse::Ne);
    }

    fn mrd(call: Option<MrdCall>, level: Option<f64>, sens: Option<f64>) -> MrdResult {
        MrdResult {
            patient: PatientIx(0),
            date: "2025-01-22".parse().unwrap(),
            timepoint: AssessmentTimepoint::D22,
            sample: Sample::Bm,
            result: call,
            level: level.and_then(Fraction::new),
            sensitivity: sens.and_then(Fraction::new),
            lab: None,
        }
    }

    #[test]
    fn molecular_response_follows_sensitivity_and_level() {
        let p = Protocol::default();
        let m = |c, l, s| molecular_response(&mrd(c, l, s), &p);
        use MolecularResponse::*;
        assert_eq!(m(Some(MrdCall::Negative), None, Some(1e-4)), CMolCr);
        assert_eq!(m(Some(MrdCall::Negative), None, Some(1e-3)), Ne);
        assert_eq!(m(Some(MrdCall::Negative), None, None), Ne);
        assert_eq!(m(Some(MrdCall::PositiveNq), None, Some(1e-5)), MolCr);
        assert_eq!(m(Some(MrdCall::PositiveNq), None, Some(1e-3)), Ne);
        assert_eq!(m(Some(MrdCall::Positive), Some(5e-5), Some(1e-3)), MolCr);
        assert_eq!(m(Some(MrdCall::Positive), Some(1e-4), Some(1e-5)), MolFail);
        assert_eq!(m(None, None, Some(1e-5)), Ne);
        assert!(CMolCr.is_molcr() && MolCr.is_molcr() && !MolFail.is_molcr());
    }
}
