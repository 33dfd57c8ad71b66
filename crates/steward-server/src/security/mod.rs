//! Installation-wide security settings: who must sign in with a second factor. Reading and
//! changing them needs the security permission; a change needs a recent step-up from a
//! console session and is audited with before and after.

pub mod api;
pub mod console;

use steward_core::{Action, TwoFactorPolicy};
use steward_store::StoreError;
use utoipa_axum::routes;

use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{0}")]
    BadPolicy(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for SecurityError {
    fn refusal(&self) -> Refusal {
        match self {
            SecurityError::BadPolicy(_) => Refusal::Invalid,
            SecurityError::Denied(d) => d.refusal(),
            SecurityError::Store(e) => e.refusal(),
        }
    }
}

/// The two-factor policy in force.
pub async fn two_factor_policy(
    state: &AppState,
    caller: &Caller,
) -> Result<TwoFactorPolicy, SecurityError> {
    caller.require(Action::ManageSecurity)?;
    Ok(crate::auth::two_factor_policy(state).await?)
}

/// Requires two-factor sign-in of the roles named (`admin`, `technician`, `viewer`).
pub async fn set_two_factor_policy(
    state: &AppState,
    caller: &Caller,
    roles: &[String],
) -> Result<TwoFactorPolicy, SecurityError> {
    caller.require(Action::ManageSecurity)?;
    caller.require_step_up()?;
    let policy = TwoFactorPolicy::parse(&roles.join(",")).map_err(SecurityError::BadPolicy)?;
    let key = TwoFactorPolicy::SETTING;
    let store = &state.store;
    let before = store.setting(key).await?.unwrap_or_default();
    let after = policy.to_setting();
    if before != after {
        store.set_setting(key, &after, caller.now).await?;
        let show = |s: &str| {
            if s.is_empty() {
                "nobody".to_string()
            } else {
                s.to_string()
            }
        };
        caller
            .audit(
                store,
                "two_factor_policy_changed",
                "require_two_factor",
                &format!("{} → {}", show(&before), show(&after)),
            )
            .await;
    }
    Ok(policy)
}

pub fn routes() -> Routes {
    use Action::*;
    Routes::new()
        .api(
            Access::Requires(ManageSecurity),
            routes!(api::security_settings),
        )
        .api(
            Access::Requires(ManageSecurity),
            routes!(api::update_security_settings),
        )
        .get(
            "/settings/security",
            Access::Requires(ManageSecurity),
            console::page,
        )
        .post(
            "/settings/security",
            Access::Requires(ManageSecurity),
            console::save,
        )
}
