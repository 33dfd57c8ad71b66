//! Steward's control plane: the REST API (`/api/v1`, described at `/api/openapi.json`), the
//! agent protocol endpoints (`/agent/v1`), the web console, and job dispatch.
//!
//! Architecture invariant: handlers parse and authenticate at the edge, ask `steward-core`
//! for decisions and `steward-store` for data; no SQL here, no domain rules in handlers.
//! Every route except health, login and enrollment requires a principal, and the extractor
//! that yields it is the only way to get one.

pub mod admin;
mod agent_api;
mod api;
pub mod audit;
mod auth;
pub mod clock;
mod console;
mod dispatch;
pub mod error;
mod ingest;
pub mod mfa;
pub mod net;
pub mod retention;
pub mod secrets;
mod sessions;
mod state;
pub mod tls;
mod two_factor;
pub mod users;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use api::openapi::openapi_json;
pub use clock::{Clock, ManualClock, SystemClock};
pub use dispatch::expire_jobs;
pub use net::NetLimits;
pub use state::{AppState, ServerConfig};

/// Builds the whole HTTP application. Request bodies are limited per group of routes
/// ([`net::body_limit`]); every route, the fallback included, runs behind [`net::origin::edge`].
pub fn router(state: AppState) -> Router {
    let small = state.config.max_request_body_bytes;
    Router::new()
        .merge(net::body_limit::limit(api::routes(), small))
        .merge(agent_api::routes(small, state.config.max_body_bytes))
        .merge(net::body_limit::limit(console::routes(), small))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            net::origin::edge,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves. Production and tests start the server the same way:
/// bind a listener (port 0 in tests), build the state, call this.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`] over TLS: the same application and limits, with each connection's peer address
/// still available to handlers, and the same graceful stop.
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    serve_with(listener, state, Some(acceptor), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let background = dispatch::spawn_poller(state.clone());
    let pruning = retention::spawn(state.clone());
    let limits = state.config.net.clone();
    let trusted_proxies = state.config.trusted_proxies.clone();
    let result = net::listen::run(
        listener,
        router(state),
        tls,
        limits,
        trusted_proxies,
        shutdown,
    )
    .await;
    background.abort();
    pruning.abort();
    result.map_err(anyhow::Error::from)
}

/// A state over a store with the system clock.
pub fn state(store: steward_store::Store, config: ServerConfig) -> AppState {
    AppState::new(store, Arc::new(SystemClock), config)
}
