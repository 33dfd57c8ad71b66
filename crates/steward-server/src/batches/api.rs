//! Batches over the API: the newest ones with their progress, and one with each device's
//! job.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use steward_proto::api::ApiError;
use steward_proto::scripts::{Batch, BatchDetail};
use utoipa::IntoParams;

use super::service;
use crate::auth::{Authorized, ViewDevices};
use crate::error::{ApiQuery, AppResult};
use crate::state::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    Routes::new()
        .api(Access::Requires(Action::ViewDevices), routes!(list))
        .api(Access::Requires(Action::ViewDevices), routes!(detail))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// How many, newest first (default 50, at most 500).
    limit: Option<u32>,
}

/// The newest batches (a job sent to several devices) with their progress.
#[utoipa::path(get, path = "/api/v1/batches", tag = "jobs", params(ListQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<Batch>), (status = 401, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Vec<Batch>>> {
    let caller = who.caller(&state);
    Ok(Json(
        service::list(&state, &caller, q.limit.unwrap_or(50)).await?,
    ))
}

/// One batch, and each device's job in it (those within your scope): queued, offline,
/// dispatched, running, succeeded, failed or expired.
#[utoipa::path(get, path = "/api/v1/batches/{id}", tag = "jobs",
    params(("id" = String, Path, description = "batch id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = BatchDetail), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn detail(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<BatchDetail>> {
    let caller = who.caller(&state);
    Ok(Json(service::detail(&state, &caller, &id).await?))
}
