//! Console users over the API (admin only): list, create, change, delete, reset.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::{ApiError, CreateUser, UpdateUser, UserInfo, UserWithPassword};
use steward_store::UserRecord;

use crate::auth::{Authorized, ManageUsers};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;
use crate::users;

pub(crate) async fn user_info(state: &AppState, u: UserRecord) -> AppResult<UserInfo> {
    Ok(UserInfo {
        groups: state.store.user_groups(&u.id).await?,
        all_devices: u.all_devices,
        must_change_password: u.must_change_password,
        two_factor: u.totp_enabled_at.is_some(),
        id: u.id,
        username: u.username,
        role: u.role,
        created_at: u.created_at,
        disabled_at: u.disabled_at,
    })
}

/// Every console user.
#[utoipa::path(get, path = "/api/v1/users", tag = "access",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<UserInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
) -> AppResult<Json<Vec<UserInfo>>> {
    let mut out = Vec::new();
    for u in users::list(&state, &who.caller(&state)).await? {
        out.push(user_info(&state, u).await?);
    }
    Ok(Json(out))
}

/// Create a user; the answer carries a one-time password (shown once).
#[utoipa::path(post, path = "/api/v1/users", tag = "access", request_body = CreateUser,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = UserWithPassword), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    ApiJson(req): ApiJson<CreateUser>,
) -> AppResult<(StatusCode, Json<UserWithPassword>)> {
    let new = users::NewUserRequest {
        username: &req.username,
        role: &req.role,
        all_devices: req.all_devices,
        groups: req.groups,
    };
    let (user, password) = users::create(&state, &who.caller(&state), new).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserWithPassword {
            user: user_info(&state, user).await?,
            password,
        }),
    ))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "access",
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = UserInfo), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn detail(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<Json<UserInfo>> {
    let u = users::find(&state, &who.caller(&state), &id).await?;
    Ok(Json(user_info(&state, u).await?))
}

/// Change a user's role, groups, or disable/enable them.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "access", request_body = UpdateUser,
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = UserInfo), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> AppResult<Json<UserInfo>> {
    let changes = users::UserChanges {
        role: req.role,
        all_devices: req.all_devices,
        groups: req.groups,
        disabled: req.disabled,
    };
    let u = users::update(&state, &who.caller(&state), &id, &changes).await?;
    Ok(Json(user_info(&state, u).await?))
}

/// Delete a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "access",
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    users::delete(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give the user a new one-time password (shown once); their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "access",
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = UserWithPassword), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn reset_password(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<Json<UserWithPassword>> {
    let caller = who.caller(&state);
    let password = users::reset_password(&state, &caller, &id).await?;
    let u = users::find(&state, &caller, &id).await?;
    Ok(Json(UserWithPassword {
        user: user_info(&state, u).await?,
        password,
    }))
}

/// Turn the user's two-factor sign-in off (a lost phone).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-two-factor", tag = "access",
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn reset_two_factor(
    State(state): State<AppState>,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    users::reset_two_factor(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
