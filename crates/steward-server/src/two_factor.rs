//! Two-factor sign-in for a user: enrolment, confirmation, checking a second factor at
//! sign-in or step-up (a TOTP code, never the same time step twice, or a one-time recovery
//! code), turning it off, new recovery codes. Console pages call these; the crypto is in
//! [`crate::mfa`], the state in the store.

use steward_store::{StoreError, UserRecord};

use crate::error::{AppError, AppResult};
use crate::mfa;
use crate::state::AppState;

/// Which second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    RecoveryCode,
}

impl SecondFactor {
    pub fn describe(self) -> &'static str {
        match self {
            SecondFactor::Totp => "authenticator code",
            SecondFactor::RecoveryCode => "recovery code",
        }
    }
}

fn unix_secs(state: &AppState) -> u64 {
    u64::try_from(state.now().0 / 1000).unwrap_or(0)
}

/// Starts (or restarts) an enrolment: a new secret, sealed and stored unconfirmed.
pub async fn begin(state: &AppState, user: &UserRecord) -> AppResult<()> {
    let new = mfa::new_totp(&user.username).map_err(AppError::internal)?;
    let sealed = state
        .config
        .sealing_key
        .seal(&new.secret, &user.id)
        .map_err(AppError::internal)?;
    state
        .store
        .begin_totp_enrolment(&user.id, &sealed)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => AppError::conflict(m),
            other => other.into(),
        })
}

/// The user's TOTP secret, opened.
pub fn secret(state: &AppState, user: &UserRecord) -> AppResult<Option<Vec<u8>>> {
    let Some(sealed) = user.totp_secret.as_deref() else {
        return Ok(None);
    };
    state
        .config
        .sealing_key
        .open(sealed, &user.id)
        .map(Some)
        .map_err(AppError::internal)
}

/// What the enrolment page shows for a secret awaiting confirmation.
pub struct Enrolment {
    pub secret_text: String,
    pub qr_svg: String,
}

pub fn enrolment(state: &AppState, user: &UserRecord) -> AppResult<Option<Enrolment>> {
    if user.totp_enabled_at.is_some() {
        return Ok(None);
    }
    let Some(secret) = secret(state, user)? else {
        return Ok(None);
    };
    let t = mfa::describe(secret, &user.username).map_err(AppError::internal)?;
    Ok(Some(Enrolment {
        qr_svg: mfa::qr_svg(&t.url).map_err(AppError::internal)?,
        secret_text: t.secret_text,
    }))
}

/// Confirms the enrolment with a first code; returns the recovery codes (shown once), or
/// `None` if the code is wrong.
pub async fn confirm(
    state: &AppState,
    user: &UserRecord,
    code: &str,
) -> AppResult<Option<Vec<String>>> {
    if user.totp_enabled_at.is_some() {
        return Err(AppError::conflict("two-factor sign-in is already on"));
    }
    let Some(secret) = secret(state, user)? else {
        return Err(AppError::conflict("start the set-up first"));
    };
    let Some(step) = mfa::matching_step(&secret, code, unix_secs(state)) else {
        return Ok(None);
    };
    let (codes, hashes) = mfa::new_recovery_codes();
    state
        .store
        .enable_totp(&user.id, step, &hashes, state.now())
        .await?;
    Ok(Some(codes))
}

/// Checks a second factor typed at sign-in or step-up: six digits are a TOTP code (a time
/// step is accepted once, even across replicas), anything else a recovery code (spent).
pub async fn verify(
    state: &AppState,
    user: &UserRecord,
    input: &str,
) -> AppResult<Option<SecondFactor>> {
    if user.totp_enabled_at.is_none() {
        return Ok(None);
    }
    if mfa::looks_like_totp(input) {
        let Some(secret) = secret(state, user)? else {
            return Ok(None);
        };
        let Some(step) = mfa::matching_step(&secret, input, unix_secs(state)) else {
            return Ok(None);
        };
        if state.store.accept_totp_step(&user.id, step).await? {
            return Ok(Some(SecondFactor::Totp));
        }
        return Ok(None);
    }
    let hash = mfa::recovery_code_hash(input);
    if state
        .store
        .use_recovery_code(&user.id, &hash, state.now())
        .await?
    {
        return Ok(Some(SecondFactor::RecoveryCode));
    }
    Ok(None)
}

/// New recovery codes (the old ones stop working); shown once.
pub async fn new_recovery_codes(state: &AppState, user: &UserRecord) -> AppResult<Vec<String>> {
    if user.totp_enabled_at.is_none() {
        return Err(AppError::conflict("two-factor sign-in is off"));
    }
    let (codes, hashes) = mfa::new_recovery_codes();
    state
        .store
        .replace_recovery_codes(&user.id, &hashes)
        .await?;
    Ok(codes)
}
