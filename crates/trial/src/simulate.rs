//! Synthetic trials: every record type of the bundle with a plausible course
//! per patient — screening, induction, responses and MRD, transplants and
//! GvHD, relapses and deaths, AEs from the CTCAE dictionary, questionnaires
//! with missing items, hospital stays, censoring at the cut-off — with the
//! rates a user sets. The same configuration gives the same dataset, so a
//! seed names a trial in tests, benchmarks and the demo.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ctcae::{Dictionary, TermId};
use crate::dataset::Dataset;
use crate::date::Date;
use crate::protocol::Protocol;
use crate::records::*;
use crate::values::{Amount, Count, Cycle, Fraction, Grade, Percent};
use crate::vocab::*;

/// Rates and sizes of a synthetic trial.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    /// Patients registered.
    pub patients: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Share of patients in cohort 1.
    pub cohort1_share: f64,
    /// Cohort 1: probability of CR/CRi by w9.
    pub cr_rate: f64,
    /// Cohort 2: probability of MolCR at d22.
    pub molcr_rate: f64,
    /// Probability of SCT among responders.
    pub sct_rate: f64,
    /// Probability of hematologic relapse among responders.
    pub relapse_rate: f64,
    /// Monthly hazard of death (cohort 1 carries 1.5 times it).
    pub monthly_death_hazard: f64,
    /// Mean adverse events per treated patient.
    pub ae_per_patient: f64,
    /// Probability that a questionnaire item is left unanswered.
    pub qlq_missing_item_rate: f64,
    /// First registration.
    pub start: Date,
    /// Registrations spread over this many days.
    pub accrual_days: i64,
    /// Data cut-off.
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

struct Sim<'a> {
    rng: ChaCha8Rng,
    c: &'a SimulationConfig,
    terms: Vec<TermId>,
    other_terms: Vec<TermId>,
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

    /// Exponential waiting time in days for a monthly hazard.
    fn exponential_days(&mut self, monthly_hazard: f64) -> i64 {
        let u: f64 = self.rng.random::<f64>().max(1e-12);
        (-u.ln() / monthly_hazard * 30.4375) as i64
    }

    /// Knuth's Poisson draw, fine for the small means used here.
    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.rng.random::<f64>();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }

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
            HemResponse::Cri => (
                self.uniform(0.2, 4.8),
                false,
                self.uniform(0.2, 0.99),
                self.uniform(20.0, 99.0),
            ),
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

    fn mrd(
        &mut self,
        patient: PatientIx,
        date: Date,
        tp: AssessmentTimepoint,
        good: bool,
    ) -> MrdResult {
        let (result, level, sensitivity) = if good {
            match self.rng.random_range(0..10) {
                0..=5 => (
                    MrdCall::Negative,
                    None,
                    if self.chance(0.9) { 1e-5 } else { 1e-3 },
                ),
                6..=7 => (MrdCall::PositiveNq, None, 1e-4),
                _ => (MrdCall::Positive, Some(5e-5), 1e-5),
            }
        } else {
            (
                MrdCall::Positive,
                Some(self.pick(&[1e-4, 3e-4, 2e-3, 5e-2])),
                1e-5,
            )
        };
        MrdResult {
            patient,
            date,
            timepoint: tp,
            sample: if self.chance(0.9) {
                Sample::Bm
            } else {
                Sample::Pb
            },
            result: Some(result),
            level: level.map(fraction),
            sensitivity: Some(fraction(sensitivity)),
            lab: Some(Lab::Central),
        }
    }

    fn patient(&mut self, i: usize) {
        let ix = PatientIx(i as u32);
        let c = self.c;
        let cohort = if self.chance(c.cohort1_share) {
            Cohort::RelapsedRefractory
        } else {
            Cohort::MrdPositive
        };
        let c1 = cohort == Cohort::RelapsedRefractory;
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
        let statuses: &[DiseaseStatus] = if c1 {
            &[
                DiseaseStatus::EarlyRelapse,
                DiseaseStatus::LateRelapse,
                DiseaseStatus::PrimaryRefractory,
                DiseaseStatus::RefractoryRelapse,
                DiseaseStatus::SecondOrLaterRelapse,
            ]
        } else {
            &[
                DiseaseStatus::MolecularFailure,
                DiseaseStatus::MolecularRelapse,
            ]
        };
        let mut disease_status = self.pick(statuses);
        if prior_sct.is_some() && c1 && self.chance(0.5) {
            disease_status = DiseaseStatus::RelapseAfterSct;
        }
        let record = Patient {
            id: format!("P{:06}", i + 1).parse().expect("an id"),
            site: format!("S{}", 1 + self.rng.random_range(0..5))
                .parse()
                .expect("an id"),
            cohort,
            registration_date: registration,
            age: self.days(18, 79).to_string().parse().expect("an adult age"),
            sex: if self.chance(0.6) { Sex::M } else { Sex::F },
            cd38_positive: true,
            immunophenotype: self.pick(Immunophenotype::ALL),
            disease_status,
            prior_cycles: Count(self.days(3, 6) as u32),
            first_cr_date: None,
            prior_sct_date: prior_sct,
            last_chemo_date: Some(registration.plus_days(-self.days(15, 60))),
            screening_bm_blasts_pct: Some(percent(screening)),
            screening_mrd_level: (!c1).then(|| fraction(self.pick(&[1e-4, 3e-4, 2e-3, 1e-2]))),
            screening_mrd_sensitivity: (!c1).then(|| fraction(1e-5)),
        };
        self.data.patients.push(record);

        // Death and the end of follow-up.
        let hazard = c.monthly_death_hazard * if c1 { 1.5 } else { 1.0 };
        let death = registration.plus_days(1 + self.exponential_days(hazard));
        let death = (death <= c.cutoff).then_some(death);
        let lost = self
            .chance(0.05)
            .then(|| registration.plus_days(self.days(30, 400)));
        let end = [death, lost, Some(c.cutoff)]
            .into_iter()
            .flatten()
            .min()
            .expect("the cut-off");
        let alive_on = |d: Date| d <= end;

        let treated = self.chance(0.97) && alive_on(registration.plus_days(7));
        let day1 = registration.plus_days(self.days(1, 6));
        let responder = if c1 { self.chance(c.cr_rate) } else { true };
        let molecular = if c1 {
            responder && self.chance(0.6)
        } else {
            self.chance(c.molcr_rate)
        };

        // Screening assessment.
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
            investigator_response: Some(HemResponse::Ne),
            ..a
        });

        let mut relapse: Option<Date> = None;
        let mut sct: Option<Date> = None;
        let mut last_dose: Option<Date> = None;
        if treated {
            // Responses at d22, w9 (and m3, m6 for responders).
            let early = self.chance(0.6);
            let plan = [
                (AssessmentTimepoint::D22, 21, 2),
                (AssessmentTimepoint::W9, 56, 4),
                (AssessmentTimepoint::M3, 91, 7),
                (AssessmentTimepoint::M6, 183, 7),
            ];
            if responder && self.chance(c.relapse_rate) {
                relapse = Some(day1.plus_days(self.days(70, 520))).filter(|&d| alive_on(d));
            }
            if responder && self.chance(c.sct_rate) {
                sct = Some(day1.plus_days(self.days(60, 130)))
                    .filter(|&d| alive_on(d) && relapse.is_none_or(|r| d < r));
            }
            for (k, (tp, day, jitter)) in plan.into_iter().enumerate() {
                let date = day1.plus_days(day + self.days(-jitter, jitter));
                if !alive_on(date) || (k >= 2 && !responder) || relapse.is_some_and(|r| date > r) {
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
                if responder {
                    let good = molecular && (k > 0 || !c1 || self.chance(0.6));
                    let m = self.mrd(ix, date, tp, good);
                    self.data.mrd.push(m);
                }
            }
            // Doses: induction, then maintenance until day 184.
            let schedule = self.data.protocol.schedule.clone();
            let inductions = if c1 {
                schedule.induction_cycles_cohort1
            } else if self.chance(0.5) {
                2
            } else {
                1
            };
            let mut cycles: Vec<(Cycle, i64, Vec<u16>)> = (0..inductions)
                .map(|n| {
                    (
                        Cycle::Induction(n + 1),
                        i64::from(n) * schedule.induction_cycle_days,
                        schedule.induction_days.clone(),
                    )
                })
                .collect();
            let maintenance_from = i64::from(inductions) * schedule.induction_cycle_days;
            if responder {
                let mut start = maintenance_from;
                let mut n = 1;
                while start < schedule.last_treatment_day {
                    cycles.push((
                        Cycle::Maintenance(n),
                        start,
                        schedule.maintenance_days.clone(),
                    ));
                    start += schedule.maintenance_cycle_days;
                    n += 1;
                }
            }
            let stop = [relapse, sct, death, lost].into_iter().flatten().min();
            'doses: for (cycle, offset, days) in cycles {
                if c1 && !responder && matches!(cycle, Cycle::Induction(2)) && self.chance(0.4) {
                    break;
                }
                for d in days {
                    let planned = day1.plus_days(offset + i64::from(d) - 1);
                    if !alive_on(planned) || stop.is_some_and(|s| planned >= s) {
                        break 'doses;
                    }
                    let (status, given, date, reason) = match self.rng.random_range(0..100) {
                        0..=4 => (DoseStatus::Omitted, 0.0, planned, Some("toxicity")),
                        5..=9 => (
                            DoseStatus::Delayed,
                            schedule.dose_mg_per_kg,
                            planned.plus_days(2),
                            Some("toxicity"),
                        ),
                        10..=13 => (
                            DoseStatus::Reduced,
                            schedule.dose_mg_per_kg / 2.0,
                            planned,
                            Some("toxicity"),
                        ),
                        _ => (DoseStatus::Given, schedule.dose_mg_per_kg, planned, None),
                    };
                    if !alive_on(date) {
                        break 'doses;
                    }
                    if given > 0.0 {
                        last_dose = Some(date);
                    }
                    let record = Dose {
                        patient: ix,
                        cycle,
                        day: d,
                        date,
                        planned_mg_per_kg: amount(schedule.dose_mg_per_kg),
                        given_mg_per_kg: amount(given),
                        status,
                        reason: reason.map(Into::into),
                    };
                    self.data.doses.push(record);
                }
            }
            if last_dose.is_none() {
                // Every dose omitted is not a treated patient; give day 1.
                self.data.doses.retain(|d| d.patient != ix);
                let record = Dose {
                    patient: ix,
                    cycle: Cycle::Induction(1),
                    day: 1,
                    date: day1,
                    planned_mg_per_kg: amount(schedule.dose_mg_per_kg),
                    given_mg_per_kg: amount(schedule.dose_mg_per_kg),
                    status: DoseStatus::Given,
                    reason: None,
                };
                self.data.doses.push(record);
                last_dose = Some(day1);
            }
            self.adverse_events(ix, day1, end);
            if let Some(s) = sct {
                let record = Sct {
                    patient: ix,
                    date: s,
                    sct_type: SctType::Allogeneic,
                    donor: Some(self.pick(&[
                        Donor::MatchedRelated,
                        Donor::MatchedUnrelated,
                        Donor::MismatchedUnrelated,
                        Donor::Haploidentical,
                    ])),
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
        if let Some(r) = relapse {
            let mut sites = vec![RelapseSite::BoneMarrow];
            if self.chance(0.15) {
                sites.push(self.pick(&[
                    RelapseSite::Cns,
                    RelapseSite::Testis,
                    RelapseSite::Mediastinum,
                    RelapseSite::Skin,
                    RelapseSite::Other,
                ]));
            }
            if self.chance(0.05) {
                sites = vec![RelapseSite::Cns];
            }
            sites.sort();
            if molecular && self.chance(0.5) {
                let m = r.plus_days(-self.days(20, 60));
                if m > day1 {
                    self.data.relapses.push(Relapse {
                        patient: ix,
                        date: m,
                        kind: RelapseKind::Molecular,
                        sites: vec![],
                    });
                }
            }
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
            } else {
                self.pick(&[
                    DeathCause::Infection,
                    DeathCause::Gvhd,
                    DeathCause::TreatmentRelated,
                    DeathCause::Other,
                ])
            }
        });
        if let (Some(d), Some(DeathCause::Infection | DeathCause::TreatmentRelated)) =
            (death, cause)
            && treated
            && d >= day1
        {
            // The fatal AE ends on the death date (PROTOCOL.md §7).
            self.ae_counter += 1;
            let sepsis = Dictionary::ctcae_v5().find("Sepsis").expect("in CTCAE");
            let record = AdverseEvent {
                patient: ix,
                ae_id: format!("AE{:08}", self.ae_counter).parse().expect("an id"),
                term: sepsis,
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
            end_of_treatment_reason: eot.map(|_| {
                if relapse.is_some() {
                    "progression"
                } else if sct.is_some() {
                    "sct"
                } else if death.is_some() {
                    "death"
                } else if responder {
                    "completed"
                } else {
                    "no response"
                }
                .into()
            }),
            other_therapy_date: other_therapy,
        };
        self.data.status.push(record);
    }

    fn adverse_events(&mut self, ix: PatientIx, day1: Date, end: Date) {
        let n = self.poisson(self.c.ae_per_patient);
        for _ in 0..n {
            let onset = day1.plus_days(self.days(0, 160));
            if onset > end {
                continue;
            }
            let pool = if self.chance(0.85) {
                &self.terms
            } else {
                &self.other_terms
            };
            let term = pool[self.rng.random_range(0..pool.len())];
            let grade = match self.rng.random_range(0..100) {
                0..=34 => 1,
                35..=64 => 2,
                65..=89 => 3,
                _ => 4,
            };
            let end_date = Some(onset.plus_days(self.days(0, 20))).filter(|&e| e <= end);
            self.ae_counter += 1;
            let serious = grade >= 3 && self.chance(0.5);
            let record = AdverseEvent {
                patient: ix,
                ae_id: format!("AE{:08}", self.ae_counter).parse().expect("an id"),
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
                action: Some(if grade >= 3 && self.chance(0.3) {
                    AeAction::Delayed
                } else {
                    AeAction::None
                }),
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
            (QlqTimepoint::D22, day1.plus_days(21)),
            (QlqTimepoint::W9, day1.plus_days(56)),
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
                *item = Some(v as u8);
            }
            self.data.qlq_c30.push(QlqC30 {
                patient: ix,
                date,
                timepoint: tp,
                items,
            });
        }
    }

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
                Some(d) if discharge > d => Some(d),
                _ if discharge > end => None,
                _ => Some(discharge),
            };
            let record = HospitalStay {
                patient: ix,
                admission_date: at,
                discharge_date: discharge,
                reason: Some(
                    if self.chance(0.6) {
                        "treatment"
                    } else {
                        "infection"
                    }
                    .into(),
                ),
            };
            self.data.hospital_stays.push(record);
            match discharge {
                Some(d) => at = d.plus_days(self.days(5, 60)),
                None => return,
            }
        }
        // Some patients are in hospital on the cut-off date.
        if death.is_none() && end == self.c.cutoff && at <= end && self.chance(0.08) {
            let admission = end.plus_days(-self.days(0, 10)).max(at);
            let record = HospitalStay {
                patient: ix,
                admission_date: admission,
                discharge_date: None,
                reason: Some("infection".into()),
            };
            self.data.hospital_stays.push(record);
        }
    }
}

/// A synthetic trial; the same configuration gives the same dataset.
pub fn simulate(config: &SimulationConfig) -> Dataset {
    let dict = Dictionary::ctcae_v5();
    let terms = COMMON_TERMS
        .iter()
        .map(|t| dict.find(t).expect("common terms are in CTCAE"))
        .collect();
    let other_terms = dict
        .terms()
        .iter()
        .filter(|t| !t.needs_verbatim())
        .filter_map(|t| dict.find(&t.term))
        .collect();
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        c: config,
        terms,
        other_terms,
        data: Dataset::empty(Protocol::default(), config.cutoff),
        ae_counter: 0,
    };
    for i in 0..config.patients {
        sim.patient(i);
    }
    let mut data = sim.data;
    data.sort();
    data
}
