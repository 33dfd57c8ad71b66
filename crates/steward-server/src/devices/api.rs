//! Devices over the API: list, detail, organize, software, changes, jobs, rotation and
//! revocation. Each handler turns the request into a call of the devices service and its
//! answer into wire types; refusals become HTTP answers in `crate::error`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::{
    ApiError, ChangeEntry, ChangeQuery, CreateJob, DeviceDetail, DeviceQuery, DeviceSort,
    DeviceSummary, Job, Page, SoftwareItem, SoftwareQuery, UpdateDevice,
};
use steward_store::{DeviceFilter, DeviceSortKey};

use crate::api::views;
use crate::auth::{Authorized, OperateDevices, OrganizeDevices, RevokeDevices, ViewDevices};
use crate::error::{ApiJson, ApiQuery, AppResult};
use crate::state::AppState;

pub(crate) fn filter_from(q: &DeviceQuery, offset: u64, limit: u64) -> DeviceFilter {
    DeviceFilter {
        name: q.name.clone(),
        os: q.os.clone(),
        tag: q.tag.clone(),
        group: q.group.clone(),
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
    let filter = filter_from(&q, offset, u64::from(per_page));
    let (devices, total) = super::list(&state, &who.caller(&state), &filter).await?;
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
    let caller = who.caller(&state);
    let device = super::open(&state, &caller, &id).await?;
    let inventory = device.inventory().await?.unwrap_or_default();
    let metrics = device.metrics().await?;
    Ok(Json(DeviceDetail {
        summary: views::device_summary(&device.device, state.now()),
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
    }))
}

/// Place a device in a group (or none) and set its tags.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", request_body = UpdateDevice,
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = DeviceSummary), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authorized<OrganizeDevices>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateDevice>,
) -> AppResult<Json<DeviceSummary>> {
    let device = super::organize(
        &state,
        &who.caller(&state),
        &id,
        req.group.as_ref().map(|g| g.as_deref()),
        req.tags.as_deref(),
    )
    .await?;
    Ok(Json(views::device_summary(&device, state.now())))
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
    let (page, per_page, offset) = views::paging(q.page, q.per_page, 100, 1000);
    let caller = who.caller(&state);
    let (items, total) = super::open(&state, &caller, &id)
        .await?
        .software(q.search.as_deref(), offset, u64::from(per_page))
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
    let (page, per_page, offset) = views::paging(q.page, q.per_page, 50, 500);
    let caller = who.caller(&state);
    let (items, total) = super::open(&state, &caller, &id)
        .await?
        .changes(q.kind.as_deref(), offset, u64::from(per_page))
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
    let caller = who.caller(&state);
    let jobs = super::open(&state, &caller, &id).await?.jobs(100).await?;
    Ok(Json(jobs.iter().map(views::job).collect()))
}

/// Queue a job for the device; its agent picks it up at once if connected.
#[utoipa::path(post, path = "/api/v1/devices/{id}/jobs", tag = "jobs", request_body = CreateJob,
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = Job), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 400, body = ApiError)))]
pub async fn create_job(
    State(state): State<AppState>,
    who: Authorized<OperateDevices>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateJob>,
) -> AppResult<(StatusCode, Json<Job>)> {
    let job = super::queue_job(&state, &who.caller(&state), &id, req.kind).await?;
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
    who: Authorized<RevokeDevices>,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Job>)> {
    let job = super::request_rotation(&state, &who.caller(&state), &id).await?;
    Ok((StatusCode::ACCEPTED, Json(views::job(&job))))
}

/// Revoke the device: its credential stops working at once. Revoking a revoked device
/// changes nothing and succeeds, so the request is safe to repeat.
#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "devices",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Authorized<RevokeDevices>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::revoke(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
