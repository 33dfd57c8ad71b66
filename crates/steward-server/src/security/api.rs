//! Security settings over the API.

use axum::Json;
use axum::extract::State;
use steward_core::TwoFactorPolicy;
use steward_proto::api::{ApiError, SecuritySettings};

use crate::auth::{Authorized, ManageSecurity};
use crate::error::{ApiJson, AppResult};
use crate::state::AppState;

fn settings(policy: &TwoFactorPolicy) -> SecuritySettings {
    SecuritySettings {
        require_two_factor: policy
            .required_for
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
    }
}

/// The security settings (who must use two-factor sign-in).
#[utoipa::path(get, path = "/api/v1/settings/security", tag = "access",
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = SecuritySettings), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn security_settings(
    State(state): State<AppState>,
    who: Authorized<ManageSecurity>,
) -> AppResult<Json<SecuritySettings>> {
    let policy = super::two_factor_policy(&state, &who.caller(&state)).await?;
    Ok(Json(settings(&policy)))
}

/// Change the security settings; from a console session this needs a recent step-up.
#[utoipa::path(put, path = "/api/v1/settings/security", tag = "access", request_body = SecuritySettings,
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = SecuritySettings), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn update_security_settings(
    State(state): State<AppState>,
    who: Authorized<ManageSecurity>,
    ApiJson(req): ApiJson<SecuritySettings>,
) -> AppResult<Json<SecuritySettings>> {
    let policy =
        super::set_two_factor_policy(&state, &who.caller(&state), &req.require_two_factor).await?;
    Ok(Json(settings(&policy)))
}
