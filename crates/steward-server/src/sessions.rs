//! Console sessions: a fresh random token per sign-in, stored only as its SHA-256, with a
//! per-session CSRF token, an idle timeout and an absolute lifetime (checked in `auth`).

use steward_store::{SessionRecord, UserRecord};

use crate::auth::SESSION_COOKIE;
use crate::secrets::{random_token, token_hash};
use crate::state::AppState;

/// Starts a session for `user`; returns the `Set-Cookie` header value.
pub async fn start(state: &AppState, user: &UserRecord, source: &str) -> anyhow::Result<String> {
    let now = state.now();
    let token = random_token("");
    let record = SessionRecord {
        token_hash: token_hash(&token),
        user_id: user.id.clone(),
        csrf_token: random_token(""),
        created_at: now,
        last_seen_at: now,
        expires_at: now.plus_millis(state.config.session_max_secs * 1000),
        source: source.to_string(),
        // Signing in is proving who one is: sensitive actions are open for a few minutes.
        reauth_at: now,
    };
    state.store.create_session(&record).await?;
    Ok(cookie(&token, state.config.session_max_secs))
}

/// Ends the session server-side; returns the `Set-Cookie` value that clears the cookie.
pub async fn end(state: &AppState, session_hash: &str) -> anyhow::Result<String> {
    state.store.delete_session(session_hash).await?;
    Ok(cookie("", 0))
}

/// `Secure` is added by `net::origin::edge` when the browser is on HTTPS.
fn cookie(value: &str, max_age_secs: i64) -> String {
    crate::web::cookies::set(
        SESSION_COOKIE,
        value,
        "/",
        crate::web::cookies::SameSite::Lax,
        max_age_secs,
        false,
    )
}
