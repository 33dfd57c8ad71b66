//! Signing in and out. A sign-in is throttled per account and per source address, takes
//! the same time whether or not the name exists, and comes back only to a local path.

use std::net::SocketAddr;
use std::sync::OnceLock;

use askama::Template;
use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use steward_core::throttle::{self, Verdict};

use super::{csrf_ok, csrf_rejected, render};
use crate::auth::{ConsoleUser, ManageOwnAccount};
use crate::net::ClientAddr;
use crate::secrets::{PasswordHashing, dummy_hash, verify_password};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    css: &'static str,
    next: String,
    username: String,
    error: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Only local paths: `/devices`, never `//evil.example` or `https://…`. Browsers drop tabs
/// and line breaks from URLs and read `\` as `/`, so `/<tab>/evil.example` and
/// `/\evil.example` lead off-site too: only visible ASCII is accepted (a browser sends
/// anything else percent-encoded), and no backslash anywhere.
pub fn safe_next(next: &str) -> &str {
    let visible_ascii = next.bytes().all(|b| b.is_ascii_graphic());
    if visible_ascii && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// Checks a password on the blocking pool, at most a few at once (each takes 64 MiB).
pub(super) async fn check_password(state: &AppState, password: &str, stored: &str) -> bool {
    let Ok(_permit) = state.password_checks.acquire().await else {
        return false;
    };
    let (password, stored) = (password.to_string(), stored.to_string());
    tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .unwrap_or(false)
}

/// The hash that unknown names are checked against, made once per cost setting. Making
/// one costs as much as a check, so making it per request would make unknown names twice
/// as slow as known ones: a way to find out which names exist.
fn dummy(hashing: PasswordHashing) -> &'static str {
    static PRODUCTION: OnceLock<String> = OnceLock::new();
    static CHEAP: OnceLock<String> = OnceLock::new();
    let cell = match hashing {
        PasswordHashing::Production => &PRODUCTION,
        PasswordHashing::TestOnlyCheap => &CHEAP,
    };
    cell.get_or_init(|| dummy_hash(hashing))
}

pub async fn page(
    State(state): State<AppState>,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let next = q.ok().and_then(|Query(q)| q.next).unwrap_or_default();
    // Have the dummy hash ready before the first sign-in, off the request threads.
    let hashing = state.config.password_hashing;
    tokio::task::spawn_blocking(move || dummy(hashing));
    render(
        StatusCode::OK,
        &LoginPage {
            css: super::assets::css_path(),
            next: safe_next(&next).to_string(),
            username: String::new(),
            error: String::new(),
        },
    )
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    Form(form): Form<LoginForm>,
) -> Response {
    let username = form.username.trim().to_string();
    let failed = |status: StatusCode, error: String| {
        render(
            status,
            &LoginPage {
                css: super::assets::css_path(),
                next: safe_next(&form.next).to_string(),
                username: username.clone(),
                error,
            },
        )
    };
    let keys = throttle_keys(&username, &peer);
    let attempt = match begin_attempt(&state, &keys, &username, &peer).await {
        Ok(Ok(attempt)) => attempt,
        Ok(Err(message)) => return failed(StatusCode::TOO_MANY_REQUESTS, message),
        Err(e) => return e.into_response(),
    };
    let user = match state.store.user_by_username(&username).await {
        Ok(u) => u.filter(|u| u.disabled_at.is_none()),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    // Unknown names are checked against a dummy hash, so the time taken reveals nothing.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let hashing = state.config.password_hashing;
    let password = form.password.clone();
    let Ok(_permit) = state.password_checks.acquire().await else {
        return crate::error::AppError::unavailable("the server is shutting down").into_response();
    };
    let valid = tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify_password(&password, &stored),
        None => {
            verify_password(&password, dummy(hashing));
            false
        }
    })
    .await
    .unwrap_or(false);
    let user = match user {
        Some(user) if valid => user,
        _ => {
            attempt
                .failed(&state, &username, &peer, "sign_in_failed", "")
                .await;
            return failed(
                StatusCode::UNAUTHORIZED,
                "Wrong username or password.".into(),
            );
        }
    };
    if let Err(e) = attempt.succeeded(&state).await {
        return e.into_response();
    }
    if user.totp_enabled_at.is_some() {
        // The password is right; the session waits for the second factor.
        return match super::second_factor::begin(&state, &user, &peer, safe_next(&form.next)).await
        {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
    }
    complete_sign_in(&state, &user, &peer, safe_next(&form.next), "").await
}

/// Failures count against the account and the source address.
pub(super) fn throttle_keys(username: &str, peer: &SocketAddr) -> [String; 2] {
    [
        format!("user:{}", username.to_lowercase()),
        format!("ip:{}", peer.ip()),
    ]
}

/// A sign-in step (password, second factor, step-up, password change) recorded as a failure
/// *before* it is checked, so that a burst of parallel guesses cannot all pass the throttle
/// ahead of their failures being written. It is released when it succeeds.
#[must_use = "an attempt must end as succeeded or failed"]
pub(super) struct Attempt {
    ids: Vec<i64>,
}

impl Attempt {
    /// The guess was right: it does not count against anyone.
    pub(super) async fn succeeded(self, state: &AppState) -> Result<(), crate::error::AppError> {
        state.store.release_login_attempt(&self.ids).await?;
        Ok(())
    }

    /// The guess was wrong: it stays counted, and is logged and audited.
    pub(super) async fn failed(
        self,
        state: &AppState,
        username: &str,
        peer: &SocketAddr,
        action: &str,
        detail: &str,
    ) {
        tracing::warn!(user = %username, from = %peer.ip(), action, "failed sign-in");
        crate::audit::record(
            &state.store,
            state.now(),
            &format!("user:{username}"),
            action,
            username,
            detail,
            &peer.ip().to_string(),
        )
        .await;
    }
}

/// Starts an attempt for the account and source address, or — if either has failed too
/// often — the message to show (with an audit entry). A throttled attempt is refused before
/// any password or code is looked at, and does not count.
pub(super) async fn begin_attempt(
    state: &AppState,
    keys: &[String; 2],
    username: &str,
    peer: &SocketAddr,
) -> Result<Result<Attempt, String>, crate::error::AppError> {
    let now = state.now();
    let hour_ago = now.plus_millis(-3_600_000);
    let (ids, windows) = state
        .store
        .reserve_login_attempt(keys, now, hour_ago)
        .await?;
    for ((key, window), policy) in keys
        .iter()
        .zip(windows)
        .zip([throttle::PER_ACCOUNT, throttle::PER_SOURCE])
    {
        if let Verdict::Wait { secs } =
            throttle::decide(policy, window.count, window.newest, window.oldest, now)
        {
            state.store.release_login_attempt(&ids).await?;
            tracing::warn!(user = %username, from = %peer.ip(), failures = window.count, "sign-in throttled");
            crate::audit::record(
                &state.store,
                now,
                &format!("user:{username}"),
                "sign_in_throttled",
                username,
                &format!("{} failures in the last hour ({key})", window.count),
                &peer.ip().to_string(),
            )
            .await;
            return Ok(Err(format!(
                "Too many failed sign-ins. Try again in {}.",
                super::format::duration_secs(secs.max(1) as u64)
            )));
        }
    }
    Ok(Ok(Attempt { ids }))
}

/// Every factor passed: a fresh session, failures forgotten, an audit entry, and back to
/// where the user was going. `extra_cookie` clears a pending sign-in's cookie.
pub(super) async fn complete_sign_in(
    state: &AppState,
    user: &steward_store::UserRecord,
    peer: &SocketAddr,
    next: &str,
    how: &str,
) -> Response {
    let keys = throttle_keys(&user.username, peer);
    if let Err(e) = state.store.clear_login_failures(&keys[0]).await {
        return crate::error::AppError::from(e).into_response();
    }
    match crate::sessions::start(state, user, &peer.ip().to_string()).await {
        Ok(cookie) => {
            tracing::info!(user = %user.username, from = %peer.ip(), "signed in");
            crate::audit::record(
                &state.store,
                state.now(),
                &format!("user:{}", user.username),
                "sign_in",
                &user.username,
                how,
                &peer.ip().to_string(),
            )
            .await;
            let mut response = Redirect::to(next).into_response();
            let headers = response.headers_mut();
            if let Ok(v) = header::HeaderValue::from_str(&cookie) {
                headers.append(header::SET_COOKIE, v);
            }
            if let Ok(v) = header::HeaderValue::from_str(&super::second_factor::clear_cookie(state))
            {
                headers.append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&user.0, &form.csrf) {
        return csrf_rejected(&user.0);
    }
    let Some(hash) = user.0.session_hash.as_deref() else {
        return Redirect::to("/login").into_response();
    };
    let ip = peer.ip().to_string();
    crate::audit::record(
        &state.store,
        state.now(),
        &user.0.label(),
        "sign_out",
        &user.0.name,
        "",
        &ip,
    )
    .await;
    match crate::sessions::end(&state, hash).await {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response(),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_only_a_local_path() {
        assert_eq!(safe_next("/devices?x=1"), "/devices?x=1");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("/\t/evil.example"), "/");
        assert_eq!(safe_next("/\n/evil.example"), "/");
        assert_eq!(safe_next("/ /evil.example"), "/");
        assert_eq!(safe_next("/devices/caf\u{e9}"), "/");
        assert_eq!(
            safe_next("/devices?name=caf%C3%A9"),
            "/devices?name=caf%C3%A9"
        );
        assert_eq!(safe_next("devices"), "/");
        assert_eq!(safe_next("javascript:alert(1)"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
