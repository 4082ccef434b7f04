//! The case report form of one record: blank for a new record, filled for
//! a change, refused with what the user typed and each field's rule, and
//! the record's history. Each save goes through the store's one audited
//! write path, so the edit checks, site walls, lock and reasons are the
//! API's own.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};
use store::{
    FieldError, REASON_REQUIRED, RecordChange, Scope, StoreError, StoredRecord, cells_from_json,
    table,
};
use trial::bundle::{ColumnKind, FileSpec, column_kind, spec::PATIENTS};
use trial::ctcae::Dictionary;

use super::labels::{choice_label, column_label, hint, table_title};
use super::{Nav, PageError, Viewer, form_urlencode, page};
use crate::AppState;

/// A choice of a list or a box to tick.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One field of the form.
struct FieldView {
    name: &'static str,
    label: String,
    required: bool,
    /// `text`, `select`, `checks` or `term`.
    input: &'static str,
    /// `decimal`, `numeric` or `text`: the keyboard a phone or tablet shows.
    inputmode: &'static str,
    value: String,
    choices: Vec<Choice>,
    hint: &'static str,
    error: Option<String>,
    /// Shown, sent, not changeable here: the patient a record belongs to,
    /// or a record's key.
    fixed: bool,
    /// After a conflict: the value saved meanwhile, where it differs.
    now: Option<String>,
}

#[derive(Template)]
#[template(path = "record_form.html")]
struct FormPage {
    nav: Option<Nav>,
    title: &'static str,
    table: &'static str,
    /// Where the form posts.
    action: String,
    /// Where "cancel" leads.
    back: String,
    patient: Option<String>,
    /// A change of a saved record (needs a reason) rather than a new one.
    editing: Option<Editing>,
    fields: Vec<FieldView>,
    /// Refusals that name no field, and conflicts.
    errors: Vec<String>,
    reason: String,
    reason_error: Option<String>,
    csrf: String,
    can_write: bool,
    terms: &'static [String],
}

/// The saved record a form changes.
struct Editing {
    key: String,
    version: i64,
    recorded: String,
    retract_reason: String,
    retract_error: Option<String>,
}

/// Every CTCAE term, for the term field's list of suggestions.
fn ctcae_terms() -> &'static [String] {
    static TERMS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    TERMS.get_or_init(|| {
        Dictionary::ctcae_v5()
            .terms()
            .iter()
            .map(|t| t.term.clone())
            .collect()
    })
}

/// What the user posted: the record's cells by column, and the form's own
/// fields, whose names start with `_` so that none clashes with a column
/// (`doses` has a `reason` column of its own).
struct Posted {
    cells: Map<String, Value>,
    csrf: Option<String>,
    version: Option<String>,
    reason: String,
}

impl Posted {
    /// Ticked boxes of one column arrive as several values: a `;` list,
    /// as the bundle writes it.
    fn read(spec: &FileSpec, pairs: Vec<(String, String)>) -> Posted {
        let mut posted = Posted {
            cells: Map::new(),
            csrf: None,
            version: None,
            reason: String::new(),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "_csrf" => posted.csrf = Some(value),
                "_version" => posted.version = Some(value),
                "_reason" => posted.reason = value,
                _ => {
                    let list = matches!(column_kind(spec, &name), ColumnKind::ChoiceList(_));
                    match posted.cells.get_mut(&name) {
                        Some(Value::String(s)) if list => {
                            s.push(';');
                            s.push_str(&value);
                        }
                        _ => {
                            posted.cells.insert(name, Value::String(value));
                        }
                    }
                }
            }
        }
        posted
    }

    /// The version the user saw: without it a change could not be told
    /// from one made over someone else's.
    fn version(&self) -> Result<i64, PageError> {
        self.version
            .as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| {
                PageError::Status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Refused",
                    "The form did not say which version of the record it changes; reload the record and enter the change again.".into(),
                )
            })
    }

    fn value(&self, column: &str) -> String {
        self.cells
            .get(column)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// The fields of `spec` holding `value(column)`, with `errors` placed at
/// their fields; `fixed` columns cannot be changed on this form.
fn field_views(
    spec: &FileSpec,
    value: impl Fn(&str) -> String,
    errors: &[FieldError],
    fixed: &[&str],
    now: Option<&StoredRecord>,
) -> Vec<FieldView> {
    spec.columns
        .iter()
        .map(|&(name, required)| {
            let kind = column_kind(spec, name);
            let value = value(name);
            let error = errors
                .iter()
                .filter(|e| e.field.as_deref() == Some(name))
                .map(|e| e.rule.clone())
                .reduce(|a, b| format!("{a}; {b}"));
            let (input, options): (&'static str, &[&str]) = match kind {
                ColumnKind::Choice(values) => ("select", values),
                ColumnKind::Boolean => ("select", &["true", "false"]),
                ColumnKind::ChoiceList(values) => ("checks", values),
                ColumnKind::CtcaeTerm => ("term", &[]),
                _ => ("text", &[]),
            };
            let ticked: Vec<&str> = value.split(';').collect();
            let mut choices: Vec<Choice> = options
                .iter()
                .map(|&v| Choice {
                    value: v.to_owned(),
                    label: choice_label(name, kind, v),
                    selected: if input == "checks" {
                        ticked.contains(&v)
                    } else {
                        value == v
                    },
                })
                .collect();
            // A value outside the list (typed into the API, or refused just
            // now) stays on the form, so that saving never drops it unseen.
            if input == "select" && !value.is_empty() && !options.contains(&value.as_str()) {
                choices.push(Choice {
                    label: format!("{value} (not in the list)"),
                    value: value.clone(),
                    selected: true,
                });
            }
            let now = now
                .map(|r| {
                    r.fields
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .filter(|saved| *saved != value);
            FieldView {
                name,
                label: column_label(store::stem(spec), name),
                required,
                input,
                inputmode: match kind {
                    ColumnKind::Number => "decimal",
                    ColumnKind::Count | ColumnKind::Date => "numeric",
                    _ => "text",
                },
                value,
                choices,
                hint: hint(kind),
                error,
                fixed: fixed.contains(&name),
                now,
            }
        })
        .collect()
}

fn spec_of(name: &str) -> Result<&'static FileSpec, PageError> {
    table(name).ok_or_else(PageError::not_found)
}

/// The path of a record's form.
fn record_path(table: &str, key: &str) -> String {
    format!("/records/{table}/{}", form_urlencode(key))
}

fn casebook_path(patient: &str) -> String {
    format!("/patients/{}", form_urlencode(patient))
}

/// Refusals that name no field of the form (a rule across records, or a
/// field this form does not have) go to the top of the form.
fn unplaced(spec: &FileSpec, errors: &[FieldError]) -> Vec<String> {
    errors
        .iter()
        .filter(|e| {
            e.field
                .as_deref()
                .is_none_or(|f| !spec.columns.iter().any(|(c, _)| *c == f))
        })
        .map(|e| match &e.field {
            Some(f) => format!("{f}: {}", e.rule),
            None => e.rule.clone(),
        })
        .collect()
}

/// A store refusal as the form shows it: field rules at their fields, a
/// missing reason at the reason, anything else at the top.
struct Refusal {
    status: StatusCode,
    fields: Vec<FieldError>,
    reason: Option<String>,
    top: Vec<String>,
}

impl Refusal {
    fn of(e: StoreError) -> Result<Refusal, PageError> {
        let top = |status, message: String| Refusal {
            status,
            fields: Vec::new(),
            reason: None,
            top: vec![message],
        };
        Ok(match e {
            StoreError::Invalid(fields) => {
                // The change's reason, not a `reason` column of the record.
                let (reason, fields): (Vec<FieldError>, Vec<FieldError>) =
                    fields.into_iter().partition(|f| match f.field.as_deref() {
                        Some("_reason") => true,
                        Some("reason") => f.rule == REASON_REQUIRED,
                        _ => false,
                    });
                Refusal {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    fields,
                    reason: reason
                        .into_iter()
                        .map(|f| f.rule)
                        .reduce(|a, b| format!("{a}; {b}")),
                    top: Vec::new(),
                }
            }
            StoreError::ReasonRequired => Refusal {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                fields: Vec::new(),
                reason: Some(REASON_REQUIRED.into()),
                top: Vec::new(),
            },
            StoreError::Locked(m) => top(
                StatusCode::LOCKED,
                format!("The database is locked, nothing was saved: {m}"),
            ),
            StoreError::Forbidden(m) => top(StatusCode::FORBIDDEN, format!("Not allowed: {m}")),
            e => return Err(e.into()),
        })
    }

    /// Shows the refusal on `form`.
    fn show(self, spec: &FileSpec, form: &mut FormPage) -> StatusCode {
        form.errors = unplaced(spec, &self.fields)
            .into_iter()
            .chain(self.top)
            .collect();
        form.reason_error = self.reason;
        self.status
    }
}

/// A reason the page refuses before the store sees it: the store names
/// a NUL in a reason `reason`, which the form could not tell from the
/// `reason` column of `doses` or `hospital_stays`.
fn reason_rule(reason: &str) -> Option<String> {
    reason
        .contains('\0')
        .then(|| "contains a NUL character".to_owned())
}

/// The one site a site user works at, to fill in on a registration.
fn own_site(viewer: &Viewer) -> String {
    match &viewer.session.actor.scope {
        Scope::Sites(sites) if sites.len() == 1 => sites[0].clone(),
        _ => String::new(),
    }
}

/// `GET /register`: a blank registration form.
pub async fn register(viewer: Viewer) -> Result<Response, PageError> {
    let site = own_site(&viewer);
    let fields = field_views(
        &PATIENTS,
        |c| {
            if c == "site_id" {
                site.clone()
            } else {
                String::new()
            }
        },
        &[],
        &[],
        None,
    );
    Ok(page(
        StatusCode::OK,
        &FormPage::new(
            &viewer,
            &PATIENTS,
            "/register".into(),
            "/patients".into(),
            None,
            fields,
        ),
    ))
}

impl FormPage {
    fn new(
        viewer: &Viewer,
        spec: &'static FileSpec,
        action: String,
        back: String,
        patient: Option<String>,
        fields: Vec<FieldView>,
    ) -> FormPage {
        FormPage {
            nav: Some(viewer.nav()),
            title: table_title(spec),
            table: store::stem(spec),
            action,
            back,
            patient,
            editing: None,
            fields,
            errors: Vec::new(),
            reason: String::new(),
            reason_error: None,
            csrf: viewer.session.csrf.clone(),
            can_write: viewer.writes(),
            terms: ctcae_terms(),
        }
    }
}

/// `POST /register`.
pub async fn register_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    insert(&state, &viewer, &PATIENTS, None, pairs).await
}

/// `GET /patients/{id}/new/{table}`: a blank form of the patient's.
pub async fn new(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    if spec.name == PATIENTS.name {
        return Ok(Redirect::to("/register").into_response());
    }
    let patient = state
        .store
        .get(&viewer.session.actor, &PATIENTS, &id)
        .await?
        .patient_id;
    let fields = field_views(
        spec,
        |c| {
            if c == "patient_id" {
                patient.clone()
            } else {
                String::new()
            }
        },
        &[],
        &["patient_id"],
        None,
    );
    let action = format!("{}/new/{}", casebook_path(&patient), store::stem(spec));
    let back = casebook_path(&patient);
    Ok(page(
        StatusCode::OK,
        &FormPage::new(&viewer, spec, action, back, Some(patient), fields),
    ))
}

/// `POST /patients/{id}/new/{table}`.
pub async fn new_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, name)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    if spec.name == PATIENTS.name {
        return Err(PageError::not_found());
    }
    insert(&state, &viewer, spec, Some(id), pairs).await
}

/// Saves a new record, or shows the form again with what was typed.
async fn insert(
    state: &AppState,
    viewer: &Viewer,
    spec: &'static FileSpec,
    patient: Option<String>,
    pairs: Vec<(String, String)>,
) -> Result<Response, PageError> {
    let mut posted = Posted::read(spec, pairs);
    viewer.check_csrf(posted.csrf.as_deref())?;
    if let Some(p) = &patient {
        // The patient is the page's, whatever the form says.
        posted
            .cells
            .insert("patient_id".into(), Value::String(p.clone()));
    }
    let reason = (!posted.reason.trim().is_empty()).then_some(posted.reason.as_str());
    let outcome = match reason.and_then(reason_rule) {
        Some(rule) => Err(StoreError::field("_reason", rule)),
        None => match cells_from_json(spec, &posted.cells) {
            Ok(cells) => state
                .store
                .write(
                    &viewer.session.actor,
                    spec,
                    RecordChange::Insert { cells },
                    reason,
                )
                .await
                .map(|w| w.record),
            Err(e) => Err(e),
        },
    };
    let (action, back, fixed): (String, String, &[&str]) = match &patient {
        Some(p) => (
            format!("{}/new/{}", casebook_path(p), store::stem(spec)),
            casebook_path(p),
            &["patient_id"],
        ),
        None => ("/register".into(), "/patients".into(), &[]),
    };
    match outcome {
        Ok(record) => {
            tracing::info!(user = %viewer.session.actor.user, table = record.table, key = %record.key, "form saved");
            Ok(Redirect::to(&format!(
                "{}?saved={}#{}",
                casebook_path(&record.patient_id),
                record.table,
                record.table
            ))
            .into_response())
        }
        Err(e) => {
            let refusal = Refusal::of(e)?;
            let fields = field_views(spec, |c| posted.value(c), &refusal.fields, fixed, None);
            let mut form = FormPage::new(viewer, spec, action, back, patient, fields);
            form.reason = posted.reason.clone();
            let status = refusal.show(spec, &mut form);
            Ok(page(status, &form))
        }
    }
}

/// The form of a saved record, filled with `value`.
fn edit_form(
    viewer: &Viewer,
    spec: &'static FileSpec,
    record: &StoredRecord,
    value: impl Fn(&str) -> String,
    errors: &[FieldError],
    now: Option<&StoredRecord>,
) -> FormPage {
    let mut fixed = vec!["patient_id"];
    if spec.name == "adverse_events.csv" {
        fixed.push("ae_id");
    }
    let fields = field_views(spec, value, errors, &fixed, now);
    let mut form = FormPage::new(
        viewer,
        spec,
        record_path(record.table, &record.key),
        casebook_path(&record.patient_id),
        Some(record.patient_id.clone()),
        fields,
    );
    form.can_write = viewer.writes() && viewer.session.actor.writes(&record.site_id);
    form.editing = Some(Editing {
        key: record.key.clone(),
        version: record.version,
        recorded: format!(
            "version {}, {} by {}",
            record.version, record.recorded_at, record.recorded_by
        ),
        retract_reason: String::new(),
        retract_error: None,
    });
    form
}

fn saved_value(record: &StoredRecord) -> impl Fn(&str) -> String + '_ {
    |c| {
        record
            .fields
            .get(c)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// `GET /records/{table}/{key}`.
pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let record = state.store.get(&viewer.session.actor, spec, &key).await?;
    let form = edit_form(&viewer, spec, &record, saved_value(&record), &[], None);
    Ok(page(StatusCode::OK, &form))
}

/// `POST /records/{table}/{key}`: saves a change with its reason, or shows
/// the form again with what was typed. When someone saved the record
/// meanwhile, the form shows their values beside the user's, and saving
/// again replaces theirs knowingly.
pub async fn edit_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let posted = Posted::read(spec, pairs);
    viewer.check_csrf(posted.csrf.as_deref())?;
    let actor = &viewer.session.actor;
    let record = state.store.get(actor, spec, &key).await?;
    let version = posted.version()?;
    let outcome = match reason_rule(&posted.reason) {
        Some(rule) => Err(StoreError::field("_reason", rule)),
        None => match cells_from_json(spec, &posted.cells) {
            Ok(cells) => {
                let change = RecordChange::Update {
                    key: key.clone(),
                    expected_version: version,
                    cells,
                };
                state
                    .store
                    .write(actor, spec, change, Some(&posted.reason))
                    .await
                    .map(|w| w.record)
            }
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(saved) => {
            tracing::info!(user = %actor.user, table = saved.table, key = %saved.key, version = saved.version, "form saved");
            Ok(Redirect::to(&format!(
                "{}?saved={}#{}",
                casebook_path(&saved.patient_id),
                saved.table,
                saved.table
            ))
            .into_response())
        }
        Err(StoreError::Conflict { current, .. }) => {
            let mut form = edit_form(
                &viewer,
                spec,
                &record,
                |c| posted.value(c),
                &[],
                Some(&record),
            );
            form.errors.push(format!(
                "Someone saved this record while you were editing it: it is now version {current}, {} by {}. Their values are shown under yours where they differ. Nothing of yours was saved yet; save again to replace theirs with yours.",
                record.recorded_at, record.recorded_by
            ));
            form.reason = posted.reason.clone();
            Ok(page(StatusCode::CONFLICT, &form))
        }
        Err(e) => {
            let refusal = Refusal::of(e)?;
            let mut form = edit_form(
                &viewer,
                spec,
                &record,
                |c| posted.value(c),
                &refusal.fields,
                None,
            );
            if let Some(editing) = &mut form.editing {
                editing.version = version;
            }
            form.reason = posted.reason.clone();
            let status = refusal.show(spec, &mut form);
            Ok(page(status, &form))
        }
    }
}

/// `POST /records/{table}/{key}/retract`: withdraws the record with a
/// reason (nothing is deleted; its history stays).
pub async fn retract(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let posted = Posted::read(spec, pairs);
    viewer.check_csrf(posted.csrf.as_deref())?;
    let actor = &viewer.session.actor;
    let record = state.store.get(actor, spec, &key).await?;
    let version = posted.version()?;
    let outcome = match reason_rule(&posted.reason) {
        Some(rule) => Err(StoreError::field("_reason", rule)),
        None => {
            let change = RecordChange::Retract {
                key: key.clone(),
                expected_version: version,
            };
            state
                .store
                .write(actor, spec, change, Some(&posted.reason))
                .await
        }
    };
    match outcome {
        Ok(_) => {
            tracing::info!(user = %actor.user, table = record.table, key = %record.key, "form retracted");
            Ok(Redirect::to(&format!(
                "{}?saved={}#{}",
                casebook_path(&record.patient_id),
                record.table,
                record.table
            ))
            .into_response())
        }
        Err(e) => {
            let (status, message) = match e {
                e @ StoreError::Conflict { .. } => (
                    StatusCode::CONFLICT,
                    format!(
                        "{e}: the record changed since you opened it; look at it again before you retract it"
                    ),
                ),
                other => {
                    let refusal = Refusal::of(other)?;
                    let message = refusal
                        .reason
                        .into_iter()
                        .chain(refusal.top)
                        .chain(refusal.fields.iter().map(|f| f.rule.clone()))
                        .collect::<Vec<_>>()
                        .join("; ");
                    (refusal.status, message)
                }
            };
            let mut form = edit_form(&viewer, spec, &record, saved_value(&record), &[], None);
            if let Some(editing) = &mut form.editing {
                editing.retract_reason = posted.reason.clone();
                editing.retract_error = Some(message);
            }
            Ok(page(status, &form))
        }
    }
}

/// One version in the history page.
struct VersionRow {
    version: i64,
    recorded: String,
    by: String,
    reason: String,
    retracted: bool,
    /// Each column's value and whether it changed from the version before.
    cells: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    nav: Option<Nav>,
    title: &'static str,
    key: String,
    back: String,
    columns: Vec<String>,
    versions: Vec<VersionRow>,
}

/// `GET /records/{table}/{key}/history`: every version of a record, with
/// who, when, why, and what changed.
pub async fn history(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let actor = &viewer.session.actor;
    let versions = state.store.history(actor, spec, &key).await?;
    let mut rows = Vec::with_capacity(versions.len());
    let mut before: Option<&Map<String, Value>> = None;
    let cell = |fields: &Map<String, Value>, c: &str| {
        fields
            .get(c)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    for v in &versions {
        rows.push(VersionRow {
            version: v.version,
            recorded: v.recorded_at.clone(),
            by: v.recorded_by.clone(),
            reason: v.reason.clone().unwrap_or_default(),
            retracted: v.retracted,
            cells: spec
                .columns
                .iter()
                .map(|(c, _)| {
                    let now = cell(&v.fields, c);
                    let changed = before.is_some_and(|b| cell(b, c) != now);
                    (now, changed)
                })
                .collect(),
        });
        before = Some(&v.fields);
    }
    let back = match state.store.get(actor, spec, &key).await {
        Ok(r) => record_path(r.table, &r.key),
        Err(StoreError::NotFound) => "/patients".into(),
        Err(e) => return Err(e.into()),
    };
    Ok(page(
        StatusCode::OK,
        &HistoryPage {
            nav: Some(viewer.nav()),
            title: table_title(spec),
            key,
            back,
            columns: spec
                .columns
                .iter()
                .map(|(c, _)| column_label(store::stem(spec), c))
                .collect(),
            versions: rows,
        },
    ))
}
