//! What every capability's service shares: who is asking ([`Caller`]), and how a service says
//! no ([`Refusal`], [`DomainError`]).
//!
//! A capability's service module (`devices`, `groups`, `tokens`, `users`, …) owns its rules,
//! its audit entries and its step-up requirements, and returns its own error type. The API,
//! the console and the CLI are thin adapters over the same functions, so one action gives the
//! same result, audit entry and refusal on all three. How a refusal is answered over HTTP is
//! decided once, in `crate::error` (`impl From<E: DomainError> for AppError`); the console
//! renders the same status and message in its layout, and the CLI prints the message.

use steward_core::{Action, Role, Scope, Timestamp};
use steward_store::{Store, StoreError};

use crate::auth::{Principal, PrincipalKind};

/// Who asks, from where, and when: what a service needs to decide, scope and audit.
#[derive(Debug, Clone)]
pub struct Caller {
    pub who: Principal,
    /// The client's address, or `cli` for the command line.
    pub source: String,
    pub now: Timestamp,
}

impl Caller {
    pub fn new(who: Principal, source: impl Into<String>, now: Timestamp) -> Self {
        Self {
            who,
            source: source.into(),
            now,
        }
    }

    /// The operator at the command line (`steward admin …`): whoever can run it can read
    /// the database, so it acts as an administrator over every device, named in the audit
    /// log by the operating-system user.
    pub fn cli(os_user: &str, now: Timestamp) -> Self {
        Self::new(
            Principal {
                kind: PrincipalKind::Cli,
                name: os_user.to_string(),
                role: Role::Admin,
                csrf_token: None,
                session_hash: None,
                scope: Scope::AllDevices,
                reauth_at: None,
                must_enrol_two_factor: false,
                must_change_password: false,
            },
            "cli",
            now,
        )
    }

    /// How the caller is named in audit and job records.
    pub fn label(&self) -> String {
        self.who.label()
    }

    pub fn scope(&self) -> &Scope {
        &self.who.scope
    }

    /// Appends an audit entry for something this caller did.
    pub async fn audit(&self, store: &Store, action: &str, target: &str, detail: &str) {
        crate::audit::record(
            store,
            self.now,
            &self.label(),
            action,
            target,
            detail,
            &self.source,
        )
        .await;
    }

    /// The caller's role must permit `action`. The HTTP extractors check it before a
    /// handler runs; services check again, so the CLI and any future surface cannot skip it.
    pub fn require(&self, action: Action) -> Result<(), Denied> {
        if self.who.may(action) {
            Ok(())
        } else {
            Err(Denied::Role(self.who.role.as_str()))
        }
    }

    /// Sensitive actions need a recent sign-in or step-up from a console session; API
    /// tokens and the CLI are deliberate credentials of their own.
    pub fn require_step_up(&self) -> Result<(), Denied> {
        if self.who.recently_authenticated(self.now) {
            Ok(())
        } else {
            Err(Denied::StepUp)
        }
    }
}

/// The kinds of "no" a service gives. Each adapter maps them once: HTTP statuses in
/// `crate::error`, console pages from those, CLI messages from the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request itself is wrong (a malformed name, an unknown role): 400.
    Invalid,
    /// No such thing, or not within the caller's scope (the two look alike): 404.
    NotFound,
    /// The caller may not do this to this target: 403.
    Forbidden,
    /// Allowed, but only after confirming the password again: 403 over the API, a detour
    /// through the re-authentication page in the console.
    StepUpRequired,
    /// The current state forbids it (a name taken, the last administrator): 409.
    Conflict,
    /// The database is busy; nothing was done and the request may be repeated: 503.
    Busy,
    /// The database cannot be reached: 503.
    Unavailable,
    /// Something failed that the caller cannot fix; the details go to the log, not to
    /// the caller: 500.
    Internal,
}

/// A capability's error: its text is what a person is shown (unless the refusal is
/// [`Refusal::Internal`], whose text goes only to the log).
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    fn refusal(&self) -> Refusal;
}

impl DomainError for StoreError {
    fn refusal(&self) -> Refusal {
        match self {
            StoreError::NotFound => Refusal::NotFound,
            StoreError::Conflict(_) => Refusal::Conflict,
            StoreError::Busy => Refusal::Busy,
            StoreError::Connect { .. } => Refusal::Unavailable,
            StoreError::InvalidInput(_) => Refusal::Invalid,
            _ => Refusal::Internal,
        }
    }
}

/// The caller may not do this: every capability's error carries it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum Denied {
    #[error("your role ({0}) does not allow this")]
    Role(&'static str),
    /// A sensitive action asked for without a recent sign-in or step-up.
    #[error(
        "this needs a recent re-authentication: confirm your password in the console (it holds five minutes) or use an API token"
    )]
    StepUp,
}

impl DomainError for Denied {
    fn refusal(&self) -> Refusal {
        match self {
            Denied::Role(_) => Refusal::Forbidden,
            Denied::StepUp => Refusal::StepUpRequired,
        }
    }
}
