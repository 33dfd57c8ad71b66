//! API tokens over the API.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use steward_proto::api::{ApiError, ApiTokenInfo, CreateApiToken, CreatedApiToken};

use super::NewToken;
use crate::auth::{Authorized, ManageTokens};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;

/// API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "access",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<ApiTokenInfo>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authorized<ManageTokens>,
) -> AppResult<Json<Vec<ApiTokenInfo>>> {
    let tokens = super::list(&state, &who.caller(&state)).await?;
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

/// Create an API token; the secret is in the answer and nowhere else. `expires_in_days`
/// absent or 0: it never expires.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "access", request_body = CreateApiToken,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = CreatedApiToken), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authorized<ManageTokens>,
    ApiJson(req): ApiJson<CreateApiToken>,
) -> AppResult<(StatusCode, Json<CreatedApiToken>)> {
    let new = NewToken {
        name: &req.name,
        role: &req.role,
        expires_in_days: req.expires_in_days,
    };
    let created = super::create(&state, &who.caller(&state), &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiToken {
            id: created.id,
            token: created.secret,
        }),
    ))
}

/// Revoke an API token at once (revoking a revoked one changes nothing and succeeds).
#[utoipa::path(post, path = "/api/v1/api-tokens/{id}/revoke", tag = "access",
    params(("id" = String, Path, description = "token id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn revoke(
    State(state): State<AppState>,
    who: Authorized<ManageTokens>,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    super::revoke(&state, &who.caller(&state), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
