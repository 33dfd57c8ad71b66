//! Backup policies over the API: list, define, change and delete them, and the presets a
//! policy can start from. Each handler calls the policies service.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::ApiError;
use steward_proto::backup::{BackupPolicy, BackupPreset, SaveBackupPolicy};

use super::policies;
use crate::auth::{Authorized, ManageBackups, ViewDevices};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;

/// The backup policies the caller can see, by name.
#[utoipa::path(get, path = "/api/v1/backup-policies", tag = "backups",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<BackupPolicy>), (status = 401, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<BackupPolicy>>> {
    let all = policies::list(&state, &who.caller(&state)).await?;
    Ok(Json(all.iter().map(policies::view).collect()))
}

/// Define a backup policy: what to back up on which devices, when, and what to keep. Left
/// out: every device, `daily 01:00`, keep `{daily 7, weekly 4, monthly 12}`, the usual
/// Linux excludes, 30 days of protection, no bandwidth limit.
#[utoipa::path(post, path = "/api/v1/backup-policies", tag = "backups", request_body = SaveBackupPolicy,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = BackupPolicy), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    ApiJson(req): ApiJson<SaveBackupPolicy>,
) -> AppResult<(StatusCode, Json<BackupPolicy>)> {
    let policy = policies::create(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(policies::view(&policy))))
}

/// One backup policy, by id (or name).
#[utoipa::path(get, path = "/api/v1/backup-policies/{id}", tag = "backups",
    params(("id" = String, Path, description = "policy id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = BackupPolicy), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<BackupPolicy>> {
    let policy = policies::get(&state, &who.caller(&state), &id).await?;
    Ok(Json(policies::view(&policy)))
}

/// Replace a backup policy's definition (what is left out takes its default). Policies
/// declared in the configuration file are changed there (409).
#[utoipa::path(put, path = "/api/v1/backup-policies/{id}", tag = "backups", request_body = SaveBackupPolicy,
    params(("id" = String, Path, description = "policy id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = BackupPolicy), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SaveBackupPolicy>,
) -> AppResult<Json<BackupPolicy>> {
    let policy = policies::update(&state, &who.caller(&state), &id, &req).await?;
    Ok(Json(policies::view(&policy)))
}

/// Delete a backup policy and its schedule. Its snapshots stay.
#[utoipa::path(delete, path = "/api/v1/backup-policies/{id}", tag = "backups",
    params(("id" = String, Path, description = "policy id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    policies::delete(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The presets a policy can start from (`preset` in a policy).
#[utoipa::path(get, path = "/api/v1/backup-presets", tag = "backups",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<BackupPreset>), (status = 401, body = ApiError)))]
pub async fn presets(_who: Authorized<ViewDevices>) -> Json<Vec<BackupPreset>> {
    Json(policies::preset_list())
}
