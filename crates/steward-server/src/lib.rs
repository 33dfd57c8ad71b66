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
pub mod secrets;
mod sessions;
mod state;
mod two_factor;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use api::openapi::openapi_json;
pub use clock::{Clock, SystemClock};
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
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    background.abort();
    result.map_err(anyhow::Error::from)
}

/// A state over a store with the system clock.
pub fn state(store: steward_store::Store, config: ServerConfig) -> AppState {
    AppState::new(store, Arc::new(SystemClock), config)
}
