//! Enrollment tokens over the API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use steward_proto::api::{ApiError, CreateEnrollToken, CreatedEnrollToken};

use crate::auth::{Authorized, ManageTokens};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;

/// Create an enrollment token (shown once); from a console session this needs a recent
/// step-up.
#[utoipa::path(post, path = "/api/v1/enroll-tokens", tag = "access", request_body = CreateEnrollToken,
    security(("api_token" = []), ("session" = [])),
    responses((status = 201, body = CreatedEnrollToken), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_enroll_token(
    State(state): State<AppState>,
    who: Authorized<ManageTokens>,
    ApiJson(req): ApiJson<CreateEnrollToken>,
) -> AppResult<(StatusCode, Json<CreatedEnrollToken>)> {
    let valid_for_ms = i64::from(req.expires_in_hours) * 3_600_000;
    let token = super::create(&state, &who.caller(&state), req.uses, valid_for_ms).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEnrollToken {
            token: token.secret,
            uses: req.uses,
            expires_at: token.expires_at,
        }),
    ))
}
