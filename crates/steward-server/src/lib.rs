//! Steward's control plane: the REST API (`/api/v1`, described at `/api/openapi.json`), the
//! agent protocol endpoints (`/agent/v1`), the web console, and job dispatch.
//!
//! Sliced by capability (`devices`, `groups`, `users`, `tokens`, `enrollment`, `security`,
//! `audit`, `account`, `backup`): each module's service owns its rules, audit entries and
//! errors, and its API and console adapters parse, authenticate and call it. Architecture
//! invariant: no SQL here (the store's), no domain rules in handlers (the core's and the
//! services'). Every route is declared once, with its access decision, in [`routes`]; every
//! route except health, the OpenAPI document, static assets, sign-in and enrollment requires
//! a principal, and the extractor that yields it is the only way to get one.

mod account;
pub mod admin;
mod agent_api;
mod api;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod batches;
pub mod clock;
mod console;
pub mod detection;
pub mod devices;
mod dispatch;
pub mod enrollment;
pub mod error;
pub mod groups;
pub mod history;
mod ingest;
pub mod mfa;
pub mod monitoring;
pub mod net;
pub mod patching;
pub mod posture;
pub mod retention;
pub mod scripts;
pub mod secrets;
pub mod security;
pub mod service;
mod sessions;
mod state;
pub mod telemetry;
pub mod tls;
pub mod tokens;
mod two_factor;
pub mod users;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use web::routes::{Registration, Routes};

pub use api::openapi::openapi_json;
pub use clock::{Clock, ManualClock, SystemClock};
pub use dispatch::expire_jobs;
pub use net::NetLimits;
pub use state::{AppState, ServerConfig};

/// Every route of the application with its access decision, grouped by capability. The one
/// declaration the router, the OpenAPI document and the access walk are built from.
pub fn routes(config: &ServerConfig) -> Routes {
    let small = config.max_request_body_bytes;
    let people = Routes::new()
        .merge(api::routes())
        .merge(console::routes())
        .merge(account::routes())
        .merge(devices::routes())
        .merge(history::routes())
        .merge(groups::routes())
        .merge(users::routes())
        .merge(tokens::routes())
        .merge(enrollment::routes())
        .merge(security::routes())
        .merge(audit::routes())
        .merge(monitoring::routes())
        .merge(telemetry::scrape::routes())
        .merge(monitoring::manage::routes())
        .merge(backup::console::routes())
        .merge(posture::routes())
        .merge(batches::routes())
        .merge(patching::routes())
        .merge(detection::routes())
        .map_routers(
            |api| net::body_limit::limit_documented(api, small),
            |pages| net::body_limit::limit(pages, small),
        );
    people
        .merge(agent_api::routes(small, config.max_body_bytes))
        .merge(backup::routes(small))
        .merge(posture::attachment_routes())
        .merge(scripts::routes())
}

/// The registered routes and their access decisions (for the access walk in the tests).
pub fn route_table() -> Vec<Registration> {
    routes(&ServerConfig::default()).into_parts().2
}

/// Builds the whole HTTP application from [`routes`]. Request bodies are limited per group of
/// routes ([`net::body_limit`]); around every routed request ([`web::layers::around_route`])
/// a route missing from the table is refused, and the answer gets the security headers and
/// a log line; every answer carries a request id; every route, the fallback included, runs
/// behind [`net::origin::edge`].
pub fn router(state: AppState) -> Router {
    let (router, _, table) = routes(&state.config).into_parts();
    router
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            web::layers::Around {
                decided: web::routes::Decided::new(&table),
                telemetry: state.telemetry.clone(),
            },
            web::layers::around_route,
        ))
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            web::layers::REQUEST_ID.clone(),
            web::layers::Ids::default(),
        ))
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
    monitoring::sync_declared(
        &state,
        &state.config.declared_checks,
        &state.config.declared_channels,
    )
    .await
    .map_err(|e| anyhow::anyhow!("storing the checks and channels of the configuration: {e}"))?;
    // The file names groups and devices; a check naming none that exists is left out.
    let (device_checks, unresolved) =
        monitoring::checks::resolve_declared(&state, &state.config.declared_device_checks)
            .await
            .map_err(|e| anyhow::anyhow!("reading the device checks of the configuration: {e}"))?;
    monitoring::declared_devices::sync(&state, &device_checks)
        .await
        .map_err(|e| anyhow::anyhow!("storing the device checks of the configuration: {e}"))?;
    monitoring::install_default_checks(&state)
        .await
        .map_err(|e| anyhow::anyhow!("adding the default checks: {e}"))?;
    // After the checks and channels (declared and default): windows and routes name them.
    let windows = monitoring::windows::sync_declared(&state, &state.config.declared_windows)
        .await
        .map_err(|e| {
            anyhow::anyhow!("storing the maintenance windows of the configuration: {e}")
        })?;
    let routes = monitoring::channels::sync_declared_routes(&state, &state.config.declared_routes)
        .await
        .map_err(|e| anyhow::anyhow!("storing the routes of the configuration: {e}"))?;
    let backups = backup::declared::sync(&state, &state.config.declared_backups)
        .await
        .map_err(|e| anyhow::anyhow!("storing the backup policies of the configuration: {e}"))?;
    for problem in unresolved.iter().chain(&windows).chain(&routes) {
        tracing::error!("config: {problem}; this entry is left out");
    }
    for problem in &backups {
        tracing::error!("config: {problem}; this entry is left out");
    }
    let background = dispatch::spawn_poller(state.clone());
    let pruning = retention::spawn(state.clone());
    let rollups = history::rollups::spawn(state.clone());
    let checks = monitoring::scheduler::spawn(state.clone());
    let notifications = monitoring::notifier::spawn(state.clone());
    let heartbeats = monitoring::devices::spawn_sweep(state.clone());
    let backup_alerts = backup::alerts::spawn(state.clone());
    let posture_alerts = posture::alerts::spawn(state.clone());
    let patching_alerts = patching::alerts::spawn(state.clone());
    let patch_installs = patching::scheduler::spawn(state.clone());
    let detection_alerts = detection::alerts::spawn(state.clone());
    let stopped_agents = detection::server_side::spawn(state.clone());
    let drills = backup::drills::spawn(state.clone());
    let leases = monitoring::leases::spawn(state.clone());
    let backup_runs = backup::scheduler::spawn(state.clone());
    let backup_retention = backup::maintenance::spawn(state.clone());
    let backup_storage = backup::storage::watch(state.clone());
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
    rollups.abort();
    checks.abort();
    notifications.abort();
    heartbeats.abort();
    backup_alerts.abort();
    posture_alerts.abort();
    patching_alerts.abort();
    patch_installs.abort();
    detection_alerts.abort();
    stopped_agents.abort();
    drills.abort();
    leases.abort();
    backup_runs.abort();
    backup_retention.abort();
    backup_storage.abort();
    result.map_err(anyhow::Error::from)
}

/// A state over a store with the system clock; fails as [`AppState::new`] does.
pub fn state(store: steward_store::Store, config: ServerConfig) -> anyhow::Result<AppState> {
    AppState::new(store, Arc::new(SystemClock), config)
}
