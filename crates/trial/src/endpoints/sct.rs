//! E15: stem cell transplantation by best-response group, and outcome after
//! it (overall survival, relapse and non-relapse mortality from the SCT).

use std::collections::BTreeMap;

use super::response::{best_molecular, best_response};
use super::survival::competing;
use super::{COHORTS, Context, Head, Observation, Summary, n_of, num};
use crate::derive::MolecularResponse;
use crate::records::PatientIx;
use crate::results::{AnalysisSet, Endpoint};

/// Membership of a best-response group.
type InGroup = fn(&crate::derive::Course) -> bool;

pub(crate) fn e15(ctx: &mut Context<'_>) {
    let landmark = ctx.protocol.landmark_days();
    for cohort in COHORTS {
        let fas = ctx.fas(cohort);
        let n = cohort.number();
        let groups: [(&'static str, &str, InGroup); 3] = [
            ("sct_after_cr_cri", "CR/CRi", |c| {
                best_response(c).is_remission()
                    || (c.cohort.number() == 2 && c.first_remission.is_some())
            }),
            ("sct_after_molcr", "MolCR", |c| best_molecular(c).is_molcr()),
            ("sct_after_cmolcr", "cMolCR", |c| {
                best_molecular(c) == MolecularResponse::CMolCr
            }),
        ];
        let mut rows = Vec::new();
        for (name, label, in_group) in groups {
            let members: Vec<PatientIx> = fas
                .iter()
                .copied()
                .filter(|&p| in_group(ctx.course(p)))
                .collect();
            let transplanted: Vec<PatientIx> = members
                .iter()
                .copied()
                .filter(|&p| ctx.course(p).sct.is_some())
                .collect();
            let waits: Vec<f64> = transplanted
                .iter()
                .filter_map(|&p| {
                    let c = ctx.course(p);
                    let response = if label == "CR/CRi" {
                        c.first_remission
                    } else {
                        c.bm_mrd().find(|m| m.response.is_molcr()).map(|m| m.date)
                    }?;
                    Some(c.sct?.days_since(response) as f64)
                })
                .collect();
            let w = Summary::of(&waits);
            rows.push(vec![
                label.to_owned(),
                n_of(transplanted.len(), members.len()),
                num(w.median, 0),
                format!("{}–{}", num(w.min, 0), num(w.max, 0)),
            ]);
            let total = members.len();
            ctx.proportion(
                Head::new(Endpoint::E15, cohort, name, AnalysisSet::FasSubset),
                transplanted,
                total,
            );
        }
        ctx.table(
            Endpoint::E15,
            format!("e15_sct_by_response_cohort{n}"),
            format!("E15 SCT by best response, cohort {n}"),
            &[
                "best response",
                "to SCT n/N (%)",
                "median days response → SCT",
                "range",
            ],
            rows,
        );
        let transplanted: Vec<PatientIx> = fas
            .iter()
            .copied()
            .filter(|&p| ctx.course(p).sct.is_some())
            .collect();
        let mut characteristics: BTreeMap<(String, String), usize> = BTreeMap::new();
        for &p in &transplanted {
            let c = ctx.course(p);
            if let Some(s) = ctx.books.get(p).sct.iter().find(|s| Some(s.date) == c.sct) {
                let opt = |v: Option<String>| v.unwrap_or_else(|| "not recorded".into());
                for (k, v) in [
                    ("type", Some(s.sct_type.to_string())),
                    ("donor", s.donor.map(|d| d.to_string())),
                    ("conditioning", s.conditioning.map(|d| d.to_string())),
                    ("graft source", s.source.map(|d| d.to_string())),
                ] {
                    *characteristics.entry((k.to_owned(), opt(v))).or_default() += 1;
                }
            }
        }
        ctx.table(
            Endpoint::E15,
            format!("e15_sct_characteristics_cohort{n}"),
            format!("E15 transplant characteristics, cohort {n}"),
            &["characteristic", "value", "patients"],
            characteristics
                .into_iter()
                .map(|((k, v), c)| vec![k, v, n_of(c, transplanted.len())])
                .collect(),
        );
        // Outcome from the SCT date.
        let (mut os, mut cir, mut nrm) = (Vec::new(), Vec::new(), Vec::new());
        for &p in &transplanted {
            let c = ctx.course(p);
            let sct = c.sct.expect("transplanted");
            os.push(match c.death {
                Some(d) => Observation::new(p, sct, d, 1),
                None => Observation::new(p, sct, c.last_follow_up, 0),
            });
            let relapse = c.hematologic_relapse.filter(|&r| r >= sct);
            let o = competing(p, sct, relapse, c.death, c);
            cir.push(o);
            nrm.push(Observation {
                status: match o.status {
                    1 => 2,
                    2 => 1,
                    s => s,
                },
                ..o
            });
        }
        ctx.kaplan_meier(
            Head::new(
                Endpoint::E15,
                cohort,
                "os_after_sct",
                AnalysisSet::FasSubset,
            ),
            &os,
            &[landmark],
            true,
        );
        ctx.incidence(
            Head::new(
                Endpoint::E15,
                cohort,
                "cir_after_sct",
                AnalysisSet::FasSubset,
            ),
            &cir,
            &[landmark],
        );
        ctx.incidence(
            Head::new(
                Endpoint::E15,
                cohort,
                "nrm_after_sct",
                AnalysisSet::FasSubset,
            ),
            &nrm,
            &[landmark],
        );
    }
}
