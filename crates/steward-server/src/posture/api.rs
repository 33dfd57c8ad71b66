//! Posture over the API: the report (JSON, CSV), the score trend, manual answers and
//! exceptions. Each handler calls the posture service.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use steward_proto::api::ApiError;
use steward_proto::posture::{Exception, NewException, Report, SaveAnswer, ScorePoint};
use steward_store::AttachmentChange;
use utoipa::IntoParams;

use super::report::{Framework, csv};
use super::service;
use crate::auth::{Authorized, ManagePosture, ViewDevices};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::state::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    Routes::new()
        .api(Access::Requires(Action::ViewDevices), routes!(report))
        .api(Access::Requires(Action::ViewDevices), routes!(trend))
        .api(Access::Requires(Action::ManagePosture), routes!(answer))
        .api(Access::Requires(Action::ViewDevices), routes!(attachment))
        .api(
            Access::Requires(Action::ManagePosture),
            routes!(add_exception),
        )
        .api(
            Access::Requires(Action::ManagePosture),
            routes!(revoke_exception),
        )
}

/// The attachment upload, and the console's answer form that may carry one, with a body
/// limit of their own (the people's routes take 64 KiB).
pub fn attachment_routes() -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    // The file, and the form's other fields and multipart framing.
    let limit = service::MAX_ATTACHMENT_BYTES + 64 * 1024;
    Routes::new()
        .api(Access::Requires(Action::ManagePosture), routes!(attach))
        .post(
            "/posture/manual/{item}",
            Access::Requires(Action::ManagePosture),
            super::answer_form::answer,
        )
        .map_routers(
            |api| crate::net::body_limit::limit_documented(api, limit),
            |pages| crate::net::body_limit::limit(pages, limit),
        )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// checklist (default), cis-ig1 or cyber-essentials: what the sections follow.
    framework: Option<String>,
    /// json (default) or csv.
    format: Option<String>,
}

pub fn framework(name: Option<&str>) -> Result<Framework, AppError> {
    match name {
        None => Ok(Framework::Checklist),
        Some(f) => Framework::parse(f).ok_or_else(|| {
            AppError::bad_request(format!(
                "framework: checklist, cis-ig1 or cyber-essentials, not {f:?}"
            ))
        }),
    }
}

/// The posture report over the devices the caller may see: the organisation's standing per
/// framework, each section's score and items with evidence and coverage, the accepted
/// exceptions and the top remediations. As JSON (one entry per section) or CSV (a row per
/// item and device).
#[utoipa::path(get, path = "/api/v1/posture/report", tag = "posture", params(ReportQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Report), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn report(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> AppResult<Response> {
    let framework = framework(q.framework.as_deref())?;
    let caller = who.caller(&state);
    let report = service::report(&state, caller.scope(), framework, caller.now).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(report).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"posture.csv\"",
                ),
            ],
            csv::render(&report),
        )
            .into_response()),
        Some(other) => Err(AppError::bad_request(format!(
            "format: json or csv here (the console serves html and pdf), not {other:?}"
        ))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// How many days back (default 90, at most 400).
    days: Option<i64>,
}

/// The organisation's score by day, oldest first.
#[utoipa::path(get, path = "/api/v1/posture/trend", tag = "posture", params(TrendQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<ScorePoint>), (status = 401, body = ApiError)))]
pub async fn trend(
    State(state): State<AppState>,
    _who: Authorized<ViewDevices>,
    ApiQuery(q): ApiQuery<TrendQuery>,
) -> AppResult<Json<Vec<ScorePoint>>> {
    let days = q.days.unwrap_or(90).clamp(1, 400);
    Ok(Json(service::trend(&state, days).await?))
}

/// Answer a manual checklist item (organisation-wide; takes access to every device).
#[utoipa::path(put, path = "/api/v1/posture/manual/{item}", tag = "posture", request_body = SaveAnswer,
    params(("item" = String, Path, description = "manual item id, e.g. router-firmware")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn answer(
    State(state): State<AppState>,
    who: Authorized<ManagePosture>,
    Path(item): Path<String>,
    ApiJson(req): ApiJson<SaveAnswer>,
) -> AppResult<StatusCode> {
    service::save_answer(
        &state,
        &who.caller(&state),
        &item,
        &req,
        AttachmentChange::Keep,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachQuery {
    /// The file's name, as it is shown and downloaded.
    name: String,
}

/// Attach evidence (a file of at most 2 MiB) to a manual item's answer, replacing any
/// earlier one. The body is the file; its Content-Type is kept.
#[utoipa::path(put, path = "/api/v1/posture/manual/{item}/attachment", tag = "posture",
    params(("item" = String, Path, description = "manual item id"), AttachQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn attach(
    State(state): State<AppState>,
    who: Authorized<ManagePosture>,
    Path(item): Path<String>,
    ApiQuery(q): ApiQuery<AttachQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<StatusCode> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    service::attach(
        &state,
        &who.caller(&state),
        &item,
        q.name,
        media_type,
        body.to_vec(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The file attached to a manual item's answer.
#[utoipa::path(get, path = "/api/v1/posture/manual/{item}/attachment", tag = "posture",
    params(("item" = String, Path, description = "manual item id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn attachment(
    State(state): State<AppState>,
    _who: Authorized<ViewDevices>,
    Path(item): Path<String>,
) -> AppResult<Response> {
    let file = service::attachment(&state, &item).await?;
    // Served as a download, never rendered in the console's origin.
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file.name.replace(['"', '\\'], "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        file.bytes,
    )
        .into_response())
}

fn exception_view(
    e: steward_store::PostureExceptionRecord,
    now: steward_core::Timestamp,
) -> Exception {
    Exception {
        status: service::exception_status(&e, now).into(),
        id: e.id,
        check_id: e.check_id,
        target: e.target,
        reason: e.reason,
        owner: e.owner,
        expires_at: e.expires_at,
        created_at: e.created_at,
        created_by: e.created_by,
    }
}

/// Accept a risk: a check failing on a device, group or tag, with a reason, an owner and an
/// expiry (at most a year). The failure stays in the report, shown as excepted, and counts
/// again when the exception expires.
#[utoipa::path(post, path = "/api/v1/posture/exceptions", tag = "posture", request_body = NewException,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = Exception), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn add_exception(
    State(state): State<AppState>,
    who: Authorized<ManagePosture>,
    ApiJson(req): ApiJson<NewException>,
) -> AppResult<(StatusCode, Json<Exception>)> {
    let caller = who.caller(&state);
    let record = service::add_exception(&state, &caller, &req).await?;
    Ok((
        StatusCode::CREATED,
        Json(exception_view(record, caller.now)),
    ))
}

/// End an exception now.
#[utoipa::path(delete, path = "/api/v1/posture/exceptions/{id}", tag = "posture",
    params(("id" = String, Path, description = "exception id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn revoke_exception(
    State(state): State<AppState>,
    who: Authorized<ManagePosture>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    service::revoke_exception(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
