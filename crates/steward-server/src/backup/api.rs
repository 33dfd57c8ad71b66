//! Backups over the API: back up now, list snapshots, browse one, restore, and reveal a
//! repository's password. Each handler calls the backup service and turns its answer into
//! wire types.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use serde::Deserialize;
use steward_backup::ListScope;
use steward_core::Timestamp;
use steward_proto::api::{ApiError, Job};
use steward_proto::backup::{
    BackupStorage, BackupsOverview, DeviceBackups, Drill, RepositoryPassword, RunBackup, Snapshot,
    SnapshotEntry, StartDrill, StartRestore,
};
use utoipa::IntoParams;

use super::service::{self, RestoreRequest};
use crate::api::views;
use crate::auth::{Authorized, ManageBackups, RevealBackupPasswords, ViewDevices};
use crate::error::{ApiJson, ApiQuery, AppResult};
use crate::state::AppState;

/// Where backups are kept (and, for a bucket, whether its Object Lock locks them), and the
/// backups of every device the caller may see.
#[utoipa::path(get, path = "/api/v1/backups", tag = "backups",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = BackupsOverview), (status = 401, body = ApiError)))]
pub async fn overview(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<BackupsOverview>> {
    let caller = who.caller(&state);
    let storage = super::storage::status(&state);
    let devices = state.store.scoped(caller.scope()).backup_overview().await?;
    Ok(Json(BackupsOverview {
        storage: BackupStorage {
            kind: storage.kind,
            location: storage.location,
            error: storage.error,
            object_lock: storage.object_lock,
            locked: storage.locked,
        },
        devices: devices
            .into_iter()
            .map(|d| DeviceBackups {
                device_id: d.device_id,
                device_name: d.device_name,
                last_backup_at: d.last_received_at,
                last_files: d.last_files,
                last_bytes: d.last_bytes,
                snapshots: d.live_snapshots,
                stored_bytes: d.live_stored_bytes,
                next_run_at: d.next_due_at,
                last_drill: d.last_drill_outcome.map(|o| o.as_str().to_owned()),
                last_drill_at: d.last_drill_finished_at,
            })
            .collect(),
    }))
}

/// Back up the device now: the given paths, or those of the policies that cover it.
#[utoipa::path(post, path = "/api/v1/devices/{id}/backups", tag = "backups", request_body = RunBackup,
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = Job), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn run(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RunBackup>,
) -> AppResult<(StatusCode, Json<Job>)> {
    let job = service::run_now(&state, &who.caller(&state), &id, req.paths, req.excludes).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&job))))
}

/// The device's snapshots, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/snapshots", tag = "backups",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<Snapshot>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn snapshots(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<Snapshot>>> {
    let snapshots = service::snapshots(&state, &who.caller(&state), &id).await?;
    Ok(Json(
        snapshots
            .into_iter()
            .map(|s| Snapshot {
                id: s.snapshot_id,
                received_at: s.received_at,
                written_at: s.written_at,
                paths: s.paths.unwrap_or_default(),
                files: s.files,
                bytes: s.bytes,
                added_bytes: s.added_bytes,
                stored_bytes: s.stored_bytes,
                duration_ms: s.duration_ms,
                job_id: s.job_id,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FilesQuery {
    /// A folder inside the snapshot (or a file, listed as itself); all of it when absent.
    #[serde(default)]
    pub path: String,
    /// Everything under `path` (the default), or with `false` only its direct entries.
    pub recursive: Option<bool>,
    /// The most entries answered: 10000 unless given, at most 100000 (a larger number is
    /// taken as 100000). A listing that stops there says so in `X-Steward-Truncated`.
    pub limit: Option<usize>,
}

/// The response header that says whether a listing stopped at its limit (`true`) with
/// entries left out, or is whole (`false`).
pub const TRUNCATED: HeaderName = HeaderName::from_static("x-steward-truncated");

/// The files of one snapshot under `path` (everything, or with `recursive=false` one
/// folder's own entries), in tree order: depth first, each folder's entries by name. At most
/// `limit` of them; when there were more, the answer is the first `limit` and carries
/// `X-Steward-Truncated: true`.
#[utoipa::path(get, path = "/api/v1/devices/{id}/snapshots/{snapshot}/files", tag = "backups",
    params(("id" = String, Path, description = "device id"), ("snapshot" = String, Path, description = "snapshot id or a unique prefix of it"), FilesQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<SnapshotEntry>, headers(("x-steward-truncated" = bool, description = "`true` when the listing stopped at `limit` and entries were left out, else `false`"))),
        (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn files(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path((id, snapshot)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<FilesQuery>,
) -> AppResult<([(HeaderName, &'static str); 1], Json<Vec<SnapshotEntry>>)> {
    let scope = ListScope {
        recursive: q.recursive.unwrap_or(true),
        limit: q.limit.unwrap_or(service::DEFAULT_LISTED),
    };
    let listing =
        service::files(&state, &who.caller(&state), &id, &snapshot, &q.path, scope).await?;
    let truncated = if listing.cut { "true" } else { "false" };
    Ok((
        [(TRUNCATED, truncated)],
        Json(
            listing
                .entries
                .into_iter()
                .map(|e| SnapshotEntry {
                    path: e.path,
                    kind: format!("{:?}", e.kind).to_lowercase(),
                    size: e.size,
                    mode: e.mode,
                    mtime: e.mtime_ms.map(Timestamp),
                    link: e.link,
                })
                .collect(),
        ),
    ))
}

/// Restore files of one of the device's snapshots, to it or to another device.
#[utoipa::path(post, path = "/api/v1/devices/{id}/restores", tag = "backups", request_body = StartRestore,
    params(("id" = String, Path, description = "the device whose snapshot is restored")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = Job), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn restore(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StartRestore>,
) -> AppResult<(StatusCode, Json<Job>)> {
    let request = RestoreRequest {
        target_device: req.target_device.unwrap_or_else(|| id.clone()),
        source: id,
        snapshot: req.snapshot,
        paths: req.paths,
        target_path: req.target_path,
    };
    let job = service::restore(&state, &who.caller(&state), request).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&job))))
}

/// The password of the device's repository, to open it with the standard restic client.
/// Administrators only, after confirming their password; audited.
#[utoipa::path(post, path = "/api/v1/devices/{id}/backup-password", tag = "backups",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = RepositoryPassword), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn password(
    State(state): State<AppState>,
    who: Authorized<RevealBackupPasswords>,
    Path(id): Path<String>,
) -> AppResult<Json<RepositoryPassword>> {
    let (device_id, location, password) =
        service::reveal_password(&state, &who.caller(&state), &id).await?;
    Ok(Json(RepositoryPassword {
        device_id,
        location,
        password,
    }))
}

fn drill_view(d: &steward_store::BackupDrillRecord) -> Drill {
    Drill {
        id: d.id.clone(),
        device_id: d.device_id.clone(),
        runner_device_id: d.runner_device_id.clone(),
        started_at: d.started_at,
        finished_at: d.finished_at,
        outcome: d.outcome.as_str().to_owned(),
        files_checked: d.files_checked,
        bytes_checked: d.bytes_checked,
        duration_ms: d.duration_ms,
        error: d.error.clone(),
    }
}

/// Prove the device's backups restore: check the repository, then restore a random sample
/// of the newest snapshot on the device (or `runner`) and compare it with the backup.
#[utoipa::path(post, path = "/api/v1/devices/{id}/drills", tag = "backups", request_body = StartDrill,
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = Drill), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn start_drill(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StartDrill>,
) -> AppResult<(StatusCode, Json<Drill>)> {
    let drill =
        super::drills::start(&state, &who.caller(&state), &id, req.runner.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(drill_view(&drill))))
}

/// The device's restore drills, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/drills", tag = "backups",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<Drill>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn drills(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<Drill>>> {
    let drills = super::drills::list(&state, &who.caller(&state), &id).await?;
    Ok(Json(drills.iter().map(drill_view).collect()))
}
