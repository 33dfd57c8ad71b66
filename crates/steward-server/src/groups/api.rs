//! Device groups (sites) over the API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::{ApiError, CreateGroup, GroupInfo};
use steward_store::GroupRecord;

use crate::auth::{Authorized, ManageUsers, OrganizeDevices, ViewDevices};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;

fn info(g: GroupRecord) -> GroupInfo {
    GroupInfo {
        id: g.id,
        name: g.name,
        created_at: g.created_at,
        devices: g.devices,
    }
}

/// Device groups (sites) the principal can see, with their device counts.
#[utoipa::path(get, path = "/api/v1/groups", tag = "devices",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<GroupInfo>), (status = 401, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<GroupInfo>>> {
    let groups = super::list(&state, &who.caller(&state)).await?;
    Ok(Json(groups.into_iter().map(info).collect()))
}

/// Create a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "devices", request_body = CreateGroup,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = GroupInfo), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authorized<OrganizeDevices>,
    ApiJson(req): ApiJson<CreateGroup>,
) -> AppResult<(StatusCode, Json<GroupInfo>)> {
    let group = super::create(&state, &who.caller(&state), &req.name).await?;
    Ok((StatusCode::CREATED, Json(info(group))))
}

/// Delete a group (refused while a user is limited to it); its devices become ungrouped.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "devices",
    params(("id" = String, Path, description = "group id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::delete(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
