//! The web console: server-rendered pages (askama templates compiled into the binary), one
//! stylesheet and one small script, embedded. Every page but the login requires a signed-in
//! user ([`ConsoleUser`]); every POST carries the session's CSRF token.

mod account;
mod assets;
mod dashboard;
mod devices;
mod format;
mod login;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::Principal;
use crate::secrets::secrets_equal;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/", get(dashboard::page))
        .route("/devices", get(devices::list))
        .route("/devices/{id}", get(devices::detail))
        .route("/devices/{id}/refresh", post(devices::refresh))
        .route("/account/sessions", get(account::sessions))
        .route("/account/sessions/revoke", post(account::revoke))
        .route("/static/{file}", get(assets::serve))
}

/// What every page's layout needs: who is signed in, the CSRF token for forms, which
/// navigation item is active.
pub struct Chrome {
    pub username: String,
    pub role: &'static str,
    /// May queue jobs (shows the buttons that do).
    pub can_operate: bool,
    pub csrf: String,
    pub nav: &'static str,
    pub css: &'static str,
    pub js: &'static str,
}

impl Chrome {
    pub fn new(user: &Principal, nav: &'static str) -> Self {
        Self {
            username: user.name.clone(),
            role: user.role.as_str(),
            can_operate: user.may(steward_core::Action::OperateDevices),
            csrf: user.csrf_token.clone().unwrap_or_default(),
            nav,
            css: assets::CSS_PATH,
            js: assets::JS_PATH,
        }
    }
}

/// Renders a template into a response; a template error is a logged 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub title: String,
    pub message: String,
}

/// A page-shaped error (in the layout) for console routes.
pub fn error_page(user: &Principal, status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &ErrorPage {
            chrome: Chrome::new(user, ""),
            title: title.to_string(),
            message: message.to_string(),
        },
    )
}

/// Checks a submitted CSRF token against the session's.
pub fn csrf_ok(principal: &Principal, submitted: &str) -> bool {
    principal
        .csrf_token
        .as_deref()
        .is_some_and(|expected| !submitted.is_empty() && secrets_equal(expected, submitted))
}

/// The response to a POST whose CSRF token is missing or wrong.
pub fn csrf_rejected(user: &Principal) -> Response {
    error_page(
        user,
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was stale or did not come from Steward. Reload the page and try again.",
    )
}

/// The page for a signed-in user whose role does not allow what they asked for.
pub fn forbidden(user: &Principal) -> Response {
    error_page(
        user,
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!(
            "Your role ({}) does not allow this. Ask an administrator if you need it.",
            user.role.as_str()
        ),
    )
}
