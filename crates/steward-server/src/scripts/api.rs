//! Scripts over the API: the library (read by whoever sees devices; changed by
//! administrators after a step-up) and runs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::ApiError;
use steward_proto::scripts::{Batch, RunScript, Script, ScriptInput, ScriptVersion, UpdateScript};

use super::service;
use crate::auth::{Authorized, ManageScripts, RunScripts, ViewDevices};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;
use crate::web::routes::Routes;

pub fn routes() -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    Routes::new()
        .api(Access::Requires(Action::ViewDevices), routes!(list))
        .api(Access::Requires(Action::ManageScripts), routes!(create))
        .api(Access::Requires(Action::ViewDevices), routes!(get))
        .api(Access::Requires(Action::ManageScripts), routes!(update))
        .api(Access::Requires(Action::ManageScripts), routes!(archive))
        .api(Access::Requires(Action::ViewDevices), routes!(versions))
        .api(Access::Requires(Action::RunScripts), routes!(run))
}

/// The script library (current versions).
#[utoipa::path(get, path = "/api/v1/scripts", tag = "scripts",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<Script>), (status = 401, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
) -> AppResult<Json<Vec<Script>>> {
    Ok(Json(service::list(&state, &who.caller(&state)).await?))
}

/// Add a script to the library (administrators, after a step-up in the console).
#[utoipa::path(post, path = "/api/v1/scripts", tag = "scripts", request_body = ScriptInput,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = Script), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "a script has this name")))]
pub async fn create(
    State(state): State<AppState>,
    who: Authorized<ManageScripts>,
    ApiJson(req): ApiJson<ScriptInput>,
) -> AppResult<(StatusCode, Json<Script>)> {
    let script = service::create(&state, &who.caller(&state), &req).await?;
    Ok((StatusCode::CREATED, Json(script)))
}

/// One script (by id or name), its current version's content included.
#[utoipa::path(get, path = "/api/v1/scripts/{id}", tag = "scripts",
    params(("id" = String, Path, description = "script id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Script), (status = 404, body = ApiError)))]
pub async fn get(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Script>> {
    Ok(Json(service::get(&state, &who.caller(&state), &id).await?))
}

/// Save a new version of a script; 409 when someone saved one since `expected_version`.
#[utoipa::path(put, path = "/api/v1/scripts/{id}", tag = "scripts", request_body = UpdateScript,
    params(("id" = String, Path, description = "script id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Script), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authorized<ManageScripts>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateScript>,
) -> AppResult<Json<Script>> {
    Ok(Json(
        service::update(
            &state,
            &who.caller(&state),
            &id,
            req.expected_version,
            &req.script,
        )
        .await?,
    ))
}

/// Take a script out of the library; its versions and runs stay on record.
#[utoipa::path(delete, path = "/api/v1/scripts/{id}", tag = "scripts",
    params(("id" = String, Path, description = "script id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn archive(
    State(state): State<AppState>,
    who: Authorized<ManageScripts>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    service::archive(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every saved version of a script, newest first.
#[utoipa::path(get, path = "/api/v1/scripts/{id}/versions", tag = "scripts",
    params(("id" = String, Path, description = "script id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<ScriptVersion>), (status = 404, body = ApiError)))]
pub async fn versions(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<ScriptVersion>>> {
    Ok(Json(
        service::versions(&state, &who.caller(&state), &id).await?,
    ))
}

/// Run a script on a device, a group or a tag: one signed job per device that allows
/// scripts, sent as a batch (see `/api/v1/batches/{id}`); the others are listed as skipped.
#[utoipa::path(post, path = "/api/v1/scripts/{id}/runs", tag = "scripts", request_body = RunScript,
    params(("id" = String, Path, description = "script id or name")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 202, body = Batch), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn run(
    State(state): State<AppState>,
    who: Authorized<RunScripts>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RunScript>,
) -> AppResult<(StatusCode, Json<Batch>)> {
    let batch = service::run(&state, &who.caller(&state), &id, &req).await?;
    Ok((StatusCode::ACCEPTED, Json(batch)))
}
