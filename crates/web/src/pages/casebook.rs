//! The patients a user reaches, and one patient's casebook: every current
//! record of each form, its open data queries, and the way to each form.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use store::{Role, StoreError, StoredRecord, table};
use trial::bundle::{ColumnKind, TABLES, column_kind, spec::PATIENTS};

use super::labels::{choice_label, column_label, table_title};
use super::{Nav, PageError, Viewer, page, path_component, rules_at};
use crate::AppState;

/// `/`: the patients of a signed-in user, the login page otherwise.
pub async fn home(viewer: Result<Viewer, PageError>) -> Response {
    match viewer {
        Ok(_) => Redirect::to("/patients").into_response(),
        Err(_) => Redirect::to("/login").into_response(),
    }
}

struct PatientRow {
    id: String,
    site: String,
    cohort: String,
    registered: String,
    open_queries: usize,
    /// Queries raised by hand still waiting on the site or the monitor.
    raised_queries: usize,
    /// `signed`, `changed` (since the last signature) or empty.
    signature: &'static str,
}

/// Patients shown on one page of the list.
const PAGE_SIZE: usize = 100;

#[derive(Template)]
#[template(path = "patients.html")]
struct PatientsPage {
    nav: Option<Nav>,
    patients: Vec<PatientRow>,
    notice: Option<String>,
    can_register: bool,
    /// The search as typed, and the filters chosen.
    find: Find,
    sites: Vec<String>,
    /// Patients matching the search, on every page.
    matching: usize,
    /// The first and last shown (1-based), and the links to the pages
    /// before and after.
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// The patient list's search, filters and page, from its address.
#[derive(Deserialize, Default)]
pub struct Find {
    /// Part of a patient id, in any case.
    #[serde(default)]
    q: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    cohort: String,
    /// `unsigned` (never signed, or changed since), `queries` (with queries
    /// waiting), or empty.
    #[serde(default)]
    show: String,
    /// A string: numbers do not pass through `flatten` from a query.
    #[serde(default)]
    page: Option<String>,
    #[serde(flatten)]
    done: Saved,
}

impl Find {
    fn keeps(&self, p: &PatientRow) -> bool {
        let q = self.q.trim().to_lowercase();
        (q.is_empty() || p.id.to_lowercase().contains(&q))
            && (self.site.is_empty() || p.site == self.site)
            && (self.cohort.is_empty() || p.cohort == self.cohort)
            && match self.show.as_str() {
                "unsigned" => p.signature != "signed",
                "queries" => p.open_queries + p.raised_queries > 0,
                _ => true,
            }
    }

    /// This list's address at page `page`.
    fn at(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("q", self.q.as_str()),
            ("site", &self.site),
            ("cohort", &self.cohort),
            ("show", &self.show),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", path_component(value)));
            }
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/patients".into()
        } else {
            format!("/patients?{}", parts.join("&"))
        }
    }
}

pub async fn patients(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(find): Query<Find>,
) -> Result<Response, PageError> {
    let actor = &viewer.session.actor;
    let records = state.store.list(actor, &PATIENTS, None).await?;
    let mut open_queries: HashMap<String, usize> = HashMap::new();
    for q in state.store.open_queries(actor).await? {
        if let Some(p) = q["patient_id"].as_str() {
            *open_queries.entry(p.to_owned()).or_default() += 1;
        }
    }
    let raised_queries = match state.store.waiting_query_counts(actor).await {
        Err(StoreError::Forbidden(_)) if actor.pseudonymized() => HashMap::new(),
        other => other?,
    };
    let signatures = state.store.signature_states(actor).await?;
    let cell = |r: &StoredRecord, c: &str| {
        r.fields
            .get(c)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut sites: Vec<String> = records.iter().map(|r| r.site_id.clone()).collect();
    sites.sort();
    sites.dedup();
    let mut patients: Vec<PatientRow> = records
        .iter()
        .map(|r| PatientRow {
            id: r.patient_id.clone(),
            site: r.site_id.clone(),
            cohort: cell(r, "cohort"),
            registered: cell(r, "registration_date"),
            open_queries: open_queries.get(&r.patient_id).copied().unwrap_or(0),
            raised_queries: raised_queries.get(&r.patient_id).copied().unwrap_or(0),
            signature: match signatures.get(&r.patient_id) {
                Some(true) => "signed",
                Some(false) => "changed",
                None => "",
            },
        })
        .filter(|p| find.keeps(p))
        .collect();
    patients.sort_by(|a, b| (&a.site, &a.id).cmp(&(&b.site, &b.id)));
    let matching = patients.len();
    let pages = matching.div_ceil(PAGE_SIZE).max(1);
    let page_number = find
        .page
        .as_deref()
        .and_then(|p| {
            // A number too large for the machine is past the last page.
            p.parse::<usize>().ok().or_else(|| {
                (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).then_some(usize::MAX)
            })
        })
        .unwrap_or(1)
        .clamp(1, pages);
    let from = (page_number - 1) * PAGE_SIZE;
    let shown: Vec<PatientRow> = patients.into_iter().skip(from).take(PAGE_SIZE).collect();
    Ok(page(
        StatusCode::OK,
        &PatientsPage {
            nav: Some(viewer.nav()),
            first: if shown.is_empty() { 0 } else { from + 1 },
            last: from + shown.len(),
            previous: (page_number > 1).then(|| find.at(page_number - 1)),
            next: (page_number < pages).then(|| find.at(page_number + 1)),
            patients: shown,
            notice: find.done.notice(),
            can_register: viewer.writes(),
            sites,
            matching,
            find,
        },
    ))
}

/// A record as a row of its form's table.
pub(crate) struct RecordRow {
    pub key: String,
    pub cells: Vec<String>,
    pub recorded: String,
}

/// One form's records in the casebook.
pub(crate) struct Section {
    pub table: &'static str,
    pub title: &'static str,
    pub columns: Vec<String>,
    pub rows: Vec<RecordRow>,
    /// Forms of one record per patient offer "add" only while it has none.
    pub can_add: bool,
}

/// An open data query.
pub(crate) struct QueryRow {
    /// The form the query is about, as the casebook titles it.
    pub form: String,
    /// The record's form where the query names a record of the casebook,
    /// else the casebook's section of that form: a query raised on import
    /// names its record by date or visit, not by key.
    pub link: String,
    pub message: String,
    pub raised: String,
}

impl QueryRow {
    /// An open query as `Store::open_queries` gives it, linked to
    /// `record` when it names one by key.
    pub(crate) fn of(q: &serde_json::Value, record: impl Fn(&str, &str) -> bool) -> QueryRow {
        let text = |k: &str| q[k].as_str().unwrap_or_default();
        let (tbl, key, patient) = (text("table"), text("key"), text("patient_id"));
        let link = if record(tbl, key) {
            super::record_path(tbl, key)
        } else {
            format!("{}#{tbl}", super::casebook_path(patient))
        };
        // The file name before the message repeats the form's column.
        let message = text("message");
        let message = message
            .strip_prefix(&format!("{tbl}.csv: "))
            .unwrap_or(message);
        QueryRow {
            form: table(tbl).map_or_else(|| tbl.to_owned(), |spec| table_title(spec).to_owned()),
            link,
            message: message.to_owned(),
            raised: text("raised_at").to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "casebook.html")]
struct CasebookPage {
    nav: Option<Nav>,
    patient: String,
    site: String,
    registration: RecordRow,
    registration_columns: Vec<(String, String)>,
    sections: Vec<Section>,
    queries: Vec<QueryRow>,
    /// Queries raised by hand on the patient, not yet closed.
    raised: Vec<super::manual_queries::QueryView>,
    signatures: Vec<SignatureRow>,
    /// The user signs casebooks here (an investigator of the site).
    signs: bool,
    refusal: SignRefusal,
    /// The casebook's version shown, which the signing form sends back.
    casebook_version: i64,
    meaning: &'static str,
    csrf: String,
    saved: Option<String>,
    can_write: bool,
}

/// A signature as the casebook shows it.
struct SignatureRow {
    signed: String,
    by_viewer: bool,
    meaning: String,
    /// No record changed since.
    current: bool,
}

/// What the page before did, said once at the top: `saved` or
/// `retracted`, with the form's table.
#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<String>,
    retracted: Option<String>,
    signed: Option<String>,
}

impl Saved {
    fn notice(&self) -> Option<String> {
        let title = |t: &Option<String>| t.as_deref().and_then(table).map(table_title);
        match (title(&self.saved), title(&self.retracted)) {
            (_, Some(t)) => Some(format!("Retracted: a record of {t}.")),
            (Some(t), None) => Some(format!("Saved: {t}.")),
            (None, None) => None,
        }
    }
}

/// A cell as the casebook shows it.
fn shown(spec: &trial::bundle::FileSpec, column: &str, value: &str) -> String {
    match column_kind(spec, column) {
        // Numbered answers (questionnaire items) stay numbers in a table.
        kind @ (ColumnKind::Boolean | ColumnKind::Choice(_))
            if !value.is_empty() && value.parse::<u8>().is_err() =>
        {
            choice_label(column, kind, value)
        }
        kind @ ColumnKind::ChoiceList(_) => value
            .split(';')
            .filter(|v| !v.is_empty())
            .map(|v| choice_label(column, kind, v))
            .collect::<Vec<_>>()
            .join(", "),
        _ => value.to_owned(),
    }
}

pub async fn casebook(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(saved): Query<Saved>,
) -> Result<Response, PageError> {
    let notice = saved.notice();
    let signed = saved.signed.is_some();
    render(&state, &viewer, &id, (notice, signed), None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct SignForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// The casebook's version the page showed.
    #[serde(rename = "_casebook_version")]
    casebook_version: Option<String>,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
}

/// A refused signature: the user name typed (never the password) and each
/// rule where it belongs.
#[derive(Default)]
pub(crate) struct SignRefusal {
    user: String,
    user_error: Option<String>,
    password_error: Option<String>,
    /// A rule of the whole form: the casebook changed, the lock, the token.
    error: Option<String>,
}

/// `POST /patients/{id}/sign`: the investigator signs the casebook. A
/// refused signature shows the casebook again with the rule at the
/// password (which is never shown back).
pub async fn sign(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<SignForm>,
) -> Result<Response, PageError> {
    // A form without the version it showed signs nothing: the signature
    // must name what was read.
    let read = form
        .casebook_version
        .as_deref()
        .and_then(|v| v.parse::<i64>().ok());
    let outcome = match (viewer.csrf_matches(form.csrf.as_deref()), read) {
        (false, _) => Err(StoreError::Forbidden(String::new())),
        (true, None) => Err(StoreError::Conflict {
            expected: 0,
            current: 0,
        }),
        (true, Some(read)) => {
            let signing = store::Signing {
                user: &form.user,
                password: &form.password,
                casebook_version: read,
            };
            state
                .store
                .sign_casebook(&viewer.session.actor, &id, signing)
                .await
        }
    };
    let mut refusal = SignRefusal {
        user: form.user,
        ..SignRefusal::default()
    };
    let status = match outcome {
        Ok(_) => {
            tracing::info!(user = %viewer.session.actor.user, patient = %id, "casebook signed (page)");
            return Ok(
                Redirect::to(&format!("{}?signed=1", super::casebook_path(&id))).into_response(),
            );
        }
        Err(StoreError::Forbidden(m)) if m.is_empty() => {
            refusal.error = Some("This form was opened in an earlier session, so nothing was signed: enter your user name and password and sign again.".into());
            StatusCode::FORBIDDEN
        }
        Err(StoreError::Conflict { .. }) => {
            refusal.error = Some("The casebook changed since this page was opened, so nothing was signed: it is shown below as it stands now; review it, then sign.".into());
            StatusCode::CONFLICT
        }
        Err(StoreError::Invalid(fields)) => {
            refusal.user_error = rules_at(&fields, "user");
            refusal.password_error = rules_at(&fields, "password");
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(StoreError::Locked(m)) => {
            refusal.error = Some(format!("The database is locked: {m}"));
            StatusCode::LOCKED
        }
        Err(e) => return Err(e.into()),
    };
    render(&state, &viewer, &id, (None, false), Some(refusal), status).await
}

/// The casebook page, with `notice` at the top (or, `signed` just before,
/// the confirmation of the viewer's signature, when it is theirs and still
/// current) and, when a signature was refused, what was typed and each
/// rule.
async fn render(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    (notice, signed): (Option<String>, bool),
    refusal: Option<SignRefusal>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let actor = &viewer.session.actor;
    // The version first, then the records: a change between the two makes
    // the version older than what is shown, and the signature a conflict,
    // never a signature of what was not shown.
    let casebook_version = state.store.casebook_version(actor, id).await?;
    let records = state.store.casebook(actor, id).await?;
    let registration = records
        .iter()
        .find(|r| r.table == "patients")
        .ok_or_else(PageError::not_found)?;
    let patient = registration.patient_id.clone();
    let site = registration.site_id.clone();
    let can_write = viewer.writes() && actor.writes(&site);
    let row = |spec: &trial::bundle::FileSpec, r: &StoredRecord| RecordRow {
        key: r.key.clone(),
        cells: spec
            .columns
            .iter()
            .skip(1)
            .map(|(c, _)| {
                shown(
                    spec,
                    c,
                    r.fields.get(*c).and_then(|v| v.as_str()).unwrap_or(""),
                )
            })
            .collect(),
        recorded: format!("{} by {}", r.recorded_at, r.recorded_by),
    };
    let registration_columns = PATIENTS
        .columns
        .iter()
        .map(|(c, _)| {
            let value = registration
                .fields
                .get(*c)
                .and_then(|v| v.as_str())
                .unwrap_or("");
            (column_label("patients", c), shown(&PATIENTS, c, value))
        })
        .collect();
    let sections = TABLES
        .iter()
        .skip(1)
        .map(|spec| {
            let stem = store::stem(spec);
            let rows: Vec<RecordRow> = records
                .iter()
                .filter(|r| r.table == stem)
                .map(|r| row(spec, r))
                .collect();
            let one_per_patient = stem == "status";
            Section {
                table: stem,
                title: table_title(spec),
                columns: spec
                    .columns
                    .iter()
                    .skip(1)
                    .map(|(c, _)| column_label(stem, c))
                    .collect(),
                can_add: can_write && (rows.is_empty() || !one_per_patient),
                rows,
            }
        })
        .collect();
    let queries = state
        .store
        .patient_queries(actor, &patient)
        .await?
        .into_iter()
        .map(|q| {
            QueryRow::of(&q, |tbl, key| {
                records.iter().any(|r| r.table == tbl && r.key == key)
            })
        })
        .collect();
    let raised = super::manual_queries::waiting(state, viewer, Some(&patient)).await?;
    let signatures = state
        .store
        .signatures(actor, &patient)
        .await?
        .into_iter()
        .map(|s| SignatureRow {
            signed: format!(
                "{} UTC by {} ({}, {})",
                s.signed_at
                    .get(..19)
                    .unwrap_or(&s.signed_at)
                    .replace('T', " "),
                s.printed_name,
                s.user,
                s.role.replace('_', " ")
            ),
            by_viewer: s.user == actor.user,
            meaning: s.meaning,
            current: s.covers_current_data,
        })
        .collect::<Vec<_>>();
    let own_current = signatures.last().is_some_and(|s| s.by_viewer && s.current);
    let notice = notice.or_else(|| {
        (signed && own_current)
            .then(|| "Signed: your signature covers the casebook as it stands.".to_owned())
    });

    let signs = actor.role == Role::Investigator && !viewer.locked && actor.reads(&site);
    let saved = notice;
    Ok(page(
        status,
        &CasebookPage {
            nav: Some(viewer.nav()),
            registration: row(&PATIENTS, registration),
            registration_columns,
            patient,
            site,
            sections,
            queries,
            raised,
            signatures,
            signs,
            refusal: refusal.unwrap_or_default(),
            casebook_version,
            meaning: store::SIGNATURE_MEANING,
            csrf: viewer.session.csrf.clone(),
            saved,
            can_write,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The links to other pages keep the search and filters, encoded.
    #[test]
    fn a_page_link_keeps_the_search() {
        let find = Find {
            q: "p 0&1".into(),
            site: "S1".into(),
            show: "unsigned".into(),
            ..Find::default()
        };
        assert_eq!(find.at(1), "/patients?q=p%200%261&site=S1&show=unsigned");
        assert_eq!(
            find.at(3),
            "/patients?q=p%200%261&site=S1&show=unsigned&page=3"
        );
        assert_eq!(Find::default().at(1), "/patients");
        assert_eq!(Find::default().at(2), "/patients?page=2");
    }
}
