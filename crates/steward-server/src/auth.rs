//! Who is asking, and may they. Three extractors:
//! - [`Authorized<P>`]: a console user (session cookie) or an API token (bearer) whose role
//!   permits the action `P`, for `/api/v1`; 401 without credentials, 403 without permission;
//! - [`ConsoleUser<P>`]: the same for console pages, redirecting to the login page;
//! - [`AgentIdentity`]: an enrolled, non-revoked device proving itself with its credential.
//!
//! There is no other way for a handler to get a [`Principal`]: a route cannot be written that
//! acts for someone without naming the [`Action`] it performs, and `steward_core::permits`
//! denies whatever its table does not allow. A handler that takes none of the extractors is
//! public, and is registered so (`web::routes::Access::Public`): health, the OpenAPI
//! document, static assets, the sign-in pages and enrollment. The CLI's principal is made
//! by `service::Caller::cli`, never from a request.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use std::marker::PhantomData;

use steward_core::{Action, Role, Scope, Timestamp, TwoFactorPolicy, permits};
use steward_store::DeviceIngestState;

use crate::error::AppError;
use crate::secrets::{secrets_equal, token_hash};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "steward_session";
pub const API_TOKEN_PREFIX: &str = "stw_api_";

#[derive(Debug, Clone)]
pub enum PrincipalKind {
    User {
        id: String,
    },
    /// `owner`: the user the token acts for (its creator); `None` only for tokens made
    /// before owners were recorded.
    ApiToken {
        id: String,
        owner: Option<String>,
    },
    /// The operator at the command line (`steward admin …`), named by their operating-system
    /// user in `Principal::name` (empty when unknown).
    Cli,
}

/// An authenticated person or API client.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// Username or token name, for audit and display.
    pub name: String,
    pub role: Role,
    /// The session's CSRF token (console sessions only).
    pub csrf_token: Option<String>,
    /// Hash of the session token (console sessions only), to log out.
    pub session_hash: Option<String>,
    /// The devices this principal may see and act on.
    pub scope: Scope,
    /// When the user last proved who they are (console sessions only): sign-in or step-up.
    pub reauth_at: Option<Timestamp>,
    /// The policy requires two-factor sign-in for this user's role and they have not set it
    /// up: until they do, only their own account is open to them.
    pub must_enrol_two_factor: bool,
    /// The user signed in with a password someone else set (a one-time password): until
    /// they change it, only the password page is open to them (console sessions only).
    pub must_change_password: bool,
}

impl Principal {
    /// The id of the user or API token.
    pub fn id(&self) -> &str {
        match &self.kind {
            PrincipalKind::User { id } | PrincipalKind::ApiToken { id, .. } => id,
            PrincipalKind::Cli => "cli",
        }
    }

    /// The user's id, for a console user; `None` for an API token.
    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { id } => Some(id),
            PrincipalKind::ApiToken { .. } | PrincipalKind::Cli => None,
        }
    }

    /// The person behind the request: the signed-in user, or the owner of the API token.
    /// What anything the request creates (a token, above all) is recorded as belonging to,
    /// so that it follows that person's role and offboarding.
    pub fn acting_user_id(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { id } => Some(id),
            PrincipalKind::ApiToken { owner, .. } => owner.as_deref(),
            PrincipalKind::Cli => None,
        }
    }

    /// Whether the principal's role permits `action`.
    pub fn may(&self, action: Action) -> bool {
        permits(self.role, action)
    }

    /// Whether a sensitive action (creating an administrator, revealing an enrollment token,
    /// changing the two-factor policy) may go ahead without re-entering the password. API
    /// tokens are a deliberate credential of their own and pass; a console session must have
    /// signed in or stepped up within the last few minutes.
    pub fn recently_authenticated(&self, now: Timestamp) -> bool {
        match (&self.kind, self.reauth_at) {
            (PrincipalKind::ApiToken { .. } | PrincipalKind::Cli, _) => true,
            (PrincipalKind::User { .. }, Some(at)) => steward_core::access::step_up_fresh(at, now),
            (PrincipalKind::User { .. }, None) => false,
        }
    }

    /// Whether the principal may see a device in `group`.
    pub fn sees(&self, group: Option<&str>) -> bool {
        self.scope.allows(group)
    }

    /// How this principal is named in job and audit records.
    pub fn label(&self) -> String {
        match &self.kind {
            PrincipalKind::User { .. } => format!("user:{}", self.name),
            PrincipalKind::ApiToken { .. } => format!("api-token:{}", self.name),
            PrincipalKind::Cli if self.name.is_empty() => "cli".to_string(),
            PrincipalKind::Cli => format!("cli:{}", self.name),
        }
    }
}

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The principal behind the request, if any credential is presented and valid.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>, AppError> {
    let now = state.now();
    if let Some(token) = bearer(parts) {
        if !token.starts_with(API_TOKEN_PREFIX) {
            return Err(AppError::unauthorized(
                "this bearer token is not an API token (they start with stw_api_)",
            ));
        }
        let Some(record) = state.store.api_token_by_hash(&token_hash(token)).await? else {
            return Err(AppError::unauthorized("unknown API token"));
        };
        if record.revoked_at.is_some() {
            return Err(AppError::unauthorized("this API token has been revoked"));
        }
        if record.expires_at.is_some_and(|e| now >= e) {
            return Err(AppError::unauthorized(
                "this API token has expired: create a new one with `steward admin api-token create`",
            ));
        }
        // An unknown role in the database grants nothing.
        let Some(token_role) = Role::parse(&record.role) else {
            return Err(AppError::forbidden("this API token has no valid role"));
        };
        // Privileges follow the person: a token acts with no more than its owner's current
        // role and sees no more devices than they do.
        let (role, scope) = match &record.created_by {
            None => (token_role, Scope::AllDevices),
            Some(owner_id) => {
                let owner = state.store.user_by_id(owner_id).await?;
                let Some(owner) = owner.filter(|o| o.disabled_at.is_none()) else {
                    // Disabling or deleting the owner revokes their tokens; this is the
                    // same answer should one have been missed.
                    return Err(AppError::unauthorized(
                        "this API token's owner is disabled or deleted",
                    ));
                };
                let Some(owner_role) = Role::parse(&owner.role) else {
                    return Err(AppError::forbidden(
                        "this API token's owner has no valid role",
                    ));
                };
                let groups = state.store.user_groups(&owner.id).await?;
                (
                    steward_core::access::token_role(token_role, Some(owner_role)),
                    Scope::of_user(owner_role, owner.all_devices, groups),
                )
            }
        };
        // Recording use is bookkeeping: refresh it at most once a minute per token.
        if record.last_used_at.is_none_or(|t| now.since(t) > 60_000) {
            state.store.touch_api_token(&record.id, now).await?;
        }
        return Ok(Some(Principal {
            kind: PrincipalKind::ApiToken {
                id: record.id,
                owner: record.created_by,
            },
            name: record.name,
            role,
            csrf_token: None,
            session_hash: None,
            scope,
            reauth_at: None,
            must_enrol_two_factor: false,
            must_change_password: false,
        }));
    }
    let Some(session_token) = crate::web::cookies::get(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(&session_token);
    let Some((session, user)) = state.store.session(&hash).await? else {
        return Ok(None);
    };
    let idle_deadline = session
        .last_seen_at
        .plus_millis(state.config.session_idle_secs * 1000);
    if now >= session.expires_at || now >= idle_deadline || user.disabled_at.is_some() {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    if now.since(session.last_seen_at) > 60_000 {
        state.store.touch_session(&hash, now).await?;
    }
    let Some(role) = Role::parse(&user.role) else {
        return Err(AppError::forbidden(
            "your account has no valid role; ask an administrator",
        ));
    };
    let scope = Scope::of_user(
        role,
        user.all_devices,
        state.store.user_groups(&user.id).await?,
    );
    let must_enrol_two_factor =
        user.totp_enabled_at.is_none() && two_factor_policy(state).await?.requires(role);
    Ok(Some(Principal {
        kind: PrincipalKind::User { id: user.id },
        name: user.username,
        role,
        csrf_token: Some(session.csrf_token),
        session_hash: Some(hash),
        scope,
        reauth_at: Some(session.reauth_at),
        must_enrol_two_factor,
        must_change_password: user.must_change_password,
    }))
}

/// The installation's two-factor policy; a stored value that no longer parses requires
/// two-factor sign-in of everyone (fail closed) and is logged.
pub async fn two_factor_policy(
    state: &AppState,
) -> Result<TwoFactorPolicy, steward_store::StoreError> {
    let Some(text) = state.store.setting(TwoFactorPolicy::SETTING).await? else {
        return Ok(TwoFactorPolicy::default());
    };
    Ok(TwoFactorPolicy::parse(&text).unwrap_or_else(|e| {
        tracing::error!(error = %e, "unreadable two-factor policy setting; requiring it of everyone");
        TwoFactorPolicy {
            required_for: Role::ALL.to_vec(),
        }
    }))
}

/// Logs and audits a refused request. Repeats of the same refusal to the same principal are
/// counted rather than written one by one (`steward_core::denials`): the first is recorded,
/// and a summary of the repeats once its window has closed.
async fn audit_denial(state: &AppState, parts: &Parts, who: &Principal, action: Action) {
    let source = source_ip(parts);
    let now = state.now();
    let label = who.label();
    let action_name = format!("{action:?}");
    let decision = state
        .denials
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .deny(&label, &action_name, now);
    for s in decision.summaries {
        crate::audit::record(
            &state.store,
            now,
            &s.actor,
            "authorisation_denied_repeated",
            &s.action,
            &format!(
                "{} more denial(s) of {} between {} and {} (ms since the epoch), not recorded one by one",
                s.repeats, s.action, s.first.0, s.last.0
            ),
            "",
        )
        .await;
    }
    if !decision.record {
        return;
    }
    tracing::warn!(who = %label, ?action, path = %parts.uri.path(), "authorisation denied");
    crate::audit::record(
        &state.store,
        now,
        &label,
        "authorisation_denied",
        &format!("{} {}", parts.method, parts.uri.path()),
        &format!("{action:?} needs more than the {} role", who.role.as_str()),
        &source,
    )
    .await;
}

/// An action, as a type, so that an extractor can demand it.
pub trait Permission: Send + Sync + 'static {
    const ACTION: Action;
    /// Open to a user who must still replace a one-time password (only the password page
    /// and signing out are).
    const BEFORE_PASSWORD_CHANGE: bool = false;
}

/// Changing one's own password and signing out: [`Action::ManageOwnAccount`], and the only
/// pages open before a one-time password has been replaced.
#[derive(Debug, Clone, Copy)]
pub struct ChangeOwnPassword;
impl Permission for ChangeOwnPassword {
    const ACTION: Action = Action::ManageOwnAccount;
    const BEFORE_PASSWORD_CHANGE: bool = true;
}

macro_rules! permissions {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("Marker for [`Action::", stringify!($name), "`].")]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Permission for $name {
            const ACTION: Action = Action::$name;
        }
    )*};
}
// One marker per action some route performs; add one with the first route that needs it.
permissions!(
    ViewDevices,
    OperateDevices,
    RevokeDevices,
    ManageUsers,
    ManageTokens,
    ViewAudit,
    OrganizeDevices,
    ManageSecurity,
    ManageOwnAccount,
    ManageMonitoring,
    ManageChannels,
    ManageBackups,
    RevealBackupPasswords,
    ManagePosture,
    ManagePatching,
    RunScripts,
    ManageScripts,
    RespondToDetections,
    ManageDetectionPolicies,
);

/// The header carrying a console session's CSRF token on API changes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// API changes made with a session cookie must carry the session's CSRF token: SameSite
/// keeps other sites out, but not other applications on the same host (same site, other
/// port). Bearer tokens are never sent by a browser on its own, so they need none.
fn api_csrf_ok(parts: &Parts, p: &Principal) -> bool {
    if parts.method.is_safe() || p.session_hash.is_none() {
        return true;
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    p.csrf_token
        .as_deref()
        .is_some_and(|expected| !sent.is_empty() && secrets_equal(expected, sent))
}

/// A principal who must still set up two-factor sign-in may reach only their own account.
fn blocked_until_enrolled(p: &Principal, action: Action) -> bool {
    p.must_enrol_two_factor && action != Action::ManageOwnAccount
}

/// A principal allowed to perform `P`, and the client's address.
#[derive(Debug, Clone)]
pub struct Authorized<P: Permission>(pub Principal, PhantomData<P>, String);

impl<P: Permission> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let principal = authenticate(parts, state).await?.ok_or_else(|| {
            AppError::unauthorized(
                "sign in, or send an API token as `Authorization: Bearer stw_api_…`",
            )
        })?;
        if !principal.may(P::ACTION) {
            audit_denial(state, parts, &principal, P::ACTION).await;
            return Err(AppError::forbidden(format!(
                "your role ({}) does not allow this",
                principal.role.as_str()
            )));
        }
        if principal.must_change_password && !P::BEFORE_PASSWORD_CHANGE {
            return Err(AppError::forbidden(
                "your password was set by an administrator: sign in to the console and choose your own before using the API",
            ));
        }
        if blocked_until_enrolled(&principal, P::ACTION) {
            return Err(AppError::forbidden(
                "two-factor sign-in is required for your role: set it up in the console under Account → Two-factor sign-in",
            ));
        }
        if !api_csrf_ok(parts, &principal) {
            return Err(AppError::forbidden(
                "a change made with a console session needs the session's CSRF token in the X-CSRF-Token header (or use an API token)",
            ));
        }
        Ok(Authorized(principal, PhantomData, source_ip(parts)))
    }
}

impl<P: Permission> Authorized<P> {
    /// The caller, for the service layer.
    pub fn caller(&self, state: &AppState) -> crate::service::Caller {
        crate::service::Caller::new(self.0.clone(), self.2.clone(), state.now())
    }
}

/// A signed-in console user allowed to perform `P`, and the client's address; anyone not
/// signed in is sent to the login page. The principal is also left in the request's
/// extensions, where [`crate::web::csrf::CsrfForm`] finds the session's CSRF token.
#[derive(Debug, Clone)]
pub struct ConsoleUser<P: Permission = ViewDevices>(pub Principal, PhantomData<P>, String);

impl<P: Permission> ConsoleUser<P> {
    /// The caller, for the service layer.
    pub fn caller(&self, state: &AppState) -> crate::service::Caller {
        crate::service::Caller::new(self.0.clone(), self.2.clone(), state.now())
    }
}

pub struct LoginRedirect(Response);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        self.0
    }
}

impl<P: Permission> FromRequestParts<AppState> for ConsoleUser<P> {
    type Rejection = LoginRedirect;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, LoginRedirect> {
        match authenticate(parts, state).await {
            Ok(Some(p)) if p.session_hash.is_some() => {
                if p.must_change_password && !P::BEFORE_PASSWORD_CHANGE {
                    return Err(LoginRedirect(
                        Redirect::to("/account/password").into_response(),
                    ));
                }
                if p.may(P::ACTION) && blocked_until_enrolled(&p, P::ACTION) {
                    return Err(LoginRedirect(
                        Redirect::to("/account/two-factor").into_response(),
                    ));
                }
                if p.may(P::ACTION) {
                    parts.extensions.insert(p.clone());
                    return Ok(ConsoleUser(p, PhantomData, source_ip(parts)));
                }
                audit_denial(state, parts, &p, P::ACTION).await;
                let page = crate::console::forbidden(&p);
                Err(LoginRedirect(page))
            }
            Ok(_) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str())
                    .filter(|p| p.starts_with('/') && !p.starts_with("//"))
                    .unwrap_or("/");
                let target = format!("/login?next={}", urlencode(next));
                Err(LoginRedirect(Redirect::to(&target).into_response()))
            }
            Err(e) => Err(LoginRedirect(e.into_response())),
        }
    }
}

/// Percent-encodes text for a URL's path or query: everything but letters, digits and
/// `- _ . ~ /` (so a path stays readable and a `next=` target stays one parameter).
pub fn urlencode(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

/// An enrolled device proving its identity with `Bearer <device-id>.<secret>`.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    pub device: DeviceIngestState,
}

impl FromRequestParts<AppState> for AgentIdentity {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let credential = bearer(parts).ok_or_else(|| {
            AppError::unauthorized("agent requests need the device credential as a bearer token")
        })?;
        Self::from_credential(parts, state, credential).await
    }
}

impl AgentIdentity {
    /// The device whose credential this is, however the request carried it (the backup
    /// endpoint also takes it as restic sends it: `backup::client`).
    pub(crate) async fn from_credential(
        parts: &Parts,
        state: &AppState,
        credential: &str,
    ) -> Result<Self, AppError> {
        let (device_id, _) = credential
            .split_once('.')
            .ok_or_else(|| AppError::unauthorized("malformed device credential"))?;
        let Some(mut device) = state.store.device_ingest_state(device_id).await? else {
            return Err(AppError::unauthorized("unknown device credential"));
        };
        let hash = token_hash(credential);
        let current = secrets_equal(&hash, &device.credential_hash);
        let pending = !current
            && device
                .pending_credential_hash
                .as_deref()
                .is_some_and(|p| secrets_equal(&hash, p));
        if !current && !pending {
            return Err(AppError::unauthorized("unknown device credential"));
        }
        if device.revoked_at.is_some() {
            return Err(AppError::unauthorized(
                "this device has been revoked by an administrator; enroll it again to restore it",
            ));
        }
        if pending {
            complete_rotation(parts, state, &mut device, &hash).await?;
        }
        Ok(AgentIdentity { device })
    }
}

/// The first request with a rotated credential: it becomes the device's credential and the
/// old one stops working. Of concurrent first requests one promotes; the others find it
/// already current.
async fn complete_rotation(
    parts: &Parts,
    state: &AppState,
    device: &mut DeviceIngestState,
    hash: &str,
) -> Result<(), AppError> {
    if state
        .store
        .promote_pending_credential(&device.device_id, hash)
        .await?
    {
        tracing::info!(device = %device.device_id, "device credential rotated");
        crate::audit::record(
            &state.store,
            state.now(),
            &format!("device:{}", device.device_id),
            "credential_rotation_completed",
            &device.device_id,
            "the agent uses its new credential; the old one no longer works",
            &source_ip(parts),
        )
        .await;
    } else {
        let now_current = state
            .store
            .device_ingest_state(&device.device_id)
            .await?
            .is_some_and(|d| secrets_equal(hash, &d.credential_hash));
        if !now_current {
            return Err(AppError::unauthorized("unknown device credential"));
        }
    }
    device.credential_hash = hash.to_owned();
    device.pending_credential_hash = None;
    Ok(())
}

/// The client's address (see [`crate::net::ClientAddr`]), for audit entries.
pub fn source_ip(parts: &Parts) -> String {
    crate::net::origin::origin_of(parts)
        .map(|o| o.client.ip().to_string())
        .unwrap_or_default()
}
