//! Device groups (sites) and where a device belongs, over the API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::{ApiError, CreateGroup, DeviceSummary, GroupInfo, UpdateDevice};
use steward_store::StoreError;

use super::devices::find_device;
use crate::auth::{Authorized, ManageUsers, OrganizeDevices, ViewDevices};
use crate::error::{ApiJson, AppError, AppResult};
use crate::net::ClientAddr;
use crate::state::AppState;

/// Device groups (sites) the principal can see, with their device counts.
#[utoipa::path(get, path = "/api/v1/groups", tag = "devices",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<GroupInfo>), (status = 401, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<GroupInfo>>> {
    let groups = state.store.list_groups().await?;
    Ok(Json(
        groups
            .into_iter()
            .filter(|g| who.0.sees(Some(&g.id)))
            .map(|g| GroupInfo {
                id: g.id,
                name: g.name,
                created_at: g.created_at,
                devices: g.devices,
            })
            .collect(),
    ))
}

/// Create a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "devices", request_body = CreateGroup,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = GroupInfo), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<OrganizeDevices>,
    ApiJson(req): ApiJson<CreateGroup>,
) -> AppResult<(StatusCode, Json<GroupInfo>)> {
    if who.0.scope != steward_core::Scope::Everything {
        // A group they created would be outside their own view; and the name clash would
        // tell them about other clients' groups.
        return Err(AppError::forbidden(
            "only users who see every device create groups",
        ));
    }
    let g = crate::admin::create_group(&state.store, &req.name, state.now()).await?;
    crate::audit::record(
        &state.store,
        state.now(),
        &who.0.label(),
        "group_created",
        &g.name,
        "",
        &peer.ip().to_string(),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(GroupInfo {
            id: g.id,
            name: g.name,
            created_at: g.created_at,
            devices: 0,
        }),
    ))
}

/// Delete a group (refused while a user is limited to it); its devices become ungrouped.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "devices",
    params(("id" = String, Path, description = "group id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    state.store.delete_group(&id).await.map_err(|e| match e {
        StoreError::NotFound => AppError::not_found("group"),
        StoreError::Conflict(m) => AppError::conflict(m),
        other => other.into(),
    })?;
    crate::audit::record(
        &state.store,
        state.now(),
        &who.0.label(),
        "group_deleted",
        &id,
        "",
        &peer.ip().to_string(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Place a device in a group (or none) and set its tags.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", request_body = UpdateDevice,
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = DeviceSummary), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_device(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<OrganizeDevices>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateDevice>,
) -> AppResult<Json<DeviceSummary>> {
    let device = find_device(&state, &who.0, &id).await?;
    crate::admin::organize_device(
        &state.store,
        &device,
        req.group.as_ref().map(|g| g.as_deref()),
        req.tags.as_deref(),
        &who.0.scope,
        &who.0.label(),
        &peer.ip().to_string(),
        state.now(),
    )
    .await?;
    let device = find_device(&state, &who.0, &id).await?;
    Ok(Json(super::views::device_summary(&device, state.now())))
}
