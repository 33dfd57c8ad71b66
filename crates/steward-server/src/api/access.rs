//! Access administration over the API: the audit log and API tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_core::{Role, TwoFactorPolicy};
use steward_proto::api::{
    ApiError, ApiTokenInfo, AuditEntry, AuditQuery, CreateApiToken, CreateEnrollToken,
    CreatedApiToken, CreatedEnrollToken, Page, SecuritySettings,
};

use super::views::paging;
use crate::auth::{Authorized, ManageSecurity, ManageTokens, ViewAudit};
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::net::ClientAddr;
use crate::state::AppState;

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Page<AuditEntry>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn audit(
    State(state): State<AppState>,
    _who: Authorized<ViewAudit>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<Page<AuditEntry>>> {
    let (page, per_page, offset) = paging(q.page, q.per_page, 100, 1000);
    let action = q.action.as_deref().filter(|a| !a.is_empty());
    let actor = q.actor.as_deref().filter(|a| !a.is_empty());
    let (records, total) = state
        .store
        .audit_page(action, actor, offset, u64::from(per_page))
        .await?;
    let items: Vec<AuditEntry> = records
        .into_iter()
        .map(|r| AuditEntry {
            seq: r.seq,
            at: r.facts.at,
            actor: r.facts.actor,
            action: r.facts.action,
            target: r.facts.target,
            detail: r.facts.detail,
            source: r.facts.source,
            hash: r.hash,
        })
        .collect();
    Ok(Json(Page {
        items,
        total,
        page,
        per_page,
    }))
}

/// The whole audit log as CSV, oldest first (`?action=` filters).
#[utoipa::path(get, path = "/api/v1/audit.csv", tag = "access", params(AuditQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn audit_csv(
    State(state): State<AppState>,
    _who: Authorized<ViewAudit>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    let mut out = Vec::new();
    crate::audit::export_csv(&state.store, q.action.as_deref(), &mut out)
        .await
        .map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"steward-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "access",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<ApiTokenInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    _who: Authorized<ManageTokens>,
) -> AppResult<Json<Vec<ApiTokenInfo>>> {
    let tokens = state.store.list_api_tokens().await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| ApiTokenInfo {
                id: t.id,
                name: t.name,
                role: t.role,
                created_at: t.created_at,
                expires_at: t.expires_at,
                last_used_at: t.last_used_at,
                revoked_at: t.revoked_at,
            })
            .collect(),
    ))
}

/// Create an API token; the secret is in the answer and nowhere else.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "access", request_body = CreateApiToken,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = CreatedApiToken), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_token(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageTokens>,
    ApiJson(req): ApiJson<CreateApiToken>,
) -> AppResult<(StatusCode, Json<CreatedApiToken>)> {
    let role = Role::parse(&req.role)
        .ok_or_else(|| AppError::bad_request("role must be viewer, technician or admin"))?;
    // A token made with a token belongs to that token's owner, so it follows their role and
    // offboarding too; an ownerless (older) token may not make tokens at all, and nobody
    // makes a token above their own current role.
    let Some(owner) = who.0.acting_user_id() else {
        return Err(AppError::forbidden(
            "this API token has no owner, so it cannot create tokens; create one as a user",
        ));
    };
    if role.at_most(who.0.role) != role {
        return Err(AppError::forbidden(format!(
            "a token cannot have more than its creator's role ({})",
            who.0.role.as_str()
        )));
    }
    if role == Role::Admin {
        super::users::require_step_up(&who.0, &state)?;
    }
    let now = state.now();
    let expires_at = req
        .expires_in_days
        .map(|d| now.plus_millis(i64::from(d) * 86_400_000));
    let token =
        crate::admin::create_api_token(&state.store, &req.name, role, expires_at, Some(owner), now)
            .await
            .map_err(|e| AppError::bad_request(e.to_string()))?;
    let id = state
        .store
        .api_token_by_hash(&crate::secrets::token_hash(&token))
        .await?
        .map(|t| t.id)
        .unwrap_or_default();
    crate::audit::record(
        &state.store,
        now,
        &who.0.label(),
        "api_token_created",
        &req.name,
        role.as_str(),
        &peer.ip().to_string(),
    )
    .await;
    Ok((StatusCode::CREATED, Json(CreatedApiToken { id, token })))
}

/// Revoke an API token at once.
#[utoipa::path(post, path = "/api/v1/api-tokens/{id}/revoke", tag = "access",
    params(("id" = String, Path, description = "token id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageTokens>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    state
        .store
        .revoke_api_token(&id, state.now())
        .await
        .map_err(|e| match e {
            steward_store::StoreError::NotFound => AppError::not_found("API token"),
            other => other.into(),
        })?;
    crate::audit::record(
        &state.store,
        state.now(),
        &who.0.label(),
        "api_token_revoked",
        &id,
        "",
        &peer.ip().to_string(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The security settings (who must use two-factor sign-in).
#[utoipa::path(get, path = "/api/v1/settings/security", tag = "access",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = SecuritySettings), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn security_settings(
    State(state): State<AppState>,
    _who: Authorized<ManageSecurity>,
) -> AppResult<Json<SecuritySettings>> {
    let policy = crate::auth::two_factor_policy(&state).await?;
    Ok(Json(SecuritySettings {
        require_two_factor: policy
            .required_for
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
    }))
}

/// Change the security settings; from a console session this needs a recent step-up.
#[utoipa::path(put, path = "/api/v1/settings/security", tag = "access", request_body = SecuritySettings,
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = SecuritySettings), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_security_settings(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageSecurity>,
    ApiJson(req): ApiJson<SecuritySettings>,
) -> AppResult<Json<SecuritySettings>> {
    super::users::require_step_up(&who.0, &state)?;
    let policy =
        TwoFactorPolicy::parse(&req.require_two_factor.join(",")).map_err(AppError::bad_request)?;
    crate::admin::set_two_factor_policy(
        &state.store,
        &policy,
        &who.0.label(),
        &peer.ip().to_string(),
        state.now(),
    )
    .await?;
    security_settings(State(state), Authorized::from_principal(who.0)).await
}

/// Create an enrollment token (shown once); from a console session this needs a recent
/// step-up.
#[utoipa::path(post, path = "/api/v1/enroll-tokens", tag = "access", request_body = CreateEnrollToken,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = CreatedEnrollToken), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_enroll_token(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    who: Authorized<ManageTokens>,
    ApiJson(req): ApiJson<CreateEnrollToken>,
) -> AppResult<(StatusCode, Json<CreatedEnrollToken>)> {
    super::users::require_step_up(&who.0, &state)?;
    if !(1..=1000).contains(&req.uses) || !(1..=720).contains(&req.expires_in_hours) {
        return Err(AppError::bad_request(
            "uses must be 1–1000 and expires_in_hours 1–720",
        ));
    }
    let now = state.now();
    let expires_at = now.plus_millis(i64::from(req.expires_in_hours) * 3_600_000);
    let token = crate::admin::create_enroll_token(&state.store, req.uses, expires_at, now)
        .await
        .map_err(AppError::internal)?;
    crate::audit::record(
        &state.store,
        now,
        &who.0.label(),
        "enroll_token_created",
        "",
        &format!("{} use(s), expires in {} h", req.uses, req.expires_in_hours),
        &peer.ip().to_string(),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEnrollToken {
            token,
            uses: req.uses,
            expires_at,
        }),
    ))
}
