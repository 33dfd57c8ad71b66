//! Provisioning below the service layer, for start-up (`steward up` and `steward server`
//! create the first administrator and the local agent's enrollment token), benchmarks and
//! tests. People's actions — from the console, the API or `steward admin …` — go through the
//! capabilities' services (`devices`, `tokens`, `enrollment`, …), which check, scope and
//! audit them.

use steward_core::{Role, Timestamp};
use steward_store::{NewUser, Store};

use crate::secrets::{PasswordHashing, new_id, random_password};

pub const ENROLL_TOKEN_PREFIX: &str = crate::enrollment::PREFIX;

/// Creates an enrollment token good for `uses` enrollments until `expires_at`; returns the
/// token, which is shown once and stored only as a hash.
pub async fn create_enroll_token(
    store: &Store,
    uses: u32,
    expires_at: Timestamp,
    now: Timestamp,
) -> anyhow::Result<String> {
    anyhow::ensure!(uses >= 1, "a token needs at least one use");
    anyhow::ensure!(expires_at > now, "the expiry must be in the future");
    Ok(crate::enrollment::issue(store, uses, expires_at, now).await?)
}

/// Creates an API token acting with `role`, valid until `expires_at` (forever if `None`);
/// returns it (shown once).
pub async fn create_api_token(
    store: &Store,
    name: &str,
    role: Role,
    expires_at: Option<Timestamp>,
    created_by: Option<&str>,
    now: Timestamp,
) -> anyhow::Result<String> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 100,
        "a token name must be 1 to 100 characters"
    );
    let (_, token) = crate::tokens::issue(store, name, role, expires_at, created_by, now).await?;
    Ok(token)
}

/// Creates the first administrator if there is no user at all. Returns the username and a
/// one-time password, printed once by the caller; only its Argon2id hash is stored.
pub async fn ensure_first_admin(
    store: &Store,
    hashing: PasswordHashing,
    now: Timestamp,
) -> anyhow::Result<Option<(String, String)>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = random_password();
    let user = NewUser {
        id: new_id(),
        username: "admin".into(),
        password_hash: hashing.hash(&password)?,
        role: "admin".into(),
        // Printed on a terminal (and perhaps kept in its scrollback): replaced at first
        // sign-in.
        must_change_password: true,
    };
    store.create_user(&user, now).await?;
    Ok(Some((user.username, password)))
}

/// Sets a new random (one-time) password for a user and ends their sessions; returns the
/// password, which the user must change at their next sign-in.
pub async fn reset_password(
    store: &Store,
    username: &str,
    hashing: PasswordHashing,
) -> anyhow::Result<String> {
    let user = store
        .user_by_username(username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user named {username}"))?;
    let password = random_password();
    store
        .set_password(&user.id, &hashing.hash(&password)?, true)
        .await?;
    Ok(password)
}

/// A job record in the `queued` state (see `devices::new_job`).
pub use crate::devices::new_job;
