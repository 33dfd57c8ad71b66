//! Devices over the API: list, detail, software, changes, jobs, revocation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_core::{JobKind, Scope};
use steward_proto::api::{
    ApiError, ChangeEntry, ChangeQuery, CreateJob, DeviceDetail, DeviceQuery, DeviceSort,
    DeviceSummary, Job, Page, SoftwareItem, SoftwareQuery,
};
use steward_store::{DeviceFilter, DeviceRecord, DeviceSortKey};

use super::views;
use crate::auth::{Authorized, OperateDevices, Principal, RevokeDevices, ViewDevices};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::state::AppState;

/// The device, if it exists and is within the principal's scope: a device outside it is
/// "not found", so a scoped user learns nothing about other clients' machines.
pub(crate) async fn find_device(
    state: &AppState,
    who: &Principal,
    id: &str,
) -> AppResult<DeviceRecord> {
    let device = state
        .store
        .device(id)
        .await?
        .ok_or_else(|| AppError::not_found("device"))?;
    if !who.sees(device.group_id.as_deref()) {
        // Answered like a missing device, but recorded: probing other clients' machines is
        // worth an administrator's attention.
        crate::audit::record(
            &state.store,
            state.now(),
            &who.label(),
            "authorisation_denied",
            id,
            "device outside the groups this user serves",
            "",
        )
        .await;
        return Err(AppError::not_found("device"));
    }
    Ok(device)
}

pub(crate) fn filter_from(q: &DeviceQuery, offset: u64, limit: u64) -> DeviceFilter {
    DeviceFilter {
        name: q.name.clone(),
        os: q.os.clone(),
        tag: q.tag.clone(),
        group: q.group.clone(),
        scope: Scope::Everything,
        sort: match q.sort.unwrap_or_default() {
            DeviceSort::Name => DeviceSortKey::Name,
            DeviceSort::LastSeen => DeviceSortKey::LastSeen,
            DeviceSort::Os => DeviceSortKey::Os,
            DeviceSort::Enrolled => DeviceSortKey::Enrolled,
        },
        desc: q.desc.unwrap_or(false),
        offset,
        limit,
    }
}

/// List devices: filter by name, OS or tag; sort; paginate.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(DeviceQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Page<DeviceSummary>), (status = 401, body = ApiError), (status = 400, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> AppResult<Json<Page<DeviceSummary>>> {
    let (page, per_page, offset) = views::paging(q.page, q.per_page, 50, 500);
    let (devices, total) = state
        .store
        .list_devices(&DeviceFilter {
            scope: who.0.scope.clone(),
            ..filter_from(&q, offset, u64::from(per_page))
        })
        .await?;
    let now = state.now();
    Ok(Json(Page {
        items: devices
            .iter()
            .map(|d| views::device_summary(d, now))
            .collect(),
        total,
        page,
        per_page,
    }))
}

/// One device with its hardware, OS, disks, interfaces, accounts and listening sockets.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = DeviceDetail), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn detail(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<DeviceDetail>> {
    Ok(Json(device_detail(&state, &who.0, &id).await?))
}

pub(crate) async fn device_detail(
    state: &AppState,
    who: &Principal,
    id: &str,
) -> AppResult<DeviceDetail> {
    let device = find_device(state, who, id).await?;
    let inventory = state.store.inventory(id).await?.unwrap_or_default();
    let metrics = state.store.metrics(id).await?;
    Ok(DeviceDetail {
        summary: views::device_summary(&device, state.now()),
        hostname: inventory.hostname,
        os: inventory.os,
        boot_time: inventory.boot_time,
        hardware: inventory.hardware,
        filesystems: inventory.filesystems,
        interfaces: inventory.interfaces,
        accounts: inventory.accounts,
        listeners: inventory.listeners,
        package_count: inventory.packages.len() as u64,
        metrics: metrics.map(|(at, m)| views::metrics(at, m)),
    })
}

/// The device's installed software.
#[utoipa::path(get, path = "/api/v1/devices/{id}/software", tag = "devices",
    params(("id" = String, Path, description = "device id"), SoftwareQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Page<SoftwareItem>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn software(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SoftwareQuery>,
) -> AppResult<Json<Page<SoftwareItem>>> {
    find_device(&state, &who.0, &id).await?;
    let (page, per_page, offset) = views::paging(q.page, q.per_page, 100, 1000);
    let (items, total) = state
        .store
        .software(&id, q.search.as_deref(), offset, u64::from(per_page))
        .await?;
    Ok(Json(Page {
        items: items.iter().map(views::software_item).collect(),
        total,
        page,
        per_page,
    }))
}

/// The device's change timeline, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/changes", tag = "devices",
    params(("id" = String, Path, description = "device id"), ChangeQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Page<ChangeEntry>), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 400, body = ApiError)))]
pub async fn changes(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ChangeQuery>,
) -> AppResult<Json<Page<ChangeEntry>>> {
    find_device(&state, &who.0, &id).await?;
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(
            steward_core::ChangeKind::parse(k)
                .ok_or_else(|| AppError::bad_request(format!("unknown change kind {k:?}")))?,
        ),
        None => None,
    };
    let (page, per_page, offset) = views::paging(q.page, q.per_page, 50, 500);
    let (items, total) = state
        .store
        .changes(&id, kind.map(|k| k.as_str()), offset, u64::from(per_page))
        .await?;
    Ok(Json(Page {
        items: items.iter().map(views::change_entry).collect(),
        total,
        page,
        per_page,
    }))
}

/// The device's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/jobs", tag = "jobs",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<Job>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn jobs(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<Job>>> {
    find_device(&state, &who.0, &id).await?;
    let jobs = state.store.jobs_for_device(&id, 100).await?;
    Ok(Json(jobs.iter().map(views::job).collect()))
}

/// Queue a job for the device; its agent picks it up at once if connected.
#[utoipa::path(post, path = "/api/v1/devices/{id}/jobs", tag = "jobs", request_body = CreateJob,
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = Job), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 400, body = ApiError)))]
pub async fn create_job(
    State(state): State<AppState>,
    crate::net::ClientAddr(peer): crate::net::ClientAddr,
    who: Authorized<OperateDevices>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateJob>,
) -> AppResult<(StatusCode, Json<Job>)> {
    find_device(&state, &who.0, &id).await?;
    // Rotation takes the revoke permission, so it has a route of its own.
    if req.kind == JobKind::RotateCredential {
        return Err(AppError::bad_request(
            "ask for a credential rotation with POST /api/v1/devices/{id}/rotate-credential",
        ));
    }
    let job = crate::admin::queue_job(
        &state,
        &id,
        req.kind,
        &who.0.label(),
        &peer.ip().to_string(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(views::job(&job))))
}

/// Rotate the device's credential: queues a `rotate_credential` job; the agent fetches a new
/// credential, and its old one stops working at its first request with the new one.
#[utoipa::path(post, path = "/api/v1/devices/{id}/rotate-credential", tag = "devices",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = Job), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn rotate_credential(
    State(state): State<AppState>,
    crate::net::ClientAddr(peer): crate::net::ClientAddr,
    who: Authorized<RevokeDevices>,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Job>)> {
    find_device(&state, &who.0, &id).await?;
    let job = crate::admin::request_credential_rotation(
        &state,
        &id,
        &who.0.label(),
        &peer.ip().to_string(),
    )
    .await?;
    tracing::info!(device = %id, by = %who.0.label(), "credential rotation requested");
    Ok((StatusCode::ACCEPTED, Json(views::job(&job))))
}

/// Revoke the device: its credential stops working at once.
#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "devices",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn revoke(
    State(state): State<AppState>,
    crate::net::ClientAddr(peer): crate::net::ClientAddr,
    who: Authorized<RevokeDevices>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let device = find_device(&state, &who.0, &id).await?;
    state.store.revoke_device(&id, state.now()).await?;
    crate::audit::record(
        &state.store,
        state.now(),
        &who.0.label(),
        "device_revoked",
        &id,
        &device.name,
        &peer.ip().to_string(),
    )
    .await;
    tracing::info!(device = %id, by = %who.0.label(), by_id = %who.0.id(), "device revoked");
    Ok(StatusCode::NO_CONTENT)
}
