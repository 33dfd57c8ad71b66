//! The signed-in user's own sessions: where and when each was used, and ending them.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{ConsoleUser, ManageOwnAccount};
use crate::console::format::{relative, utc};
use crate::console::{Chrome, error_page, render};
use crate::net::ClientAddr;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

pub struct SessionRow {
    pub id: String,
    pub current: bool,
    pub source: String,
    pub signed_in: String,
    pub last_used: String,
    pub last_used_exact: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
}

pub async fn sessions(
    State(state): State<AppState>,
    user: ConsoleUser<ManageOwnAccount>,
) -> Response {
    let records = match state.store.sessions_for_user(user.0.id()).await {
        Ok(r) => r,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let now = state.now();
    let current = user.0.session_hash.clone().unwrap_or_default();
    let sessions = records
        .into_iter()
        .map(|s| SessionRow {
            current: s.token_hash == current,
            id: s.token_hash,
            source: s.source,
            signed_in: utc(s.created_at),
            last_used: relative(s.last_seen_at, now),
            last_used_exact: utc(s.last_seen_at),
            expires: utc(s.expires_at),
        })
        .collect();
    render(
        StatusCode::OK,
        &SessionsPage {
            chrome: Chrome::new(&user.0, "sessions"),
            sessions,
        },
    )
}

#[derive(Deserialize)]
pub struct RevokeForm {
    /// A session id, or `others` for every session but this one.
    #[serde(default)]
    session: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    let me = user.0.id().to_string();
    let current = user.0.session_hash.clone().unwrap_or_default();
    let result = if form.session == "others" {
        state
            .store
            .delete_other_sessions(&me, &current)
            .await
            .map(|_| ())
    } else {
        state.store.delete_user_session(&me, &form.session).await
    };
    match result {
        Ok(()) => {
            let what = if form.session == "others" {
                "all other sessions"
            } else {
                "one session"
            };
            crate::audit::record(
                &state.store,
                state.now(),
                &user.0.label(),
                "sessions_revoked",
                &user.0.name,
                what,
                &peer.ip().to_string(),
            )
            .await;
            if form.session == current {
                return Redirect::to("/login").into_response();
            }
            Redirect::to("/account/sessions").into_response()
        }
        Err(steward_store::StoreError::NotFound) => error_page(
            &user.0,
            StatusCode::NOT_FOUND,
            "Session not found",
            "That session has already ended.",
        ),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}
