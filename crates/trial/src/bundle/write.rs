//! Writing a [`Dataset`] as a bundle folder that [`super::read_bundle`]
//! reads back to the same dataset.

use std::fmt::Display;
use std::io;
use std::path::Path;

use super::cells::FileSpec;
use super::spec::*;
use crate::ctcae::Dictionary;
use crate::dataset::Dataset;

fn opt<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, ToString::to_string)
}

fn flag(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn write_table<T>(
    dir: &Path,
    spec: &FileSpec,
    rows: &[T],
    mut cells: impl FnMut(&T) -> Vec<String>,
) -> io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join(spec.name))?;
    w.write_record(spec.columns.iter().map(|(c, _)| *c))?;
    for row in rows {
        w.write_record(cells(row))?;
    }
    w.flush()
}

/// Writes `bundle.toml` and every CSV file. The protocol is written beside
/// them as `protocol.toml` and named in the manifest, so the bundle carries
/// the parameters it was analysed with.
pub fn write_bundle(data: &Dataset, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let protocol = toml::to_string(&data.protocol).map_err(io::Error::other)?;
    std::fs::write(dir.join("protocol.toml"), protocol)?;
    std::fs::write(
        dir.join("bundle.toml"),
        format!(
            "format = 1\ncutoff = \"{}\"\nprotocol = \"protocol.toml\"\n",
            data.cutoff
        ),
    )?;
    let id = |p: crate::records::PatientIx| data.patients[p.get()].id.to_string();
    write_table(dir, &PATIENTS, &data.patients, |p| {
        vec![
            p.id.to_string(),
            p.site.to_string(),
            p.cohort.to_string(),
            p.registration_date.to_string(),
            p.age.to_string(),
            p.sex.to_string(),
            flag(p.cd38_positive).into(),
            p.immunophenotype.to_string(),
            p.disease_status.to_string(),
            p.prior_cycles.0.to_string(),
            opt(&p.first_cr_date),
            opt(&p.prior_sct_date),
            opt(&p.last_chemo_date),
            opt(&p.screening_bm_blasts_pct),
            opt(&p.screening_mrd_level),
            opt(&p.screening_mrd_sensitivity),
        ]
    })?;
    write_table(dir, &DOSES, &data.doses, |d| {
        vec![
            id(d.patient),
            d.cycle.to_string(),
            d.day.to_string(),
            d.date.to_string(),
            d.planned_mg_per_kg.to_string(),
            d.given_mg_per_kg.to_string(),
            d.status.to_string(),
            opt(&d.reason),
        ]
    })?;
    write_table(dir, &ASSESSMENTS, &data.assessments, |a| {
        vec![
            id(a.patient),
            a.date.to_string(),
            a.timepoint.to_string(),
            opt(&a.bm_blasts_pct),
            opt(&a.pb_blasts.map(flag)),
            opt(&a.anc),
            opt(&a.platelets),
            opt(&a.emd.map(flag)),
            opt(&a.investigator_response),
        ]
    })?;
    write_table(dir, &MRD, &data.mrd, |m| {
        vec![
            id(m.patient),
            m.date.to_string(),
            m.timepoint.to_string(),
            m.sample.to_string(),
            opt(&m.result),
            opt(&m.level),
            opt(&m.sensitivity),
            opt(&m.lab),
        ]
    })?;
    let dict = Dictionary::ctcae_v5();
    write_table(dir, &ADVERSE_EVENTS, &data.adverse_events, |e| {
        vec![
            id(e.patient),
            e.ae_id.to_string(),
            dict.term(e.term).term.clone(),
            opt(&e.verbatim),
            e.grade.to_string(),
            e.onset_date.to_string(),
            opt(&e.end_date),
            flag(e.serious).into(),
            e.relatedness.to_string(),
            opt(&e.outcome),
            opt(&e.action),
        ]
    })?;
    write_table(dir, &SCT, &data.sct, |s| {
        vec![
            id(s.patient),
            s.date.to_string(),
            s.sct_type.to_string(),
            opt(&s.donor),
            opt(&s.conditioning),
            opt(&s.source),
        ]
    })?;
    write_table(dir, &GVHD, &data.gvhd, |g| {
        vec![
            id(g.patient),
            g.onset_date.to_string(),
            g.kind.to_string(),
            g.grade.to_string(),
        ]
    })?;
    write_table(dir, &RELAPSES, &data.relapses, |r| {
        let sites: Vec<&str> = r.sites.iter().map(|s| s.as_str()).collect();
        vec![
            id(r.patient),
            r.date.to_string(),
            r.kind.to_string(),
            sites.join(";"),
        ]
    })?;
    write_table(dir, &QLQ_C30, &data.qlq_c30, |q| {
        let mut row = vec![id(q.patient), q.date.to_string(), q.timepoint.to_string()];
        row.extend(q.items.iter().map(opt));
        row
    })?;
    write_table(dir, &HOSPITAL_STAYS, &data.hospital_stays, |h| {
        vec![
            id(h.patient),
            h.admission_date.to_string(),
            opt(&h.discharge_date),
            opt(&h.reason),
        ]
    })?;
    write_table(dir, &STATUS, &data.status, |s| {
        vec![
            id(s.patient),
            s.last_contact_date.to_string(),
            s.vital_status.to_string(),
            opt(&s.death_date),
            opt(&s.death_cause),
            opt(&s.end_of_treatment_date),
            opt(&s.end_of_treatment_reason),
            opt(&s.other_therapy_date),
        ]
    })?;
    Ok(())
}
