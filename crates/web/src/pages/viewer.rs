//! The signed-in user of a page: a handler that takes [`Viewer`] cannot run
//! without a session, and one that changes data checks the form's CSRF
//! token with [`Viewer::check_csrf`] before it calls the store.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use store::{Role, Scope, Session};

use super::{Nav, PageError};
use crate::AppState;

/// A page request from a signed-in user.
pub(crate) struct Viewer {
    pub session: Session,
    pub locked: bool,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = if parts.method == axum::http::Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned())
        } else {
            form_page_of(parts.uri.path())
        };
        let signed_out = || PageError::SignedOut { next: next.clone() };
        let token = crate::auth::cookie(parts).ok_or_else(signed_out)?;
        let session = state.store.session(&token).await?.ok_or_else(signed_out)?;
        let locked = state.store.state().await?.locked;
        Ok(Viewer { session, locked })
    }
}

impl Viewer {
    /// The navigation bar of this user's pages.
    pub fn nav(&self) -> Nav {
        let actor = &self.session.actor;
        Nav {
            user: actor.user.clone(),
            role: role_label(actor.role),
            sites: match &actor.scope {
                Scope::All => "all sites".into(),
                Scope::Sites(sites) => sites.join(", "),
            },
            csrf: self.session.csrf.clone(),
            locked: self.locked,
            audits: matches!(actor.role, Role::Monitor | Role::DataManager | Role::Admin),
        }
    }

    /// Whether a form carries this session's CSRF token: a page of
    /// another origin cannot make the user's browser change data.
    pub fn csrf_matches(&self, sent: Option<&str>) -> bool {
        sent == Some(self.session.csrf.as_str())
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), PageError> {
        if self.csrf_matches(sent) {
            Ok(())
        } else {
            Err(PageError::Status(
                StatusCode::FORBIDDEN,
                "Form expired",
                "The form did not carry this session's token (it may come from an earlier session). Nothing was changed: go back, reload the page and enter the change again.".into(),
            ))
        }
    }

    /// Whether the user may enter data at all.
    pub fn writes(&self) -> bool {
        self.session.actor.role.can_write() && !self.locked
    }
}

/// The page whose form posts to `path`: where a user whose session ended
/// while the form was open goes back to after signing in again (a post
/// cannot be repeated by a redirect).
fn form_page_of(path: &str) -> String {
    if let Some(record) = path.strip_suffix("/retract") {
        record.to_owned()
    } else if let Some(casebook) = path.strip_suffix("/sign") {
        casebook.to_owned()
    } else if let Some(query) = path
        .strip_prefix("/manual-queries/")
        .and_then(|rest| rest.split_once('/'))
    {
        format!("/manual-queries/{}", query.0)
    } else if path.starts_with("/administration") {
        "/administration".to_owned()
    } else if path == "/logout" {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

/// A role as the pages name it.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "administrator",
        Role::Investigator => "investigator",
        Role::StudyNurse => "study nurse",
        Role::Monitor => "monitor",
        Role::DataManager => "data manager",
        Role::Statistician => "statistician",
    }
}
