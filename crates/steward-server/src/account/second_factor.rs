//! The second step of signing in: after the right password, a user with two-factor sign-in
//! gets no session yet, only a short-lived pending sign-in (its own random token in an
//! HttpOnly, SameSite=Strict cookie scoped to `/login`), and must give an authenticator code
//! or a recovery code. Wrong codes count towards the same throttling as wrong passwords,
//! and five wrong codes end the pending sign-in.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_store::PendingSignIn;

use crate::account::login::{attempt_counters, begin_attempt, complete_sign_in};
use crate::console::render;
use crate::error::AppResult;
use crate::net::ClientAddr;
use crate::secrets::{random_token, token_hash};
use crate::state::AppState;

pub const PENDING_COOKIE: &str = "steward_pending";
/// How long the second step may take.
const PENDING_SECS: i64 = 300;
/// Codes tried before the password must be given again.
const MAX_CODE_ATTEMPTS: i64 = 5;

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    css: &'static str,
    username: String,
    error: String,
}

/// `Secure` is added by `net::origin::edge` when the browser is on HTTPS.
fn cookie(_state: &AppState, value: &str, max_age: i64) -> String {
    crate::web::cookies::set(
        PENDING_COOKIE,
        value,
        "/login",
        crate::web::cookies::SameSite::Strict,
        max_age,
        false,
    )
}

/// The `Set-Cookie` value that forgets a pending sign-in.
pub fn clear_cookie(state: &AppState) -> String {
    cookie(state, "", 0)
}

/// Starts the second step for a user whose password was right.
pub(super) async fn begin(
    state: &AppState,
    user: &steward_store::UserRecord,
    peer: &SocketAddr,
    next: &str,
) -> AppResult<Response> {
    let now = state.now();
    let token = random_token("");
    state
        .store
        .create_pending_sign_in(&PendingSignIn {
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now.plus_millis(PENDING_SECS * 1000),
            source: peer.ip().to_string(),
            next: next.to_string(),
            failures: 0,
        })
        .await?;
    // Old pending sign-ins are swept here rather than by a timer: they are only ever looked
    // up by token, and an expired one is refused anyway.
    state.store.delete_pending_sign_ins_before(now).await?;
    Ok((
        [(header::SET_COOKIE, cookie(state, &token, PENDING_SECS))],
        Redirect::to("/login/code"),
    )
        .into_response())
}

/// The pending sign-in behind the request's cookie, if it is still good.
async fn pending(
    state: &AppState,
    parts: &Parts,
) -> AppResult<Option<(PendingSignIn, steward_store::UserRecord)>> {
    let Some(token) = crate::web::cookies::get(parts, PENDING_COOKIE) else {
        return Ok(None);
    };
    let Some(p) = state.store.pending_sign_in(&token_hash(&token)).await? else {
        return Ok(None);
    };
    if state.now() >= p.expires_at {
        state.store.delete_pending_sign_in(&p.token_hash).await?;
        return Ok(None);
    }
    let user = state
        .store
        .user_by_id(&p.user_id)
        .await?
        .filter(|u| u.disabled_at.is_none() && u.totp_enabled_at.is_some());
    Ok(user.map(|u| (p, u)))
}

fn back_to_login(state: &AppState) -> Response {
    (
        [(header::SET_COOKIE, clear_cookie(state))],
        Redirect::to("/login"),
    )
        .into_response()
}

pub async fn page(State(state): State<AppState>, parts: Parts) -> Response {
    match pending(&state, &parts).await {
        Ok(Some((_, user))) => render(
            StatusCode::OK,
            &CodePage {
                css: crate::console::assets::css_path(),
                username: user.username,
                error: String::new(),
            },
        ),
        Ok(None) => back_to_login(&state),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    parts: Parts,
    Form(form): Form<CodeForm>,
) -> Response {
    match submit_inner(&state, &peer, &parts, &form).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn submit_inner(
    state: &AppState,
    peer: &SocketAddr,
    parts: &Parts,
    form: &CodeForm,
) -> AppResult<Response> {
    if crate::account::cross_site::refused(parts) {
        return Err(crate::error::AppError::forbidden(
            "this sign-in did not come from Steward's own page",
        ));
    }
    let Some((pending, user)) = pending(state, parts).await? else {
        return Ok(back_to_login(state));
    };
    let refuse = |status: StatusCode, error: String| {
        render(
            status,
            &CodePage {
                css: crate::console::assets::css_path(),
                username: user.username.clone(),
                error,
            },
        )
    };
    // Each pending sign-in gets a few tries, counted before the code is checked so that
    // parallel guesses cannot exceed them.
    if state
        .store
        .reserve_pending_attempt(&pending.token_hash, MAX_CODE_ATTEMPTS)
        .await?
        .is_none()
    {
        state
            .store
            .delete_pending_sign_in(&pending.token_hash)
            .await?;
        return Ok(back_to_login(state));
    }
    let counters = attempt_counters(state, parts, peer, &user.username, Some(&user)).await?;
    let attempt = match begin_attempt(state, &counters, &user.username, peer).await? {
        Ok(attempt) => attempt,
        Err(message) => return Ok(refuse(StatusCode::TOO_MANY_REQUESTS, message)),
    };
    match crate::two_factor::verify(state, &user, &form.code).await? {
        Some(factor) => {
            attempt.succeeded(state).await?;
            // Spend the pending sign-in first: two requests racing with one code get one
            // session between them.
            if !state
                .store
                .delete_pending_sign_in(&pending.token_hash)
                .await?
            {
                return Ok(back_to_login(state));
            }
            Ok(complete_sign_in(
                state,
                Some(parts),
                &user,
                peer,
                crate::account::login::safe_next(&pending.next),
                &format!("with {}", factor.describe()),
            )
            .await)
        }
        None => {
            attempt
                .failed(
                    state,
                    &user.username,
                    peer,
                    "sign_in_failed",
                    "wrong or reused second factor",
                )
                .await;
            Ok(refuse(
                StatusCode::UNAUTHORIZED,
                "That code is wrong or was already used. Codes change every 30 seconds; a recovery code works once.".into(),
            ))
        }
    }
}
