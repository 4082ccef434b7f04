//! Signing in and out through the pages: the same accounts, throttling and
//! lockout as `POST /api/login`, with a refused sign-in shown on the form
//! with the user name kept.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use store::LoginError;

use super::{Nav, PageError, Viewer, page};
use crate::AppState;
use crate::auth::{clear_cookie, set_cookie};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    user: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Where to go after signing in: a path of this server only, so that a
/// crafted link cannot send the user elsewhere with their session.
/// Browsers drop tabs and line breaks from a URL and read `\` as `/`, so
/// `/<tab>/host` or `/\host` would lead off the server: only visible
/// ASCII is taken (a path from our own links is percent-encoded).
fn same_server_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/patients".to_owned(),
    }
}

pub async fn form(Query(q): Query<Next>) -> Response {
    page(
        StatusCode::OK,
        &LoginPage {
            nav: None,
            user: String::new(),
            next: same_server_path(q.next.as_deref()),
            error: None,
        },
    )
}

/// Whether the browser says the sign-in form was posted from another
/// site's page: such a page could sign the user into an account of the
/// attacker's (login CSRF), which no session token can prevent because
/// there is no session yet. Browsers send `Sec-Fetch-Site` and `Origin`
/// with every form post; a client that sends neither is not a browser.
fn from_another_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            origin_host != host
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[derive(Deserialize)]
pub struct Credentials {
    user: String,
    password: String,
    next: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request_headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Result<Response, PageError> {
    let from = crate::api::client_address(state.behind_proxy, peer, &request_headers);
    let next = same_server_path(credentials.next.as_deref());
    if from_another_site(&request_headers) {
        tracing::warn!(address = %from, "sign-in posted from another site's page refused");
        return Err(PageError::Status(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "The sign-in form was sent from another site's page. Open this server's own sign-in page and sign in there.".into(),
        ));
    }
    let refused = |status, message: String| {
        page(
            status,
            &LoginPage {
                nav: None,
                user: credentials.user.clone(),
                next: next.clone(),
                error: Some(message),
            },
        )
    };
    match state
        .store
        .login(&credentials.user, &credentials.password, Some(&from))
        .await
    {
        Ok(session) => {
            tracing::info!(user = %credentials.user, "login (page)");
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&set_cookie(&session.token, state.secure_cookies))
                    .expect("a cookie is ASCII"),
            );
            Ok(response)
        }
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(e @ (LoginError::LockedOut | LoginError::Throttled { .. })) => {
            tracing::warn!(user = %credentials.user, address = %from, "login throttled (page)");
            Ok(refused(StatusCode::TOO_MANY_REQUESTS, e.to_string()))
        }
        Err(e) => {
            tracing::warn!(user = %credentials.user, "login refused (page)");
            Ok(refused(StatusCode::UNAUTHORIZED, e.to_string()))
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    viewer.check_csrf(form.csrf.as_deref())?;
    state.store.logout(&viewer.session.token).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_cookie()).expect("ASCII"),
    );
    Ok(response)
}
