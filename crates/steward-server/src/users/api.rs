//! Console users over the API (admin only): list, create, change, delete, reset.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_core::Role;
use steward_core::access::{UserChange, needs_step_up};
use steward_proto::api::{ApiError, CreateUser, UpdateUser, UserInfo, UserWithPassword};
use steward_store::UserRecord;

use crate::auth::{Authorized, ManageUsers, Principal};
use crate::error::{ApiJson, AppError, AppResult};
use crate::net::ClientAddr;
use crate::state::AppState;
use crate::users::{self, Actor};

/// The principal as the actor of a user change.
pub(crate) fn actor(who: &Principal, source: &str, state: &AppState) -> Actor {
    Actor {
        user_id: match &who.kind {
            crate::auth::PrincipalKind::User { id } => Some(id.clone()),
            crate::auth::PrincipalKind::ApiToken { .. } | crate::auth::PrincipalKind::Cli => None,
        },
        label: who.label(),
        source: source.to_string(),
        now: state.now(),
    }
}

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

/// Making or promoting an administrator from a console session needs a recent step-up.
pub(crate) fn require_step_up(who: &Principal, state: &AppState) -> AppResult<()> {
    if who.recently_authenticated(state.now()) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "this needs a recent re-authentication: confirm your password in the console (it holds five minutes) or use an API token",
        ))
    }
}

/// Every console user.
#[utoipa::path(get, path = "/api/v1/users", tag = "access",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<UserInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    _who: Authorized<ManageUsers>,
) -> AppResult<Json<Vec<UserInfo>>> {
    let mut out = Vec::new();
    for u in state.store.list_users().await? {
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
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageUsers>,
    ApiJson(req): ApiJson<CreateUser>,
) -> AppResult<(StatusCode, Json<UserWithPassword>)> {
    let role = users::parse_role(&req.role)?;
    if role == Role::Admin {
        require_step_up(&who.0, &state)?;
    }
    let source = peer.ip().to_string();
    let scope = users::scope_for_new_user(req.all_devices, req.groups)?;
    let (user, password) = users::create(
        &state.store,
        state.config.password_hashing,
        &actor(&who.0, &source, &state),
        &req.username,
        role,
        &scope,
    )
    .await?;
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
    _who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<Json<UserInfo>> {
    let u = users::find(&state.store, &id).await?;
    Ok(Json(user_info(&state, u).await?))
}

/// Change a user's role, groups, or disable/enable them.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "access", request_body = UpdateUser,
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = UserInfo), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> AppResult<Json<UserInfo>> {
    let source = peer.ip().to_string();
    let actor = actor(&who.0, &source, &state);
    let role = req.role.as_deref().map(users::parse_role).transpose()?;
    let target = users::find(&state.store, &id).await?;
    let target_role = Role::parse(&target.role).unwrap_or(Role::Viewer);
    let changes = [
        role.filter(|r| r.as_str() != target.role)
            .map(UserChange::SetRole),
        req.disabled.map(|d| {
            if d {
                UserChange::Disable
            } else {
                UserChange::Enable
            }
        }),
    ];
    if changes
        .into_iter()
        .flatten()
        .any(|c| needs_step_up(c, target_role))
    {
        require_step_up(&who.0, &state)?;
    }
    let current = users::stored_scope(&state.store, &target).await?;
    let scope = users::requested_scope(req.all_devices, req.groups, &current)?;
    users::set_role_and_scope(&state.store, &actor, &id, role, scope.as_ref()).await?;
    if let Some(disabled) = req.disabled {
        users::set_disabled(&state.store, &actor, &id, disabled).await?;
    }
    let u = users::find(&state.store, &id).await?;
    Ok(Json(user_info(&state, u).await?))
}

/// Delete a user.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "access",
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn delete(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let target = users::find(&state.store, &id).await?;
    if needs_step_up(
        UserChange::Delete,
        Role::parse(&target.role).unwrap_or(Role::Viewer),
    ) {
        require_step_up(&who.0, &state)?;
    }
    let source = peer.ip().to_string();
    users::delete(&state.store, &actor(&who.0, &source, &state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give the user a new one-time password (shown once); their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "access",
    params(("id" = String, Path, description = "user id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = UserWithPassword), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn reset_password(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<Json<UserWithPassword>> {
    // Whoever resets a password can sign in as that user next.
    require_step_up(&who.0, &state)?;
    let source = peer.ip().to_string();
    let password = users::reset_password(
        &state.store,
        state.config.password_hashing,
        &actor(&who.0, &source, &state),
        &id,
    )
    .await?;
    let u = users::find(&state.store, &id).await?;
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
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageUsers>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    require_step_up(&who.0, &state)?;
    let source = peer.ip().to_string();
    users::reset_two_factor(&state.store, &actor(&who.0, &source, &state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
