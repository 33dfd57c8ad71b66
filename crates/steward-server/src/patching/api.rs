//! Patching over the API: the fleet's and a device's pending updates, installs now,
//! approvals and patch policies.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::ApiError;
use steward_proto::patching::{
    Approval, ApprovalOut, InstallNow, PatchPolicyInput, PatchPolicyOut, PendingRow,
    UpdatesOverview,
};
use steward_proto::scripts::Batch;

use super::service;
use crate::auth::{Authorized, ManagePatching, ViewDevices};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    Routes::new()
        .api(Access::Requires(Action::ViewDevices), routes!(overview))
        .api(Access::Requires(Action::ViewDevices), routes!(device))
        .api(Access::Requires(Action::ManagePatching), routes!(install))
        .api(Access::Requires(Action::ViewDevices), routes!(approvals))
        .api(Access::Requires(Action::ManagePatching), routes!(approve))
        .api(Access::Requires(Action::ManagePatching), routes!(revoke))
        .api(Access::Requires(Action::ViewDevices), routes!(policies))
        .api(
            Access::Requires(Action::ManagePatching),
            routes!(create_policy),
        )
        .api(
            Access::Requires(Action::ManagePatching),
            routes!(update_policy),
        )
        .api(
            Access::Requires(Action::ManagePatching),
            routes!(delete_policy),
        )
}

/// The fleet's patching: devices missing security updates, the oldest pending security
/// update in days, reboots required, and each device's line.
#[utoipa::path(get, path = "/api/v1/updates", tag = "patching",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = UpdatesOverview), (status = 401, body = ApiError)))]
pub async fn overview(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<UpdatesOverview>> {
    Ok(Json(service::overview(&state, &who.caller(&state)).await?))
}

/// A device's pending updates, each with what its patch policy does with it.
#[utoipa::path(get, path = "/api/v1/devices/{id}/updates", tag = "patching",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<PendingRow>), (status = 404, body = ApiError)))]
pub async fn device(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<PendingRow>>> {
    Ok(Json(
        service::device_pending(&state, &who.caller(&state), &id).await?,
    ))
}

/// Install updates now on a device, a group or a tag (a batch: see `/api/v1/batches/{id}`).
#[utoipa::path(post, path = "/api/v1/updates/install", tag = "patching", request_body = InstallNow,
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = Batch), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn install(
    State(state): State<AppState>,
    who: Authorized<ManagePatching>,
    ApiJson(req): ApiJson<InstallNow>,
) -> AppResult<(StatusCode, Json<Batch>)> {
    let batch = service::install_now(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::ACCEPTED, Json(batch)))
}

/// The approved package versions.
#[utoipa::path(get, path = "/api/v1/updates/approvals", tag = "patching",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<ApprovalOut>), (status = 401, body = ApiError)))]
pub async fn approvals(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<ApprovalOut>>> {
    Ok(Json(service::approvals(&state, &who.caller(&state)).await?))
}

/// Approve one version of a package, fleet-wide.
#[utoipa::path(post, path = "/api/v1/updates/approvals", tag = "patching", request_body = Approval,
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn approve(
    State(state): State<AppState>,
    who: Authorized<ManagePatching>,
    ApiJson(req): ApiJson<Approval>,
) -> AppResult<StatusCode> {
    service::approve(&state, &who.caller(&state), &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraw an approval.
#[utoipa::path(delete, path = "/api/v1/updates/approvals", tag = "patching", request_body = Approval,
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = ApiError)))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Authorized<ManagePatching>,
    ApiJson(req): ApiJson<Approval>,
) -> AppResult<StatusCode> {
    service::revoke_approval(&state, &who.caller(&state), &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The patch policies.
#[utoipa::path(get, path = "/api/v1/patch-policies", tag = "patching",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<PatchPolicyOut>), (status = 401, body = ApiError)))]
pub async fn policies(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<PatchPolicyOut>>> {
    Ok(Json(service::policies(&state, &who.caller(&state)).await?))
}

/// Add a patch policy.
#[utoipa::path(post, path = "/api/v1/patch-policies", tag = "patching", request_body = PatchPolicyInput,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = PatchPolicyOut), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create_policy(
    State(state): State<AppState>,
    who: Authorized<ManagePatching>,
    ApiJson(req): ApiJson<PatchPolicyInput>,
) -> AppResult<(StatusCode, Json<PatchPolicyOut>)> {
    let policy = service::create_policy(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

/// Change a patch policy (by id or name).
#[utoipa::path(put, path = "/api/v1/patch-policies/{id}", tag = "patching", request_body = PatchPolicyInput,
    params(("id" = String, Path, description = "policy id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = PatchPolicyOut), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update_policy(
    State(state): State<AppState>,
    who: Authorized<ManagePatching>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PatchPolicyInput>,
) -> AppResult<Json<PatchPolicyOut>> {
    Ok(Json(
        service::update_policy(&state, &who.caller(&state), &id, &req).await?,
    ))
}

/// Delete a patch policy (by id or name).
#[utoipa::path(delete, path = "/api/v1/patch-policies/{id}", tag = "patching",
    params(("id" = String, Path, description = "policy id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn delete_policy(
    State(state): State<AppState>,
    who: Authorized<ManagePatching>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    service::delete_policy(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
