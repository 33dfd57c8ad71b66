//! Backup policies: what to back up on which devices, when, and how long to keep it. Defined
//! by people (console, API, CLI) through this service — validated, limited to the caller's
//! scope, audited — or declared in the configuration file (`[[backups]]`, stored at start by
//! `backup::declared::sync` and changed only there). The scheduler runs them
//! (`backup::scheduler`), retention applies their `keep` (`backup::maintenance`).

use steward_core::backup::retention::Keep;
use steward_core::backup::schedule::Schedule;
use steward_core::checks::Target;
use steward_core::{Action, Scope};
use steward_proto::backup::{BackupPolicy, BackupPreset, SaveBackupPolicy};
use steward_store::{BackupPolicyRecord, NewBackupPolicy, StoreError};

use super::presets::{self, DEFAULT_EXCLUDES, DEFAULT_KEEP, DEFAULT_SCHEDULE};
use crate::monitoring::windows::{Named, target_of};
use crate::monitoring::{MonitoringError, checks::target_visible};
use crate::secrets::new_id;
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;
const MAX_NAME: usize = 100;
const MAX_PATHS: usize = 100;
const MAX_EXCLUDES: usize = 200;
const MAX_PATH_CHARS: usize = 4_096;
const MAX_KEEP: u32 = 10_000;
/// The protection window is at least a day: retention never lets go of what arrived today.
pub const MIN_PROTECTION_DAYS: u32 = 1;
const MAX_PROTECTION_DAYS: u32 = 3_650;
/// 10 GiB/s: anything above is a typo, not a limit.
const MAX_BANDWIDTH_KIB: u64 = 10 << 20;

/// The source of a policy declared in the configuration file (changed only there).
pub(super) const FROM_CONFIG: &str = "config";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A definition that cannot be stored; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("backup policy not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("this backup policy is declared in the configuration file; change it there")]
    Declared,
    #[error("only users who see every device may define a policy for {0}; ask an administrator")]
    OutsideScope(&'static str),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for PolicyError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => PolicyError::Conflict(m),
            StoreError::NotFound => PolicyError::NotFound,
            other => PolicyError::Store(other),
        }
    }
}

impl DomainError for PolicyError {
    fn refusal(&self) -> Refusal {
        match self {
            PolicyError::Invalid(_) => Refusal::Invalid,
            PolicyError::NotFound => Refusal::NotFound,
            PolicyError::Conflict(_) | PolicyError::Declared => Refusal::Conflict,
            PolicyError::OutsideScope(_) => Refusal::Forbidden,
            PolicyError::Denied(d) => d.refusal(),
            PolicyError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, PolicyError>;

fn invalid(message: impl std::fmt::Display) -> PolicyError {
    PolicyError::Invalid(message.to_string())
}

/// The policies the caller can see: those of every device, a tag, or a group or device
/// within the caller's scope.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<BackupPolicyRecord>> {
    caller.require(Action::ViewDevices)?;
    let mut visible = Vec::new();
    for policy in state.store.backup_policies().await? {
        if visible_to(state, caller.scope(), &policy.target).await? {
            visible.push(policy);
        }
    }
    Ok(visible)
}

/// One policy the caller can see, by id or by name.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id_or_name: &str,
) -> Result<BackupPolicyRecord> {
    caller.require(Action::ViewDevices)?;
    let found = match state.store.backup_policy(id_or_name).await? {
        Some(p) => Some(p),
        None => state.store.backup_policy_named(id_or_name).await?,
    };
    match found {
        Some(p) if visible_to(state, caller.scope(), &p.target).await? => Ok(p),
        _ => Err(PolicyError::NotFound),
    }
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: &SaveBackupPolicy,
) -> Result<BackupPolicyRecord> {
    caller.require(Action::ManageBackups)?;
    let mut policy = definition(input)?;
    policy.target = resolve_target(state, caller.scope(), &policy.target).await?;
    ensure_may_target(state, caller, &policy.target).await?;
    let record = state
        .store
        .create_backup_policy(&new_id(), &policy, caller.now)
        .await?;
    caller
        .audit(
            &state.store,
            "backup_policy_created",
            &record.name,
            &describe(&record),
        )
        .await;
    reschedule(state, &record, false).await;
    Ok(record)
}

/// Replaces a policy's definition (what is left out takes its default again, as when it was
/// made). A new schedule starts afresh: the next run is the new schedule's next slot.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: &SaveBackupPolicy,
) -> Result<BackupPolicyRecord> {
    caller.require(Action::ManageBackups)?;
    let existing = get(state, caller, id).await?;
    if existing.source == FROM_CONFIG {
        return Err(PolicyError::Declared);
    }
    ensure_may_target(state, caller, &existing.target).await?;
    let mut policy = definition(input)?;
    policy.target = resolve_target(state, caller.scope(), &policy.target).await?;
    ensure_may_target(state, caller, &policy.target).await?;
    let record = state
        .store
        .update_backup_policy(&existing.id, &policy, caller.now)
        .await?;
    caller
        .audit(
            &state.store,
            "backup_policy_updated",
            &record.name,
            &describe(&record),
        )
        .await;
    let afresh = existing.schedule != record.schedule || existing.enabled != record.enabled;
    reschedule(state, &record, afresh).await;
    Ok(record)
}

/// Deletes a policy and its schedule; the snapshots it made stay, judged from then on by the
/// other policies that cover their device.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManageBackups)?;
    let existing = get(state, caller, id).await?;
    if existing.source == FROM_CONFIG {
        return Err(PolicyError::Declared);
    }
    ensure_may_target(state, caller, &existing.target).await?;
    state.store.delete_backup_policy(&existing.id).await?;
    caller
        .audit(
            &state.store,
            "backup_policy_deleted",
            &existing.name,
            &describe(&existing),
        )
        .await;
    Ok(())
}

/// The presets a policy can start from.
pub fn preset_list() -> Vec<BackupPreset> {
    presets::PRESETS
        .iter()
        .map(|p| BackupPreset {
            name: p.name.to_owned(),
            description: p.description.to_owned(),
            paths: p.paths.iter().map(|s| (*s).to_owned()).collect(),
            excludes: p.all_excludes(),
        })
        .collect()
}

/// A policy as the API shows it.
pub fn view(p: &BackupPolicyRecord) -> BackupPolicy {
    BackupPolicy {
        id: p.id.clone(),
        name: p.name.clone(),
        target: p.target.clone(),
        paths: p.paths.clone(),
        excludes: p.excludes.clone(),
        schedule: p.schedule.clone(),
        keep: p.keep,
        protection_days: u32::try_from((p.protection_ms + DAY_MS - 1) / DAY_MS).unwrap_or(0),
        bandwidth_kib: p.bandwidth_kib.and_then(|k| u64::try_from(k).ok()),
        source: p.source.clone(),
        enabled: p.enabled,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

/// What `keep` means, in words (all zero keeps everything).
pub fn keep_text(keep: &Keep) -> String {
    let parts: Vec<String> = [
        ("last", keep.last),
        ("hourly", keep.hourly),
        ("daily", keep.daily),
        ("weekly", keep.weekly),
        ("monthly", keep.monthly),
        ("yearly", keep.yearly),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(what, n)| format!("{what} {n}"))
    .collect();
    if parts.is_empty() {
        "every snapshot".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The definition `input` gives, checked, with defaults for what it leaves out. Its target
/// is checked for form only: a group or device may still be named by its name (looked up
/// when stored, against the caller's scope). No IO: the configuration file's entries are
/// read through this too, so a bad one is reported with its line.
pub fn definition(input: &SaveBackupPolicy) -> Result<NewBackupPolicy> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("name: 1 to {MAX_NAME} characters")));
    }
    let target = match input.target.as_deref().map(str::trim) {
        None | Some("") => Target::All,
        Some(t) => Target::parse(t).map_err(|e| invalid(format!("target: {e}")))?,
    };
    let preset =
        match input.preset.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(presets::preset(p).ok_or_else(|| {
                invalid(format!("preset: one of {}, not {p:?}", presets::names()))
            })?),
        };
    let paths = match (&input.paths, preset) {
        (Some(given), _) => given.clone(),
        (None, Some(p)) => p.paths.iter().map(|s| (*s).to_owned()).collect(),
        (None, None) => Vec::new(),
    };
    let excludes = match (&input.excludes, preset) {
        (Some(given), _) => given.clone(),
        (None, Some(p)) => p.all_excludes(),
        (None, None) => DEFAULT_EXCLUDES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let schedule_text = input.schedule.as_deref().unwrap_or(DEFAULT_SCHEDULE);
    Schedule::parse(schedule_text).map_err(|e| invalid(format!("schedule: {e}")))?;
    let keep = input.keep.unwrap_or(DEFAULT_KEEP);
    let counts = [
        keep.last,
        keep.hourly,
        keep.daily,
        keep.weekly,
        keep.monthly,
        keep.yearly,
    ];
    if counts.iter().any(|n| *n > MAX_KEEP) {
        return Err(invalid(format!("keep: at most {MAX_KEEP} of each")));
    }
    let days = input
        .protection_days
        .unwrap_or(presets::DEFAULT_PROTECTION_DAYS);
    if !(MIN_PROTECTION_DAYS..=MAX_PROTECTION_DAYS).contains(&days) {
        return Err(invalid(format!(
            "protection_days: {MIN_PROTECTION_DAYS} to {MAX_PROTECTION_DAYS} (no snapshot \
             younger than this is ever forgotten)"
        )));
    }
    let bandwidth_kib = match input.bandwidth_kib {
        None => None,
        Some(k) if (1..=MAX_BANDWIDTH_KIB).contains(&k) => i64::try_from(k).ok(),
        Some(_) => {
            return Err(invalid(format!(
                "bandwidth_kib: 1 to {MAX_BANDWIDTH_KIB} KiB/s; leave it out for no limit"
            )));
        }
    };
    Ok(NewBackupPolicy {
        name: name.to_owned(),
        target: target.as_string(),
        paths: checked_paths(paths)?,
        excludes: checked_excludes(excludes)?,
        // One space between words: the form the policy is shown in.
        schedule: schedule_text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        keep,
        protection_ms: i64::from(days) * DAY_MS,
        bandwidth_kib,
        enabled: input.enabled.unwrap_or(true),
    })
}

fn checked_paths(given: Vec<String>) -> Result<Vec<String>> {
    let mut paths: Vec<String> = Vec::new();
    for p in given {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if !p.starts_with('/') {
            return Err(invalid(format!("paths: {p:?} is not an absolute path")));
        }
        if p.chars().count() > MAX_PATH_CHARS || p.chars().any(char::is_control) {
            return Err(invalid(format!(
                "paths: {:?} is not a path",
                p.chars().take(80).collect::<String>()
            )));
        }
        if p.split('/').any(|part| part == "..") {
            return Err(invalid(format!("paths: {p:?} climbs with \"..\"")));
        }
        if !paths.iter().any(|x| x == p) {
            paths.push(p.to_owned());
        }
    }
    if paths.is_empty() {
        return Err(invalid(format!(
            "paths: give at least one absolute path, or a preset ({})",
            presets::names()
        )));
    }
    if paths.len() > MAX_PATHS {
        return Err(invalid(format!("paths: at most {MAX_PATHS}")));
    }
    Ok(paths)
}

fn checked_excludes(given: Vec<String>) -> Result<Vec<String>> {
    let mut excludes: Vec<String> = Vec::new();
    for g in given {
        let g = g.trim();
        if g.is_empty() {
            continue;
        }
        if g.chars().count() > MAX_PATH_CHARS || g.chars().any(char::is_control) {
            return Err(invalid(format!(
                "excludes: {:?} is not a glob",
                g.chars().take(80).collect::<String>()
            )));
        }
        if g.starts_with('!') {
            return Err(invalid(format!(
                "excludes: {g:?}: write the glob to leave out, without a leading \"!\""
            )));
        }
        if !excludes.iter().any(|x| x == g) {
            excludes.push(g.to_owned());
        }
    }
    if excludes.len() > MAX_EXCLUDES {
        return Err(invalid(format!("excludes: at most {MAX_EXCLUDES}")));
    }
    Ok(excludes)
}

/// The stored target of `target` (`group:NAME` and `device:NAME` become ids), looking names
/// up among what `scope` sees.
pub(super) async fn resolve_target(
    state: &AppState,
    scope: &Scope,
    target: &str,
) -> Result<String> {
    let named = match Target::parse(target).map_err(|e| invalid(format!("target: {e}")))? {
        Target::All => Named::All,
        Target::Tag(t) => Named::Tag(t),
        Target::Group(g) => Named::Group(g),
        Target::Device(d) => Named::Device(d),
    };
    target_of(state, scope, &named).await.map_err(|e| match e {
        MonitoringError::Store(e) => PolicyError::from(e),
        other => invalid(format!("target: {other}")),
    })
}

async fn visible_to(state: &AppState, scope: &Scope, target: &str) -> Result<bool> {
    target_visible(state, scope, target)
        .await
        .map_err(|e| match e {
            MonitoringError::Store(e) => PolicyError::from(e),
            other => PolicyError::Invalid(other.to_string()),
        })
}

/// Policies for every device or a tag are installation-wide: only callers who see every
/// device define them. A group's or device's must be within the caller's scope.
async fn ensure_may_target(state: &AppState, caller: &Caller, target: &str) -> Result<()> {
    let wide = matches!(Target::parse(target), Ok(Target::All | Target::Tag(_)));
    if wide && *caller.scope() != Scope::AllDevices {
        return Err(PolicyError::OutsideScope("every device or a tag"));
    }
    if !visible_to(state, caller.scope(), target).await? {
        return Err(invalid("target: no such device or group"));
    }
    Ok(())
}

/// Brings the policy's schedule in step at once (the scheduler would within a minute);
/// `afresh` drops its runs first, so a new schedule or a re-enabled policy starts from its
/// next slot rather than from a run due long ago. A failure is logged: the scheduler's next
/// pass makes the same change.
async fn reschedule(state: &AppState, policy: &BackupPolicyRecord, afresh: bool) {
    if afresh && let Err(e) = state.store.retain_backup_schedule(&policy.id, &[]).await {
        tracing::warn!(policy = %policy.name, "resetting a backup policy's schedule: {e}");
    }
    if let Err(e) = super::scheduler::sync_policy(state, policy).await {
        tracing::warn!(policy = %policy.name, "scheduling a backup policy: {e}");
    }
}

fn describe(p: &BackupPolicyRecord) -> String {
    format!(
        "{} on {}: {}; keep {}; protected {} days; enabled {}",
        p.schedule,
        p.target,
        p.paths.join(", "),
        keep_text(&p.keep),
        p.protection_ms / DAY_MS,
        p.enabled
    )
}
