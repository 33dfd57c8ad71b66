//! What the console's pages share: the layout's [`Chrome`], rendering, error and refusal
//! pages, formatting, the stylesheet and script (embedded). The pages themselves live with
//! their capability (`devices::console`, `users::console`, `account::login`, …). Every page
//! but the login requires a signed-in user (`ConsoleUser`); every form is a
//! `web::csrf::CsrfForm`, checked against the session's CSRF token.

pub(crate) mod assets;
pub(crate) mod escape;
pub(crate) mod format;
pub(crate) mod markdown;
pub(crate) mod views;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::Principal;
use crate::secrets::secrets_equal;
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

/// The console's shared routes: its stylesheet and script. Pages are declared by their
/// capabilities (`devices::routes`, `users::routes`, …).
pub fn routes() -> Routes {
    Routes::new().get("/static/{file}", Access::Public, assets::serve)
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
    /// Defines checks and maintenance windows (the "Checks" link).
    pub can_manage_monitoring: bool,
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
            can_manage_monitoring: user.may(steward_core::Action::ManageMonitoring),
            must_change_password: user.must_change_password,
            csrf: user.csrf_token.clone().unwrap_or_default(),
            nav,
            css: assets::css_path(),
            js: assets::js_path(),
        }
    }
}

/// Renders a template into a response; a template error is a logged 500. (Security headers
/// are added to every answer by `web::layers::security_headers`.)
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

/// The page for a service's refusal, in the layout: the same status and message the API
/// gives (`crate::error` maps them), under `title`. A refusal for want of a recent sign-in
/// sends the user to confirm their password first, then back to `back_to`.
pub fn refused<E: crate::service::DomainError>(
    user: &Principal,
    e: E,
    title: &str,
    back_to: &str,
) -> Response {
    if e.refusal() == crate::service::Refusal::StepUpRequired {
        return axum::response::Redirect::to(&format!(
            "/reauth?next={}",
            crate::auth::urlencode(back_to)
        ))
        .into_response();
    }
    let e = crate::error::AppError::from(e);
    error_page(user, e.status, title, &e.message)
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
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(transparent)]
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

    /// Every field, in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
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
