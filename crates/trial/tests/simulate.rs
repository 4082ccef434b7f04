//! Synthetic trials: reproducible from their seed, valid by every edit
//! check, and carrying the rates they were asked for.

use trial::bundle::{load_bundle, write_bundle};
use trial::results::Value;
use trial::simulate::{SimulationConfig, simulate};

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("isatrial-sim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_same_seed_gives_the_same_bundle_byte_for_byte() {
    let config = SimulationConfig {
        patients: 120,
        seed: 42,
        ..SimulationConfig::default()
    };
    let (a, b, c) = (scratch("a"), scratch("b"), scratch("c"));
    write_bundle(&simulate(&config), &a).unwrap();
    write_bundle(&simulate(&config), &b).unwrap();
    write_bundle(&simulate(&SimulationConfig { seed: 43, ..config }), &c).unwrap();
    assert_eq!(files(&a), files(&b));
    assert_ne!(files(&a), files(&c));
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_simulated_bundle_passes_every_error_check_and_reads_back_whole() {
    let data = simulate(&SimulationConfig {
        patients: 400,
        seed: 7,
        ..SimulationConfig::default()
    });
    let dir = scratch("valid");
    write_bundle(&data, &dir).unwrap();
    let loaded =
        load_bundle(&dir).unwrap_or_else(|p| panic!("{} problems, first: {}", p.len(), p[0]));
    assert_eq!(loaded.data, data);
    assert_eq!(
        data.status.len(),
        data.patients.len(),
        "every patient has a status row"
    );
    for table in [
        data.doses.len(),
        data.assessments.len(),
        data.mrd.len(),
        data.adverse_events.len(),
        data.sct.len(),
        data.gvhd.len(),
        data.relapses.len(),
        data.qlq_c30.len(),
        data.hospital_stays.len(),
    ] {
        assert!(table > 0, "every record type is simulated");
    }
    assert!(
        data.qlq_c30
            .iter()
            .any(|q| q.items.iter().any(Option::is_none)),
        "questionnaires have missing items"
    );
    assert!(
        data.hospital_stays
            .iter()
            .any(|h| h.discharge_date.is_none()),
        "some stays are still open"
    );
    assert!(
        data.adverse_events.iter().any(|e| e.grade.get() == 5),
        "fatal AEs come with deaths"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn estimate(results: &trial::Results, cohort: u8, name: &str) -> f64 {
    match &results
        .statistics
        .iter()
        .find(|s| s.cohort == cohort && s.name == name)
        .unwrap()
        .value
    {
        Value::Proportion { estimate, .. } => *estimate,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_configured_rates_show_in_the_endpoints() {
    let config = SimulationConfig {
        patients: 2000,
        seed: 11,
        cr_rate: 0.35,
        molcr_rate: 0.5,
        ..SimulationConfig::default()
    };
    let results = trial::endpoints::compute(&simulate(&config));
    let cr = estimate(&results, 1, "best_cr_cri");
    assert!((0.25..=0.45).contains(&cr), "best CR/CRi {cr}");
    let molcr = estimate(&results, 2, "molcr_d22");
    eprintln!("best CR/CRi {cr}, MolCR d22 {molcr}");
    assert!((0.4..=0.6).contains(&molcr), "MolCR at d22 {molcr}");
    let registered: Vec<u64> = results
        .statistics
        .iter()
        .filter(|s| s.name == "registered")
        .map(|s| match s.value {
            Value::Count { n } => n,
            _ => 0,
        })
        .collect();
    assert_eq!(registered.len(), 2);
    assert_eq!(registered.iter().sum::<u64>(), 2000);
    assert!(
        registered.iter().all(|&n| n > 600),
        "both cohorts are present: {registered:?}"
    );
}

#[test]
fn extreme_configurations_still_pass_every_error_check() {
    let base = SimulationConfig {
        patients: 150,
        ..SimulationConfig::default()
    };
    let configs = [
        SimulationConfig {
            seed: 2,
            monthly_death_hazard: 0.5,
            ae_per_patient: 8.0,
            ..base.clone()
        },
        SimulationConfig {
            seed: 3,
            cr_rate: 1.0,
            molcr_rate: 1.0,
            sct_rate: 1.0,
            relapse_rate: 1.0,
            qlq_missing_item_rate: 1.0,
            ..base.clone()
        },
        SimulationConfig {
            seed: 4,
            cr_rate: 0.0,
            molcr_rate: 0.0,
            sct_rate: 0.0,
            relapse_rate: 0.0,
            monthly_death_hazard: 0.0,
            ae_per_patient: 0.0,
            cohort1_share: 1.0,
            ..base.clone()
        },
        SimulationConfig {
            seed: 5,
            cohort1_share: 0.0,
            accrual_days: 0,
            ..base
        },
    ];
    for config in configs {
        let data = simulate(&config);
        let errors: Vec<_> = trial::checks::check(&data)
            .into_iter()
            .filter(|f| f.severity == trial::checks::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "seed {}: {}", config.seed, errors[0]);
        let cutoff = data.cutoff;
        for s in &data.status {
            assert!(s.last_contact_date <= cutoff);
            assert_eq!(
                s.death_date.is_some(),
                s.vital_status == trial::vocab::VitalStatus::Dead
            );
        }
        assert!(data.doses.iter().all(|d| d.date <= cutoff));
        assert!(data.assessments.iter().all(|a| a.date <= cutoff));
        assert!(data.mrd.iter().all(|m| m.date <= cutoff));
        assert!(
            data.adverse_events
                .iter()
                .all(|e| e.onset_date <= cutoff && e.end_date.is_none_or(|d| d <= cutoff))
        );
        assert!(data.relapses.iter().all(|r| r.date <= cutoff));
    }
}

#[test]
fn every_patient_has_a_status_row_and_both_cohorts_are_present() {
    let data = simulate(&SimulationConfig {
        patients: 100,
        seed: 9,
        ..SimulationConfig::default()
    });
    assert_eq!(data.patients.len(), 100);
    let mut with_status = vec![false; data.patients.len()];
    for s in &data.status {
        assert!(!with_status[s.patient.0 as usize], "one status row each");
        with_status[s.patient.0 as usize] = true;
    }
    assert!(with_status.iter().all(|&s| s));
    for cohort in trial::vocab::Cohort::ALL {
        assert!(
            data.patients.iter().any(|p| p.cohort == *cohort),
            "{cohort:?}"
        );
    }
}
