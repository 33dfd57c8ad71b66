//! Security settings (administrators): which roles must use two-factor sign-in. Changing
//! the policy needs a recent step-up; the change is audited with before and after.

use askama::Template;
use axum::extract::{RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use steward_core::{Role, TwoFactorPolicy};

use super::reauth::require_recent;
use super::{Chrome, FormFields, csrf_ok, csrf_rejected, render};
use crate::auth::{ConsoleUser, ManageSecurity, two_factor_policy};
use crate::net::ClientAddr;
use crate::state::AppState;

const PAGE: &str = "/settings/security";

pub struct RoleChoice {
    pub role: &'static str,
    pub required: bool,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    roles: Vec<RoleChoice>,
    saved: bool,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser<ManageSecurity>,
    q: axum::extract::RawQuery,
) -> Response {
    let policy = match two_factor_policy(&state).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    render(
        StatusCode::OK,
        &SecurityPage {
            chrome: Chrome::new(&user.0, "security"),
            roles: Role::ALL
                .into_iter()
                .map(|r| RoleChoice {
                    role: r.as_str(),
                    required: policy.requires(r),
                })
                .collect(),
            saved: q.0.as_deref() == Some("saved=1"),
        },
    )
}

pub async fn save(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageSecurity>,
    RawForm(raw): RawForm,
) -> Response {
    let fields = FormFields::parse(&raw);
    if !csrf_ok(&user.0, fields.get("csrf")) {
        return csrf_rejected(&user.0);
    }
    if let Some(step_up) = require_recent(&user.0, state.now(), PAGE) {
        return step_up;
    }
    let roles = fields.all("require");
    let policy = match TwoFactorPolicy::parse(&roles.join(",")) {
        Ok(p) => p,
        Err(e) => return crate::error::AppError::bad_request(e).into_response(),
    };
    match crate::admin::set_two_factor_policy(
        &state.store,
        &policy,
        &user.0.label(),
        &peer.ip().to_string(),
        state.now(),
    )
    .await
    {
        Ok(()) => Redirect::to("/settings/security?saved=1").into_response(),
        Err(e) => e.into_response(),
    }
}
