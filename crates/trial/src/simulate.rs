//! Synthetic trials: every record type of the bundle with a plausible course
//! per patient — screening, induction, responses and MRD, transplants and
//! GvHD, relapses and deaths, AEs from the CTCAE dictionary, questionnaires
//! with missing items, hospital stays, censoring at the cut-off — with the
//! rates a user sets. The same configuration gives the same dataset, so a
//! seed names a trial in tests, benchmarks and the demo.
//!
//! Every record respects the error rules of PROTOCOL.md §8 (nothing after a
//! death, ends on or after starts, grade 5 only with a death on its end
//! date, unique AE ids), and nothing is dated after the patient's last
//! contact, which is never after the cut-off: a simulated bundle always
//! loads. Warnings (an investigator response that disagrees, an MRD sample
//! of poor sensitivity) are simulated on purpose, as real data has them.

use std::fmt::Write as _;
use std::num::NonZeroU8;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ctcae::{Dictionary, TermId};
use crate::dataset::Dataset;
use crate::date::Date;
use crate::protocol::{Protocol, Schedule};
use crate::records::*;
use crate::values::{Age, Amount, Count, Cycle, Fraction, Grade, Id, Percent, Text};
use crate::vocab::*;

/// Rates and sizes of a synthetic trial. Each rate is the knob an endpoint
/// should echo back, so a test or a demo can check the engine against a
/// known truth; [`Default`] gives a plausible trial of 200 patients.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    /// Patients registered, split between the cohorts by `cohort1_share`.
    pub patients: usize,
    /// Seed of the generator: the same seed gives the same trial.
    pub seed: u64,
    /// Share of patients in cohort 1 (R/R ALL); the rest are cohort 2.
    pub cohort1_share: f64,
    /// Cohort 1: probability of CR/CRi by w9 (E01, E04), among treated
    /// patients alive at the assessment.
    pub cr_rate: f64,
    /// Cohort 2: probability of MolCR at d22 (E03).
    pub molcr_rate: f64,
    /// Probability of SCT among responders (E15).
    pub sct_rate: f64,
    /// Probability of hematologic relapse among responders over follow-up
    /// (E05, E07, E09).
    pub relapse_rate: f64,
    /// Monthly hazard of death (cohort 1 carries 1.5 times it) (E06).
    pub monthly_death_hazard: f64,
    /// Mean adverse events per treated patient, Poisson distributed (E02).
    pub ae_per_patient: f64,
    /// Probability that a questionnaire item is left unanswered (E16).
    pub qlq_missing_item_rate: f64,
    /// First registration.
    pub start: Date,
    /// Registrations spread evenly over this many days (never later than a
    /// month before the cut-off, so every patient has a course).
    pub accrual_days: i64,
    /// Data cut-off: nothing is dated after it.
    pub cutoff: Date,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            patients: 200,
            seed: 1,
            cohort1_share: 0.55,
            cr_rate: 0.35,
            molcr_rate: 0.5,
            sct_rate: 0.3,
            relapse_rate: 0.4,
            monthly_death_hazard: 0.03,
            ae_per_patient: 3.0,
            qlq_missing_item_rate: 0.05,
            start: Date::from_ymd(2024, 1, 15).expect("a date"),
            accrual_days: 540,
            cutoff: Date::from_ymd(2026, 6, 30).expect("a date"),
        }
    }
}

/// Terms drawn for AEs, most common first; all in the CTCAE dictionary.
const COMMON_TERMS: [&str; 16] = [
    "Anemia",
    "Platelet count decreased",
    "Neutrophil count decreased",
    "Febrile neutropenia",
    "Fever",
    "Lung infection",
    "Sepsis",
    "Fatigue",
    "Nausea",
    "Diarrhea",
    "Mucositis oral",
    "Infusion related reaction",
    "Headache",
    "Alanine aminotransferase increased",
    "Hypokalemia",
    "Vomiting",
];

const C1_STATUSES: [DiseaseStatus; 5] = [
    DiseaseStatus::EarlyRelapse,
    DiseaseStatus::LateRelapse,
    DiseaseStatus::PrimaryRefractory,
    DiseaseStatus::RefractoryRelapse,
    DiseaseStatus::SecondOrLaterRelapse,
];

const C2_STATUSES: [DiseaseStatus; 2] = [
    DiseaseStatus::MolecularFailure,
    DiseaseStatus::MolecularRelapse,
];

const EXTRAMEDULLARY: [RelapseSite; 5] = [
    RelapseSite::Cns,
    RelapseSite::Testis,
    RelapseSite::Mediastinum,
    RelapseSite::Skin,
    RelapseSite::Other,
];

const DONORS: [Donor; 4] = [
    Donor::MatchedRelated,
    Donor::MatchedUnrelated,
    Donor::MismatchedUnrelated,
    Donor::Haploidentical,
];

/// Timepoints with their nominal day offset from day 1 and window jitter.
const PLAN: [(AssessmentTimepoint, i64, i64); 4] = [
    (AssessmentTimepoint::D22, 21, 2),
    (AssessmentTimepoint::W9, 56, 4),
    (AssessmentTimepoint::M3, 91, 7),
    (AssessmentTimepoint::M6, 183, 7),
];

/// What a simulated MRD sample should show.
#[derive(Clone, Copy, PartialEq)]
enum Mrd {
    /// MolCR: negative, positive below 1e-4 or positive_nq.
    Good,
    /// MolFail: positive at or above 1e-4.
    Bad,
}

/// The generator and what it reuses across patients, so that a million
/// patients cost no per-patient lookups or scratch allocations.
struct Sim<'a> {
    rng: ChaCha8Rng,
    c: &'a SimulationConfig,
    schedule: Schedule,
    terms: Vec<TermId>,
    other_terms: Vec<TermId>,
    fatal_infection: [TermId; 2],
    fatal_toxicity: TermId,
    ages: Vec<Age>,
    sites: Vec<Id>,
    buf: String,
    data: Dataset,
    ae_counter: u64,
}

fn amount(v: f64) -> Amount {
    Amount::new((v * 100.0).round() / 100.0).expect("non-negative")
}

fn percent(v: f64) -> Percent {
    Percent::new((v * 10.0).round() / 10.0).expect("0–100")
}

fn fraction(v: f64) -> Fraction {
    Fraction::new(v).expect("a fraction")
}

fn text(s: &str) -> Option<Text> {
    Some(s.into())
}

impl Sim<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.random::<f64>()
    }

    fn days(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    /// Exponential waiting time in days for a monthly hazard, capped at
    /// about 2700 years (well inside the calendar, far past any cut-off).
    fn exponential_days(&mut self, monthly_hazard: f64) -> i64 {
        const NEVER: f64 = 1e6;
        let u: f64 = self.rng.random::<f64>().max(1e-12);
        if monthly_hazard <= 0.0 {
            return NEVER as i64;
        }
        (-u.ln() / monthly_hazard * 30.4375).min(NEVER) as i64
    }

    /// Knuth's Poisson draw, fine for the small means used here.
    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean.clamp(0.0, 100.0)).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.rng.random::<f64>();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

    /// An identifier written into the reused buffer.
    fn id(&mut self, args: std::fmt::Arguments<'_>) -> Id {
        self.buf.clear();
        self.buf.write_fmt(args).expect("a string");
        self.buf.parse().expect("an id")
    }

    /// The next AE id, unique over the trial.
    fn next_ae_id(&mut self) -> Id {
        self.ae_counter += 1;
        let n = self.ae_counter;
        self.id(format_args!("AE{n:08}"))
    }

    /// An assessment whose values derive to `response` (PROTOCOL.md §3).
    fn assessment(
        &mut self,
        patient: PatientIx,
        date: Date,
        tp: AssessmentTimepoint,
        response: HemResponse,
        screening: f64,
    ) -> Assessment {
        let (bm, pb, anc, plt) = match response {
            HemResponse::Cr => (
                self.uniform(0.2, 4.8),
                false,
                self.uniform(1.0, 4.0),
                self.uniform(100.0, 320.0),
            ),
            HemResponse::Cri => {
                // ANC < 1, platelets < 100, or both.
                let which = self.rng.random_range(0..3);
                (
                    self.uniform(0.2, 4.8),
                    false,
                    if which != 1 {
                        self.uniform(0.2, 0.99)
                    } else {
                        self.uniform(1.0, 3.0)
                    },
                    if which != 0 {
                        self.uniform(20.0, 99.0)
                    } else {
                        self.uniform(100.0, 250.0)
                    },
                )
            }
            HemResponse::Pr => {
                let hi = (screening * 0.5).min(25.0);
                (
                    self.uniform(5.0, hi.max(5.0)),
                    self.chance(0.3),
                    self.uniform(0.5, 2.0),
                    self.uniform(30.0, 150.0),
                )
            }
            _ => (
                self.uniform(30.0, 90.0),
                self.chance(0.6),
                self.uniform(0.1, 1.5),
                self.uniform(10.0, 90.0),
            ),
        };
        let investigator = if self.chance(0.93) {
            response
        } else {
            self.pick(HemResponse::ALL)
        };
        Assessment {
            patient,
            date,
            timepoint: tp,
            bm_blasts_pct: Some(percent(bm)),
            pb_blasts: Some(pb),
            anc: Some(amount(anc)),
            platelets: Some(amount(plt)),
            emd: Some(false),
            investigator_response: Some(investigator),
        }
    }

    /// One MRD sample showing `want`; sensitivities 1e-5 or 1e-4, except
    /// that a peripheral-blood sample may be of 1e-3.
    fn mrd_row(
        &mut self,
        patient: PatientIx,
        date: Date,
        tp: AssessmentTimepoint,
        sample: Sample,
        want: Mrd,
    ) -> MrdResult {
        let sens = if self.chance(0.75) { 1e-5 } else { 1e-4 };
        let (result, level, sensitivity) = match want {
            Mrd::Good => match self.rng.random_range(0..10) {
                0..=5 => (MrdCall::Negative, None, sens),
                6..=7 => (MrdCall::PositiveNq, None, sens),
                _ => (
                    MrdCall::Positive,
                    Some(self.pick(&[2e-5, 5e-5, 8e-5])),
                    1e-5,
                ),
            },
            Mrd::Bad => (
                MrdCall::Positive,
                Some(self.pick(&[1e-4, 3e-4, 1e-3, 5e-3, 2e-2, 1e-1])),
                sens,
            ),
        };
        let sensitivity = if sample == Sample::Pb && level.is_none() && self.chance(0.3) {
            1e-3
        } else {
            sensitivity
        };
        MrdResult {
            patient,
            date,
            timepoint: tp,
            sample,
            result: Some(result),
            level: level.map(fraction),
            sensitivity: Some(fraction(sensitivity)),
            lab: Some(Lab::Central),
        }
    }

    /// The MRD samples of one timepoint: bone marrow always (sometimes a
    /// first sample of only 1e-3 sensitivity, repeated a few days later, as
    /// labs do), peripheral blood sometimes.
    fn mrd(&mut self, ix: PatientIx, date: Date, tp: AssessmentTimepoint, want: Mrd, end: Date) {
        let mut bm_date = date;
        if want == Mrd::Good && self.chance(0.06) {
            let repeat = date.plus_days(self.days(1, 4));
            if repeat <= end {
                self.data.mrd.push(MrdResult {
                    patient: ix,
                    date,
                    timepoint: tp,
                    sample: Sample::Bm,
                    result: Some(MrdCall::Negative),
                    level: None,
                    sensitivity: Some(fraction(1e-3)),
                    lab: Some(Lab::Central),
                });
                bm_date = repeat;
            }
        }
        let row = self.mrd_row(ix, bm_date, tp, Sample::Bm, want);
        self.data.mrd.push(row);
        if self.chance(0.25) {
            let row = self.mrd_row(ix, date, tp, Sample::Pb, want);
            self.data.mrd.push(row);
        }
    }

    fn patient(&mut self, i: usize) {
        let ix = PatientIx(i as u32);
        let c = self.c;
        let c1 = self.chance(c.cohort1_share);
        let cohort = if c1 {
            Cohort::RelapsedRefractory
        } else {
            Cohort::MrdPositive
        };
        // Registered at least a month before the cut-off, so every patient
        // has a course to analyse.
        let latest = c
            .cutoff
            .plus_days(-30)
            .days_since(c.start)
            .clamp(0, c.accrual_days.max(0));
        let registration = c.start.plus_days(self.days(0, latest));
        let prior_sct = self
            .chance(0.25)
            .then(|| registration.plus_days(-self.days(150, 700)));
        let screening = if c1 {
            self.uniform(20.0, 90.0)
        } else {
            self.uniform(0.0, 4.5)
        };
        let mut disease_status = if c1 {
            self.pick(&C1_STATUSES)
        } else {
            self.pick(&C2_STATUSES)
        };
        if prior_sct.is_some() && c1 && self.chance(0.5) {
            disease_status = DiseaseStatus::RelapseAfterSct;
        }
        let first_cr = (disease_status != DiseaseStatus::PrimaryRefractory)
            .then(|| registration.plus_days(-self.days(120, 900)));
        let record = Patient {
            id: self.id(format_args!("P{:06}", i + 1)),
            site: self.sites[self.rng.random_range(0..self.sites.len())].clone(),
            cohort,
            registration_date: registration,
            age: self.ages[self.rng.random_range(0..self.ages.len())],
            sex: if self.chance(0.6) { Sex::M } else { Sex::F },
            cd38_positive: true,
            immunophenotype: self.pick(Immunophenotype::ALL),
            disease_status,
            prior_cycles: Count(self.days(3, 6) as u32),
            first_cr_date: first_cr,
            prior_sct_date: prior_sct,
            last_chemo_date: Some(registration.plus_days(-self.days(15, 60))),
            screening_bm_blasts_pct: Some(percent(screening)),
            screening_mrd_level: (!c1).then(|| fraction(self.pick(&[1e-4, 3e-4, 2e-3, 1e-2]))),
            screening_mrd_sensitivity: (!c1).then(|| fraction(1e-5)),
        };
        self.data.patients.push(record);

        // Death and the end of follow-up. A patient lost to follow-up has
        // no known death; one alive at the cut-off was last seen shortly
        // before it.
        let hazard = c.monthly_death_hazard * if c1 { 1.5 } else { 1.0 };
        let death = registration.plus_days(1 + self.exponential_days(hazard));
        let lost = self
            .chance(0.05)
            .then(|| registration.plus_days(self.days(30, 400)))
            .filter(|&l| l < death && l < c.cutoff);
        let death = (death <= c.cutoff && lost.is_none()).then_some(death);
        let end = match (death, lost) {
            (Some(d), _) => d,
            (None, Some(l)) => l,
            (None, None) => c.cutoff.plus_days(-self.days(0, 21)).max(registration),
        };
        let alive_on = |d: Date| d <= end;

        let treated = self.chance(0.97) && alive_on(registration.plus_days(7));
        let day1 = registration.plus_days(self.days(1, 6));
        let responder = if c1 { self.chance(c.cr_rate) } else { true };
        let molecular = if c1 {
            responder && self.chance(0.6)
        } else {
            self.chance(c.molcr_rate)
        };

        // Screening assessment: cohort 1 in relapse, cohort 2 in CR.
        let screen_date = registration.plus_days(-self.days(1, 5));
        let screen_response = if c1 { HemResponse::Nr } else { HemResponse::Cr };
        let a = self.assessment(
            ix,
            screen_date,
            AssessmentTimepoint::Screening,
            screen_response,
            screening,
        );
        self.data.assessments.push(Assessment {
            bm_blasts_pct: Some(percent(screening)),
            investigator_response: Some(screen_response),
            ..a
        });

        let mut relapse: Option<Date> = None;
        let mut molecular_relapse: Option<Date> = None;
        let mut sct: Option<Date> = None;
        let mut last_dose: Option<Date> = None;
        if treated {
            let early = self.chance(0.6);
            if responder && self.chance(c.relapse_rate) {
                relapse = Some(day1.plus_days(self.days(70, 520))).filter(|&d| alive_on(d));
            }
            if molecular {
                // Molecular relapse precedes some hematologic relapses and
                // stands alone in a few molecular responders.
                molecular_relapse = match relapse {
                    Some(r) if self.chance(0.5) => Some(r.plus_days(-self.days(20, 60))),
                    None if self.chance(0.1) => Some(day1.plus_days(self.days(80, 400))),
                    _ => None,
                }
                .filter(|&m| m > day1.plus_days(60) && alive_on(m));
            }
            if responder && self.chance(c.sct_rate) {
                sct = Some(day1.plus_days(self.days(60, 130)))
                    .filter(|&d| alive_on(d) && relapse.is_none_or(|r| d < r));
            }
            for (k, (tp, day, jitter)) in PLAN.into_iter().enumerate() {
                let date = day1.plus_days(day + self.days(-jitter, jitter));
                if !alive_on(date) || (k >= 2 && !responder) || relapse.is_some_and(|r| date >= r) {
                    break;
                }
                let response = match (c1, responder, k) {
                    (true, true, 0) if !early => {
                        if self.chance(0.5) {
                            HemResponse::Pr
                        } else {
                            HemResponse::Nr
                        }
                    }
                    (true, true, _) => {
                        if self.chance(0.75) {
                            HemResponse::Cr
                        } else {
                            HemResponse::Cri
                        }
                    }
                    (true, false, _) => {
                        if self.chance(0.3) {
                            HemResponse::Pr
                        } else {
                            HemResponse::Nr
                        }
                    }
                    (false, _, _) => HemResponse::Cr,
                };
                let a = self.assessment(ix, date, tp, response, screening);
                self.data.assessments.push(a);
                let after_molecular_relapse = molecular_relapse.is_some_and(|m| date >= m);
                if responder {
                    let good =
                        molecular && !after_molecular_relapse && (k > 0 || !c1 || self.chance(0.6));
                    let want = if good { Mrd::Good } else { Mrd::Bad };
                    self.mrd(ix, date, tp, want, end);
                } else if k < 2 && self.chance(0.5) {
                    self.mrd(ix, date, tp, Mrd::Bad, end);
                }
            }
            last_dose = self.doses(ix, c1, responder, day1, end, [relapse, sct]);
            self.adverse_events(ix, day1, end);
            if let Some(s) = sct {
                let record = Sct {
                    patient: ix,
                    date: s,
                    sct_type: SctType::Allogeneic,
                    donor: Some(self.pick(&DONORS)),
                    conditioning: Some(if self.chance(0.7) {
                        Conditioning::Mac
                    } else {
                        Conditioning::Ric
                    }),
                    source: Some(if self.chance(0.85) {
                        GraftSource::Pbsc
                    } else {
                        GraftSource::Bm
                    }),
                };
                self.data.sct.push(record);
                self.gvhd(ix, s, end, 0.4);
            }
        }
        if prior_sct.is_some() {
            self.gvhd(ix, registration, end, 0.15);
        }
        if let Some(m) = molecular_relapse {
            self.data.relapses.push(Relapse {
                patient: ix,
                date: m,
                kind: RelapseKind::Molecular,
                sites: vec![],
            });
        }
        if let Some(r) = relapse {
            let sites = if self.chance(0.05) {
                vec![self.pick(&EXTRAMEDULLARY)]
            } else if self.chance(0.15) {
                let mut s = vec![RelapseSite::BoneMarrow, self.pick(&EXTRAMEDULLARY)];
                s.sort();
                s
            } else {
                vec![RelapseSite::BoneMarrow]
            };
            self.data.relapses.push(Relapse {
                patient: ix,
                date: r,
                kind: RelapseKind::Hematologic,
                sites,
            });
        }
        self.questionnaires(ix, registration, day1, end);
        self.stays(ix, registration, end, death);
        let other_therapy = (c1 && !responder && treated && self.chance(0.5))
            .then(|| day1.plus_days(self.days(60, 100)))
            .filter(|&d| alive_on(d));
        let cause = death.map(|_| {
            if relapse.is_some() || (c1 && !responder) {
                DeathCause::Leukemia
            } else if sct.is_some() || prior_sct.is_some() {
                self.pick(&[
                    DeathCause::Infection,
                    DeathCause::Gvhd,
                    DeathCause::TreatmentRelated,
                    DeathCause::Other,
                ])
            } else {
                self.pick(&[
                    DeathCause::Infection,
                    DeathCause::TreatmentRelated,
                    DeathCause::Other,
                ])
            }
        });
        if let (Some(d), Some(cause @ (DeathCause::Infection | DeathCause::TreatmentRelated))) =
            (death, cause)
            && treated
            && d >= day1
        {
            // The fatal AE ends on the death date (PROTOCOL.md §7).
            let term = if cause == DeathCause::Infection {
                self.fatal_infection[self.rng.random_range(0..2)]
            } else {
                self.fatal_toxicity
            };
            let record = AdverseEvent {
                patient: ix,
                ae_id: self.next_ae_id(),
                term,
                verbatim: None,
                grade: Grade::new(5).expect("grade 5"),
                onset_date: d.plus_days(-self.days(0, 5)).max(day1),
                end_date: Some(d),
                serious: true,
                relatedness: self.pick(&[Relatedness::Unlikely, Relatedness::Possible]),
                outcome: Some(AeOutcome::Fatal),
                action: Some(AeAction::Withdrawn),
            };
            self.data.adverse_events.push(record);
        }
        let eot = last_dose.filter(|_| treated);
        let record = Status {
            patient: ix,
            last_contact_date: end,
            vital_status: if death.is_some() {
                VitalStatus::Dead
            } else {
                VitalStatus::Alive
            },
            death_date: death,
            death_cause: cause,
            end_of_treatment_date: eot,
            end_of_treatment_reason: eot.and_then(|_| {
                if relapse.is_some() {
                    text("progression")
                } else if sct.is_some() {
                    text("sct")
                } else if death.is_some() {
                    text("death")
                } else if responder {
                    text("completed")
                } else {
                    text("no response")
                }
            }),
            other_therapy_date: other_therapy,
        };
        self.data.status.push(record);
    }

    /// Isatuximab doses per the protocol schedule — induction (cohort 1 up
    /// to the protocol's cycles; cohort 2 one cycle, sometimes more), then
    /// maintenance for responders until the last treatment day — stopping
    /// at the first of relapse, SCT or the end of follow-up. Some doses are
    /// delayed, reduced or omitted (given 0). Returns the last dose given.
    fn doses(
        &mut self,
        ix: PatientIx,
        c1: bool,
        responder: bool,
        day1: Date,
        end: Date,
        stops: [Option<Date>; 2],
    ) -> Option<Date> {
        let s = &self.schedule;
        let (dose, cycle_days, last_day) = (
            s.dose_mg_per_kg,
            s.induction_cycle_days,
            s.last_treatment_day,
        );
        let maint_cycle = s.maintenance_cycle_days;
        let (cycles1, cycles2) = (s.induction_cycles_cohort1, s.induction_cycles_cohort2);
        let inductions = if c1 {
            cycles1.max(1)
        } else if cycles2 > 1 && self.chance(0.5) {
            cycles2
        } else {
            1
        };
        let stop = stops.into_iter().flatten().min().unwrap_or(end).min(end);
        let first = self.data.doses.len();
        let mut last_dose = None;
        let maintenance_from = i64::from(inductions) * cycle_days;
        let maintenance_cycles = if responder && maint_cycle > 0 {
            ((last_day - maintenance_from).max(0) + maint_cycle - 1) / maint_cycle
        } else {
            0
        };
        'doses: for n in 0..i64::from(inductions) + maintenance_cycles {
            let (cycle, offset, induction) = if n < i64::from(inductions) {
                (Cycle::Induction(n as u8 + 1), n * cycle_days, true)
            } else {
                let m = n - i64::from(inductions);
                (
                    Cycle::Maintenance((m + 1).min(255) as u8),
                    maintenance_from + m * maint_cycle,
                    false,
                )
            };
            if c1 && !responder && n == 1 && self.chance(0.4) {
                break;
            }
            let days = if induction {
                self.schedule.induction_days.len()
            } else {
                self.schedule.maintenance_days.len()
            };
            for k in 0..days {
                let d = if induction {
                    self.schedule.induction_days[k]
                } else {
                    self.schedule.maintenance_days[k]
                };
                let day = offset + i64::from(d);
                if !induction && day > last_day {
                    break 'doses;
                }
                let planned = day1.plus_days(day - 1);
                let (status, given, date, reason) = match self.rng.random_range(0..100) {
                    0..=4 => (DoseStatus::Omitted, 0.0, planned, "toxicity"),
                    5..=9 => (
                        DoseStatus::Delayed,
                        dose,
                        planned.plus_days(self.days(1, 5)),
                        "toxicity",
                    ),
                    10..=13 => (DoseStatus::Reduced, dose / 2.0, planned, "toxicity"),
                    _ => (DoseStatus::Given, dose, planned, ""),
                };
                if date >= stop {
                    break 'doses;
                }
                if given > 0.0 {
                    last_dose = Some(date);
                }
                self.data.doses.push(Dose {
                    patient: ix,
                    cycle,
                    day: d,
                    date,
                    planned_mg_per_kg: amount(dose),
                    given_mg_per_kg: amount(given),
                    status,
                    reason: (!reason.is_empty()).then(|| reason.into()),
                });
            }
        }
        if last_dose.is_none() {
            // A patient with every dose omitted would not be treated; the
            // first dose is given.
            self.data.doses.truncate(first);
            self.data.doses.push(Dose {
                patient: ix,
                cycle: Cycle::Induction(1),
                day: 1,
                date: day1,
                planned_mg_per_kg: amount(dose),
                given_mg_per_kg: amount(dose),
                status: DoseStatus::Given,
                reason: None,
            });
            last_dose = Some(day1);
        }
        last_dose
    }

    fn adverse_events(&mut self, ix: PatientIx, day1: Date, end: Date) {
        let n = self.poisson(self.c.ae_per_patient);
        for _ in 0..n {
            // A few start before day 1 (kept, not treatment-emergent).
            let onset = day1.plus_days(self.days(-3, 160));
            if onset > end {
                continue;
            }
            let term = if self.chance(0.85) {
                self.terms[self.rng.random_range(0..self.terms.len())]
            } else {
                self.other_terms[self.rng.random_range(0..self.other_terms.len())]
            };
            let grade = match self.rng.random_range(0..100) {
                0..=34 => 1,
                35..=64 => 2,
                65..=89 => 3,
                _ => 4,
            };
            let end_date = Some(onset.plus_days(self.days(0, 20))).filter(|&e| e <= end);
            let serious = grade >= 3 && self.chance(0.5);
            let action = match grade {
                3.. if self.chance(0.05) => AeAction::Withdrawn,
                3.. if self.chance(0.3) => AeAction::Delayed,
                _ => AeAction::None,
            };
            let record = AdverseEvent {
                patient: ix,
                ae_id: self.next_ae_id(),
                term,
                verbatim: None,
                grade: Grade::new(grade).expect("1–4"),
                onset_date: onset,
                end_date,
                serious,
                relatedness: self.pick(Relatedness::ALL),
                outcome: Some(if end_date.is_some() {
                    AeOutcome::Recovered
                } else {
                    AeOutcome::NotRecovered
                }),
                action: Some(action),
            };
            self.data.adverse_events.push(record);
        }
    }

    fn gvhd(&mut self, ix: PatientIx, from: Date, end: Date, p: f64) {
        if self.chance(p) {
            let onset = from.plus_days(self.days(15, 80));
            if onset <= end {
                let grade = self.pick(&[
                    GvhdGrade::I,
                    GvhdGrade::Ii,
                    GvhdGrade::Ii,
                    GvhdGrade::Iii,
                    GvhdGrade::Iv,
                ]);
                self.data.gvhd.push(Gvhd {
                    patient: ix,
                    onset_date: onset,
                    kind: GvhdKind::Acute,
                    grade,
                });
            }
        }
        if self.chance(p / 2.0) {
            let onset = from.plus_days(self.days(100, 300));
            if onset <= end {
                let grade = self.pick(&[GvhdGrade::Mild, GvhdGrade::Moderate, GvhdGrade::Severe]);
                self.data.gvhd.push(Gvhd {
                    patient: ix,
                    onset_date: onset,
                    kind: GvhdKind::Chronic,
                    grade,
                });
            }
        }
    }

    fn questionnaires(&mut self, ix: PatientIx, registration: Date, day1: Date, end: Date) {
        let level = self.uniform(1.5, 3.5);
        for (tp, date) in [
            (QlqTimepoint::Baseline, registration),
            (QlqTimepoint::D22, day1.plus_days(21 + self.days(-2, 2))),
            (QlqTimepoint::W9, day1.plus_days(56 + self.days(-4, 4))),
        ] {
            if date > end || self.chance(0.12) {
                continue;
            }
            let mut items = [None; QLQ_ITEMS];
            for (k, item) in items.iter_mut().enumerate() {
                if self.chance(self.c.qlq_missing_item_rate) {
                    continue;
                }
                let max = if k >= 28 { 7.0 } else { 4.0 };
                let centre = if k >= 28 { 8.0 - 2.0 * level } else { level };
                let v = (centre + self.uniform(-1.2, 1.2)).round().clamp(1.0, max);
                *item = NonZeroU8::new(v as u8);
            }
            self.data.qlq_c30.push(QlqC30 {
                patient: ix,
                date,
                timepoint: tp,
                items,
            });
        }
    }

    /// Hospital stays: some same-day, some still open at the last contact
    /// (counted to the cut-off by E17), none past a death.
    fn stays(&mut self, ix: PatientIx, registration: Date, end: Date, death: Option<Date>) {
        let mut at = registration.plus_days(self.days(0, 10));
        for _ in 0..self.rng.random_range(0..4) {
            if at > end {
                break;
            }
            let length = if self.chance(0.1) {
                0
            } else {
                self.days(1, 28)
            };
            let discharge = at.plus_days(length);
            let discharge = match death {
                Some(d) if discharge >= d => Some(d),
                _ if discharge > end => None,
                _ => Some(discharge),
            };
            let record = HospitalStay {
                patient: ix,
                admission_date: at,
                discharge_date: discharge,
                reason: text(if self.chance(0.6) {
                    "treatment"
                } else {
                    "infection"
                }),
            };
            self.data.hospital_stays.push(record);
            match discharge {
                Some(d) => at = d.plus_days(self.days(5, 60)),
                None => return,
            }
        }
        // Some patients are in hospital at their last contact.
        if death.is_none() && at <= end && self.chance(0.08) {
            let admission = end.plus_days(-self.days(0, 10)).max(at);
            let record = HospitalStay {
                patient: ix,
                admission_date: admission,
                discharge_date: None,
                reason: text("infection"),
            };
            self.data.hospital_stays.push(record);
        }
    }
}

/// A synthetic trial of `config.patients` patients, sorted as the bundle
/// writer expects. The same configuration gives the same dataset, byte for
/// byte when written, so a seed can stand for a trial in tests and demos;
/// every record passes the error checks of PROTOCOL.md §8.
pub fn simulate(config: &SimulationConfig) -> Dataset {
    let dict = Dictionary::ctcae_v5();
    let find = |t: &str| dict.find(t).expect("the simulated terms are in CTCAE");
    let terms = COMMON_TERMS.iter().map(|t| find(t)).collect();
    let other_terms = dict
        .terms()
        .iter()
        .filter(|t| !t.needs_verbatim())
        .filter_map(|t| dict.find(&t.term))
        .collect();
    let protocol = Protocol::default();
    let n = config.patients;
    let mut data = Dataset::empty(protocol.clone(), config.cutoff);
    // Room for the expected rows, so the tables grow without copying.
    data.patients.reserve(n);
    data.status.reserve(n);
    data.assessments.reserve(n * 3);
    data.doses.reserve(n * 12);
    data.mrd.reserve(n * 3);
    data.adverse_events
        .reserve(n * (config.ae_per_patient.clamp(0.0, 100.0) as usize + 1));
    data.qlq_c30.reserve(n * 3);
    data.hospital_stays.reserve(n * 2);
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        c: config,
        schedule: protocol.schedule.clone(),
        terms,
        other_terms,
        fatal_infection: [find("Sepsis"), find("Lung infection")],
        fatal_toxicity: find("Multi-organ failure"),
        ages: (18..80)
            .map(|a: u8| a.to_string().parse().expect("an adult age"))
            .collect(),
        sites: (1..=5)
            .map(|s| format!("S{s}").parse().expect("an id"))
            .collect(),
        buf: String::with_capacity(16),
        data,
        ae_counter: 0,
    };
    for i in 0..n {
        sim.patient(i);
    }
    let mut data = sim.data;
    data.sort();
    data
}
