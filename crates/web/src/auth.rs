//! Sign-in state as a typed handler argument: a handler that takes
//! [`Signed`] cannot run without a valid session, and one that changes data
//! takes [`Writing`], which also checks the CSRF token — so no handler can
//! forget either (vaultwarden's `AdminHeaders` idea).

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use store::Session;

use crate::AppState;
use crate::error::ApiError;

/// Name of the session cookie.
pub const COOKIE: &str = "isatrial_session";
/// Header that must echo the session's CSRF token on every change.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub(crate) fn cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// A request from a signed-in user.
pub struct Signed(pub Session);

impl FromRequestParts<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie(parts).ok_or(ApiError::Unauthenticated)?;
        let session = state
            .store
            .session(&token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Signed(session))
    }
}

/// A signed-in request that may change data: the CSRF header matches.
pub struct Writing(pub Session);

impl FromRequestParts<AppState> for Writing {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Signed(session) = Signed::from_request_parts(parts, state).await?;
        if parts.method != Method::GET {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if sent != Some(session.csrf.as_str()) {
                return Err(ApiError::Forbidden(format!(
                    "missing or wrong {CSRF_HEADER} header: send the csrf token the login returned"
                )));
            }
        }
        Ok(Writing(session))
    }
}

/// The `Set-Cookie` value of a new session: HttpOnly, SameSite=Strict, and
/// Secure when the server runs behind HTTPS.
pub fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        store::SESSION_SECONDS,
        if secure { "; Secure" } else { "" }
    )
}

/// A `Set-Cookie` value that ends the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}
