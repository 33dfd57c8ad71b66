//! The user's own two-factor sign-in: set it up (QR code and the secret as text, confirmed
//! by a first code), see how many recovery codes are left, make new ones, turn it off. Making
//! new codes and turning it off need a recent step-up; turning it off is refused while the
//! policy requires it for the user's role.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::account::reauth::require_recent;
use crate::auth::{ConsoleUser, ManageOwnAccount, Principal, two_factor_policy};
use crate::console::{Chrome, error_page, render};
use crate::error::AppResult;
use crate::net::ClientAddr;
use crate::state::AppState;
use crate::two_factor::Enrolment;
use crate::web::csrf::CsrfForm;

const PAGE: &str = "/account/two-factor";

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    chrome: Chrome,
    enabled: bool,
    enrolment: Option<Enrolment>,
    codes_left: u64,
    /// Recovery codes just made, shown this once.
    new_codes: Vec<String>,
    /// The policy requires it for this user's role.
    required: bool,
    must_enrol: bool,
    error: String,
}

async fn build(
    state: &AppState,
    who: &Principal,
    new_codes: Vec<String>,
    error: String,
) -> AppResult<TwoFactorPage> {
    let user = state
        .store
        .user_by_id(who.id())
        .await?
        .ok_or_else(|| crate::error::AppError::unauthorized("no such user"))?;
    let required = two_factor_policy(state).await?.requires(who.role);
    Ok(TwoFactorPage {
        chrome: Chrome::new(who, "account"),
        enabled: user.totp_enabled_at.is_some(),
        enrolment: crate::two_factor::enrolment(state, &user)?,
        codes_left: state.store.recovery_codes_left(&user.id).await?,
        new_codes,
        required,
        must_enrol: who.must_enrol_two_factor && user.totp_enabled_at.is_none(),
        error,
    })
}

fn show(result: AppResult<TwoFactorPage>, status: StatusCode) -> Response {
    match result {
        Ok(page) => render(status, &page),
        Err(e) => e.into_response(),
    }
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser<ManageOwnAccount>) -> Response {
    show(
        build(&state, &user.0, Vec::new(), String::new()).await,
        StatusCode::OK,
    )
}

async fn audit(state: &AppState, who: &Principal, peer: &SocketAddr, action: &str, detail: &str) {
    crate::audit::record(
        &state.store,
        state.now(),
        &who.label(),
        action,
        &who.name,
        detail,
        &peer.ip().to_string(),
    )
    .await;
}

pub async fn setup(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    CsrfForm(_): CsrfForm<crate::console::FormFields>,
) -> Response {
    // A session alone must not be able to bind someone else's phone to the account, unless
    // the policy is making the user set it up right now (just signed in).
    if !user.0.must_enrol_two_factor
        && let Some(step_up) = require_recent(&user.0, state.now(), PAGE)
    {
        return step_up;
    }
    let record = match crate::console::own_record(&state, &user.0).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    match crate::two_factor::begin(&state, &record).await {
        Ok(()) => {
            audit(&state, &user.0, &peer, "two_factor_setup_started", "").await;
            Redirect::to(PAGE).into_response()
        }
        Err(e) => error_page(
            &user.0,
            e.status,
            "Cannot set up two-factor sign-in",
            &e.message,
        ),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
}

pub async fn confirm(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Response {
    let record = match crate::console::own_record(&state, &user.0).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    match crate::two_factor::confirm(&state, &record, &form.code).await {
        Ok(Some(codes)) => {
            // Sessions opened with the password alone end; this one stays.
            let current = user.0.session_hash.clone().unwrap_or_default();
            if let Err(e) = state.store.delete_other_sessions(user.0.id(), &current).await {
                return crate::error::AppError::from(e).into_response();
            }
            audit(&state, &user.0, &peer, "two_factor_enabled", "other sessions ended").await;
            // The principal was built before; the page must not say "set it up" any more.
            let mut who = user.0.clone();
            who.must_enrol_two_factor = false;
            show(build(&state, &who, codes, String::new()).await, StatusCode::OK)
        }
        Ok(None) => show(
            build(
                &state,
                &user.0,
                Vec::new(),
                "That code is not right. Check the time on your phone, and enter the code shown now.".into(),
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => error_page(&user.0, e.status, "Cannot turn on two-factor sign-in", &e.message),
    }
}

pub async fn recovery_codes(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    CsrfForm(_): CsrfForm<crate::console::FormFields>,
) -> Response {
    if let Some(step_up) = require_recent(&user.0, state.now(), PAGE) {
        return step_up;
    }
    let record = match crate::console::own_record(&state, &user.0).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    match crate::two_factor::new_recovery_codes(&state, &record).await {
        Ok(codes) => {
            audit(&state, &user.0, &peer, "recovery_codes_replaced", "").await;
            show(
                build(&state, &user.0, codes, String::new()).await,
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&user.0, e.status, "Cannot make new codes", &e.message),
    }
}

pub async fn disable(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageOwnAccount>,
    CsrfForm(_): CsrfForm<crate::console::FormFields>,
) -> Response {
    if let Some(step_up) = require_recent(&user.0, state.now(), PAGE) {
        return step_up;
    }
    match two_factor_policy(&state).await {
        Ok(p) if p.requires(user.0.role) => {
            return error_page(
                &user.0,
                StatusCode::CONFLICT,
                "Two-factor sign-in is required",
                "The security policy requires two-factor sign-in for your role. To move it to a new phone, ask an administrator to reset it, then set it up again.",
            );
        }
        Ok(_) => {}
        Err(e) => return crate::error::AppError::from(e).into_response(),
    }
    match state.store.disable_totp(user.0.id()).await {
        Ok(()) => {
            audit(&state, &user.0, &peer, "two_factor_disabled", "by the user").await;
            Redirect::to(PAGE).into_response()
        }
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}
