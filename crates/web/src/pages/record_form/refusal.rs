//! A store's refusal as a form shows it: each field's rule at its field, a
//! missing reason at the reason, anything else above the form.

use axum::http::StatusCode;
use store::{FieldError, REASON_REQUIRED, StoreError};
use trial::bundle::FileSpec;

use super::FormPage;
use crate::pages::PageError;

pub struct Refusal {
    pub status: StatusCode,
    pub fields: Vec<FieldError>,
    pub reason: Option<String>,
    pub top: Vec<String>,
}

impl Refusal {
    /// The refusals a form can show; any other error is a page of its own.
    pub fn of(spec: &FileSpec, e: StoreError) -> Result<Refusal, PageError> {
        let top = |status, message: String| Refusal {
            status,
            fields: Vec::new(),
            reason: None,
            top: vec![message],
        };
        Ok(match e {
            StoreError::Invalid(fields) => {
                let fields = fields
                    .into_iter()
                    .map(|f| at_its_field(spec, f))
                    .collect::<Vec<_>>();
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

    /// Puts the refusal on `form`; returns the status to answer with.
    pub fn show(self, spec: &FileSpec, form: &mut FormPage) -> StatusCode {
        form.errors = unplaced(spec, &self.fields)
            .into_iter()
            .chain(self.top)
            .collect();
        form.reason_error = self.reason;
        self.status
    }
}

/// A rule across fields names no field, but its message starts with the
/// column it found wrong ("end_date 2025-03-25 is before onset_date …"):
/// the form shows it there, where the user will correct it.
fn at_its_field(spec: &FileSpec, mut error: FieldError) -> FieldError {
    if error.field.is_none()
        && let Some((first, _)) = error.rule.split_once(' ')
        && spec.columns.iter().any(|(c, _)| *c == first)
    {
        error.field = Some(first.to_owned());
    }
    error
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

/// The one rule the pages check themselves, before the store sees the
/// reason: the store names a NUL in a change's reason `reason`, which a
/// form could not tell from the `reason` column of `doses` or
/// `hospital_stays`.
pub fn reason_rule(reason: &str) -> Option<String> {
    reason
        .contains('\0')
        .then(|| "contains a NUL character".to_owned())
}
