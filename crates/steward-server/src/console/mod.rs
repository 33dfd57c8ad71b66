//! The web console: server-rendered pages (askama templates compiled into the binary), one
//! stylesheet and one small script, embedded. Every page but the login requires a signed-in
//! user ([`ConsoleUser`]); every POST carries the session's CSRF token.

mod account;
mod assets;
mod audit;
mod cross_site;
mod dashboard;
mod device;
mod device_sections;
mod devices;
mod enroll;
pub(crate) mod escape;
mod format;
mod groups;
mod known_device;
mod login;
mod password;
mod reauth;
mod second_factor;
mod security;
mod tokens;
mod two_factor;
mod users;
mod views;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::Principal;
use crate::secrets::secrets_equal;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::page).post(login::submit))
        .route(
            "/login/code",
            get(second_factor::page).post(second_factor::submit),
        )
        .route("/reauth", get(reauth::page).post(reauth::submit))
        .route("/account/two-factor", get(two_factor::page))
        .route("/account/two-factor/setup", post(two_factor::setup))
        .route("/account/two-factor/confirm", post(two_factor::confirm))
        .route(
            "/account/two-factor/recovery-codes",
            post(two_factor::recovery_codes),
        )
        .route("/account/two-factor/disable", post(two_factor::disable))
        .route("/users", get(users::page).post(users::create))
        .route("/users/{id}", post(users::update))
        .route(
            "/settings/security",
            get(security::page).post(security::save),
        )
        .route("/enroll", get(enroll::page).post(enroll::create))
        .route("/groups", get(groups::page).post(groups::create))
        .route("/groups/delete", post(groups::delete))
        .route("/audit", get(audit::page))
        .route("/tokens", get(tokens::page).post(tokens::create))
        .route("/tokens/revoke", post(tokens::revoke))
        .route("/logout", post(login::logout))
        .route("/", get(dashboard::page))
        .route("/devices", get(devices::list))
        .route("/devices/{id}", get(device::detail))
        .route("/devices/{id}/refresh", post(device::refresh))
        .route("/devices/{id}/organize", post(device::organize))
        .route("/devices/{id}/access", post(device::access))
        .route("/account/sessions", get(account::sessions))
        .route(
            "/account/password",
            get(password::page).post(password::change),
        )
        .route("/account/sessions/revoke", post(account::revoke))
        .route("/static/{file}", get(assets::serve))
}

/// What every page's layout needs: who is signed in, the CSRF token for forms, which
/// navigation item is active.
pub struct Chrome {
    pub username: String,
    /// The first letter of the name, for the avatar.
    pub initial: String,
    pub role: &'static str,
    /// May queue jobs (shows the buttons that do).
    pub can_operate: bool,
    /// Shows the administration links the role may use.
    pub can_manage_users: bool,
    pub can_manage_security: bool,
    pub can_manage_tokens: bool,
    pub can_view_audit: bool,
    /// A one-time password is still to be replaced (the password page says so).
    pub must_change_password: bool,
    pub csrf: String,
    pub nav: &'static str,
    pub css: &'static str,
    pub js: &'static str,
}

impl Chrome {
    pub fn new(user: &Principal, nav: &'static str) -> Self {
        Self {
            username: user.name.clone(),
            initial: user
                .name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default(),
            role: user.role.as_str(),
            can_operate: user.may(steward_core::Action::OperateDevices),
            can_manage_users: user.may(steward_core::Action::ManageUsers),
            can_manage_security: user.may(steward_core::Action::ManageSecurity),
            can_manage_tokens: user.may(steward_core::Action::ManageTokens),
            can_view_audit: user.may(steward_core::Action::ViewAudit),
            must_change_password: user.must_change_password,
            csrf: user.csrf_token.clone().unwrap_or_default(),
            nav,
            css: assets::css_path(),
            js: assets::js_path(),
        }
    }
}

/// What pages may load and who may frame them: only Steward's own script and stylesheet
/// (inline `style` attributes draw the bars), and no framing (a framed console could be
/// clicked on by another site).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Renders a template into a response with the console's security headers; a template
/// error is a logged 500.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            // Pages show live state and a CSRF token: never from a cache.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
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

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage {
    css: &'static str,
}

/// The page for an address that is not part of the console (no sign-in needed to see it,
/// so it names nothing).
pub fn not_found_page() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            css: assets::css_path(),
        },
    )
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage<'a> {
    css: &'static str,
    title: &'a str,
    message: &'a str,
}

/// The page for a request refused before any handler saw it (too large, wrong host name):
/// no sign-in is known there, so it names nothing but the reason.
pub fn refused_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &RefusedPage {
            css: assets::css_path(),
            title,
            message,
        },
    )
}

/// A form's fields in order, for forms where a name repeats (one per ticked box), which
/// `Form<T>` cannot read into a struct.
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    pub fn parse(raw: &[u8]) -> FormFields {
        FormFields(serde_urlencoded::from_bytes(raw).unwrap_or_default())
    }

    /// The first value of `key`, or "".
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The signed-in user's own record; without one (deleted meanwhile), back to the login.
pub async fn own_record(
    state: &AppState,
    user: &Principal,
) -> Result<steward_store::UserRecord, Response> {
    match state.store.user_by_id(user.id()).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(axum::response::Redirect::to("/login").into_response()),
        Err(e) => Err(crate::error::AppError::from(e).into_response()),
    }
}
