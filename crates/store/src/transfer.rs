//! Import of a CSV bundle into an empty trial database, and export of the
//! database (now or as of an instant) as a bundle. Cells travel as the
//! files wrote them, so importing a bundle and exporting it gives back
//! identical files.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use trial::bundle::{FileSpec, Problem, TABLES, load_bundle};

use crate::Store;
use crate::access::Actor;
use crate::apply::{Failure, NewVersion, write_changes};
use crate::clock::Instant;
use crate::error::{FieldError, StoreError};
use crate::records::{begin, finish, stem};
use crate::state::{MANIFEST, audit};

/// What an import stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    /// Records stored per table.
    pub records: Vec<(String, usize)>,
    /// Warnings raised as open data queries.
    pub queries: usize,
}

fn invalid(problems: Vec<Problem>) -> StoreError {
    StoreError::Invalid(
        problems
            .into_iter()
            .map(|p| FieldError {
                field: None,
                rule: p.to_string(),
            })
            .collect(),
    )
}

/// How a file was laid out: its header as written and its line ending, so
/// that an export writes it back the same way.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Layout {
    columns: Vec<String>,
    crlf: bool,
}

fn layout(path: &Path) -> Result<Option<Layout>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(path)
        .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let crlf = first.last() == Some(&b'\r');
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let columns = reader
        .headers()
        .map_err(|e| StoreError::Database(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    Ok(Some(Layout { columns, crlf }))
}

/// The raw cells of one file, in the spec's column order.
fn raw_rows(dir: &Path, spec: &FileSpec) -> Result<Vec<Vec<String>>, StoreError> {
    let path = dir.join(spec.name);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader =
        csv::Reader::from_path(&path).map_err(|e| StoreError::field(spec.name, e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| StoreError::field(spec.name, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_owned())
        .collect();
    let at: Vec<Option<usize>> = spec
        .columns
        .iter()
        .map(|(c, _)| header.iter().position(|h| h == c))
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.map_err(|e| StoreError::field(spec.name, e.to_string()))?;
            Ok(at
                .iter()
                .map(|i| i.and_then(|i| r.get(i)).unwrap_or("").to_owned())
                .collect())
        })
        .collect()
}

fn cell<'a>(spec: &FileSpec, cells: &'a [String], column: &str) -> &'a str {
    spec.columns
        .iter()
        .position(|(c, _)| *c == column)
        .map_or("", |i| cells[i].as_str())
}

impl Store {
    /// Imports a whole bundle in one transaction: any problem of the bundle
    /// (rows or cross-record checks) refuses it and stores nothing. Only an
    /// empty database takes an import; later data arrive through the API.
    pub async fn import_bundle(
        &self,
        actor: &Actor,
        dir: &Path,
    ) -> Result<ImportSummary, StoreError> {
        if !actor.role.can_write() || actor.scope != crate::access::Scope::All {
            return Err(StoreError::Forbidden(
                "an import needs a data manager or admin".into(),
            ));
        }
        let loaded = load_bundle(dir).map_err(invalid)?;
        let manifest_text = std::fs::read_to_string(dir.join("bundle.toml"))
            .map_err(|e| StoreError::field("bundle.toml", e.to_string()))?;
        let protocol_name = toml::from_str::<toml::Table>(&manifest_text)
            .ok()
            .and_then(|t| {
                t.get("protocol")
                    .and_then(|p| p.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let protocol_text = if protocol_name.is_empty() {
            String::new()
        } else {
            std::fs::read_to_string(dir.join(&protocol_name))
                .map_err(|e| StoreError::field("protocol", e.to_string()))?
        };
        let mut tables = Vec::new();
        let mut layouts: HashMap<String, Layout> = HashMap::new();
        for spec in TABLES {
            tables.push((spec, raw_rows(dir, spec)?));
            if let Some(l) = layout(&dir.join(spec.name))? {
                layouts.insert(spec.name.to_owned(), l);
            }
        }
        let layouts = serde_json::to_string(&layouts).expect("layouts serialize");
        let sites: HashMap<String, String> = tables[0]
            .1
            .iter()
            .map(|cells| {
                (
                    cell(tables[0].0, cells, "patient_id").to_owned(),
                    cell(tables[0].0, cells, "site_id").to_owned(),
                )
            })
            .collect();
        let mut conn = begin(self).await?;
        let outcome = async {
            crate::state::refuse_if_locked(&mut conn).await?;
            let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM record_current").fetch_one(&mut *conn).await?;
            if existing > 0 {
                return Err(StoreError::Invalid(vec![FieldError {
                    field: None,
                    rule: "the database already holds a trial: a bundle is imported into an empty database only".into(),
                }]));
            }
            let at = Instant::now();
            let mut records = Vec::new();
            let manifest = vec![manifest_text.clone(), protocol_name.clone(), protocol_text.clone(), layouts.clone()];
            let mut rows = vec![imported(MANIFEST, "manifest".into(), "", "", &manifest, &at, &actor.user)];
            for (spec, table) in &tables {
                let mut per_patient: HashMap<&str, usize> = HashMap::new();
                for cells in table {
                    let patient = cell(spec, cells, "patient_id");
                    let n = per_patient.entry(patient).or_insert(0);
                    *n += 1;
                    let key = match spec.name {
                        "patients.csv" | "status.csv" => patient.to_owned(),
                        "adverse_events.csv" => cell(spec, cells, "ae_id").to_owned(),
                        _ => format!("{patient}/{}/{n}", stem(spec)),
                    };
                    let site = sites.get(patient).map_or("", String::as_str);
                    rows.push(imported(stem(spec), key, patient, site, cells, &at, &actor.user));
                    if rows.len() == IMPORT_CHUNK {
                        write_imported(&mut conn, &mut rows).await?;
                    }
                }
                records.push((stem(spec).to_owned(), table.len()));
            }
            write_imported(&mut conn, &mut rows).await?;
            for w in &loaded.warnings {
                let site = sites.get(&w.patient).map_or("", String::as_str);
                crate::apply::raise_query(&mut conn, w, site, &at.to_db()).await?;
            }
            let detail = records.iter().map(|(t, n)| format!("{t}: {n}")).collect::<Vec<_>>().join(", ");
            audit(&mut conn, &at, &actor.user, "import", None, None, None, None, Some(format!("{} ({detail})", dir.display()))).await?;
            Ok(ImportSummary { records, queries: loaded.warnings.len() })
        }
        .await;
        let imported = finish(conn, outcome).await;
        // The import's pages are all in the WAL (no connection checkpoints
        // by itself): copy them now rather than after 256 more writes.
        if let (Ok(_), Some(writer)) = (&imported, &self.writer) {
            writer.checkpoint_due();
        }
        imported
    }

    /// Writes what the bundle format has no file for beside it: the queries
    /// raised by hand with their threads (`manual_queries.json`) and the
    /// casebook signatures (`signatures.json`), as of `as_of` when given
    /// (then without the records' versions now, and with
    /// `covered_data_as_of` instead of `covers_current_data`: whether each
    /// signature covered the data at that instant). Import reads
    /// neither: they belong to the database they were made in, and the
    /// files are the archive's copy. Returns how many of each.
    pub async fn export_workflow(
        &self,
        actor: &Actor,
        dir: &Path,
        as_of: Option<Instant>,
    ) -> Result<(usize, usize), StoreError> {
        let io = |e: std::io::Error| StoreError::Database(format!("{}: {e}", dir.display()));
        let before =
            |at: &str| as_of.is_none_or(|limit| at.parse::<Instant>().is_ok_and(|at| at <= limit));
        // As of an instant a query belongs to the patient's site then.
        let sites_then: HashMap<String, String> = match as_of {
            None => HashMap::new(),
            Some(at) => sqlx::query_as(
                "SELECT v.record_key, v.site_id FROM record_versions v
                 WHERE v.tbl = 'patients' AND v.recorded_at <= $1
                   AND v.version = (SELECT MAX(w.version) FROM record_versions w
                                    WHERE w.tbl = 'patients' AND w.record_key = v.record_key AND w.recorded_at <= $1)",
            )
            .bind(at.to_db())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect(),
        };
        let mut queries = Vec::new();
        for mut q in self
            .manual_queries(actor, crate::QueryFilter::default())
            .await?
        {
            if !before(&q.raised_at) {
                continue;
            }
            q.messages.retain(|m| before(&m.at));
            if let Some(site) = sites_then.get(&q.patient_id) {
                q.site_id.clone_from(site);
            }
            if let Some(last) = q.messages.last() {
                q.status = match last.step.as_str() {
                    "answer" => crate::QueryStatus::Answered,
                    "close" => crate::QueryStatus::Closed,
                    _ => crate::QueryStatus::Open,
                };
            }
            let mut value = serde_json::to_value(&q).expect("a query serializes");
            if as_of.is_some()
                && let Some(fields) = value.as_object_mut()
            {
                fields.remove("record_version");
                fields.remove("record_retracted");
            }
            queries.push(value);
        }
        // As of an instant, a signature covered the data when no version of
        // the patient's records recorded by then came after it.
        let versions_then: HashMap<String, i64> = match as_of {
            None => HashMap::new(),
            Some(at) => sqlx::query_as(
                "SELECT patient_id, MAX(seq) FROM record_versions
                 WHERE recorded_at <= $1 AND patient_id IN (SELECT patient_id FROM signatures WHERE signed_at <= $1)
                 GROUP BY patient_id",
            )
            .bind(at.to_db())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect(),
        };
        let mut signatures = Vec::new();
        for s in self.all_signatures(actor).await? {
            if !before(&s.signed_at) {
                continue;
            }
            let mut value = serde_json::to_value(&s).expect("a signature serializes");
            // As of an instant the field says what it said then, under a
            // name of its own.
            if as_of.is_some()
                && let Some(fields) = value.as_object_mut()
            {
                fields.remove("covers_current_data");
                fields.insert(
                    "covered_data_as_of".into(),
                    (versions_then.get(&s.patient_id) == Some(&s.casebook_version)).into(),
                );
            }
            signatures.push(value);
        }
        let pretty = |v: &Vec<serde_json::Value>| {
            serde_json::to_string_pretty(v).expect("JSON values serialize") + "\n"
        };
        std::fs::write(dir.join("manual_queries.json"), pretty(&queries)).map_err(io)?;
        std::fs::write(dir.join("signatures.json"), pretty(&signatures)).map_err(io)?;
        Ok((queries.len(), signatures.len()))
    }

    /// Writes the database, now or as of an instant, as a bundle folder.
    pub async fn export_bundle(
        &self,
        actor: &Actor,
        dir: &Path,
        as_of: Option<Instant>,
    ) -> Result<(), StoreError> {
        let snapshot = self.rows_as_of(actor, as_of).await?;
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Database(format!("{}: {e}", dir.display())))?;
        let io = |e: std::io::Error| StoreError::Database(format!("{}: {e}", dir.display()));
        std::fs::write(dir.join("bundle.toml"), &snapshot.manifest[0]).map_err(io)?;
        if let (Some(name), Some(text)) = (snapshot.manifest.get(1), snapshot.manifest.get(2))
            && !name.is_empty()
        {
            std::fs::write(dir.join(name), text).map_err(io)?;
        }
        // Records in the order they were first entered: an imported file
        // comes back in its own row order, and later entries follow it.
        let layouts: HashMap<String, Layout> = snapshot
            .manifest
            .get(3)
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        for spec in TABLES {
            let rows: Vec<&Vec<String>> = snapshot
                .rows
                .iter()
                .filter(|(s, _)| s.name == spec.name)
                .map(|(_, cells)| cells)
                .collect();
            // Every table is written, its header alone when it has no rows:
            // a bundle holds every file (an import before that rule may
            // have lacked some).
            let layout = layouts.get(spec.name).cloned();
            let layout = layout.unwrap_or_else(|| Layout {
                columns: spec.columns.iter().map(|(c, _)| (*c).to_owned()).collect(),
                crlf: false,
            });
            let at: Vec<usize> = layout
                .columns
                .iter()
                .map(|c| {
                    spec.columns
                        .iter()
                        .position(|(s, _)| s == c)
                        .expect("stored layouts name known columns")
                })
                .collect();
            let mut w = csv::WriterBuilder::new()
                .terminator(if layout.crlf {
                    csv::Terminator::CRLF
                } else {
                    csv::Terminator::Any(b'\n')
                })
                .from_path(dir.join(spec.name))
                .map_err(|e| StoreError::Database(e.to_string()))?;
            w.write_record(&layout.columns)
                .map_err(|e| StoreError::Database(e.to_string()))?;
            for cells in rows {
                w.write_record(at.iter().map(|&i| cells[i].as_str()))
                    .map_err(|e| StoreError::Database(e.to_string()))?;
            }
            w.flush().map_err(io)?;
        }
        Ok(())
    }
}

/// Imported rows written at a time: a few thousand parameters per
/// statement, well inside both engines' limits.
const IMPORT_CHUNK: usize = 500;

/// The first version of an imported record, audited as "import".
fn imported(
    tbl: &'static str,
    key: String,
    patient: &str,
    site: &str,
    cells: &[String],
    at: &Instant,
    user: &str,
) -> NewVersion {
    NewVersion {
        tbl,
        key,
        version: 1,
        patient_id: patient.to_owned(),
        site_id: site.to_owned(),
        cells_json: serde_json::to_string(cells).expect("strings serialize"),
        retracted: false,
        action: "import",
        before_json: None,
        at_db: at.to_db(),
        user: user.to_owned(),
        reason: Some("import".into()),
        detail: None,
        site_moved: false,
        closes: Vec::new(),
        opens: Vec::new(),
    }
}

async fn write_imported(
    conn: &mut sqlx::AnyConnection,
    rows: &mut Vec<NewVersion>,
) -> Result<(), StoreError> {
    write_changes(conn, rows).await.map_err(|f| match f {
        // A key taken twice: the second is a conflict with the first.
        Failure::Race => StoreError::Conflict {
            expected: 0,
            current: 1,
        },
        Failure::Database(e) => e,
    })?;
    rows.clear();
    Ok(())
}
