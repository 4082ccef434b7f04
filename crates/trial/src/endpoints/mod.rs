//! The endpoint engine: E01–E17 of PROTOCOL.md §4, disposition, baseline
//! and follow-up, from a [`Dataset`] to [`Results`]. Each submodule owns the
//! endpoints of one clinical question; this module holds the shared
//! context and the helpers that turn counts and times into statistics.

mod disposition;
mod gvhd;
mod hospital;
mod qol;
mod response;
mod safety;
pub(crate) use safety::is_teae;
mod sct;
mod summary;
mod survival;
mod treatment;

pub use summary::Summary;

use stats::{CompetingStatus, CumulativeIncidence, KaplanMeier, Proportion};

use crate::Date;
use crate::dataset::{Casebooks, Dataset};
use crate::derive::Course;
use crate::protocol::Protocol;
use crate::records::PatientIx;
use crate::results::{
    AnalysisSet, Curve, Endpoint, Parameter, PatientSet, Results, Statistic, Table, TimeToEvent,
    Value,
};
use crate::vocab::Cohort;

/// Computes every endpoint of the dataset, of the patients registered by
/// its cut-off.
pub fn compute(data: &Dataset) -> Results {
    let analysed = data.registered_by_cutoff();
    let mut ctx = Context::new(analysed.as_ref().unwrap_or(data));
    response::e01_e03_e04(&mut ctx);
    safety::e02(&mut ctx);
    survival::e05_to_e09(&mut ctx);
    gvhd::e10(&mut ctx);
    survival::e11_e13_e14(&mut ctx);
    treatment::e12(&mut ctx);
    sct::e15(&mut ctx);
    qol::e16(&mut ctx);
    hospital::e17(&mut ctx);
    disposition::disposition(&mut ctx);
    ctx.out
}

/// What every endpoint reads, and where it writes.
pub(crate) struct Context<'a> {
    pub data: &'a Dataset,
    pub protocol: &'a Protocol,
    pub books: Casebooks<'a>,
    /// Each patient's derived course, by patient index.
    pub courses: Vec<Course>,
    pub out: Results,
}

/// A time-to-event observation: days from origin and the outcome code
/// (0 censored, 1 event, 2 competing event), with the dates they come
/// from, which the analysis datasets keep (ADTTE's STARTDT and ADT).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Observation {
    pub patient: PatientIx,
    pub time: f64,
    pub status: u8,
    /// The endpoint's time zero.
    pub origin: Date,
    /// The date of the event, competing event or censoring. Before
    /// `origin` (a relapse recorded before a landmark, say), the time is 0.
    pub date: Date,
}

impl Observation {
    /// The observation of `patient` on `date`, counted from `origin`.
    pub(crate) fn new(patient: PatientIx, origin: Date, date: Date, status: u8) -> Observation {
        Observation {
            patient,
            time: date.days_since(origin).max(0) as f64,
            status,
            origin,
            date,
        }
    }
}

impl<'a> Context<'a> {
    fn new(data: &'a Dataset) -> Self {
        let books = data.casebooks();
        let courses = books
            .iter()
            .map(|c| Course::derive(&c, &data.protocol, data.cutoff))
            .collect();
        Context {
            data,
            protocol: &data.protocol,
            books,
            courses,
            out: Results {
                cutoff: data.cutoff,
                protocol_name: data.protocol.name.clone(),
                protocol_version: data.protocol.version.clone(),
                statistics: Vec::new(),
                tables: Vec::new(),
                curves: Vec::new(),
                swimmers: Vec::new(),
                time_to_event: Vec::new(),
                parameters: Vec::new(),
                patient_ids: data.patients.iter().map(|p| p.id.clone()).collect(),
            },
        }
    }

    /// The FAS of a cohort: registered and dosed at least once.
    pub fn fas(&self, cohort: Cohort) -> Vec<PatientIx> {
        self.courses
            .iter()
            .enumerate()
            .filter(|(_, c)| c.cohort == cohort && c.treated)
            .map(|(i, _)| PatientIx(i as u32))
            .collect()
    }

    /// The registered patients of a cohort.
    pub fn registered(&self, cohort: Cohort) -> Vec<PatientIx> {
        self.courses
            .iter()
            .enumerate()
            .filter(|(_, c)| c.cohort == cohort)
            .map(|(i, _)| PatientIx(i as u32))
            .collect()
    }

    pub fn course(&self, p: PatientIx) -> &Course {
        &self.courses[p.get()]
    }

    /// Adds n/N with its Clopper–Pearson interval; `counted` are the
    /// patients in the numerator.
    pub fn proportion(&mut self, head: Head, counted: Vec<PatientIx>, total: usize) -> Value {
        let n = counted.len() as u64;
        let value = proportion_value(n, total as u64, self.protocol.analysis.conf_level);
        self.push(head, value.clone(), counted);
        value
    }

    /// Keeps the observations of a curve as analysis data (each endpoint,
    /// cohort and name is analysed once).
    fn keep_observations(&mut self, head: &Head, obs: &[Observation], survival: bool) {
        let key = Parameter {
            endpoint: head.endpoint,
            cohort: head.cohort.number(),
            name: head.name.to_owned(),
            survival,
        };
        let parameter = match self.out.parameters.iter().position(|p| *p == key) {
            Some(i) => i,
            None => {
                self.out.parameters.push(key);
                self.out.parameters.len() - 1
            }
        } as u16;
        // Exactly: the rows of every time-to-event endpoint are kept for
        // `adtte.csv`, ten million of them at a million patients, and growth
        // by doubling would leave up to as many unused.
        self.out.time_to_event.reserve_exact(obs.len());
        self.out
            .time_to_event
            .extend(obs.iter().map(|o| TimeToEvent {
                parameter,
                status: o.status,
                patient: o.patient,
                time: o.time,
                origin: o.origin,
                date: o.date,
            }));
    }

    pub fn push(&mut self, head: Head, value: Value, patients: impl Into<PatientSet>) {
        self.out.statistics.push(Statistic {
            endpoint: head.endpoint,
            cohort: head.cohort.number(),
            name: head.name.to_owned(),
            value,
            window: head.window,
            timepoint: head.timepoint,
            p_value: head.p_value,
            analysis_set: head.set,
            patients: patients.into(),
        });
    }

    /// Kaplan–Meier of `obs` (status 1 = event): the estimate at each of
    /// `times`, the median with its interval, and the curve for a plot.
    pub fn kaplan_meier(
        &mut self,
        head: Head,
        obs: &[Observation],
        times: &[f64],
        median: bool,
    ) -> Option<KaplanMeier> {
        let patients: PatientSet = obs.iter().map(|o| o.patient).collect();
        self.keep_observations(&head, obs, true);
        if obs.is_empty() {
            for &t in times {
                self.push(head.clone(), km_at_empty(t), Vec::new());
            }
            if median {
                let nan = f64::NAN;
                self.push(
                    head,
                    Value::Median {
                        estimate: nan,
                        lower: nan,
                        upper: nan,
                    },
                    Vec::new(),
                );
            }
            return None;
        }
        let time: Vec<f64> = obs.iter().map(|o| o.time).collect();
        let event: Vec<bool> = obs.iter().map(|o| o.status == 1).collect();
        let tally = stats::tally::Tally::<2>::build(
            &time,
            &event,
            |e| Some(e as usize),
            "0, 1",
            |e| e as u8,
        )
        .expect("derived times are finite and non-negative");
        let fit = KaplanMeier::from_tally(
            &tally,
            1,
            self.protocol.conf_type(),
            self.protocol.analysis.conf_level,
        )
        .expect("a trial's patients are far fewer than a 32-bit count holds");
        for at in fit.at(times) {
            // The step function's value at t (PROTOCOL.md §5), carried past
            // the last observation as a report reads it; R's `summary`
            // would drop such a time.
            let last = *fit.time.last().expect("a fit has rows");
            let step = if at.within_follow_up {
                at
            } else {
                fit.at(&[last])[0]
            };
            let value = Value::KmAt {
                time: at.time,
                estimate: step.surv,
                lower: step.lower,
                upper: step.upper,
                at_risk: at.n_risk,
                events: at.events,
                total: fit.n,
            };
            self.push(head.clone(), value, patients.clone());
        }
        if median {
            let m = fit.median();
            self.push(
                head.clone(),
                Value::Median {
                    estimate: m.estimate,
                    lower: m.lower,
                    upper: m.upper,
                },
                patients,
            );
        }
        let risk_times = risk_times(&time);
        self.out.curves.push(Curve {
            endpoint: head.endpoint,
            cohort: head.cohort.number(),
            name: head.name.to_owned(),
            survival: true,
            time: fit.time.clone(),
            estimate: fit.surv.clone(),
            lower: fit.lower.clone(),
            upper: fit.upper.clone(),
            censored: fit
                .time
                .iter()
                .zip(&fit.n_censor)
                .filter(|(_, c)| **c > 0)
                .map(|(t, _)| *t)
                .collect(),
            at_risk: fit.number_at_risk(&risk_times),
            risk_times,
        });
        Some(fit)
    }

    /// Cumulative incidence of status 1 with status 2 competing, at `times`.
    pub fn incidence(
        &mut self,
        head: Head,
        obs: &[Observation],
        times: &[f64],
    ) -> Option<CumulativeIncidence> {
        let patients: PatientSet = obs.iter().map(|o| o.patient).collect();
        self.keep_observations(&head, obs, false);
        if obs.is_empty() {
            for &t in times {
                let nan = f64::NAN;
                let value = Value::CifAt {
                    time: t,
                    estimate: nan,
                    lower: nan,
                    upper: nan,
                    total: 0,
                };
                self.push(head.clone(), value, Vec::new());
            }
            return None;
        }
        let time: Vec<f64> = obs.iter().map(|o| o.time).collect();
        let status: Vec<CompetingStatus> = obs
            .iter()
            .map(|o| CompetingStatus::from_code(o.status).expect("codes 0–2"))
            .collect();
        let tally = stats::tally::Tally::<3>::build(
            &time,
            &status,
            |s| Some(s.code() as usize),
            "0, 1, 2",
            |s| s.code(),
        )
        .expect("derived times are valid");
        let fit = CumulativeIncidence::from_tally(&tally, self.protocol.analysis.conf_level);
        let carried: Vec<f64> = times.iter().map(|&t| t.min(fit.max_time)).collect();
        for (at, &t) in fit.at(&carried).into_iter().zip(times) {
            let value = Value::CifAt {
                time: t,
                estimate: at.estimate,
                lower: at.lower,
                upper: at.upper,
                total: fit.n,
            };
            self.push(head.clone(), value, patients.clone());
        }
        let risk_times = risk_times(&time);
        let at_risk = risk_times
            .iter()
            .map(|&t| time.iter().filter(|&&x| x >= t).count() as u64)
            .collect();
        self.out.curves.push(Curve {
            endpoint: head.endpoint,
            cohort: head.cohort.number(),
            name: head.name.to_owned(),
            survival: false,
            time: fit.time.clone(),
            estimate: fit.estimate.clone(),
            lower: fit.lower.clone(),
            upper: fit.upper.clone(),
            censored: obs
                .iter()
                .filter(|o| o.status == 0)
                .map(|o| o.time)
                .collect(),
            at_risk,
            risk_times,
        });
        Some(fit)
    }

    pub fn table(
        &mut self,
        endpoint: Endpoint,
        id: String,
        title: String,
        columns: &[&str],
        rows: Vec<Vec<String>>,
    ) {
        self.out.tables.push(Table {
            endpoint,
            id,
            title,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows,
        });
    }
}

/// The identity of a statistic before its value is known.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub endpoint: Endpoint,
    pub cohort: Cohort,
    pub name: &'static str,
    pub set: AnalysisSet,
    pub window: Option<&'static str>,
    pub timepoint: Option<&'static str>,
    pub p_value: Option<f64>,
}

impl Head {
    pub fn new(endpoint: Endpoint, cohort: Cohort, name: &'static str, set: AnalysisSet) -> Head {
        Head {
            endpoint,
            cohort,
            name,
            set,
            window: None,
            timepoint: None,
            p_value: None,
        }
    }

    pub fn window(mut self, w: &'static str) -> Head {
        self.window = Some(w);
        self
    }

    pub fn timepoint(mut self, t: &'static str) -> Head {
        self.timepoint = Some(t);
        self
    }
}

/// n/N with the exact interval; 0/0 gives unknown estimate and bounds.
pub(crate) fn proportion_value(n: u64, total: u64, conf_level: f64) -> Value {
    match Proportion::new(n, total).and_then(|p| p.clopper_pearson(conf_level).map(|ci| (p, ci))) {
        Ok((p, ci)) => Value::Proportion {
            n,
            total,
            estimate: p.estimate(),
            lower: ci.lower,
            upper: ci.upper,
        },
        Err(_) => Value::Proportion {
            n,
            total,
            estimate: f64::NAN,
            lower: f64::NAN,
            upper: f64::NAN,
        },
    }
}

fn km_at_empty(t: f64) -> Value {
    let nan = f64::NAN;
    Value::KmAt {
        time: t,
        estimate: nan,
        lower: nan,
        upper: nan,
        at_risk: 0,
        events: 0,
        total: 0,
    }
}

/// Number-at-risk columns every 3 months up to the last observed time.
fn risk_times(time: &[f64]) -> Vec<f64> {
    let last = time.iter().copied().fold(0.0, f64::max);
    let step = 3.0 * 30.4375;
    (0..)
        .map(|k| k as f64 * step)
        .take_while(|&t| t <= last.max(0.0) + 1e-9)
        .collect()
}

/// The cumulative windows of E02 and E17 as (label, day number).
pub(crate) fn windows(p: &Protocol) -> [(&'static str, i64); 4] {
    let t = &p.timepoints;
    [
        ("d22", t.d22_day),
        ("w9", t.w9_day),
        ("m3", t.m3_day),
        ("m6", t.m6_day),
    ]
}

/// Both cohorts in protocol order.
pub(crate) const COHORTS: [Cohort; 2] = [Cohort::RelapsedRefractory, Cohort::MrdPositive];

/// A percentage with one decimal for tables.
pub(crate) fn pct(n: usize, total: usize) -> String {
    if total == 0 {
        "–".into()
    } else {
        format!("{:.1}", 100.0 * n as f64 / total as f64)
    }
}

/// "n/N (x %)" for tables.
pub(crate) fn n_of(n: usize, total: usize) -> String {
    format!("{n}/{total} ({} %)", pct(n, total))
}

/// A number for a table: up to `digits` decimals, "NA" when unknown.
pub(crate) fn num(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "NA".into()
    } else {
        format!("{v:.digits$}")
    }
}
