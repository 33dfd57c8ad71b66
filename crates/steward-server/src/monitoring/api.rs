//! Monitoring over the API: checks, alerts and their acknowledgement, a device's checks,
//! maintenance windows, channels (with "send test") and routes. Thin: each handler calls
//! the service with the caller.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use steward_proto::api::ApiError;
use steward_proto::monitoring::{
    Acknowledge, AlertInfo, AlertQuery, AlertsView, ChannelInfo, ChannelTestResult, CheckInfo,
    CreateChannel, CreateCheck, CreateRoute, CreateWindow, DeliveryInfo, HistoryInfo, RouteInfo,
    WindowInfo,
};

use crate::auth::{Authorized, ManageChannels, ManageMonitoring, ViewDevices};
use crate::error::{ApiJson, ApiQuery, AppResult};
use crate::state::AppState;

/// Checks the principal can see: network monitors and device checks within its scope.
#[utoipa::path(get, path = "/api/v1/checks", tag = "monitoring",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<CheckInfo>), (status = 401, body = ApiError)))]
pub async fn list_checks(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<CheckInfo>>> {
    let checks = super::checks::list(&state, &who.caller(&state)).await?;
    Ok(Json(checks.iter().map(super::checks::info).collect()))
}

/// Define a check: a device check over a target, or a network monitor.
#[utoipa::path(post, path = "/api/v1/checks", tag = "monitoring", request_body = CreateCheck,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = CheckInfo), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn create_check(
    State(state): State<AppState>,
    who: Authorized<ManageMonitoring>,
    ApiJson(req): ApiJson<CreateCheck>,
) -> AppResult<(StatusCode, Json<CheckInfo>)> {
    let check = super::checks::create(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(super::checks::info(&check))))
}

/// Replace a check's definition (not one declared in the configuration file).
#[utoipa::path(put, path = "/api/v1/checks/{id}", tag = "monitoring", request_body = CreateCheck,
    params(("id" = String, Path, description = "check id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = CheckInfo), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn update_check(
    State(state): State<AppState>,
    who: Authorized<ManageMonitoring>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateCheck>,
) -> AppResult<Json<CheckInfo>> {
    let check = super::checks::update(&state, &who.caller(&state), &id, &req).await?;
    Ok(Json(super::checks::info(&check)))
}

/// Delete a check with its states and history.
#[utoipa::path(delete, path = "/api/v1/checks/{id}", tag = "monitoring",
    params(("id" = String, Path, description = "check id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn delete_check(
    State(state): State<AppState>,
    who: Authorized<ManageMonitoring>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::checks::delete(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What is wrong now (worst first) and what recovered lately.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "monitoring", params(AlertQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = AlertsView), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn alerts(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> AppResult<Json<AlertsView>> {
    Ok(Json(
        super::alerts::view(&state, &who.caller(&state), &q).await?,
    ))
}

/// Acknowledge a problem with a comment: no reminders until it recovers.
#[utoipa::path(post, path = "/api/v1/alerts/acknowledge", tag = "monitoring", request_body = Acknowledge,
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the check is OK, or changed meanwhile"), (status = 401, body = ApiError)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    who: Authorized<ManageMonitoring>,
    ApiJson(req): ApiJson<Acknowledge>,
) -> AppResult<StatusCode> {
    super::alerts::acknowledge(
        &state,
        &who.caller(&state),
        &req.check_id,
        &req.subject,
        &req.comment,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    check_id: String,
    /// The device's id; empty or absent for a network monitor.
    #[serde(default)]
    subject: String,
}

/// A check's history for one device (or a network monitor's): changes and acknowledgements.
#[utoipa::path(get, path = "/api/v1/alerts/history", tag = "monitoring", params(HistoryQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<HistoryInfo>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn history(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> AppResult<Json<Vec<HistoryInfo>>> {
    Ok(Json(
        super::alerts::history(&state, &who.caller(&state), &q.check_id, &q.subject).await?,
    ))
}

/// A device's checks and how each stands.
#[utoipa::path(get, path = "/api/v1/devices/{id}/checks", tag = "monitoring",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<AlertInfo>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn device_checks(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<AlertInfo>>> {
    Ok(Json(
        super::alerts::of_device(&state, &who.caller(&state), &id).await?,
    ))
}

/// Maintenance windows.
#[utoipa::path(get, path = "/api/v1/maintenance", tag = "monitoring",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<WindowInfo>), (status = 401, body = ApiError)))]
pub async fn windows(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<WindowInfo>>> {
    Ok(Json(
        super::windows::list(&state, &who.caller(&state)).await?,
    ))
}

/// Create a maintenance window, one-off or weekly (UTC).
#[utoipa::path(post, path = "/api/v1/maintenance", tag = "monitoring", request_body = CreateWindow,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = WindowInfo), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn create_window(
    State(state): State<AppState>,
    who: Authorized<ManageMonitoring>,
    ApiJson(req): ApiJson<CreateWindow>,
) -> AppResult<(StatusCode, Json<WindowInfo>)> {
    let window = super::windows::create(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(window)))
}

/// Delete a maintenance window.
#[utoipa::path(delete, path = "/api/v1/maintenance/{id}", tag = "monitoring",
    params(("id" = String, Path, description = "window id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn delete_window(
    State(state): State<AppState>,
    who: Authorized<ManageMonitoring>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::windows::delete(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// How many, newest first (default 50, at most 200).
    limit: Option<u32>,
}

/// The outbox: recent notifications with how their delivery stands (delivered, waiting, or
/// retrying with the last error).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "monitoring", params(DeliveriesQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<DeliveryInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn deliveries(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> AppResult<Json<Vec<DeliveryInfo>>> {
    Ok(Json(
        super::deliveries::recent(&state, &who.caller(&state), q.limit.unwrap_or(50)).await?,
    ))
}

/// Notification channels with their routes (secrets masked).
#[utoipa::path(get, path = "/api/v1/channels", tag = "monitoring",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<ChannelInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn channels(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
) -> AppResult<Json<Vec<ChannelInfo>>> {
    Ok(Json(
        super::channels::list(&state, &who.caller(&state)).await?,
    ))
}

/// Add a notification channel.
#[utoipa::path(post, path = "/api/v1/channels", tag = "monitoring", request_body = CreateChannel,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = ChannelInfo), (status = 400, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_channel(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
    ApiJson(req): ApiJson<CreateChannel>,
) -> AppResult<(StatusCode, Json<ChannelInfo>)> {
    let channel = super::channels::create(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(channel)))
}

/// Delete a channel, its routes and its queued notifications.
#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "monitoring",
    params(("id" = String, Path, description = "channel id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete_channel(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::channels::delete(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test message through a channel now; says whether it was delivered.
#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "monitoring",
    params(("id" = String, Path, description = "channel id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = ChannelTestResult), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn test_channel(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
    Path(id): Path<String>,
) -> AppResult<Json<ChannelTestResult>> {
    Ok(Json(
        super::channels::test(&state, &who.caller(&state), &id).await?,
    ))
}

/// Route a channel: only notices this urgent, about these devices, reach it.
#[utoipa::path(post, path = "/api/v1/routes", tag = "monitoring", request_body = CreateRoute,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = RouteInfo), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_route(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
    ApiJson(req): ApiJson<CreateRoute>,
) -> AppResult<(StatusCode, Json<RouteInfo>)> {
    let route = super::channels::create_route(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(route)))
}

/// Delete a route.
#[utoipa::path(delete, path = "/api/v1/routes/{id}", tag = "monitoring",
    params(("id" = String, Path, description = "route id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete_route(
    State(state): State<AppState>,
    who: Authorized<ManageChannels>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::channels::delete_route(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
