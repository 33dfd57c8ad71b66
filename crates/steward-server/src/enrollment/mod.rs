//! Enrollment tokens: what lets a new machine join (`steward agent enroll`). Creating one
//! needs the token permission and, from a console session, a recent step-up; the token is
//! shown once and stored as a hash. The agent's side of enrollment is `agent_api::enroll`.

pub mod api;
pub mod console;

use steward_core::{Action, Timestamp};
use steward_store::{EnrollTokenRecord, StoreError};
use utoipa_axum::routes;

use crate::secrets::{new_id, random_token, token_hash};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

pub const PREFIX: &str = "stw_enr_";

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    #[error("uses must be 1–1000 and the validity a minute to 720 hours (30 days)")]
    OutOfRange,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for EnrollmentError {
    fn refusal(&self) -> Refusal {
        match self {
            EnrollmentError::OutOfRange => Refusal::Invalid,
            EnrollmentError::Denied(d) => d.refusal(),
            EnrollmentError::Store(e) => e.refusal(),
        }
    }
}

/// A token good for `uses` enrollments; its secret is shown once.
pub struct CreatedEnrollToken {
    pub secret: String,
    pub expires_at: Timestamp,
}

/// Creates an enrollment token good for `uses` (1–1000) enrollments for `valid_for_ms`
/// (a minute to 30 days; the API and the console ask in hours).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    uses: u32,
    valid_for_ms: i64,
) -> Result<CreatedEnrollToken, EnrollmentError> {
    caller.require(Action::ManageTokens)?;
    caller.require_step_up()?;
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    if !(1..=1000).contains(&uses) || !(MINUTE..=720 * HOUR).contains(&valid_for_ms) {
        return Err(EnrollmentError::OutOfRange);
    }
    let expires_at = caller.now.plus_millis(valid_for_ms);
    let secret = issue(&state.store, uses, expires_at, caller.now).await?;
    let validity = if valid_for_ms % HOUR == 0 {
        format!("{} h", valid_for_ms / HOUR)
    } else {
        format!("{} min", valid_for_ms / MINUTE)
    };
    caller
        .audit(
            &state.store,
            "enroll_token_created",
            "",
            &format!("{uses} use(s), expires in {validity}"),
        )
        .await;
    Ok(CreatedEnrollToken { secret, expires_at })
}

/// Stores a new enrollment token and returns it (shown once; only its hash is kept). No
/// rule is checked here: [`create`] and start-up provisioning (`admin`) call it.
pub(crate) async fn issue(
    store: &steward_store::Store,
    uses: u32,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<String, StoreError> {
    let secret = random_token(PREFIX);
    store
        .create_enroll_token(&EnrollTokenRecord {
            id: new_id(),
            token_hash: token_hash(&secret),
            uses_left: i64::from(uses),
            expires_at,
            created_at: now,
        })
        .await?;
    Ok(secret)
}

pub fn routes() -> Routes {
    Routes::new()
        .api(
            Access::Requires(Action::ManageTokens),
            routes!(api::create_enroll_token),
        )
        .get(
            "/enroll",
            Access::Requires(Action::ManageTokens),
            console::page,
        )
        .post(
            "/enroll",
            Access::Requires(Action::ManageTokens),
            console::create,
        )
}
