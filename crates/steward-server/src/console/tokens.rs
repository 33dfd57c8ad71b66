//! API tokens in the console (administrators): the list with role, expiry and last use,
//! creating one (its secret shown once; an admin token needs a recent step-up), revoking.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::Role;

use super::format::{relative, utc};
use super::reauth::require_recent;
use super::{Chrome, csrf_ok, csrf_rejected, render};
use crate::auth::{ConsoleUser, ManageTokens, Principal};
use crate::error::AppResult;
use crate::net::ClientAddr;
use crate::state::AppState;

const PAGE: &str = "/tokens";

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
    /// A token just made, shown this once.
    new_token: String,
    error: String,
}

async fn build(state: &AppState, who: &Principal) -> AppResult<TokensPage> {
    let now = state.now();
    let tokens = state
        .store
        .list_api_tokens()
        .await?
        .into_iter()
        .rev()
        .map(|t| TokenRow {
            status: if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at.is_some_and(|e| now >= e) {
                "expired"
            } else {
                "active"
            },
            created: utc(t.created_at),
            expires: t.expires_at.map_or("never".into(), utc),
            last_used: t
                .last_used_at
                .map_or("never".into(), |at| relative(at, now)),
            id: t.id,
            name: t.name,
            role: t.role,
        })
        .collect();
    Ok(TokensPage {
        chrome: Chrome::new(who, "tokens"),
        tokens,
        new_token: String::new(),
        error: String::new(),
    })
}

fn show(page: AppResult<TokensPage>, status: StatusCode) -> Response {
    match page {
        Ok(p) => render(status, &p),
        Err(e) => e.into_response(),
    }
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser<ManageTokens>) -> Response {
    show(build(&state, &user.0).await, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// Days until it expires; empty or 0 for never.
    #[serde(default)]
    days: String,
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageTokens>,
    Form(form): Form<CreateForm>,
) -> Response {
    if !csrf_ok(&user.0, &form.csrf) {
        return csrf_rejected(&user.0);
    }
    let refuse = |error: String| async {
        show(
            build(&state, &user.0).await.map(|mut p| {
                p.error = error;
                p
            }),
            StatusCode::BAD_REQUEST,
        )
    };
    let Some(role) = Role::parse(&form.role) else {
        return refuse("Choose a role.".into()).await;
    };
    // An admin token can do everything an administrator can: as sensitive as making one.
    if role == Role::Admin
        && let Some(step_up) = require_recent(&user.0, state.now(), PAGE)
    {
        return step_up;
    }
    let days: u32 = match form.days.trim() {
        "" => 0,
        text => match text.parse() {
            Ok(d) if d <= 3650 => d,
            _ => return refuse("Days must be a number from 0 (never) to 3650.".into()).await,
        },
    };
    let now = state.now();
    let expires_at = (days > 0).then(|| now.plus_millis(i64::from(days) * 86_400_000));
    let token = match crate::admin::create_api_token(
        &state.store,
        &form.name,
        role,
        expires_at,
        user.0.user_id(),
        now,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => return refuse(format!("{e}.")).await,
    };
    crate::audit::record(
        &state.store,
        now,
        &user.0.label(),
        "api_token_created",
        form.name.trim(),
        role.as_str(),
        &peer.ip().to_string(),
    )
    .await;
    show(
        build(&state, &user.0).await.map(|mut p| {
            p.new_token = token;
            p
        }),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageTokens>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if !csrf_ok(&user.0, &form.csrf) {
        return csrf_rejected(&user.0);
    }
    match state.store.revoke_api_token(&form.id, state.now()).await {
        Ok(()) | Err(steward_store::StoreError::NotFound) => {
            crate::audit::record(
                &state.store,
                state.now(),
                &user.0.label(),
                "api_token_revoked",
                &form.id,
                "",
                &peer.ip().to_string(),
            )
            .await;
            Redirect::to(PAGE).into_response()
        }
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}
