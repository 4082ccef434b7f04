//! The multi-user server: case report forms for the sites and a JSON API
//! over the audited store, with sessions
//! in the database (so several server processes can share one PostgreSQL),
//! roles and sites enforced by the store, CSRF on every change, and an
//! OpenAPI document generated from the record specs.

mod api;
mod auth;
mod distinct;
mod error;
mod openapi;
mod pages;
mod query_api;

pub use auth::{COOKIE, CSRF_HEADER};
pub use openapi::document as openapi_document;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use store::Store;
use tower_http::trace::TraceLayer;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 256 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Mark cookies `Secure` (behind HTTPS).
    pub secure_cookies: bool,
    /// Served behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`: login throttling then counts by that address,
    /// not the proxy's. Off, the header is ignored (a client could forge it).
    pub behind_proxy: bool,
}

/// The forms and the whole API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/me", get(api::me))
        .route("/api/tables", get(api::tables))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/queries", get(api::queries))
        .route(
            "/api/manual-queries",
            get(query_api::list).post(query_api::raise),
        )
        .route("/api/manual-queries/{id}", get(query_api::get))
        .route("/api/manual-queries/{id}/{step}", post(query_api::step))
        .route("/api/audit", get(api::audit))
        .route("/api/state", get(api::state))
        .route("/api/lock", post(api::lock))
        .route("/api/unlock", post(api::unlock))
        .route("/api/cutoff", post(api::cutoff))
        .route("/api/report", get(api::report))
        .route("/api/patients/{id}/casebook", get(api::casebook))
        .route(
            "/api/patients/{id}/signatures",
            get(query_api::signatures).post(query_api::sign),
        )
        .route("/api/{table}", get(api::list).post(api::create))
        .route(
            "/api/{table}/{key}",
            get(api::get).put(api::update).delete(api::retract),
        )
        .route("/api/{table}/{key}/history", get(api::history))
        .merge(pages::routes())
        .fallback(api::not_found)
        .layer(axum::middleware::map_response(no_store))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Every answer holds patient data or a session: none may be kept by a
/// browser or a proxy, unless its handler said otherwise (the stylesheet).
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
    response
}

/// Serves until SIGINT or SIGTERM, finishing requests in flight.
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "isatrial serving");
    ready(local);
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
