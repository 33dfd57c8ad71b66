//! Signing in and out. A sign-in is throttled (per account and source address for
//! strangers, per browser for the account's known devices: `steward_core::throttle`), takes
//! the same time whether or not the name exists, is refused when posted from another site
//! (login CSRF), and comes back only to a local path.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use steward_core::throttle::{self, Counter, Origin, Verdict};

use crate::auth::{ChangeOwnPassword, ConsoleUser};
use crate::console::render;
use crate::net::ClientAddr;
use crate::secrets::verify_password;
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

pub async fn page(q: Result<Query<NextQuery>, QueryRejection>) -> Response {
    let next = q.ok().and_then(|Query(q)| q.next).unwrap_or_default();
    render(
        StatusCode::OK,
        &LoginPage {
            css: crate::console::assets::css_path(),
            next: safe_next(&next).to_string(),
            username: String::new(),
            error: String::new(),
        },
    )
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    parts: Parts,
    Form(form): Form<LoginForm>,
) -> Response {
    let username = form.username.trim().to_string();
    let failed = |status: StatusCode, error: String| {
        render(
            status,
            &LoginPage {
                css: crate::console::assets::css_path(),
                next: safe_next(&form.next).to_string(),
                username: username.clone(),
                error,
            },
        )
    };
    if crate::account::cross_site::refused(&parts) {
        tracing::warn!(from = %peer.ip(), "sign-in posted from another site refused");
        return failed(
            StatusCode::FORBIDDEN,
            "This sign-in did not come from Steward's own page. Open Steward and sign in there."
                .into(),
        );
    }
    let user = match state.store.user_by_username(&username).await {
        Ok(u) => u.filter(|u| u.disabled_at.is_none()),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let counters = match attempt_counters(&state, &parts, &peer, &username, user.as_ref()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let attempt = match begin_attempt(&state, &counters, &username, &peer).await {
        Ok(Ok(attempt)) => attempt,
        Ok(Err(message)) => return failed(StatusCode::TOO_MANY_REQUESTS, message),
        Err(e) => return e.into_response(),
    };
    // Unknown names are checked against a dummy hash, so the time taken reveals nothing.
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // Made when the state was built: making it here would make unknown names slower.
    let dummy = state.dummy_hash.clone();
    let password = form.password.clone();
    // Sign-ins queue for the few password checks that may run at once; a queue that does
    // not move within seconds (a flood of sign-ins) is answered 503 rather than held open.
    let permit = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        state.password_checks.acquire(),
    )
    .await;
    let Ok(Ok(_permit)) = permit else {
        return crate::error::AppError::busy().into_response();
    };
    let valid = tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify_password(&password, &stored),
        None => {
            verify_password(&password, &dummy);
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
        return match crate::account::second_factor::begin(
            &state,
            &user,
            &peer,
            safe_next(&form.next),
        )
        .await
        {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
    }
    complete_sign_in(
        &state,
        Some(&parts),
        &user,
        &peer,
        safe_next(&form.next),
        "",
    )
    .await
}

/// The counters a password or code attempt on `username` is judged by: the browser's own if
/// it is a known device of the account, else the account's and the address's.
pub(super) async fn attempt_counters(
    state: &AppState,
    parts: &Parts,
    peer: &SocketAddr,
    username: &str,
    user: Option<&steward_store::UserRecord>,
) -> Result<Vec<Counter>, crate::error::AppError> {
    let device = match user {
        Some(u) => crate::account::known_device::of(state, parts, u).await?,
        None => None,
    };
    // Counted by source as the connection limit counts it: an IPv6 client rotating through
    // the addresses of its /64 is one stranger, not millions.
    let address = crate::net::conn_limit::source_key(peer.ip()).to_string();
    Ok(throttle::counters(
        username,
        match &device {
            Some(device) => Origin::KnownDevice { device },
            None => Origin::Stranger { address: &address },
        },
    ))
}

/// The counters a signed-in session proving itself again (step-up, password change) is
/// judged by: its own, so that nobody else's failures can block it.
pub(super) fn session_counters(who: &crate::auth::Principal) -> Vec<Counter> {
    let session = who.session_hash.as_deref().unwrap_or("");
    throttle::counters(
        &who.name,
        Origin::Session {
            session: &session[..session.len().min(16)],
        },
    )
}

/// A sign-in step (password, second factor, step-up, password change) recorded as a failure
/// *before* it is checked, so that a burst of parallel guesses cannot all pass the throttle
/// ahead of their failures being written. It is released when it succeeds.
#[must_use = "an attempt must end as succeeded or failed"]
pub(super) struct Attempt {
    ids: Vec<i64>,
    /// Counters whose failures a success forgets (see [`own_keys`]).
    clear_on_success: Vec<String>,
}

/// The keys of counters that only the owner's own browser or session feeds: a success
/// there forgets its earlier failures. The account's shared counter is never cleared by a
/// success, so strangers' guesses stay counted against the hourly limit.
fn own_keys(counters: &[Counter]) -> impl Iterator<Item = &str> {
    counters
        .iter()
        .map(|c| c.key.as_str())
        .filter(|k| k.starts_with("device:") || k.starts_with("session:"))
}

impl Attempt {
    /// The guess was right: it does not count against anyone.
    pub(super) async fn succeeded(self, state: &AppState) -> Result<(), crate::error::AppError> {
        state.store.release_login_attempt(&self.ids).await?;
        for key in &self.clear_on_success {
            state.store.clear_login_failures(key).await?;
        }
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
        // Quoted (Debug): a typed name cannot add fields such as `from=` to the line.
        tracing::warn!(user = ?username, from = %peer.ip(), action, "failed sign-in");
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

/// Starts an attempt judged by `counters`, or — if one of them has failed too often — the
/// message to show (with an audit entry). A throttled attempt is refused before any
/// password or code is looked at, and does not count.
pub(super) async fn begin_attempt(
    state: &AppState,
    counters: &[Counter],
    username: &str,
    peer: &SocketAddr,
) -> Result<Result<Attempt, String>, crate::error::AppError> {
    let now = state.now();
    let hour_ago = now.plus_millis(-3_600_000);
    let keys: Vec<String> = counters.iter().map(|c| c.key.clone()).collect();
    let (ids, windows) = state
        .store
        .reserve_login_attempt(&keys, now, hour_ago)
        .await?;
    for (counter, window) in counters.iter().zip(windows) {
        if let Verdict::Wait { secs } = throttle::decide(
            counter.policy,
            window.count,
            window.newest,
            window.oldest,
            now,
        ) {
            state.store.release_login_attempt(&ids).await?;
            tracing::warn!(user = ?username, from = %peer.ip(), failures = window.count, "sign-in throttled");
            crate::audit::record(
                &state.store,
                now,
                &format!("user:{username}"),
                "sign_in_throttled",
                username,
                &format!(
                    "{} failures in the last hour ({})",
                    window.count, counter.key
                ),
                &peer.ip().to_string(),
            )
            .await;
            return Ok(Err(format!(
                "Too many failed sign-ins. Try again in {}.",
                crate::console::format::duration_secs(secs.max(1) as u64)
            )));
        }
    }
    Ok(Ok(Attempt {
        ids,
        clear_on_success: own_keys(counters).map(str::to_string).collect(),
    }))
}

/// Every factor passed: a fresh session, the browser remembered as a known device of the
/// account, an audit entry, and back to where the user was going. The pending sign-in's
/// cookie is cleared.
pub(super) async fn complete_sign_in(
    state: &AppState,
    parts: Option<&Parts>,
    user: &steward_store::UserRecord,
    peer: &SocketAddr,
    next: &str,
    how: &str,
) -> Response {
    let device_cookie = match crate::account::known_device::remember(state, parts, user).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
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
            // A one-time password is replaced before anything else.
            let next = if user.must_change_password {
                "/account/password"
            } else {
                next
            };
            let mut response = Redirect::to(next).into_response();
            let headers = response.headers_mut();
            // The session cookie first: scripts and tests read the first one.
            let cookies = [
                Some(cookie),
                Some(crate::account::second_factor::clear_cookie(state)),
                device_cookie,
            ];
            for c in cookies.into_iter().flatten() {
                if let Ok(v) = header::HeaderValue::from_str(&c) {
                    headers.append(header::SET_COOKIE, v);
                }
            }
            response
        }
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ChangeOwnPassword>,
    crate::web::csrf::CsrfForm(_): crate::web::csrf::CsrfForm<crate::console::FormFields>,
) -> Response {
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
