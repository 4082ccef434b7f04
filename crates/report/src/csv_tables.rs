//! Every table of the results as a CSV file, for spreadsheets and SAS/R:
//! the same cells as the HTML, one file per table, named by its id.

use std::path::{Path, PathBuf};

use crate::format::cell;

/// The file of the time-to-event rows; no table id may take this name.
const ADTTE: &str = "adtte";

fn other(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
}

/// Writes `<dir>/<table.id>.csv` for each table (header row, then one
/// record per row) and `<dir>/adtte.csv`, creating `dir` if missing.
pub fn write_all(results: &trial::Results, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::with_capacity(results.tables.len() + 1);
    for t in &results.tables {
        if t.id == ADTTE {
            return Err(std::io::Error::other(format!(
                "table id {ADTTE:?} is reserved for the time-to-event rows"
            )));
        }
        let path = dir.join(format!("{}.csv", t.id));
        let mut w = csv::Writer::from_path(&path).map_err(other)?;
        w.write_record(&t.columns).map_err(other)?;
        for row in &t.rows {
            w.write_record(row.iter().map(|c| cell(c))).map_err(other)?;
        }
        w.flush()?;
        written.push(path);
    }
    written.push(write_adtte(results, dir)?);
    Ok(written)
}

/// One row per patient per time-to-event parameter, CDISC ADTTE's shape:
/// what every curve of the report was fitted to.
fn write_adtte(results: &trial::Results, dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("{ADTTE}.csv"));
    let mut w = csv::Writer::from_path(&path).map_err(other)?;
    w.write_record([
        "endpoint",
        "cohort",
        "parameter",
        "patient",
        "time",
        "status",
        "method",
    ])
    .map_err(other)?;
    for t in &results.time_to_event {
        let parameter = &results.parameters[usize::from(t.parameter)];
        let patient = results.patient_id(t.patient);
        let time = if t.time.is_finite() {
            t.time.to_string()
        } else {
            "NA".to_owned()
        };
        w.write_record([
            parameter.endpoint.code(),
            &parameter.cohort.to_string(),
            &parameter.name,
            patient,
            &time,
            &t.status.to_string(),
            if parameter.survival { "km" } else { "cif" },
        ])
        .map_err(other)?;
    }
    w.flush()?;
    Ok(path)
}
