//! Who is asking. Three kinds of caller, each with its own extractor:
//! - [`Principal`]: a console user (session cookie) or an API token (bearer), for `/api/v1`;
//! - [`ConsoleUser`]: the same for console pages, redirecting to the login page instead of
//!   answering 401;
//! - [`AgentIdentity`]: an enrolled, non-revoked device proving itself with its credential.
//!
//! A handler that takes none of them is public; there are three (health, login, enroll).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use steward_store::DeviceIngestState;

use crate::error::AppError;
use crate::secrets::{secrets_equal, token_hash};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "steward_session";
pub const API_TOKEN_PREFIX: &str = "stw_api_";

#[derive(Debug, Clone)]
pub enum PrincipalKind {
    User { id: String, role: String },
    ApiToken { id: String },
}

/// An authenticated person or API client.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// Username or token name, for audit and display.
    pub name: String,
    /// The session's CSRF token (console sessions only).
    pub csrf_token: Option<String>,
    /// Hash of the session token (console sessions only), to log out.
    pub session_hash: Option<String>,
}

impl Principal {
    /// The id of the user or API token.
    pub fn id(&self) -> &str {
        match &self.kind {
            PrincipalKind::User { id, .. } | PrincipalKind::ApiToken { id } => id,
        }
    }

    /// The role the principal acts with. API tokens act as administrators until tokens get
    /// roles of their own.
    pub fn role(&self) -> &str {
        match &self.kind {
            PrincipalKind::User { role, .. } => role,
            PrincipalKind::ApiToken { .. } => "admin",
        }
    }

    /// How this principal is named in job and audit records.
    pub fn label(&self) -> String {
        match &self.kind {
            PrincipalKind::User { .. } => format!("user:{}", self.name),
            PrincipalKind::ApiToken { .. } => format!("api-token:{}", self.name),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The principal behind the request, if any credential is presented and valid.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>, AppError> {
    let now = state.now();
    if let Some(token) = bearer(parts) {
        if !token.starts_with(API_TOKEN_PREFIX) {
            return Err(AppError::unauthorized(
                "this bearer token is not an API token (they start with stw_api_)",
            ));
        }
        let Some(record) = state.store.api_token_by_hash(&token_hash(token)).await? else {
            return Err(AppError::unauthorized("unknown API token"));
        };
        if record.revoked_at.is_some() {
            return Err(AppError::unauthorized("this API token has been revoked"));
        }
        // Recording use is bookkeeping: refresh it at most once a minute per token.
        if record.last_used_at.is_none_or(|t| now.since(t) > 60_000) {
            state.store.touch_api_token(&record.id, now).await?;
        }
        return Ok(Some(Principal {
            kind: PrincipalKind::ApiToken { id: record.id },
            name: record.name,
            csrf_token: None,
            session_hash: None,
        }));
    }
    let Some(session_token) = cookie(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(session_token);
    let Some((session, user)) = state.store.session(&hash).await? else {
        return Ok(None);
    };
    let idle_deadline = session
        .last_seen_at
        .plus_millis(state.config.session_idle_secs * 1000);
    if now >= session.expires_at || now >= idle_deadline || user.disabled_at.is_some() {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    if now.since(session.last_seen_at) > 60_000 {
        state.store.touch_session(&hash, now).await?;
    }
    Ok(Some(Principal {
        kind: PrincipalKind::User {
            id: user.id,
            role: user.role,
        },
        name: user.username,
        csrf_token: Some(session.csrf_token),
        session_hash: Some(hash),
    }))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        authenticate(parts, state).await?.ok_or_else(|| {
            AppError::unauthorized(
                "sign in, or send an API token as `Authorization: Bearer stw_api_…`",
            )
        })
    }
}

/// A signed-in console user; anyone else is sent to the login page.
#[derive(Debug, Clone)]
pub struct ConsoleUser(pub Principal);

pub struct LoginRedirect(Response);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        self.0
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = LoginRedirect;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, LoginRedirect> {
        match authenticate(parts, state).await {
            Ok(Some(p)) if p.session_hash.is_some() => Ok(ConsoleUser(p)),
            Ok(_) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str())
                    .filter(|p| p.starts_with('/') && !p.starts_with("//"))
                    .unwrap_or("/");
                let target = format!("/login?next={}", urlencode(next));
                Err(LoginRedirect(Redirect::to(&target).into_response()))
            }
            Err(e) => Err(LoginRedirect(e.into_response())),
        }
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An enrolled device proving its identity with `Bearer <device-id>.<secret>`.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub device: DeviceIngestState,
}

impl FromRequestParts<AppState> for AgentIdentity {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let credential = bearer(parts).ok_or_else(|| {
            AppError::unauthorized("agent requests need the device credential as a bearer token")
        })?;
        let (device_id, _) = credential
            .split_once('.')
            .ok_or_else(|| AppError::unauthorized("malformed device credential"))?;
        let Some(device) = state.store.device_ingest_state(device_id).await? else {
            return Err(AppError::unauthorized("unknown device credential"));
        };
        if !secrets_equal(&token_hash(credential), &device.credential_hash) {
            return Err(AppError::unauthorized("unknown device credential"));
        }
        if device.revoked_at.is_some() {
            return Err(AppError::unauthorized(
                "this device has been revoked by an administrator; enroll it again to restore it",
            ));
        }
        Ok(AgentIdentity { device })
    }
}
