//! Adding a device: an enrollment token and the command to run on the machine. Revealing a
//! token needs a recent step-up (it lets a machine into the fleet); it is shown once.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use crate::auth::{ConsoleUser, ManageTokens};
use crate::console::{Chrome, refused, render};
use crate::net::RequestOrigin;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollPage {
    chrome: Chrome,
    command: String,
    uses: u32,
    hours: u32,
    error: String,
}

pub async fn page(user: ConsoleUser<ManageTokens>) -> Response {
    render(
        StatusCode::OK,
        &EnrollPage {
            chrome: Chrome::new(&user.0, "devices"),
            command: String::new(),
            uses: 1,
            hours: 24,
            error: String::new(),
        },
    )
}

#[derive(Deserialize)]
pub struct EnrollForm {
    #[serde(default)]
    uses: String,
    #[serde(default)]
    hours: String,
}

/// The server's address as the browser reached it, for the agent command.
fn server_url(https: bool, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("SERVER:8080");
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{host}")
}

pub async fn create(
    State(state): State<AppState>,
    origin: RequestOrigin,
    headers: HeaderMap,
    user: ConsoleUser<ManageTokens>,
    CsrfForm(form): CsrfForm<EnrollForm>,
) -> Response {
    let uses: u32 = form.uses.trim().parse().unwrap_or(0);
    let hours: u32 = form.hours.trim().parse().unwrap_or(0);
    let refuse = |error: &str| {
        render(
            StatusCode::BAD_REQUEST,
            &EnrollPage {
                chrome: Chrome::new(&user.0, "devices"),
                command: String::new(),
                uses: 1,
                hours: 24,
                error: error.to_string(),
            },
        )
    };
    let token = match super::create(
        &state,
        &user.caller(&state),
        uses,
        i64::from(hours) * 3_600_000,
    )
    .await
    {
        Ok(t) => t.secret,
        Err(super::EnrollmentError::OutOfRange) => {
            return refuse("Devices must be 1 to 1000 and the validity 1 to 720 hours.");
        }
        Err(e) => return refused(&user.0, e, "Cannot create the token", "/enroll"),
    };
    render(
        StatusCode::OK,
        &EnrollPage {
            chrome: Chrome::new(&user.0, "devices"),
            // With the certificate's fingerprint the agent checks it is talking to this
            // server from its first request, instead of trusting whatever answers. The token
            // goes in a variable: a command-line argument is visible to every user in `ps`.
            command: format!(
                "STEWARD_ENROLL_TOKEN={token} steward agent enroll --server {}{}",
                server_url(origin.https, &headers),
                state
                    .config
                    .tls_fingerprint
                    .as_deref()
                    .map(|f| format!(" --pin {f}"))
                    .unwrap_or_default()
            ),
            uses,
            hours,
            error: String::new(),
        },
    )
}
