//! API tokens in the console (administrators): the list with role, expiry and last use,
//! creating one (its secret shown once; an admin token needs a recent step-up), revoking.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{ConsoleUser, ManageTokens, Principal};
use crate::console::format::{relative, utc};
use crate::console::{Chrome, refused, render};
use crate::error::AppResult;
use crate::service::{DomainError, Refusal};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

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
    name: String,
    #[serde(default)]
    role: String,
    /// Days until it expires; empty or 0 for never.
    #[serde(default)]
    days: String,
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<ManageTokens>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let days = match form.days.trim() {
        "" => Some(0),
        text => text.parse::<u32>().ok(),
    };
    let Some(days) = days else {
        let error = super::TokenError::BadExpiry.to_string();
        return refuse(&state, &user, error).await;
    };
    let new = super::NewToken {
        name: &form.name,
        role: &form.role,
        expires_in_days: Some(days),
    };
    match super::create(&state, &user.caller(&state), &new).await {
        Ok(created) => show(
            build(&state, &user.0).await.map(|mut p| {
                p.new_token = created.secret;
                p
            }),
            StatusCode::OK,
        ),
        Err(e) => match e.refusal() {
            Refusal::Invalid | Refusal::Forbidden => refuse(&state, &user, e.to_string()).await,
            _ => refused(&user.0, e, "Cannot create the token", PAGE),
        },
    }
}

/// The tokens page again, with what was wrong above the form.
async fn refuse(state: &AppState, user: &ConsoleUser<ManageTokens>, error: String) -> Response {
    show(
        build(state, &user.0).await.map(|mut p| {
            p.error = format!("{}.", capitalised(&error));
            p
        }),
        StatusCode::BAD_REQUEST,
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    id: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser<ManageTokens>,
    CsrfForm(form): CsrfForm<RevokeForm>,
) -> Response {
    match super::revoke(&state, &user.caller(&state), &form.id).await {
        Ok(_) => Redirect::to(PAGE).into_response(),
        Err(e) => refused(&user.0, e, "Cannot revoke the token", PAGE),
    }
}
