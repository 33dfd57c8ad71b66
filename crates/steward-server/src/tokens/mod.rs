//! API tokens: creating (the secret is shown once, only its hash is kept), listing and
//! revoking. A token belongs to the person who made it: it acts with no more than their
//! current role and is revoked when they are offboarded. The API (`api`), the console
//! (`console`) and `steward admin api-token …` are adapters over these functions.

pub mod api;
pub mod console;

use steward_core::{Action, Role, Timestamp};
use steward_store::{ApiTokenRecord, StoreError};
use utoipa_axum::routes;

use crate::secrets::{new_id, random_token, token_hash};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("role must be viewer, technician or admin")]
    BadRole,
    #[error("a token name must be 1 to 100 characters")]
    BadName,
    #[error("a token expires after 0 (never) to 3650 days")]
    BadExpiry,
    #[error("this API token has no owner, so it cannot create tokens; create one as a user")]
    NoOwner,
    #[error(
        "no enabled user named {0:?}: a token needs an owner whose offboarding revokes it (`steward admin user list`)"
    )]
    UnknownOwner(String),
    #[error("a token never does more than its owner: it cannot have more than their role ({0})")]
    AboveOwner(&'static str),
    #[error("API token not found")]
    NotFound,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for TokenError {
    fn refusal(&self) -> Refusal {
        match self {
            TokenError::BadRole
            | TokenError::BadName
            | TokenError::BadExpiry
            | TokenError::UnknownOwner(_) => Refusal::Invalid,
            TokenError::NoOwner | TokenError::AboveOwner(_) => Refusal::Forbidden,
            TokenError::NotFound => Refusal::NotFound,
            TokenError::Denied(d) => d.refusal(),
            TokenError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, TokenError>;

pub const PREFIX: &str = crate::auth::API_TOKEN_PREFIX;

/// What a new token is to be.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub role: &'a str,
    /// Days until it expires; 0 or none: never (the same on every surface).
    pub expires_in_days: Option<u32>,
}

/// A token just made: its id and its secret, shown once.
pub struct CreatedToken {
    pub id: String,
    pub secret: String,
    pub expires_at: Option<Timestamp>,
}

/// Makes a token owned by the caller's person (the signed-in user, or the owner of the
/// token making it). Nobody makes a token above their own current role; an administrator
/// token needs a recent step-up, as it can do everything an administrator can.
pub async fn create(state: &AppState, caller: &Caller, new: &NewToken<'_>) -> Result<CreatedToken> {
    caller.require(Action::ManageTokens)?;
    let owner = caller
        .who
        .acting_user_id()
        .ok_or(TokenError::NoOwner)?
        .to_string();
    create_for(state, caller, new, &owner).await
}

/// Makes a token owned by the user named `owner` (the command line, where the operator is
/// nobody's account).
pub async fn create_owned_by(
    state: &AppState,
    caller: &Caller,
    new: &NewToken<'_>,
    owner: &str,
) -> Result<CreatedToken> {
    caller.require(Action::ManageTokens)?;
    let user = state
        .store
        .user_by_username(owner)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| TokenError::UnknownOwner(owner.to_string()))?;
    create_for(state, caller, new, &user.id).await
}

async fn create_for(
    state: &AppState,
    caller: &Caller,
    new: &NewToken<'_>,
    owner_id: &str,
) -> Result<CreatedToken> {
    let role = Role::parse(new.role.trim()).ok_or(TokenError::BadRole)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(TokenError::BadName);
    }
    let days = new.expires_in_days.unwrap_or(0);
    if days > 3650 {
        return Err(TokenError::BadExpiry);
    }
    let owner = state
        .store
        .user_by_id(owner_id)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| TokenError::UnknownOwner(owner_id.to_string()))?;
    // The owner's role as stored; an unreadable one grants nothing.
    let owner_role = Role::parse(&owner.role).ok_or(TokenError::AboveOwner("none"))?;
    let cap = owner_role.at_most(caller.who.role);
    if role.at_most(cap) != role {
        return Err(TokenError::AboveOwner(cap.as_str()));
    }
    if role == Role::Admin {
        caller.require_step_up()?;
    }
    let expires_at = (days > 0).then(|| caller.now.plus_millis(i64::from(days) * 86_400_000));
    let (id, secret) = issue(
        &state.store,
        name,
        role,
        expires_at,
        Some(&owner.id),
        caller.now,
    )
    .await?;
    caller
        .audit(
            &state.store,
            "api_token_created",
            name,
            &format!("{}, owned by {}", role.as_str(), owner.username),
        )
        .await;
    Ok(CreatedToken {
        id,
        secret,
        expires_at,
    })
}

/// Stores a new token and returns its id and secret (shown once; only its hash is kept).
/// No rule is checked here: [`create`] and start-up provisioning (`admin`) call it.
pub(crate) async fn issue(
    store: &steward_store::Store,
    name: &str,
    role: Role,
    expires_at: Option<Timestamp>,
    created_by: Option<&str>,
    now: Timestamp,
) -> std::result::Result<(String, String), StoreError> {
    let secret = random_token(PREFIX);
    let id = new_id();
    store
        .create_api_token(&ApiTokenRecord {
            id: id.clone(),
            name: name.to_string(),
            token_hash: token_hash(&secret),
            role: role.as_str().to_string(),
            expires_at,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            created_by: created_by.map(str::to_string),
        })
        .await?;
    Ok((id, secret))
}

/// Every API token (never their secrets).
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<ApiTokenRecord>> {
    caller.require(Action::ManageTokens)?;
    Ok(state.store.list_api_tokens().await?)
}

/// What revoking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    /// It had been revoked before: nothing changed, nothing more is audited.
    Already,
}

/// Revokes a token at once. An unknown id is not found; a revoked one stays revoked.
pub async fn revoke(state: &AppState, caller: &Caller, id: &str) -> Result<Revoked> {
    caller.require(Action::ManageTokens)?;
    let token = state
        .store
        .list_api_tokens()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(TokenError::NotFound)?;
    if token.revoked_at.is_some() {
        return Ok(Revoked::Already);
    }
    match state.store.revoke_api_token(id, caller.now).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Ok(Revoked::Already),
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(&state.store, "api_token_revoked", id, &token.name)
        .await;
    Ok(Revoked::Now)
}

pub fn routes() -> Routes {
    use Action::*;
    Routes::new()
        .api(Access::Requires(ManageTokens), routes!(api::list))
        .api(Access::Requires(ManageTokens), routes!(api::create))
        .api(Access::Requires(ManageTokens), routes!(api::revoke))
        .get("/tokens", Access::Requires(ManageTokens), console::page)
        .post("/tokens", Access::Requires(ManageTokens), console::create)
        .post(
            "/tokens/revoke",
            Access::Requires(ManageTokens),
            console::revoke,
        )
}
