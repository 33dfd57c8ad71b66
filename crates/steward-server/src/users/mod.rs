//! Managing console users, shared by the console, the API and `steward admin user …`: create
//! (with a one-time password), change role, limit to groups, disable, enable, delete, reset
//! the password or the second factor. `steward_core::access::check_user_change` decides what
//! may not be done (removing one's own access, the last administrator); every change is
//! audited with before and after. Step-up for sensitive changes is the caller's (it needs
//! the session): see `steward_core::access::needs_step_up`.

pub mod api;
pub mod console;

use steward_core::access::{UserChange, check_user_change};
use steward_core::{Role, Scope, Timestamp};
use steward_store::{NewUser, Store, StoreError, UserRecord};

use crate::error::{AppError, AppResult};
use crate::secrets::{PasswordHashing, new_id, random_password};

/// Who asks, for the rules and the audit log.
pub struct Actor {
    /// The acting user's id (`None` for the CLI or an API token).
    pub user_id: Option<String>,
    /// `user:alice`, `api-token:deploy`, `cli:root`.
    pub label: String,
    /// Source address, if any.
    pub source: String,
    pub now: Timestamp,
}

/// Usernames: 1–64 characters of letters, digits and `. _ - @` (they appear in
/// authenticator apps, audit entries and shell commands).
pub fn check_username(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_request(
            "a username is 1 to 64 letters, digits, dots, dashes, underscores or @",
        ))
    }
}

pub fn parse_role(role: &str) -> AppResult<Role> {
    Role::parse(role)
        .ok_or_else(|| AppError::bad_request("role must be viewer, technician or admin"))
}

async fn audit(store: &Store, actor: &Actor, action: &str, target: &str, detail: &str) {
    crate::audit::record(
        store,
        actor.now,
        &actor.label,
        action,
        target,
        detail,
        &actor.source,
    )
    .await;
}

/// The store's own last-administrator guard (for changes racing each other) as a 409.
fn conflict_or(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict(m) => AppError::conflict(m),
        other => other.into(),
    }
}

pub async fn find(store: &Store, id: &str) -> AppResult<UserRecord> {
    store
        .user_by_id(id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

/// Group names for the audit log, in the order given; unknown ids are an error.
async fn group_names(store: &Store, ids: &[String]) -> AppResult<Vec<String>> {
    let groups = store.list_groups().await?;
    ids.iter()
        .map(|id| {
            groups
                .iter()
                .find(|g| &g.id == id)
                .map(|g| g.name.clone())
                .ok_or_else(|| AppError::bad_request(format!("no group with id {id}")))
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
pub fn scope_for_new_user(all_devices: Option<bool>, groups: Vec<String>) -> AppResult<Scope> {
    match all_devices {
        Some(true) if !groups.is_empty() => Err(both_given()),
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
) -> AppResult<Option<Scope>> {
    match (all_devices, groups) {
        (Some(true), Some(g)) if !g.is_empty() => Err(both_given()),
        (Some(true), _) => Ok(Some(Scope::AllDevices)),
        (_, Some(g)) => Ok(Some(Scope::Groups(g))),
        (Some(false), None) => Ok(Some(match current {
            Scope::Groups(g) => Scope::Groups(g.clone()),
            Scope::AllDevices => Scope::Groups(Vec::new()),
        })),
        (None, None) => Ok(None),
    }
}

fn both_given() -> AppError {
    AppError::bad_request("either every device or some groups, not both")
}

/// A user's current scope as stored (regardless of role).
pub async fn stored_scope(store: &Store, user: &UserRecord) -> AppResult<Scope> {
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

/// Creates a user with a one-time password (returned, shown once).
pub async fn create(
    store: &Store,
    hashing: PasswordHashing,
    actor: &Actor,
    username: &str,
    role: Role,
    scope: &Scope,
) -> AppResult<(UserRecord, String)> {
    let username = username.trim();
    check_username(username)?;
    let scope = check_scope(role, scope)?;
    let names = group_names(store, scope_groups(&scope)).await?;
    let password = random_password();
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || hashing.hash(&password)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
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
            actor.now,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => AppError::conflict(m),
            StoreError::NotFound => AppError::bad_request("one of the groups does not exist"),
            other => other.into(),
        })?;
    audit(
        store,
        actor,
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

async fn check(
    store: &Store,
    actor: &Actor,
    target: &UserRecord,
    change: UserChange,
) -> AppResult<()> {
    let role = Role::parse(&target.role).unwrap_or(Role::Viewer);
    let admins = store.count_enabled_admins().await?;
    check_user_change(
        actor.user_id.as_deref() == Some(target.id.as_str()),
        role,
        target.disabled_at.is_none(),
        admins,
        change,
    )
    .map_err(|e| AppError::conflict(e.to_string()))
}

/// Administrators see every device (they could lift any limit themselves), so only
/// technicians and viewers are limited to groups; an administrator's scope is stored as
/// every device, which they keep if demoted until someone limits them.
fn check_scope(role: Role, scope: &Scope) -> AppResult<Scope> {
    match scope {
        Scope::Groups(g) if role == Role::Admin && !g.is_empty() => Err(AppError::bad_request(
            "administrators see every device; limit a technician or viewer to groups instead",
        )),
        _ if role == Role::Admin => Ok(Scope::AllDevices),
        other => Ok(other.clone()),
    }
}

/// Sets a user's role and scope together, checking the result (an administrator has no
/// groups) before changing anything. `None` leaves that part as it is.
pub async fn set_role_and_scope(
    store: &Store,
    actor: &Actor,
    id: &str,
    role: Option<Role>,
    scope: Option<&Scope>,
) -> AppResult<()> {
    let target = find(store, id).await?;
    let final_role = role.unwrap_or(Role::parse(&target.role).unwrap_or(Role::Viewer));
    let scope = match scope {
        Some(s) => Some(check_scope(final_role, s)?),
        None => {
            // An administrator's scope is every device: a promoted user's is made so.
            let current = stored_scope(store, &target).await?;
            let checked = check_scope(final_role, &current)?;
            (checked != current).then_some(checked)
        }
    };
    // Narrow before widening: the scope goes first when the user becomes an administrator
    // (who may have no groups), last otherwise.
    if final_role == Role::Admin {
        if let Some(scope) = &scope {
            set_scope(store, actor, id, scope).await?;
        }
        if let Some(role) = role {
            set_role(store, actor, id, role).await?;
        }
    } else {
        if let Some(role) = role {
            set_role(store, actor, id, role).await?;
        }
        if let Some(scope) = &scope {
            set_scope(store, actor, id, scope).await?;
        }
    }
    Ok(())
}

async fn set_role(store: &Store, actor: &Actor, id: &str, role: Role) -> AppResult<()> {
    let target = find(store, id).await?;
    if target.role == role.as_str() {
        return Ok(());
    }
    check(store, actor, &target, UserChange::SetRole(role)).await?;
    store
        .set_user_role(id, role.as_str())
        .await
        .map_err(conflict_or)?;
    audit(
        store,
        actor,
        "user_role_changed",
        &target.username,
        &format!("{} → {}", target.role, role.as_str()),
    )
    .await;
    Ok(())
}

pub async fn set_disabled(store: &Store, actor: &Actor, id: &str, disabled: bool) -> AppResult<()> {
    let target = find(store, id).await?;
    if target.disabled_at.is_some() == disabled {
        return Ok(());
    }
    if disabled {
        check(store, actor, &target, UserChange::Disable).await?;
    }
    store
        .set_user_disabled(id, disabled.then_some(actor.now))
        .await
        .map_err(conflict_or)?;
    let action = if disabled {
        "user_disabled"
    } else {
        "user_enabled"
    };
    let detail = if disabled { "every session ended" } else { "" };
    audit(store, actor, action, &target.username, detail).await;
    Ok(())
}

pub async fn delete(store: &Store, actor: &Actor, id: &str) -> AppResult<()> {
    let target = find(store, id).await?;
    check(store, actor, &target, UserChange::Delete).await?;
    store
        .delete_user(id, actor.now)
        .await
        .map_err(conflict_or)?;
    audit(
        store,
        actor,
        "user_deleted",
        &target.username,
        &format!("was {}", target.role),
    )
    .await;
    Ok(())
}

async fn set_scope(store: &Store, actor: &Actor, id: &str, scope: &Scope) -> AppResult<()> {
    let target = find(store, id).await?;
    let current = stored_scope(store, &target).await?;
    let before = group_names(store, scope_groups(&current)).await?;
    let after = group_names(store, scope_groups(scope)).await?;
    let (before_all, after_all) = (current == Scope::AllDevices, *scope == Scope::AllDevices);
    if before == after && before_all == after_all {
        return Ok(());
    }
    store.set_user_scope(id, scope).await.map_err(|e| match e {
        StoreError::NotFound => AppError::bad_request("one of the groups does not exist"),
        other => other.into(),
    })?;
    audit(
        store,
        actor,
        "user_groups_changed",
        &target.username,
        &format!(
            "{} → {}",
            describe_scope(before_all, &before),
            describe_scope(after_all, &after)
        ),
    )
    .await;
    Ok(())
}

/// A new one-time password, to be changed at the user's next sign-in; every session of the
/// user ends.
pub async fn reset_password(
    store: &Store,
    hashing: PasswordHashing,
    actor: &Actor,
    id: &str,
) -> AppResult<String> {
    let target = find(store, id).await?;
    check(store, actor, &target, UserChange::ResetCredentials).await?;
    let password = random_password();
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || hashing.hash(&password)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    store.set_password(id, &hash, true).await?;
    audit(
        store,
        actor,
        "password_reset",
        &target.username,
        "every session ended",
    )
    .await;
    Ok(password)
}

/// Turns the user's second factor off (a lost phone); they set it up again at next sign-in
/// if the policy requires it.
pub async fn reset_two_factor(store: &Store, actor: &Actor, id: &str) -> AppResult<()> {
    let target = find(store, id).await?;
    check(store, actor, &target, UserChange::ResetCredentials).await?;
    store.disable_totp(id).await?;
    audit(
        store,
        actor,
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
