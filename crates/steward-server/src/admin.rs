//! Administrative operations shared by the CLI (`steward admin …`), the console and the API,
//! so that each is written once.

use steward_core::{JobKind, JobState, Role, Scope, Timestamp};
use steward_store::{
    ApiTokenRecord, DeviceRecord, EnrollTokenRecord, GroupRecord, JobRecord, NewUser, Store,
    StoreError,
};

use crate::error::{AppError, AppResult};
use crate::secrets::{PasswordHashing, new_id, random_password, random_token, token_hash};
use crate::state::AppState;

pub const ENROLL_TOKEN_PREFIX: &str = "stw_enr_";

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
    let token = random_token(ENROLL_TOKEN_PREFIX);
    store
        .create_enroll_token(&EnrollTokenRecord {
            id: new_id(),
            token_hash: token_hash(&token),
            uses_left: i64::from(uses),
            expires_at,
            created_at: now,
        })
        .await?;
    Ok(token)
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
    let token = random_token(crate::auth::API_TOKEN_PREFIX);
    store
        .create_api_token(&ApiTokenRecord {
            id: new_id(),
            name: name.to_string(),
            token_hash: token_hash(&token),
            role: role.as_str().to_string(),
            expires_at,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            created_by: created_by.map(str::to_string),
        })
        .await?;
    Ok(token)
}

/// Creates an API token on the command line for `owner` (a username), who is recorded as
/// its maker: it acts with no more than the owner's current role, and disabling or deleting
/// the owner revokes it, like a token they made in the console. Refused when the owner is
/// unknown or disabled, or when the token would have a higher role than its owner.
pub async fn create_owned_api_token(
    store: &Store,
    name: &str,
    role: Role,
    expires_at: Option<Timestamp>,
    owner: &str,
    now: Timestamp,
) -> anyhow::Result<String> {
    let user = store
        .user_by_username(owner)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no enabled user named {owner:?}: a token needs an owner whose offboarding revokes it (`steward admin user list`)"
            )
        })?;
    let owner_role = Role::parse(&user.role).unwrap_or(Role::Viewer);
    anyhow::ensure!(
        role.at_most(owner_role) == role,
        "{} is a {}: their token cannot be {} (a token never does more than its owner)",
        user.username,
        owner_role.as_str(),
        role.as_str()
    );
    create_api_token(store, name, role, expires_at, Some(&user.id), now).await
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

/// Queues a job for a device and wakes its agent if it is connected to this server.
pub async fn queue_job(
    state: &AppState,
    device_id: &str,
    kind: JobKind,
    requested_by: &str,
    source: &str,
) -> AppResult<JobRecord> {
    let (job, device) = enqueue(state, device_id, kind, requested_by).await?;
    crate::audit::record(
        &state.store,
        job.created_at,
        requested_by,
        "job_queued",
        device_id,
        &format!("{} ({}) on {}", kind.as_str(), job.id, device.name),
        source,
    )
    .await;
    Ok(job)
}

/// Asks a device's agent to replace its credential (a `rotate_credential` job): the agent
/// fetches a new one, stores it, and its old one stops working at its next request.
pub async fn request_credential_rotation(
    state: &AppState,
    device_id: &str,
    requested_by: &str,
    source: &str,
) -> AppResult<JobRecord> {
    let (job, device) = enqueue(state, device_id, JobKind::RotateCredential, requested_by).await?;
    crate::audit::record(
        &state.store,
        job.created_at,
        requested_by,
        "credential_rotation_requested",
        device_id,
        &format!("job {} on {}", job.id, device.name),
        source,
    )
    .await;
    Ok(job)
}

async fn enqueue(
    state: &AppState,
    device_id: &str,
    kind: JobKind,
    requested_by: &str,
) -> AppResult<(JobRecord, DeviceRecord)> {
    let device = state
        .store
        .device(device_id)
        .await?
        .ok_or_else(|| AppError::not_found("device"))?;
    if device.revoked_at.is_some() {
        return Err(AppError::conflict(
            "this device is revoked and takes no jobs",
        ));
    }
    let job = new_job(device_id, kind, requested_by, state.now());
    state.store.create_job(&job).await?;
    state.dispatcher.notify(device_id);
    Ok((job, device))
}

/// A job record in the `queued` state.
pub fn new_job(device_id: &str, kind: JobKind, requested_by: &str, now: Timestamp) -> JobRecord {
    JobRecord {
        id: new_id(),
        device_id: device_id.to_string(),
        kind,
        params: serde_json::Value::Null,
        state: JobState::Queued,
        message: String::new(),
        output: String::new(),
        requested_by: requested_by.to_string(),
        created_at: now,
        updated_at: now,
        deadline_at: kind.deadline_for(now),
    }
}

/// Creates a device group (site). Names are 1–100 characters and unique.
pub async fn create_group(store: &Store, name: &str, now: Timestamp) -> AppResult<GroupRecord> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad_request("a group name is 1 to 100 characters"));
    }
    store
        .create_group(&new_id(), name, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => AppError::conflict(m),
            other => other.into(),
        })
}

/// Tags: 1–50 characters each, at most 50 per device.
fn check_tags(tags: &[String]) -> AppResult<Vec<String>> {
    let tags: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.len() > 50 || tags.iter().any(|t| t.chars().count() > 50) {
        return Err(AppError::bad_request(
            "at most 50 tags of at most 50 characters each",
        ));
    }
    Ok(tags)
}

/// Moves a device into a group (`Some(None)`: out of any) and/or replaces its tags, within
/// the actor's scope: a technician limited to some groups can move devices only between
/// them. Audited with before and after.
#[allow(clippy::too_many_arguments)]
pub async fn organize_device(
    store: &Store,
    device: &DeviceRecord,
    group: Option<Option<&str>>,
    tags: Option<&[String]>,
    scope: &Scope,
    actor: &str,
    source: &str,
    now: Timestamp,
) -> AppResult<()> {
    if let Some(group) = group {
        if !scope.allows(group) {
            return Err(AppError::forbidden(
                "you can only place devices in groups you serve",
            ));
        }
        if group != device.group_id.as_deref() {
            let groups = store.list_groups().await?;
            let name_of = |id: Option<&str>| {
                id.and_then(|id| groups.iter().find(|g| g.id == id))
                    .map_or("no group".to_string(), |g| g.name.clone())
            };
            if group.is_some_and(|g| !groups.iter().any(|x| x.id == g)) {
                return Err(AppError::bad_request("no such group"));
            }
            store.set_device_group(&device.id, group).await?;
            crate::audit::record(
                store,
                now,
                actor,
                "device_group_changed",
                &device.name,
                &format!(
                    "{} → {}",
                    name_of(device.group_id.as_deref()),
                    name_of(group)
                ),
                source,
            )
            .await;
        }
    }
    if let Some(tags) = tags {
        let tags = check_tags(tags)?;
        if tags != device.tags {
            store.set_device_tags(&device.id, &tags).await?;
            crate::audit::record(
                store,
                now,
                actor,
                "device_tags_changed",
                &device.name,
                &format!("[{}] → [{}]", device.tags.join(", "), tags.join(", ")),
                source,
            )
            .await;
        }
    }
    Ok(())
}

/// Stores the two-factor policy, audited with before and after.
pub async fn set_two_factor_policy(
    store: &Store,
    policy: &steward_core::TwoFactorPolicy,
    actor: &str,
    source: &str,
    now: Timestamp,
) -> AppResult<()> {
    let key = steward_core::TwoFactorPolicy::SETTING;
    let before = store.setting(key).await?.unwrap_or_default();
    let after = policy.to_setting();
    if before == after {
        return Ok(());
    }
    store.set_setting(key, &after, now).await?;
    let show = |s: &str| {
        if s.is_empty() {
            "nobody".to_string()
        } else {
            s.to_string()
        }
    };
    crate::audit::record(
        store,
        now,
        actor,
        "two_factor_policy_changed",
        "require_two_factor",
        &format!("{} → {}", show(&before), show(&after)),
        source,
    )
    .await;
    Ok(())
}
