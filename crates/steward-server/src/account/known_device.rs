//! Known devices: a browser that signed in to an account gets a random token in a cookie
//! (only its SHA-256 is stored). Its later sign-in attempts on that account are throttled on
//! their own (`steward_core::throttle::Origin::KnownDevice`), so strangers guessing the
//! password elsewhere cannot lock the owner out. A cookie, not the source address: it
//! survives changing addresses, and people behind the same NAT or VPN exit as the owner
//! are still strangers.

use axum::http::request::Parts;
use steward_core::throttle;
use steward_store::UserRecord;

use crate::error::AppResult;
use crate::secrets::{random_token, token_hash};
use crate::state::AppState;

pub const COOKIE: &str = "steward_device";

/// The id of the known device this request comes from, if it is a known device of `user`
/// (a prefix of the token's hash: enough to tell a user's devices apart in a throttle key).
pub async fn of(state: &AppState, parts: &Parts, user: &UserRecord) -> AppResult<Option<String>> {
    let Some(token) = crate::web::cookies::get(parts, COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let known = state.store.known_device(&hash).await?;
    Ok(known
        .filter(|k| {
            k.user_id == user.id && throttle::known_device_valid(k.last_used_at, state.now())
        })
        .map(|k| k.token_hash[..16].to_string()))
}

/// After a successful sign-in: the browser is (still) a known device of `user`. Returns the
/// `Set-Cookie` value when a new token was issued (the browser had none for this account).
pub async fn remember(
    state: &AppState,
    parts: Option<&Parts>,
    user: &UserRecord,
) -> AppResult<Option<String>> {
    let now = state.now();
    if let Some(token) = parts
        .and_then(|p| crate::web::cookies::get(p, COOKIE))
        .filter(|t| !t.is_empty())
    {
        let hash = token_hash(&token);
        if let Some(k) = state.store.known_device(&hash).await?
            && k.user_id == user.id
        {
            state
                .store
                .remember_known_device(&hash, &user.id, now)
                .await?;
            return Ok(None);
        }
    }
    let token = random_token("");
    state
        .store
        .remember_known_device(&token_hash(&token), &user.id, now)
        .await?;
    let max_age = throttle::KNOWN_DEVICE_TTL_MILLIS / 1000;
    Ok(Some(crate::web::cookies::set(
        COOKIE,
        &token,
        "/login",
        crate::web::cookies::SameSite::Strict,
        max_age,
        state.config.secure_cookies,
    )))
}
