//! Managing console users, shared by the console, the API and `steward admin user …`: create
//! (with a one-time password), change role, limit to groups, disable, enable, delete, reset
//! the password or the second factor. `steward_core::access::check_user_change` decides what
//! may not be done (removing one's own access, the last administrator); every change is
//! audited with before and after. Step-up for sensitive changes is the caller's (it needs
//! the session): see `steward_core::access::needs_step_up`.

use steward_core::access::{UserChange, check_user_change};
use steward_core::{Role, Timestamp};
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

fn describe_groups(names: &[String]) -> String {
    if names.is_empty() {
        "all devices".into()
    } else {
        names.join(", ")
    }
}

/// Creates a user with a one-time password (returned, shown once).
pub async fn create(
    store: &Store,
    hashing: PasswordHashing,
    actor: &Actor,
    username: &str,
    role: Role,
    groups: &[String],
) -> AppResult<(UserRecord, String)> {
    let username = username.trim();
    check_username(username)?;
    check_scope(role, groups)?;
    let names = group_names(store, groups).await?;
    let password = random_password();
    let hash = tokio::task::spawn_blocking({
        let password = password.clone();
        move || hashing.hash(&password)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    let user = store
        .create_user_in_groups(
            &NewUser {
                id: new_id(),
                username: username.to_string(),
                password_hash: hash,
                role: role.as_str().to_string(),
            },
            groups,
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
        &format!("role {}; sees {}", role.as_str(), describe_groups(&names)),
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
/// technicians and viewers are limited to groups.
fn check_scope(role: Role, groups: &[String]) -> AppResult<()> {
    if role == Role::Admin && !groups.is_empty() {
        return Err(AppError::bad_request(
            "administrators see every device; limit a technician or viewer to groups instead",
        ));
    }
    Ok(())
}

/// Sets a user's role and groups together, checking the result (an administrator has no
/// groups) before changing anything. `None` leaves that part as it is.
pub async fn set_role_and_groups(
    store: &Store,
    actor: &Actor,
    id: &str,
    role: Option<Role>,
    groups: Option<&[String]>,
) -> AppResult<()> {
    let target = find(store, id).await?;
    let current_groups = store.user_groups(id).await?;
    let final_role = role.unwrap_or(Role::parse(&target.role).unwrap_or(Role::Viewer));
    check_scope(final_role, groups.unwrap_or(&current_groups))?;
    // Narrow before widening: groups go first when the user becomes an administrator (who
    // may have none), last otherwise.
    if final_role == Role::Admin {
        if let Some(groups) = groups {
            set_groups(store, actor, id, groups).await?;
        }
        if let Some(role) = role {
            set_role(store, actor, id, role).await?;
        }
    } else {
        if let Some(role) = role {
            set_role(store, actor, id, role).await?;
        }
        if let Some(groups) = groups {
            set_groups(store, actor, id, groups).await?;
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

async fn set_groups(store: &Store, actor: &Actor, id: &str, groups: &[String]) -> AppResult<()> {
    let target = find(store, id).await?;
    let before = group_names(store, &store.user_groups(id).await?).await?;
    let after = group_names(store, groups).await?;
    if before == after {
        return Ok(());
    }
    store
        .set_user_groups(id, groups)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => AppError::bad_request("one of the groups does not exist"),
            other => other.into(),
        })?;
    audit(
        store,
        actor,
        "user_groups_changed",
        &target.username,
        &format!("{} → {}", describe_groups(&before), describe_groups(&after)),
    )
    .await;
    Ok(())
}

/// A new one-time password; every session of the user ends.
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
    store.set_password(id, &hash).await?;
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
