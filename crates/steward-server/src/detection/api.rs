//! Detection over the API: detections and decisions, detection policies, fire drills.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use steward_proto::api::ApiError;
use steward_proto::detection::{
    DecisionInput, DecisionOut, DetectionDetail, DetectionPolicyIo, DetectionPolicyOut,
    DetectionSummary, DrillOut, DrillRequest, FilesRestoreQueued,
};

use super::service;
use crate::auth::{
    Authorized, ManageBackups, ManageDetectionPolicies, RespondToDetections, ViewDevices,
};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    Routes::new()
        .api(Access::Requires(Action::ViewDevices), routes!(list))
        .api(Access::Requires(Action::ViewDevices), routes!(show))
        .api(
            Access::Requires(Action::RespondToDetections),
            routes!(decide),
        )
        .api(Access::Requires(Action::ManageBackups), routes!(restore))
        .api(Access::Requires(Action::ViewDevices), routes!(policies))
        .api(
            Access::Requires(Action::ManageDetectionPolicies),
            routes!(set_policy),
        )
        .api(
            Access::Requires(Action::ManageDetectionPolicies),
            routes!(delete_policy),
        )
        .api(
            Access::Requires(Action::RespondToDetections),
            routes!(drill),
        )
        .api(Access::Requires(Action::ViewDevices), routes!(drills))
}

/// Which detections to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// A device's id or name.
    pub device: Option<String>,
    /// `open`, `confirmed`, `released` or `false_alarm`.
    pub status: Option<String>,
}

/// Detections, the open ones first, then the newest.
#[utoipa::path(get, path = "/api/v1/detections", tag = "detection", params(ListQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<DetectionSummary>), (status = 400, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<DetectionSummary>>> {
    Ok(Json(
        service::list(
            &state,
            &who.caller(&state),
            q.device.as_deref(),
            q.status.as_deref(),
        )
        .await?,
    ))
}

/// A detection: the device, the process tree, the executable and its hash, the user, the
/// signals with their values, the files in order, the responses and the status.
#[utoipa::path(get, path = "/api/v1/detections/{id}", tag = "detection",
    params(("id" = String, Path, description = "detection id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = DetectionDetail), (status = 404, body = ApiError)))]
pub async fn show(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<DetectionDetail>> {
    Ok(Json(service::get(&state, &who.caller(&state), &id).await?))
}

/// Decide on a detection: confirm (kill a stopped process tree), release, mark a false
/// alarm, isolate the device, or lift its isolation.
#[utoipa::path(post, path = "/api/v1/detections/{id}/decision", tag = "detection",
    request_body = DecisionInput,
    params(("id" = String, Path, description = "detection id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = DecisionOut), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn decide(
    State(state): State<AppState>,
    who: Authorized<RespondToDetections>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DecisionInput>,
) -> AppResult<Json<DecisionOut>> {
    Ok(Json(
        service::decide(&state, &who.caller(&state), &id, req.decision).await?,
    ))
}

/// Restore exactly the files the detection touched, where they were, from the newest
/// backup that holds them (a `restore` job).
#[utoipa::path(post, path = "/api/v1/detections/{id}/restore", tag = "detection",
    params(("id" = String, Path, description = "detection id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = FilesRestoreQueued), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn restore(
    State(state): State<AppState>,
    who: Authorized<ManageBackups>,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<FilesRestoreQueued>)> {
    let queued = service::restore_files(&state, &who.caller(&state), &id).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)))
}

/// The detection policies.
#[utoipa::path(get, path = "/api/v1/detection-policies", tag = "detection",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<DetectionPolicyOut>), (status = 401, body = ApiError)))]
pub async fn policies(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<DetectionPolicyOut>>> {
    Ok(Json(service::policies(&state, &who.caller(&state)).await?))
}

/// Set the detection policy of a target (replacing the one it had).
#[utoipa::path(put, path = "/api/v1/detection-policies", tag = "detection",
    request_body = DetectionPolicyIo,
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = DetectionPolicyOut), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn set_policy(
    State(state): State<AppState>,
    who: Authorized<ManageDetectionPolicies>,
    ApiJson(req): ApiJson<DetectionPolicyIo>,
) -> AppResult<Json<DetectionPolicyOut>> {
    Ok(Json(
        service::set_policy(&state, &who.caller(&state), req).await?,
    ))
}

/// Which policy to delete.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TargetQuery {
    /// `all`, `group:ID`, `tag:NAME` or `device:ID`.
    pub target: String,
}

/// Delete the detection policy of a target.
#[utoipa::path(delete, path = "/api/v1/detection-policies", tag = "detection", params(TargetQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn delete_policy(
    State(state): State<AppState>,
    who: Authorized<ManageDetectionPolicies>,
    Query(q): Query<TargetQuery>,
) -> AppResult<StatusCode> {
    service::delete_policy(&state, &who.caller(&state), &q.target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a ransomware fire drill on a device (`{}` for the default 200 files): the agent runs a harmless simulation on a
/// scratch folder of its own, and the drill records time to detect, files lost and which
/// channels the alert reached.
#[utoipa::path(post, path = "/api/v1/devices/{id}/ransomware-drills", tag = "detection",
    request_body = DrillRequest,
    params(("id" = String, Path, description = "device id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = DrillOut), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn drill(
    State(state): State<AppState>,
    who: Authorized<RespondToDetections>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<DrillRequest>,
) -> AppResult<(StatusCode, Json<DrillOut>)> {
    let drill = service::queue_drill(&state, &who.caller(&state), &id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(drill)))
}

/// Which drills to list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct DrillsQuery {
    /// A device's id or name.
    pub device: Option<String>,
}

/// Fire drills, newest first.
#[utoipa::path(get, path = "/api/v1/ransomware-drills", tag = "detection", params(DrillsQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<DrillOut>), (status = 401, body = ApiError)))]
pub async fn drills(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Query(q): Query<DrillsQuery>,
) -> AppResult<Json<Vec<DrillOut>>> {
    Ok(Json(
        service::drills(&state, &who.caller(&state), q.device.as_deref()).await?,
    ))
}
