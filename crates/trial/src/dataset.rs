//! A whole trial's recorded facts at one data cut-off: what the endpoint
//! engine reads, whether it came from a CSV bundle or from the database.

use crate::date::Date;
use crate::protocol::Protocol;
use crate::records::*;

/// Every record of the trial, each table sorted by patient and then date so
/// that one patient's records are one contiguous slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The protocol the analysis follows.
    pub protocol: Protocol,
    /// Data cut-off: later data are kept but not analysed.
    pub cutoff: Date,
    /// Registered patients.
    pub patients: Vec<Patient>,
    /// Follow-up status, at most one per patient.
    pub status: Vec<Status>,
    /// Isatuximab infusions.
    pub doses: Vec<Dose>,
    /// Hematologic assessments.
    pub assessments: Vec<Assessment>,
    /// MRD results.
    pub mrd: Vec<MrdResult>,
    /// Adverse events.
    pub adverse_events: Vec<AdverseEvent>,
    /// Transplants after registration.
    pub sct: Vec<Sct>,
    /// GvHD episodes.
    pub gvhd: Vec<Gvhd>,
    /// Relapses.
    pub relapses: Vec<Relapse>,
    /// QLQ-C30 questionnaires.
    pub qlq_c30: Vec<QlqC30>,
    /// Hospital stays.
    pub hospital_stays: Vec<HospitalStay>,
}

/// A record that belongs to a patient and happens on a date: what the
/// per-patient index needs.
pub trait PatientRecord {
    /// Whose record.
    fn patient(&self) -> PatientIx;
    /// The date that orders a patient's records.
    fn date(&self) -> Date;
    /// Moves the record to the patient at another index (when patients
    /// are left out of a dataset).
    fn set_patient(&mut self, patient: PatientIx);
}

macro_rules! patient_record {
    ($($ty:ty => $date:ident),+ $(,)?) => {$(
        impl PatientRecord for $ty {
            fn patient(&self) -> PatientIx {
                self.patient
            }
            fn date(&self) -> Date {
                self.$date
            }
            fn set_patient(&mut self, patient: PatientIx) {
                self.patient = patient;
            }
        }
    )+};
}

patient_record! {
    Status => last_contact_date,
    Dose => date,
    Assessment => date,
    MrdResult => date,
    AdverseEvent => onset_date,
    Sct => date,
    Gvhd => onset_date,
    Relapse => date,
    QlqC30 => date,
    HospitalStay => admission_date,
}

/// Sorts a table by patient, then date, keeping file order among equals.
pub fn sort_by_patient<T: PatientRecord>(rows: &mut [T]) {
    rows.sort_by_key(|r| (r.patient(), r.date()));
}

/// Where each patient's records lie in a sorted table.
/// Where each patient's rows start in a table sorted by patient: patient
/// `p` has rows `starts[p]..starts[p + 1]`. One `u32` a patient per table
/// rather than a range of two.
fn starts<T: PatientRecord>(rows: &[T], patients: usize) -> Vec<u32> {
    debug_assert!(rows.windows(2).all(|w| w[0].patient() <= w[1].patient()));
    let mut out = vec![0u32; patients + 1];
    for row in rows {
        out[row.patient().get() + 1] += 1;
    }
    for p in 0..patients {
        out[p + 1] += out[p];
    }
    out
}

/// One patient's records across all tables, borrowed from the dataset.
#[derive(Debug, Clone, Copy)]
pub struct Casebook<'a> {
    /// Position in the dataset.
    pub ix: PatientIx,
    /// Registration record.
    pub patient: &'a Patient,
    /// Follow-up status, if recorded.
    pub status: Option<&'a Status>,
    /// Infusions by date.
    pub doses: &'a [Dose],
    /// Assessments by date.
    pub assessments: &'a [Assessment],
    /// MRD results by date.
    pub mrd: &'a [MrdResult],
    /// Adverse events by onset.
    pub adverse_events: &'a [AdverseEvent],
    /// Transplants by date.
    pub sct: &'a [Sct],
    /// GvHD by onset.
    pub gvhd: &'a [Gvhd],
    /// Relapses by date.
    pub relapses: &'a [Relapse],
    /// Questionnaires by date.
    pub qlq_c30: &'a [QlqC30],
    /// Hospital stays by admission.
    pub hospital_stays: &'a [HospitalStay],
}

/// The per-patient index of a dataset: built once, O(records).
#[derive(Debug)]
pub struct Casebooks<'a> {
    data: &'a Dataset,
    status: Vec<u32>,
    doses: Vec<u32>,
    assessments: Vec<u32>,
    mrd: Vec<u32>,
    adverse_events: Vec<u32>,
    sct: Vec<u32>,
    gvhd: Vec<u32>,
    relapses: Vec<u32>,
    qlq_c30: Vec<u32>,
    hospital_stays: Vec<u32>,
}

fn slice<'a, T>(rows: &'a [T], starts: &[u32], p: usize) -> &'a [T] {
    &rows[starts[p] as usize..starts[p + 1] as usize]
}

impl<'a> Casebooks<'a> {
    /// Indexes a dataset whose tables are sorted by patient.
    pub fn new(data: &'a Dataset) -> Self {
        let n = data.patients.len();
        Casebooks {
            data,
            status: starts(&data.status, n),
            doses: starts(&data.doses, n),
            assessments: starts(&data.assessments, n),
            mrd: starts(&data.mrd, n),
            adverse_events: starts(&data.adverse_events, n),
            sct: starts(&data.sct, n),
            gvhd: starts(&data.gvhd, n),
            relapses: starts(&data.relapses, n),
            qlq_c30: starts(&data.qlq_c30, n),
            hospital_stays: starts(&data.hospital_stays, n),
        }
    }

    /// The casebook of one patient.
    pub fn get(&self, ix: PatientIx) -> Casebook<'a> {
        let i = ix.get();
        let d = self.data;
        Casebook {
            ix,
            patient: &d.patients[i],
            status: slice(&d.status, &self.status, i).first(),
            doses: slice(&d.doses, &self.doses, i),
            assessments: slice(&d.assessments, &self.assessments, i),
            mrd: slice(&d.mrd, &self.mrd, i),
            adverse_events: slice(&d.adverse_events, &self.adverse_events, i),
            sct: slice(&d.sct, &self.sct, i),
            gvhd: slice(&d.gvhd, &self.gvhd, i),
            relapses: slice(&d.relapses, &self.relapses, i),
            qlq_c30: slice(&d.qlq_c30, &self.qlq_c30, i),
            hospital_stays: slice(&d.hospital_stays, &self.hospital_stays, i),
        }
    }

    /// Every casebook in patient order.
    pub fn iter(&self) -> impl Iterator<Item = Casebook<'a>> + '_ {
        (0..self.data.patients.len()).map(|i| self.get(PatientIx(i as u32)))
    }
}

impl Dataset {
    /// An empty dataset under a protocol, for building trials in code.
    pub fn empty(protocol: Protocol, cutoff: Date) -> Self {
        Dataset {
            protocol,
            cutoff,
            patients: Vec::new(),
            status: Vec::new(),
            doses: Vec::new(),
            assessments: Vec::new(),
            mrd: Vec::new(),
            adverse_events: Vec::new(),
            sct: Vec::new(),
            gvhd: Vec::new(),
            relapses: Vec::new(),
            qlq_c30: Vec::new(),
            hospital_stays: Vec::new(),
        }
    }

    /// Puts every table in patient-then-date order (stable), as the index
    /// and the bundle writer expect.
    pub fn sort(&mut self) {
        sort_by_patient(&mut self.status);
        sort_by_patient(&mut self.doses);
        sort_by_patient(&mut self.assessments);
        sort_by_patient(&mut self.mrd);
        sort_by_patient(&mut self.adverse_events);
        sort_by_patient(&mut self.sct);
        sort_by_patient(&mut self.gvhd);
        sort_by_patient(&mut self.relapses);
        sort_by_patient(&mut self.qlq_c30);
        sort_by_patient(&mut self.hospital_stays);
    }

    /// The dataset as the analysis at its cut-off sees it: a patient
    /// registered after the cut-off, with their records, is not in it
    /// (PROTOCOL.md §8: data dated after the cut-off are kept, not
    /// analysed). `None` when every patient was registered by then, which
    /// is the rule, so that no copy is made.
    pub fn registered_by_cutoff(&self) -> Option<Dataset> {
        if self
            .patients
            .iter()
            .all(|p| p.registration_date <= self.cutoff)
        {
            return None;
        }
        let mut moved = vec![None; self.patients.len()];
        let mut patients = Vec::new();
        for (i, p) in self.patients.iter().enumerate() {
            if p.registration_date <= self.cutoff {
                moved[i] = Some(PatientIx(patients.len() as u32));
                patients.push(p.clone());
            }
        }
        fn kept<T: PatientRecord + Clone>(rows: &[T], moved: &[Option<PatientIx>]) -> Vec<T> {
            rows.iter()
                .filter_map(|r| {
                    moved[r.patient().get()].map(|p| {
                        let mut r = r.clone();
                        r.set_patient(p);
                        r
                    })
                })
                .collect()
        }
        Some(Dataset {
            protocol: self.protocol.clone(),
            cutoff: self.cutoff,
            patients,
            status: kept(&self.status, &moved),
            doses: kept(&self.doses, &moved),
            assessments: kept(&self.assessments, &moved),
            mrd: kept(&self.mrd, &moved),
            adverse_events: kept(&self.adverse_events, &moved),
            sct: kept(&self.sct, &moved),
            gvhd: kept(&self.gvhd, &moved),
            relapses: kept(&self.relapses, &moved),
            qlq_c30: kept(&self.qlq_c30, &moved),
            hospital_stays: kept(&self.hospital_stays, &moved),
        })
    }

    /// The per-patient index.
    pub fn casebooks(&self) -> Casebooks<'_> {
        Casebooks::new(self)
    }
}
