//! The case report form of one record: blank for a new record, filled for
//! a change, refused with what the user typed and each field's rule. Each
//! save goes through the store's one audited write path, so the edit
//! checks, site walls, lock and reasons are the API's own.

mod fields;
mod history;
mod refusal;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use store::{RecordChange, Scope, StoreError, StoredRecord, cells_from_json, table};
use trial::bundle::{FileSpec, spec::PATIENTS};

pub use history::history;

use super::labels::table_title;
use super::{Nav, PageError, Viewer, casebook_path, page, record_path};
use crate::AppState;
use fields::{FieldView, Posted, cell, ctcae_terms, field_views, offer_sites, same};
use refusal::{Refusal, reason_rule};

#[derive(Template)]
#[template(path = "record_form.html")]
pub struct FormPage {
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
    /// The database is locked: the form is read only, and says why.
    locked: bool,
    terms: &'static [String],
    /// Links the record's queries raised by hand (not for statisticians,
    /// who read none).
    shows_queries: bool,
}

/// The saved record a form changes.
struct Editing {
    key: String,
    version: i64,
    recorded: String,
    retract_reason: String,
    retract_error: Option<String>,
}

/// Said on a form posted with another session's token (it was opened
/// before the user signed in again): shown again with what was typed.
const FORM_EXPIRED: &str = "This form was opened in an earlier session, so nothing was saved. Check what it holds and save again.";

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
            locked: viewer.locked,
            terms: ctcae_terms(),
            shows_queries: !viewer.session.actor.pseudonymized(),
        }
    }
}

fn spec_of(name: &str) -> Result<&'static FileSpec, PageError> {
    table(name).ok_or_else(PageError::not_found)
}

/// After a save: the patient's casebook at the form's section.
fn saved(record: &StoredRecord) -> Response {
    Redirect::to(&format!(
        "{}?saved={}#{}",
        casebook_path(&record.patient_id),
        record.table,
        record.table
    ))
    .into_response()
}

/// The version the user saw: without it a change could not be told from
/// one made over someone else's.
fn version_of(posted: &Posted) -> Result<i64, PageError> {
    posted
        .version
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

/// The one site a site user works at, to fill in on a registration.
fn own_site(viewer: &Viewer) -> String {
    match &viewer.session.actor.scope {
        Scope::Sites(sites) if sites.len() == 1 => sites[0].clone(),
        _ => String::new(),
    }
}

/// `GET /register`: a blank registration form.
pub async fn register(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let site = own_site(&viewer);
    let value = |c: &str| {
        if c == "site_id" {
            site.clone()
        } else {
            String::new()
        }
    };
    let mut fields = field_views(&PATIENTS, value, &[], &[], |_| None);
    offer_sites(
        &mut fields,
        &state.store.sites(&viewer.session.actor).await?,
    );
    let form = FormPage::new(
        &viewer,
        &PATIENTS,
        "/register".into(),
        "/patients".into(),
        None,
        fields,
    );
    Ok(page(StatusCode::OK, &form))
}

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
    let value = |c: &str| {
        if c == "patient_id" {
            patient.clone()
        } else {
            String::new()
        }
    };
    let fields = field_views(spec, value, &[], &["patient_id"], |_| None);
    let action = format!("{}/new/{}", casebook_path(&patient), store::stem(spec));
    let back = casebook_path(&patient);
    let form = FormPage::new(&viewer, spec, action, back, Some(patient), fields);
    Ok(page(StatusCode::OK, &form))
}

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
    if let Some(p) = &patient {
        // The patient is the page's, whatever the form says.
        posted
            .cells
            .insert("patient_id".into(), serde_json::Value::String(p.clone()));
    }
    let outcome = if viewer.csrf_matches(posted.csrf.as_deref()) {
        let reason = (!posted.reason.trim().is_empty()).then_some(posted.reason.as_str());
        match reason.and_then(reason_rule) {
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
        }
    } else {
        Err(StoreError::Forbidden(String::new()))
    };
    let (action, back, fixed): (String, String, &[&str]) = match &patient {
        Some(p) => (
            format!("{}/new/{}", casebook_path(p), store::stem(spec)),
            casebook_path(p),
            &["patient_id"],
        ),
        None => ("/register".into(), "/patients".into(), &[]),
    };
    let e = match outcome {
        Ok(record) => {
            tracing::info!(user = %viewer.session.actor.user, table = record.table, key = %record.key, "form saved");
            return Ok(saved(&record));
        }
        Err(e) => e,
    };
    let expired = matches!(&e, StoreError::Forbidden(m) if m.is_empty());
    let refusal = if expired {
        Refusal {
            status: StatusCode::FORBIDDEN,
            fields: Vec::new(),
            reason: None,
            top: vec![FORM_EXPIRED.into()],
        }
    } else {
        Refusal::of(spec, e)?
    };
    let mut fields = field_views(spec, |c| posted.value(c), &refusal.fields, fixed, |_| None);
    if spec.name == PATIENTS.name {
        offer_sites(
            &mut fields,
            &state.store.sites(&viewer.session.actor).await?,
        );
    }
    let mut form = FormPage::new(viewer, spec, action, back, patient, fields);
    form.reason = posted.reason.clone();
    let status = refusal.show(spec, &mut form);
    Ok(page(status, &form))
}

/// The form of the saved `record`, filled with `value`.
fn edit_form(
    viewer: &Viewer,
    spec: &'static FileSpec,
    record: &StoredRecord,
    value: impl Fn(&str) -> String,
    errors: &[store::FieldError],
    theirs: impl Fn(&str) -> Option<String>,
) -> FormPage {
    let mut fixed = vec!["patient_id"];
    if spec.name == "adverse_events.csv" {
        fixed.push("ae_id");
    }
    let fields = field_views(spec, value, errors, &fixed, theirs);
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

/// `GET /records/{table}/{key}`.
pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let spec = spec_of(&name)?;
    let record = state.store.get(&viewer.session.actor, spec, &key).await?;
    let value = |c: &str| cell(&record.fields, c);
    let mut form = edit_form(&viewer, spec, &record, value, &[], |_| None);
    sites_of_registration(&state, &viewer, spec, &mut form).await?;
    Ok(page(StatusCode::OK, &form))
}

/// A form posted about a saved record: what it holds, the record as the
/// user may see it now, and the version the user edited.
struct Submitted {
    spec: &'static FileSpec,
    posted: Posted,
    record: StoredRecord,
    version: i64,
}

impl Submitted {
    async fn read(
        state: &AppState,
        viewer: &Viewer,
        table: &str,
        key: &str,
        pairs: Vec<(String, String)>,
    ) -> Result<Submitted, PageError> {
        let spec = spec_of(table)?;
        let posted = Posted::read(spec, pairs);
        let record = match state.store.get(&viewer.session.actor, spec, key).await {
            Err(StoreError::NotFound) => {
                return Err(retracted_meanwhile(state, viewer, spec, key, &posted).await?);
            }
            other => other?,
        };
        let version = version_of(&posted)?;
        Ok(Submitted {
            spec,
            posted,
            record,
            version,
        })
    }
}

/// A change or retraction of a record someone retracted while the form
/// was open: the form comes back, unsaveable, with what the user typed and
/// who retracted it, why and when. A record the user may not see is not
/// found, as before.
async fn retracted_meanwhile(
    state: &AppState,
    viewer: &Viewer,
    spec: &'static FileSpec,
    key: &str,
    posted: &Posted,
) -> Result<PageError, PageError> {
    let versions = state
        .store
        .history(&viewer.session.actor, spec, key)
        .await?;
    let Some(last) = versions.last().filter(|v| v.retracted) else {
        return Ok(PageError::not_found());
    };
    let patient = cell(&last.fields, "patient_id");
    let fields = field_views(spec, |c| posted.value(c), &[], &[], |_| None);
    let mut form = FormPage::new(
        viewer,
        spec,
        record_path(store::stem(spec), key),
        casebook_path(&patient),
        Some(patient),
        fields,
    );
    form.can_write = false;
    form.errors.push(format!(
        "{} retracted this record at {} ({}) while you were editing it, so nothing was saved. What you entered is shown below; enter it as a new record if it still applies.",
        last.recorded_by,
        last.recorded_at,
        last.reason.as_deref().unwrap_or("no reason")
    ));
    Ok(PageError::Shown(Box::new(page(
        StatusCode::CONFLICT,
        &form,
    ))))
}

/// `POST /records/{table}/{key}`: saves a change with its reason, or shows
/// the form again with what was typed.
pub async fn edit_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let Submitted {
        spec,
        posted,
        record,
        version,
    } = Submitted::read(&state, &viewer, &name, &key, pairs).await?;
    let actor = &viewer.session.actor;
    if !viewer.csrf_matches(posted.csrf.as_deref()) {
        let mut form = edit_form(&viewer, spec, &record, |c| posted.value(c), &[], |_| None);
        if let Some(editing) = &mut form.editing {
            editing.version = version;
        }
        form.reason = posted.reason.clone();
        form.errors.push(FORM_EXPIRED.into());
        return Ok(page(StatusCode::FORBIDDEN, &form));
    }
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
        Ok(record) => {
            tracing::info!(user = %actor.user, table = record.table, key = %record.key, version = record.version, "form saved");
            Ok(saved(&record))
        }
        Err(StoreError::Conflict { .. }) => {
            conflict(&state, &viewer, spec, &key, version, &posted).await
        }
        Err(e) => {
            let refusal = Refusal::of(spec, e)?;
            let mut form = edit_form(
                &viewer,
                spec,
                &record,
                |c| posted.value(c),
                &refusal.fields,
                |_| None,
            );
            if let Some(editing) = &mut form.editing {
                editing.version = version;
            }
            form.reason = posted.reason.clone();
            sites_of_registration(&state, &viewer, spec, &mut form).await?;
            let status = refusal.show(spec, &mut form);
            Ok(page(status, &form))
        }
    }
}

/// On a registration's form, the sites the user may move the patient to.
async fn sites_of_registration(
    state: &AppState,
    viewer: &Viewer,
    spec: &FileSpec,
    form: &mut FormPage,
) -> Result<(), PageError> {
    if spec.name == PATIENTS.name && form.can_write {
        offer_sites(
            &mut form.fields,
            &state.store.sites(&viewer.session.actor).await?,
        );
    }
    Ok(())
}

/// A change made to version `base` when someone saved another meanwhile:
/// the form comes back at the version now saved, merged field by field.
/// A field the user left as it was takes the value saved meanwhile (so
/// saving again cannot undo someone's correction unseen); a field the user
/// changed keeps the user's value, with the other value beside it where
/// both changed it differently. Nothing is saved until the user saves
/// again.
async fn conflict(
    state: &AppState,
    viewer: &Viewer,
    spec: &'static FileSpec,
    key: &str,
    base: i64,
    posted: &Posted,
) -> Result<Response, PageError> {
    let actor = &viewer.session.actor;
    let now = state.store.get(actor, spec, key).await?;
    let history = state.store.history(actor, spec, key).await?;
    let Some(seen) = history.iter().find(|v| v.version == base) else {
        return Err(PageError::Status(
            StatusCode::CONFLICT,
            "The record changed",
            format!(
                "The form was made from version {base}, which this record never had; open the record again (it is at version {})",
                now.version
            ),
        ));
    };
    let untouched = |c: &str| same(spec, c, &posted.value(c), &cell(&seen.fields, c));
    let value = |c: &str| {
        if untouched(c) {
            cell(&now.fields, c)
        } else {
            posted.value(c)
        }
    };
    let theirs = |c: &str| {
        let (mine, theirs) = (posted.value(c), cell(&now.fields, c));
        let both_changed = !untouched(c) && !same(spec, c, &theirs, &cell(&seen.fields, c));
        (both_changed && !same(spec, c, &mine, &theirs)).then_some(theirs)
    };
    let mut form = edit_form(viewer, spec, &now, value, &[], theirs);
    form.errors.push(format!(
        "Someone saved this record while you were editing it: it is now version {}, {} by {}. Fields you had not changed now hold their values; where you both changed a field, yours is kept and theirs is shown under it. Nothing of yours was saved yet: check the form and save again.",
        now.version, now.recorded_at, now.recorded_by
    ));
    form.reason = posted.reason.clone();
    Ok(page(StatusCode::CONFLICT, &form))
}

/// `GET /records/{table}/{key}/retract`: the record's form, where the
/// retraction is asked for.
pub async fn to_record(Path((table, key)): Path<(String, String)>) -> Redirect {
    Redirect::to(&record_path(&table, &key))
}

/// `POST /records/{table}/{key}/retract`: withdraws the record with a
/// reason (nothing is deleted; its history stays).
pub async fn retract(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, key)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let Submitted {
        spec,
        posted,
        record,
        version,
    } = Submitted::read(&state, &viewer, &name, &key, pairs).await?;
    let actor = &viewer.session.actor;
    let outcome = if !viewer.csrf_matches(posted.csrf.as_deref()) {
        Err((StatusCode::FORBIDDEN, FORM_EXPIRED.to_owned()))
    } else if let Some(rule) = reason_rule(&posted.reason) {
        Err((StatusCode::UNPROCESSABLE_ENTITY, rule))
    } else {
        let change = RecordChange::Retract {
            key: key.clone(),
            expected_version: version,
        };
        match state
            .store
            .write(actor, spec, change, Some(&posted.reason))
            .await
        {
            Ok(_) => Ok(()),
            Err(e @ StoreError::Conflict { .. }) => Err((
                StatusCode::CONFLICT,
                format!(
                    "{e}: the record changed since you opened it; look at it again before you retract it"
                ),
            )),
            Err(other) => {
                let refusal = Refusal::of(spec, other)?;
                let message = refusal
                    .reason
                    .into_iter()
                    .chain(refusal.top)
                    .chain(refusal.fields.iter().map(|f| f.rule.clone()))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err((refusal.status, message))
            }
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!(user = %actor.user, table = record.table, key = %record.key, "form retracted");
            // A retracted registration leaves no casebook to go back to.
            let to = if spec.name == PATIENTS.name {
                "/patients?retracted=patients".to_owned()
            } else {
                format!(
                    "{}?retracted={}#{}",
                    casebook_path(&record.patient_id),
                    record.table,
                    record.table
                )
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err((status, message)) => {
            let value = |c: &str| cell(&record.fields, c);
            let mut form = edit_form(&viewer, spec, &record, value, &[], |_| None);
            if let Some(editing) = &mut form.editing {
                editing.retract_reason = posted.reason.clone();
                editing.retract_error = Some(message);
            }
            Ok(page(status, &form))
        }
    }
}
