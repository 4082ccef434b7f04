//! The kinds the case report forms offer fit real data: every filled cell
//! of `bundle-60` (written by an independent implementation) and of a
//! simulated trial is a value of its column's kind, so a form never hides
//! a stored value or offers a list that misses one.

use std::path::Path;

use trial::bundle::{ColumnKind, TABLES, column_kind};
use trial::ctcae::Dictionary;

fn fits(kind: ColumnKind, cell: &str) -> bool {
    match kind {
        ColumnKind::Date => cell.parse::<trial::Date>().is_ok(),
        ColumnKind::Choice(values) => values.contains(&cell),
        ColumnKind::ChoiceList(values) => cell.split(';').all(|v| values.contains(&v)),
        ColumnKind::Boolean => cell == "true" || cell == "false",
        ColumnKind::Count => cell.parse::<u64>().is_ok(),
        ColumnKind::Number => cell.parse::<f64>().is_ok_and(f64::is_finite),
        ColumnKind::CtcaeTerm => Dictionary::ctcae_v5().find(cell).is_some(),
        ColumnKind::Text => true,
    }
}

/// Checks every filled cell of the bundle in `dir`; returns how many.
fn check_bundle(dir: &Path) -> usize {
    let mut checked = 0;
    for spec in TABLES {
        let mut reader = csv::Reader::from_path(dir.join(spec.name)).unwrap();
        let header = reader.headers().unwrap().clone();
        for row in reader.records() {
            let row = row.unwrap();
            for (column, cell) in header.iter().zip(row.iter()) {
                if cell.is_empty() {
                    continue;
                }
                let kind = column_kind(spec, column);
                assert!(
                    fits(kind, cell),
                    "{}: {column} = {cell:?} is not {kind:?}",
                    spec.name
                );
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn bundle_60_cells_fit_their_columns_kinds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundle-60");
    assert!(check_bundle(&dir) > 5_000);
}

#[test]
fn simulated_cells_fit_their_columns_kinds() {
    let data = trial::simulate::simulate(&trial::simulate::SimulationConfig::default());
    let dir = std::env::temp_dir().join(format!("isatrial-kinds-{}", std::process::id()));
    trial::bundle::write_bundle(&data, &dir).unwrap();
    let checked = check_bundle(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(checked > 20_000, "{checked}");
}

#[test]
fn every_column_but_identifiers_and_notes_has_a_kind() {
    for spec in TABLES {
        for (column, _) in spec.columns {
            let text = column_kind(spec, column) == ColumnKind::Text;
            let expected_text = [
                "patient_id",
                "site_id",
                "ae_id",
                "verbatim",
                "reason",
                "cycle",
            ]
            .contains(column)
                || *column == "end_of_treatment_reason";
            assert_eq!(text, expected_text, "{}: {column}", spec.name);
        }
    }
}
