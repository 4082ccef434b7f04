//! The analysis datasets (`trial::adam`) as files a statistician opens in
//! SAS or R: `adam/<name>.xpt` (SAS transport version 5, the format CDISC
//! submissions use) and `adam/<name>.csv` (ISO dates, empty for missing).

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use trial::adam::{AnalysisDataset, Kind, Value};

use crate::xpt;

/// What `write_adam` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdamWritten {
    /// Every file, `.xpt` then `.csv` per dataset.
    pub files: Vec<PathBuf>,
    /// Texts cut to the transport file's 200 bytes (the CSV keeps them
    /// whole), per dataset name.
    pub cut: Vec<(&'static str, usize)>,
}

/// A number as the CSV writes it: shortest round trip, whole numbers
/// without a decimal point.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

/// Writes each dataset into `dir`, dated (in the transport headers) by
/// `dated`, the data cut-off, so the same data give the same bytes. The
/// datasets are written side by side, one thread each: each is read
/// three times (to size its texts, for the transport file, for the CSV).
pub fn write_adam(
    datasets: &[&(dyn AnalysisDataset + Sync)],
    dated: trial::Date,
    dir: &Path,
) -> std::io::Result<AdamWritten> {
    std::fs::create_dir_all(dir).map_err(|e| crate::at(dir, e))?;
    let one =
        |dataset: &(dyn AnalysisDataset + Sync)| -> std::io::Result<(PathBuf, PathBuf, usize)> {
            let stem = dataset.name().to_lowercase();
            let xpt = dir.join(format!("{stem}.xpt"));
            let cut = write_xpt(dataset, dated, &xpt).map_err(|e| crate::at(&xpt, e))?;
            let csv = dir.join(format!("{stem}.csv"));
            write_csv(dataset, &csv).map_err(|e| crate::at(&csv, e))?;
            Ok((xpt, csv, cut))
        };
    let outcomes: Vec<std::io::Result<(PathBuf, PathBuf, usize)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = datasets
            .iter()
            .map(|&dataset| scope.spawn(move || one(dataset)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("writing a dataset does not panic"))
            .collect()
    });
    let mut written = AdamWritten {
        files: Vec::new(),
        cut: Vec::new(),
    };
    for (dataset, outcome) in datasets.iter().zip(outcomes) {
        let (xpt, csv, cut) = outcome?;
        written.files.extend([xpt, csv]);
        written.cut.push((dataset.name(), cut));
    }
    Ok(written)
}

fn write_xpt(
    dataset: &dyn AnalysisDataset,
    dated: trial::Date,
    path: &Path,
) -> std::io::Result<usize> {
    // A first reading measures each text variable: version 5 stores every
    // value of a variable in the same number of bytes.
    let mut longest = vec![1usize; dataset.variables().len()];
    dataset.rows(&mut |row| {
        for (value, longest) in row.iter().zip(&mut longest) {
            if let Value::Text(t) = value {
                *longest = (*longest).max(t.len());
            }
        }
    });
    let variables: Vec<xpt::Variable> = dataset
        .variables()
        .iter()
        .zip(&longest)
        .map(|(v, &longest)| xpt::Variable {
            name: v.name.to_owned(),
            label: v.label.to_owned(),
            kind: match v.kind {
                Kind::Num => xpt::Kind::Num,
                Kind::Date => xpt::Kind::Date,
                Kind::Text => xpt::Kind::Char {
                    length: longest.min(usize::from(xpt::MAX_CHAR)) as u16,
                },
            },
        })
        .collect();
    let out = BufWriter::new(std::fs::File::create(path)?);
    let mut writer =
        xpt::DatasetWriter::begin(out, dataset.name(), dataset.label(), dated, variables)?;
    let mut failed = None;
    dataset.rows(&mut |row| {
        if failed.is_some() {
            return;
        }
        let values: Vec<xpt::Value<'_>> = row
            .iter()
            .map(|value| match value {
                Value::Num(x) => xpt::Value::Num(*x),
                Value::Date(d) => xpt::Value::Num(d.map(xpt::sas_date)),
                Value::Text(t) => xpt::Value::Char(t),
            })
            .collect();
        if let Err(e) = writer.row(&values) {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => writer.finish(),
    }
}

fn write_csv(dataset: &dyn AnalysisDataset, path: &Path) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path).map_err(std::io::Error::other)?;
    w.write_record(dataset.variables().iter().map(|v| v.name))
        .map_err(std::io::Error::other)?;
    let mut failed = None;
    let mut cells: Vec<String> = Vec::new();
    dataset.rows(&mut |row| {
        if failed.is_some() {
            return;
        }
        cells.clear();
        cells.extend(row.iter().map(|value| match value {
            Value::Num(x) => x.map(number).unwrap_or_default(),
            Value::Date(d) => d.map(|d| d.to_string()).unwrap_or_default(),
            Value::Text(t) => t.clone(),
        }));
        if let Err(e) = w.write_record(&cells) {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(std::io::Error::other(e));
    }
    w.flush()
}
