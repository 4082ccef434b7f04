//! The analysis datasets (`trial::adam`) as files a statistician opens in
//! SAS or R: `adam/<name>.xpt` (SAS transport version 5, the format CDISC
//! submissions use) and `adam/<name>.csv` (ISO dates, empty for missing).

use std::borrow::Cow;
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
    /// Texts with other than ASCII characters, written in ASCII into the
    /// transport file (the CSV keeps them as they are), per dataset name.
    pub transliterated: Vec<(&'static str, usize)>,
}

/// What a transport file changed of its texts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Altered {
    cut: usize,
    transliterated: usize,
}

/// A text as the transport file holds it: ASCII. Version 5 records no
/// encoding and regulators read it as ASCII, so other characters are
/// transliterated (`fièvre` → `fievre`, `µg` → `ug`), as SAS programmers
/// do before a submission.
fn ascii(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(deunicode::deunicode(text))
    }
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
        |dataset: &(dyn AnalysisDataset + Sync)| -> std::io::Result<(PathBuf, PathBuf, Altered)> {
            let stem = dataset.name().to_lowercase();
            let xpt = dir.join(format!("{stem}.xpt"));
            let altered = write_xpt(dataset, dated, &xpt).map_err(|e| crate::at(&xpt, e))?;
            let csv = dir.join(format!("{stem}.csv"));
            write_csv(dataset, &csv).map_err(|e| crate::at(&csv, e))?;
            Ok((xpt, csv, altered))
        };
    let outcomes: Vec<std::io::Result<(PathBuf, PathBuf, Altered)>> = std::thread::scope(|scope| {
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
        transliterated: Vec::new(),
    };
    for (dataset, outcome) in datasets.iter().zip(outcomes) {
        let (xpt, csv, altered) = outcome?;
        written.files.extend([xpt, csv]);
        written.cut.push((dataset.name(), altered.cut));
        written
            .transliterated
            .push((dataset.name(), altered.transliterated));
    }
    Ok(written)
}

fn write_xpt(
    dataset: &dyn AnalysisDataset,
    dated: trial::Date,
    path: &Path,
) -> std::io::Result<Altered> {
    // A first reading measures each text variable: version 5 stores every
    // value of a variable in the same number of bytes.
    let mut longest = vec![1usize; dataset.variables().len()];
    dataset.rows(&mut |row| {
        for (value, longest) in row.iter().zip(&mut longest) {
            if let Value::Text(t) = value {
                *longest = (*longest).max(ascii(t).len());
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
    let mut transliterated = 0;
    dataset.rows(&mut |row| {
        if failed.is_some() {
            return;
        }
        let texts: Vec<Cow<'_, str>> = row
            .iter()
            .map(|value| match value {
                Value::Text(t) => ascii(t),
                _ => Cow::Borrowed(""),
            })
            .collect();
        let values: Vec<xpt::Value<'_>> = row
            .iter()
            .zip(&texts)
            .map(|(value, text)| match value {
                Value::Num(x) => xpt::Value::Num(*x),
                Value::Date(d) => xpt::Value::Num(d.map(xpt::sas_date)),
                Value::Text(_) => {
                    transliterated += usize::from(matches!(text, Cow::Owned(_)));
                    xpt::Value::Char(text)
                }
            })
            .collect();
        if let Err(e) = writer.row(&values) {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(Altered {
            cut: writer.finish()?,
            transliterated,
        }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use trial::adam::Variable;

    /// A dataset of two adverse events' verbatim texts.
    struct Verbatims;

    const VARIABLES: &[Variable] = &[Variable {
        name: "AETERM",
        label: "Reported Term for the Adverse Event",
        kind: Kind::Text,
    }];

    impl AnalysisDataset for Verbatims {
        fn name(&self) -> &'static str {
            "ADAE"
        }
        fn label(&self) -> &'static str {
            "Adverse Events"
        }
        fn variables(&self) -> &'static [Variable] {
            VARIABLES
        }
        fn rows(&self, row: &mut dyn FnMut(&[Value])) {
            row(&[Value::Text("fièvre à 38,5 °C".into())]);
            row(&[Value::Text("Fever".into())]);
        }
    }

    /// The transport file holds ASCII, the CSV the text as entered, and
    /// the transliterated texts are counted.
    #[test]
    fn a_transport_file_holds_ascii_and_the_csv_the_text_as_entered() {
        let dir = std::env::temp_dir().join(format!("isatrial-adam-ascii-{}", std::process::id()));
        let cutoff: trial::Date = "2026-06-30".parse().unwrap();
        let written = write_adam(&[&Verbatims], cutoff, &dir).unwrap();
        assert_eq!(written.transliterated, [("ADAE", 1)]);
        assert_eq!(written.cut, [("ADAE", 0)]);
        let xpt = std::fs::read(dir.join("adae.xpt")).unwrap();
        assert!(xpt.is_ascii());
        let needle = b"fievre a 38,5 degC";
        assert!(
            xpt.windows(needle.len()).any(|w| w == needle),
            "{}",
            String::from_utf8_lossy(&xpt)
        );
        let csv = std::fs::read_to_string(dir.join("adae.csv")).unwrap();
        assert!(csv.contains("fièvre à 38,5 °C"), "{csv}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
