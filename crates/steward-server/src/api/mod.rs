//! The REST API (`/api/v1`). Handlers parse the request, authenticate a [`Principal`], and
//! call the store; the mapping from stored records to wire types lives in [`views`].

pub mod access;
pub mod devices;
pub mod openapi;
pub mod organize;
pub mod users;
pub mod views;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, post};
use steward_proto::api::Health;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/api/v1/devices", get(devices::list))
        .route(
            "/api/v1/devices/{id}",
            get(devices::detail).patch(organize::update_device),
        )
        .route("/api/v1/devices/{id}/software", get(devices::software))
        .route("/api/v1/devices/{id}/changes", get(devices::changes))
        .route(
            "/api/v1/devices/{id}/jobs",
            get(devices::jobs).post(devices::create_job),
        )
        .route("/api/v1/devices/{id}/revoke", post(devices::revoke))
        .route(
            "/api/v1/devices/{id}/rotate-credential",
            post(devices::rotate_credential),
        )
        .route("/api/v1/audit", get(access::audit))
        .route("/api/v1/audit.csv", get(access::audit_csv))
        .route(
            "/api/v1/api-tokens",
            get(access::list_tokens).post(access::create_token),
        )
        .route("/api/v1/api-tokens/{id}/revoke", post(access::revoke_token))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::detail)
                .patch(users::update)
                .delete(users::delete),
        )
        .route(
            "/api/v1/users/{id}/reset-password",
            post(users::reset_password),
        )
        .route(
            "/api/v1/users/{id}/reset-two-factor",
            post(users::reset_two_factor),
        )
        .route("/api/v1/groups", get(organize::list).post(organize::create))
        .route("/api/v1/groups/{id}", delete(organize::delete))
        .route(
            "/api/v1/settings/security",
            get(access::security_settings).put(access::update_security_settings),
        )
        .route("/api/v1/enroll-tokens", post(access::create_enroll_token))
        .layer(axum::middleware::map_response(no_store))
}

/// Liveness and database reachability. No authentication.
#[utoipa::path(get, path = "/api/v1/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = steward_proto::api::ApiError)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, crate::error::AppError> {
    state.store.ping().await.map_err(|e| {
        tracing::error!(error = %e, "health check: database unreachable");
        crate::error::AppError::unavailable("the database is unreachable")
    })?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: state.store.backend().as_str().into(),
    }))
}

/// API answers are never cached: some carry secrets shown once (new tokens, one-time
/// passwords), and all describe live state.
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
