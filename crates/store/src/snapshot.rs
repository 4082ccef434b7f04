//! The trial's data now or as of any past instant, as a `Dataset` for the
//! endpoint engine: each record at its latest version recorded by then,
//! retracted ones left out, parsed by the bundle's own reader.

use std::collections::HashMap;

use sqlx::Row;
use trial::Dataset;
use trial::bundle::{MemorySource, read_rows};

use crate::Store;
use crate::access::Actor;
use crate::clock::Instant;
use crate::error::StoreError;
use crate::records::{parse_cells, table};
use crate::state::{MANIFEST, parse_manifest};

/// The rows of every record as of an instant, in the order records were
/// first entered.
pub struct Snapshot {
    /// The manifest cells (bundle.toml, protocol file name, protocol text).
    pub manifest: Vec<String>,
    /// (table, cells) of each live record.
    pub rows: Vec<(&'static trial::bundle::FileSpec, Vec<String>)>,
}

/// "Now": later than any recorded instant.
const END_OF_TIME: &str = "9999-12-31T23:59:59.999999Z";

impl Store {
    /// The live rows the user may see, as of `as_of` (now when `None`).
    pub async fn rows_as_of(
        &self,
        actor: &Actor,
        as_of: Option<Instant>,
    ) -> Result<Snapshot, StoreError> {
        let at = as_of.map_or_else(|| END_OF_TIME.to_owned(), Instant::to_db);
        let rows = sqlx::query(
            "SELECT v.tbl, v.cells, v.site_id, v.retracted,
                    (SELECT MIN(f.seq) FROM record_versions f WHERE f.tbl = v.tbl AND f.record_key = v.record_key) AS first_seq
             FROM record_versions v
             WHERE v.recorded_at <= $1
               AND v.version = (SELECT MAX(w.version) FROM record_versions w
                                WHERE w.tbl = v.tbl AND w.record_key = v.record_key AND w.recorded_at <= $1)
             ORDER BY first_seq",
        )
        .bind(&at)
        .fetch_all(&self.pool)
        .await?;
        let mut manifest = None;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let tbl: String = r.get(0);
            let cells = parse_cells(&r.get::<String, _>(1))?;
            if tbl == MANIFEST {
                manifest = Some(cells);
                continue;
            }
            if r.get::<i64, _>(3) != 0 || !actor.reads(&r.get::<String, _>(2)) {
                continue;
            }
            let spec = table(&tbl)
                .ok_or_else(|| StoreError::Database(format!("unknown stored table {tbl}")))?;
            out.push((spec, cells));
        }
        let manifest = manifest.ok_or_else(|| {
            StoreError::Invalid(vec![crate::error::FieldError {
                field: None,
                rule: match as_of {
                    Some(t) => format!("the database held no trial as of {t}"),
                    None => "the database has no trial yet: import a bundle first".into(),
                },
            }])
        })?;
        if actor.pseudonymized() {
            let mut cache: HashMap<String, String> = HashMap::new();
            for (spec, cells) in &mut out {
                if let Some(i) = spec.columns.iter().position(|(c, _)| *c == "patient_id") {
                    let p = cache
                        .entry(cells[i].clone())
                        .or_insert_with(|| self.pseudonym(&cells[i]));
                    cells[i] = p.clone();
                }
            }
        }
        Ok(Snapshot {
            manifest,
            rows: out,
        })
    }

    /// The dataset the user may analyse, as of `as_of` (now when `None`),
    /// with the cut-off and protocol recorded by then.
    pub async fn dataset(
        &self,
        actor: &Actor,
        as_of: Option<Instant>,
    ) -> Result<Dataset, StoreError> {
        let snapshot = self.rows_as_of(actor, as_of).await?;
        let (cutoff, protocol) = parse_manifest(&snapshot.manifest)?;
        let mut source = MemorySource::default();
        for (n, (spec, cells)) in snapshot.rows.iter().enumerate() {
            source.push(
                spec,
                n as u64 + 1,
                cells.iter().map(String::as_str).collect(),
            );
        }
        read_rows(&mut source, Some((cutoff, protocol))).map_err(|problems| {
            StoreError::Database(format!(
                "stored records break a rule of this version (a dose or questionnaire \
                 stored twice: retract one; or a changed protocol): {}",
                problems
                    .iter()
                    .take(5)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })
    }
}
