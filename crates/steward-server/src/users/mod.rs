//! Console users: create (with a one-time password), change role, limit to groups, disable,
//! enable, delete, reset the password or the second factor. The API (`api`), the console
//! (`console`) and `steward admin user …` are adapters over these functions.
//!
//! `steward_core::access::check_user_change` decides what may not be done (removing one's
//! own access, the last administrator) and `needs_step_up` what needs a recent sign-in;
//! both are applied here, once. Every change is audited with before and after, and the
//! changes of one request are stored in one transaction.

pub mod api;
pub mod console;

use steward_core::access::{UserChange, UserChangeRefused, check_user_change, needs_step_up};
use steward_core::{Action, Role, Scope};
use steward_store::{NewUser, Store, StoreError, UserRecord, UserUpdate};

use crate::secrets::{new_id, random_password};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a username is 1 to 64 letters, digits, dots, dashes, underscores or @")]
    BadUsername,
    #[error("role must be viewer, technician or admin")]
    BadRole,
    #[error("either every device or some groups, not both")]
    BothScopes,
    #[error("administrators see every device; limit a technician or viewer to groups instead")]
    AdminGroups,
    #[error("no group with id {0}")]
    NoSuchGroup(String),
    #[error("one of the groups does not exist")]
    MissingGroup,
    #[error("user not found")]
    NotFound,
    #[error("no user named {0:?}; `steward admin user list` shows them")]
    NoUserNamed(String),
    #[error("{0}")]
    Refused(#[from] UserChangeRefused),
    /// A name taken, or the store's own last-administrator guard (changes racing).
    #[error("{0}")]
    Conflict(String),
    #[error("unknown action")]
    UnknownAction,
    /// A stored role that no longer parses: the database was changed outside Steward.
    #[error("user {0} has an unreadable role {1:?} in the database")]
    StoredRole(String, String),
    #[error("could not hash the password: {0}")]
    Hashing(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => UserError::Conflict(m),
            other => UserError::Store(other),
        }
    }
}

impl DomainError for UserError {
    fn refusal(&self) -> Refusal {
        match self {
            UserError::BadUsername
            | UserError::BadRole
            | UserError::BothScopes
            | UserError::AdminGroups
            | UserError::NoSuchGroup(_)
            | UserError::MissingGroup
            | UserError::UnknownAction => Refusal::Invalid,
            UserError::NotFound | UserError::NoUserNamed(_) => Refusal::NotFound,
            UserError::Refused(_) | UserError::Conflict(_) => Refusal::Conflict,
            UserError::StoredRole(..) | UserError::Hashing(_) => Refusal::Internal,
            UserError::Denied(d) => d.refusal(),
            UserError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, UserError>;

/// Usernames: 1–64 characters of letters, digits and `. _ - @` (they appear in
/// authenticator apps, audit entries and shell commands).
pub fn check_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(UserError::BadUsername)
    }
}

pub fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or(UserError::BadRole)
}

/// The user's stored role; one that does not parse is an error, never a quiet "viewer".
pub fn role_of(user: &UserRecord) -> Result<Role> {
    Role::parse(&user.role)
        .ok_or_else(|| UserError::StoredRole(user.username.clone(), user.role.clone()))
}

/// Every user.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<UserRecord>> {
    caller.require(Action::ManageUsers)?;
    Ok(state.store.list_users().await?)
}

/// One user by id.
pub async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<UserRecord> {
    caller.require(Action::ManageUsers)?;
    state.store.user_by_id(id).await?.ok_or(UserError::NotFound)
}

/// One user by name (for people typing commands).
pub async fn find_by_name(state: &AppState, caller: &Caller, name: &str) -> Result<UserRecord> {
    caller.require(Action::ManageUsers)?;
    state
        .store
        .user_by_username(name)
        .await?
        .ok_or_else(|| UserError::NoUserNamed(name.to_string()))
}

/// Group names for the audit log, in the order given; unknown ids are an error.
async fn group_names(store: &Store, ids: &[String]) -> Result<Vec<String>> {
    let groups = store.list_groups().await?;
    ids.iter()
        .map(|id| {
            groups
                .iter()
                .find(|g| &g.id == id)
                .map(|g| g.name.clone())
                .ok_or_else(|| UserError::NoSuchGroup(id.clone()))
        })
        .collect()
}

fn describe_scope(all_devices: bool, names: &[String]) -> String {
    if all_devices {
        "all devices".into()
    } else if names.is_empty() {
        "no device".into()
    } else {
        names.join(", ")
    }
}

/// The devices a new user is to see. "Every device" is explicit (`all_devices`); naming
/// neither it nor a group means every device too (a user created without a limit).
pub fn scope_for_new_user(all_devices: Option<bool>, groups: Vec<String>) -> Result<Scope> {
    match all_devices {
        Some(true) if !groups.is_empty() => Err(UserError::BothScopes),
        None if groups.is_empty() => Ok(Scope::AllDevices),
        Some(true) => Ok(Scope::AllDevices),
        _ => Ok(Scope::Groups(groups)),
    }
}

/// The devices a change asks a user to see, or `None` to leave them. A group list, even an
/// empty one, limits to those groups: removing the last group leaves no device, never every
/// device. `all_devices: false` alone keeps the groups but drops the grant of every device.
pub fn requested_scope(
    all_devices: Option<bool>,
    groups: Option<Vec<String>>,
    current: &Scope,
) -> Result<Option<Scope>> {
    match (all_devices, groups) {
        (Some(true), Some(g)) if !g.is_empty() => Err(UserError::BothScopes),
        (Some(true), _) => Ok(Some(Scope::AllDevices)),
        (_, Some(g)) => Ok(Some(Scope::Groups(g))),
        (Some(false), None) => Ok(Some(match current {
            Scope::Groups(g) => Scope::Groups(g.clone()),
            Scope::AllDevices => Scope::Groups(Vec::new()),
        })),
        (None, None) => Ok(None),
    }
}

/// A user's current scope as stored (regardless of role).
pub async fn stored_scope(store: &Store, user: &UserRecord) -> Result<Scope> {
    Ok(if user.all_devices {
        Scope::AllDevices
    } else {
        Scope::Groups(store.user_groups(&user.id).await?)
    })
}

fn scope_groups(scope: &Scope) -> &[String] {
    match scope {
        Scope::AllDevices => &[],
        Scope::Groups(g) => g,
    }
}

/// Administrators see every device (they could lift any limit themselves), so only
/// technicians and viewers are limited to groups; an administrator's scope is stored as
/// every device, which they keep if demoted until someone limits them.
fn check_scope(role: Role, scope: &Scope) -> Result<Scope> {
    match scope {
        Scope::Groups(g) if role == Role::Admin && !g.is_empty() => Err(UserError::AdminGroups),
        _ if role == Role::Admin => Ok(Scope::AllDevices),
        other => Ok(other.clone()),
    }
}

/// Hashes a new one-time password off the async workers (Argon2id takes tens of ms).
async fn one_time_password(state: &AppState) -> Result<(String, String)> {
    let password = random_password();
    let hashing = state.config.password_hashing;
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || hashing.hash(&password)
    })
    .await
    .map_err(|e| UserError::Hashing(e.to_string()))?
    .map_err(|e| UserError::Hashing(e.to_string()))?;
    Ok((password, hash))
}

/// What a new user is to be.
pub struct NewUserRequest<'a> {
    pub username: &'a str,
    pub role: &'a str,
    /// `Some(true)`: every device; groups: only theirs; neither: every device.
    pub all_devices: Option<bool>,
    pub groups: Vec<String>,
}

/// Creates a user with a one-time password (returned, shown once). Creating an
/// administrator needs a recent step-up.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    new: NewUserRequest<'_>,
) -> Result<(UserRecord, String)> {
    caller.require(Action::ManageUsers)?;
    let role = parse_role(new.role)?;
    if role == Role::Admin {
        caller.require_step_up()?;
    }
    let username = new.username.trim();
    check_username(username)?;
    let scope = check_scope(role, &scope_for_new_user(new.all_devices, new.groups)?)?;
    let store = &state.store;
    let names = group_names(store, scope_groups(&scope)).await?;
    let (password, hash) = one_time_password(state).await?;
    let user = store
        .create_user_with_scope(
            &NewUser {
                id: new_id(),
                username: username.to_string(),
                password_hash: hash,
                role: role.as_str().to_string(),
                // Someone else knows it: the user replaces it at first sign-in.
                must_change_password: true,
            },
            &scope,
            caller.now,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => UserError::MissingGroup,
            other => other.into(),
        })?;
    caller
        .audit(
            store,
            "user_created",
            username,
            &format!(
                "role {}; sees {}",
                role.as_str(),
                describe_scope(scope == Scope::AllDevices, &names)
            ),
        )
        .await;
    Ok((user, password))
}

/// Refuses a change the rules forbid (one's own access, the last administrator), and asks
/// for a recent step-up where the change needs one.
async fn check(
    state: &AppState,
    caller: &Caller,
    target: &UserRecord,
    change: UserChange,
) -> Result<()> {
    let role = role_of(target)?;
    if needs_step_up(change, role) {
        caller.require_step_up()?;
    }
    let admins = state.store.count_enabled_admins().await?;
    check_user_change(
        caller.who.user_id() == Some(target.id.as_str()),
        role,
        target.disabled_at.is_none(),
        admins,
        change,
    )?;
    Ok(())
}

/// Changes asked of one user; `None` leaves that part as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub role: Option<String>,
    pub all_devices: Option<bool>,
    pub groups: Option<Vec<String>>,
    pub disabled: Option<bool>,
}

/// Applies a user's changes — role, scope, enabled — all together or not at all: every
/// rule is checked first, then the changes are stored in one transaction and audited.
/// Returns the user as they now are.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    changes: &UserChanges,
) -> Result<UserRecord> {
    let target = find(state, caller, id).await?;
    let store = &state.store;
    let current_role = role_of(&target)?;
    let role = changes.role.as_deref().map(parse_role).transpose()?;
    let new_role = role.filter(|r| *r != current_role);
    if let Some(r) = new_role {
        check(state, caller, &target, UserChange::SetRole(r)).await?;
    }
    let disabled = changes
        .disabled
        .filter(|d| *d != target.disabled_at.is_some());
    match disabled {
        Some(true) => check(state, caller, &target, UserChange::Disable).await?,
        Some(false) => check(state, caller, &target, UserChange::Enable).await?,
        None => {}
    }
    // The scope: as asked, or an administrator's made every device.
    let final_role = new_role.unwrap_or(current_role);
    let current_scope = stored_scope(store, &target).await?;
    let asked = requested_scope(changes.all_devices, changes.groups.clone(), &current_scope)?;
    let scope = check_scope(final_role, asked.as_ref().unwrap_or(&current_scope))?;
    let before_names = group_names(store, scope_groups(&current_scope)).await?;
    let after_names = group_names(store, scope_groups(&scope)).await?;
    let scope_changes = before_names != after_names
        || (current_scope == Scope::AllDevices) != (scope == Scope::AllDevices);
    let update = UserUpdate {
        role: new_role.map(|r| r.as_str().to_string()),
        scope: scope_changes.then(|| scope.clone()),
        disabled: disabled.map(|d| d.then_some(caller.now)),
    };
    if update == UserUpdate::default() {
        return Ok(target);
    }
    store.update_user(id, &update).await.map_err(|e| match e {
        StoreError::NotFound => UserError::MissingGroup,
        other => other.into(),
    })?;
    let name = &target.username;
    if let Some(r) = new_role {
        caller
            .audit(
                store,
                "user_role_changed",
                name,
                &format!("{} → {}", target.role, r.as_str()),
            )
            .await;
    }
    if scope_changes {
        caller
            .audit(
                store,
                "user_groups_changed",
                name,
                &format!(
                    "{} → {}",
                    describe_scope(current_scope == Scope::AllDevices, &before_names),
                    describe_scope(scope == Scope::AllDevices, &after_names)
                ),
            )
            .await;
    }
    match disabled {
        Some(true) => {
            caller
                .audit(store, "user_disabled", name, "every session ended")
                .await;
        }
        Some(false) => caller.audit(store, "user_enabled", name, "").await,
        None => {}
    }
    find(state, caller, id).await
}

/// Deletes a user (ends their sessions and revokes their API tokens).
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    let target = find(state, caller, id).await?;
    check(state, caller, &target, UserChange::Delete).await?;
    state.store.delete_user(id, caller.now).await?;
    caller
        .audit(
            &state.store,
            "user_deleted",
            &target.username,
            &format!("was {}", target.role),
        )
        .await;
    Ok(())
}

/// A new one-time password, to be changed at the user's next sign-in; every session of the
/// user ends. Whoever resets a password can sign in as that user next: it needs a step-up.
pub async fn reset_password(state: &AppState, caller: &Caller, id: &str) -> Result<String> {
    let target = find(state, caller, id).await?;
    check(state, caller, &target, UserChange::ResetCredentials).await?;
    let (password, hash) = one_time_password(state).await?;
    state.store.set_password(id, &hash, true).await?;
    caller
        .audit(
            &state.store,
            "password_reset",
            &target.username,
            "every session ended",
        )
        .await;
    Ok(password)
}

/// Turns the user's second factor off (a lost phone); they set it up again at next sign-in
/// if the policy requires it.
pub async fn reset_two_factor(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    let target = find(state, caller, id).await?;
    check(state, caller, &target, UserChange::ResetCredentials).await?;
    state.store.disable_totp(id).await?;
    caller
        .audit(
            &state.store,
            "two_factor_disabled",
            &target.username,
            "reset by an administrator",
        )
        .await;
    Ok(())
}

/// The capability's routes.
pub fn routes() -> crate::web::routes::Routes {
    use crate::web::routes::{Access, Routes};
    use steward_core::Action::ManageUsers;
    use utoipa_axum::routes;
    let admin = Access::Requires(ManageUsers);
    Routes::new()
        .api(admin, routes!(api::list))
        .api(admin, routes!(api::create))
        .api(admin, routes!(api::detail))
        .api(admin, routes!(api::update))
        .api(admin, routes!(api::delete))
        .api(admin, routes!(api::reset_password))
        .api(admin, routes!(api::reset_two_factor))
        .get("/users", admin, console::page)
        .post("/users", admin, console::create)
        .post("/users/{id}", admin, console::update)
}
