//! Step-up re-authentication: before a sensitive action (creating an administrator,
//! revealing an enrollment token, changing the two-factor policy, turning one's own second
//! factor off) a session must have proved who it is within the last few minutes. This page
//! asks for the password again, and the second factor if the user has one; failures are
//! throttled like sign-ins.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::account::login::{begin_attempt, check_password, safe_next, session_counters};
use crate::auth::{ConsoleUser, ManageOwnAccount, Principal, urlencode};
use crate::console::{Chrome, render};
use crate::error::{AppError, AppResult};
use crate::net::ClientAddr;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    chrome: Chrome,
    next: String,
    needs_code: bool,
    error: String,
}

/// `None` if the session proved itself recently; otherwise where to send it first.
pub fn require_recent(
    user: &Principal,
    now: steward_core::Timestamp,
    back_to: &str,
) -> Option<Response> {
    if user.recently_authenticated(now) {
        return None;
    }
    Some(Redirect::to(&format!("/reauth?next={}", urlencode(back_to))).into_response())
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser<ManageOwnAccount>,
    q: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let next = q.ok().and_then(|Query(q)| q.next).unwrap_or_default();
    match needs_code(&state, &user.0).await {
        Ok(needs_code) => render(
            StatusCode::OK,
            &ReauthPage {
                chrome: Chrome::new(&user.0, "account"),
                next: safe_next(&next).to_string(),
                needs_code,
                error: String::new(),
            },
        ),
        Err(e) => e.into_response(),
    }
}

async fn needs_code(state: &AppState, user: &Principal) -> AppResult<bool> {
    Ok(state
        .store
        .user_by_id(user.id())
        .await?
        .is_some_and(|u| u.totp_enabled_at.is_some()))
}

#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    CsrfForm(form): CsrfForm<ReauthForm>,
) -> Response {
    match submit_inner(&state, &peer, &user.0, &form).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn submit_inner(
    state: &AppState,
    peer: &SocketAddr,
    who: &Principal,
    form: &ReauthForm,
) -> AppResult<Response> {
    let Some(record) = state.store.user_by_id(who.id()).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let needs_code = record.totp_enabled_at.is_some();
    let refuse = |status: StatusCode, error: String| {
        render(
            status,
            &ReauthPage {
                chrome: Chrome::new(who, "account"),
                next: safe_next(&form.next).to_string(),
                needs_code,
                error,
            },
        )
    };
    // Judged by this session's own failures: a stranger's guesses cannot block a signed-in
    // user from stepping up.
    let attempt = match begin_attempt(state, &session_counters(who), &record.username, peer).await?
    {
        Ok(attempt) => attempt,
        Err(message) => return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, message)),
    };
    let password_ok = check_password(state, &form.password, &record.password_hash).await;
    let factor_ok = if !password_ok {
        false
    } else if needs_code {
        crate::two_factor::verify(state, &record, &form.code)
            .await?
            .is_some()
    } else {
        true
    };
    if !factor_ok {
        attempt
            .failed(state, &record.username, peer, "step_up_failed", "")
            .await;
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            if needs_code {
                "The password or the code is wrong.".into()
            } else {
                "The password is wrong.".into()
            },
        ));
    }
    attempt.succeeded(state).await?;
    let hash = who
        .session_hash
        .as_deref()
        .ok_or_else(|| AppError::unauthorized("not a console session"))?;
    state.store.set_session_reauth(hash, state.now()).await?;
    crate::audit::record(
        &state.store,
        state.now(),
        &who.label(),
        "step_up",
        &who.name,
        "",
        &peer.ip().to_string(),
    )
    .await;
    Ok(Redirect::to(safe_next(&form.next)).into_response())
}
