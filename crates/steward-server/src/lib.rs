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
pub mod retention;
pub mod secrets;
mod sessions;
mod state;
pub mod tls;
mod two_factor;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use api::openapi::openapi_json;
pub use clock::{Clock, SystemClock};
pub use dispatch::expire_jobs;
pub use state::{AppState, ServerConfig};

/// Builds the whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(agent_api::routes())
        .merge(console::routes())
        .fallback(error::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_body_bytes,
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
    let background = dispatch::spawn_poller(state.clone());
    let pruning = retention::spawn(state.clone());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    background.abort();
    pruning.abort();
    result.map_err(anyhow::Error::from)
}

/// [`serve`] over TLS: the same application, with each connection's peer address still
/// available to handlers, and the same graceful stop (in-flight requests get 10 s).
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let background = dispatch::spawn_poller(state.clone());
    let pruning = retention::spawn(state.clone());
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = {
        let handle = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        })
    };
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
        axum_server::tls_rustls::RustlsConfig::from_config(tls),
    );
    let result = axum_server::Server::<SocketAddr>::from_listener(listener)
        .acceptor(acceptor)
        .handle(handle)
        .serve(app)
        .await;
    stopper.abort();
    background.abort();
    pruning.abort();
    result.map_err(anyhow::Error::from)
}

/// A state over a store with the system clock.
pub fn state(store: steward_store::Store, config: ServerConfig) -> AppState {
    AppState::new(store, Arc::new(SystemClock), config)
}
