//! What the REST API (`/api/v1`) shares: health, the OpenAPI document, paging and the mapping
//! from stored records to wire types ([`views`]). The endpoints live with their capability
//! (`devices::api`, `users::api`, …): each parses the request, authenticates a principal,
//! calls its service and maps the answer. Answers are never cached (`Cache-Control:
//! no-store`, from `web::layers`): some carry secrets shown once, and all describe live state.

pub mod openapi;
pub mod views;

use axum::Json;
use axum::extract::State;
use steward_proto::api::Health;
use utoipa_axum::routes;

use crate::state::AppState;
use crate::web::routes::{Access, Routes};

/// The API's own routes: health and the OpenAPI document. The rest are declared by their
/// capabilities.
pub fn routes() -> Routes {
    Routes::new().api(Access::Public, routes!(health)).get(
        "/api/openapi.json",
        Access::Public,
        openapi::serve,
    )
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
