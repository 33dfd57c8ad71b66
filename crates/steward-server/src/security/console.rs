//! Security settings (administrators): which roles must use two-factor sign-in. Changing
//! the policy needs a recent step-up; the change is audited with before and after.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use steward_core::Role;

use crate::auth::{ConsoleUser, ManageSecurity, two_factor_policy};
use crate::console::{Chrome, FormFields, refused, render};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

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
        Err(e) => return crate::error::AppError::from(e).into_response(),
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
    user: ConsoleUser<ManageSecurity>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let roles = fields.all("require");
    match super::set_two_factor_policy(&state, &user.caller(&state), &roles).await {
        Ok(_) => Redirect::to("/settings/security?saved=1").into_response(),
        Err(e) => refused(&user.0, e, "Cannot change the settings", PAGE),
    }
}
