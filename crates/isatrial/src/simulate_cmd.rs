//! `isatrial simulate` and the data half of `isatrial demo`.

use std::path::Path;

use trial::simulate::{SimulationConfig, simulate};

use crate::Failure;
use crate::cli::SimulateArgs;

fn rate(name: &str, v: Option<f64>, default: f64) -> Result<f64, Failure> {
    match v {
        None => Ok(default),
        Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
        Some(r) => Err(Failure::Refused(format!(
            "--{name}: must be a probability from 0 to 1, got {r}"
        ))),
    }
}

/// Simulates and writes a bundle; returns the number of patients.
pub fn write(config: &SimulationConfig, out: &Path) -> Result<usize, Failure> {
    let data = simulate(config);
    trial::bundle::write_bundle(&data, out)?;
    Ok(data.patients.len())
}

/// The most patients simulated: a million is the largest trial the
/// report is measured on (BENCHMARKS.md, about 3 GB of memory); more would
/// exhaust a machine's memory before writing anything.
const MAX_PATIENTS: usize = 1_000_000;

/// Runs `isatrial simulate`.
pub fn run(args: &SimulateArgs) -> Result<(), Failure> {
    if !(1..=MAX_PATIENTS).contains(&args.patients) {
        return Err(Failure::Refused(format!(
            "--patients: must be from 1 to {MAX_PATIENTS}, got {}",
            args.patients
        )));
    }
    let d = SimulationConfig::default();
    let config = SimulationConfig {
        patients: args.patients,
        seed: args.seed,
        cohort1_share: rate("cohort1-share", args.cohort1_share, d.cohort1_share)?,
        cr_rate: rate("cr-rate", args.cr_rate, d.cr_rate)?,
        molcr_rate: rate("molcr-rate", args.molcr_rate, d.molcr_rate)?,
        sct_rate: rate("sct-rate", args.sct_rate, d.sct_rate)?,
        relapse_rate: rate("relapse-rate", args.relapse_rate, d.relapse_rate)?,
        monthly_death_hazard: rate("death-hazard", args.death_hazard, d.monthly_death_hazard)?,
        ae_per_patient: match args.ae_per_patient {
            Some(v) if !(0.0..=100.0).contains(&v) => {
                return Err(Failure::Refused(format!(
                    "--ae-per-patient: must be from 0 to 100, got {v}"
                )));
            }
            v => v.unwrap_or(d.ae_per_patient),
        },
        ..d
    };
    crate::out_folder::check("--out", &args.out, &[])?;
    let n = write(&config, &args.out)?;
    note!(
        "simulated {n} patient{} (seed {}) into {}",
        if n == 1 { "" } else { "s" },
        args.seed,
        args.out.display()
    );
    Ok(())
}
