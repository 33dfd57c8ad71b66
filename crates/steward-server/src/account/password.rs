//! Changing one's own password: the current one is checked (and failures count towards
//! sign-in throttling), the new one must pass `steward_core::password`, and every session
//! ends — a fresh one is started for this browser.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{ChangeOwnPassword, ConsoleUser};
use crate::console::{Chrome, render};
use crate::net::ClientAddr;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    error: String,
}

pub async fn page(user: ConsoleUser<ChangeOwnPassword>) -> Response {
    render(
        StatusCode::OK,
        &PasswordPage {
            chrome: Chrome::new(&user.0, "account"),
            error: String::new(),
        },
    )
}

#[derive(Deserialize)]
pub struct ChangeForm {
    current: String,
    new: String,
    confirm: String,
}

pub async fn change(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ChangeOwnPassword>,
    CsrfForm(form): CsrfForm<ChangeForm>,
) -> Response {
    let refuse = |status: StatusCode, error: String| {
        render(
            status,
            &PasswordPage {
                chrome: Chrome::new(&user.0, "account"),
                error,
            },
        )
    };
    if form.new != form.confirm {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The new passwords do not match.".into(),
        );
    }
    if let Err(problem) = steward_core::password::check(&form.new, &user.0.name) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!("{}.", capitalise(&problem.to_string())),
        );
    }
    let record = match crate::console::own_record(&state, &user.0).await {
        Ok(record) => record,
        Err(response) => return response,
    };
    let now = state.now();
    let ip = peer.ip().to_string();
    let counters = crate::account::login::session_counters(&user.0);
    let attempt = match crate::account::login::begin_attempt(
        &state,
        &counters,
        &record.username,
        &peer,
    )
    .await
    {
        Ok(Ok(attempt)) => attempt,
        Ok(Err(message)) => return refuse(StatusCode::TOO_MANY_REQUESTS, message),
        Err(e) => return e.into_response(),
    };
    if !crate::account::login::check_password(&state, &form.current, &record.password_hash).await {
        attempt
            .failed(
                &state,
                &record.username,
                &peer,
                "password_change_failed",
                "wrong current password",
            )
            .await;
        return refuse(
            StatusCode::UNAUTHORIZED,
            "The current password is wrong.".into(),
        );
    }
    if let Err(e) = attempt.succeeded(&state).await {
        return e.into_response();
    }
    let new = form.new.clone();
    let hashing = state.config.password_hashing;
    let hash = match tokio::task::spawn_blocking(move || hashing.hash(&new)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return crate::error::AppError::internal(e).into_response(),
        Err(e) => return crate::error::AppError::internal(e).into_response(),
    };
    // Ends every session of the user, this one included; then sign this browser in afresh.
    if let Err(e) = state.store.set_password(&record.id, &hash, false).await {
        return crate::error::AppError::from(e).into_response();
    }
    crate::audit::record(
        &state.store,
        now,
        &user.0.label(),
        "password_changed",
        &record.username,
        "all sessions ended",
        &ip,
    )
    .await;
    match crate::sessions::start(&state, &record, &ip).await {
        Ok(cookie) => (
            [(header::SET_COOKIE, cookie)],
            Redirect::to("/account/sessions"),
        )
            .into_response(),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
