//! The backup capability's rules: who may back up, restore and see a password, what a
//! backup or restore job carries, and what the server records when one ends. Handlers
//! (API, console, CLI) call these; none of them talks to the store or storage directly.

use steward_backup::storage::{ObjectKind, ObjectName, ObjectRef, StorageError};
use steward_backup::{ListScope, Listing, ProgressCounter, Repo};
use steward_core::checks::{Membership, Target};
use steward_core::{Action, JobKind, JobState, Timestamp};
use steward_proto::backup::{BackupJob, BackupResult, RepositoryAccess, RestoreJob};
use steward_store::{
    BackupPolicyRecord, BackupSnapshotRecord, DeviceRecord, JobRecord, SnapshotSummary, StoreError,
};

use super::NoStorage;
use super::repositories;
use crate::devices::{self, DeviceError};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("nothing to back up: give paths, or define a backup policy that covers the device")]
    NoPaths,
    #[error("{0}")]
    BadRequest(String),
    #[error("this device has no backups yet")]
    NoRepository,
    #[error("this job does not use a backup repository now")]
    NotAJobWithRepository,
    #[error(transparent)]
    NoStorage(#[from] NoStorage),
    #[error("backup storage: {0}")]
    Storage(#[from] StorageError),
    #[error("backup repository: {0}")]
    Repository(String),
    #[error("{0}")]
    Sealing(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for BackupError {
    fn refusal(&self) -> Refusal {
        match self {
            BackupError::NoPaths | BackupError::BadRequest(_) => Refusal::Invalid,
            BackupError::NoRepository | BackupError::NotAJobWithRepository => Refusal::NotFound,
            BackupError::NoStorage(NoStorage::BadDevice(_)) => Refusal::Invalid,
            BackupError::NoStorage(NoStorage::NotConfigured) => Refusal::Conflict,
            BackupError::Storage(_) | BackupError::Repository(_) | BackupError::Sealing(_) => {
                Refusal::Internal
            }
            BackupError::Device(e) => e.refusal(),
            BackupError::Denied(d) => d.refusal(),
            BackupError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, BackupError>;

/// Queues a backup of device `id` now: of
/// `paths` when given, else of each enabled policy that covers the device. The agent runs
/// it when it next asks for work. Answers the first job queued.
pub async fn run_now(
    state: &AppState,
    caller: &Caller,
    id: &str,
    paths: Vec<String>,
    excludes: Vec<String>,
) -> Result<JobRecord> {
    caller.require(Action::ManageBackups)?;
    let device = devices::find(state, caller, id).await?;
    let paths: Vec<String> = paths
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let jobs = if paths.is_empty() {
        policies_covering(state, &device)
            .await?
            .into_iter()
            .map(|p| policy_job(&p))
            .collect()
    } else {
        if let Some(bad) = paths.iter().find(|p| !p.starts_with('/')) {
            return Err(BackupError::BadRequest(format!(
                "back up absolute paths: {bad:?} is not one"
            )));
        }
        vec![BackupJob {
            policy: None,
            paths,
            excludes,
            bandwidth_kib: None,
        }]
    };
    if jobs.is_empty() {
        return Err(BackupError::NoPaths);
    }
    // The repository (and its password) exists from the first backup queued, so it can be
    // opened and its password shown at once; the agent's first access makes it again where
    // it is missing (`repository_access`), as for a server whose storage was replaced.
    repositories::ensure(state, &device.id).await?;
    let mut queued = Vec::new();
    for job in jobs {
        let record = queue(
            state,
            job_record(
                &device.id,
                JobKind::Backup,
                &job,
                &caller.label(),
                caller.now,
            )?,
        )
        .await?;
        caller
            .audit(
                &state.store,
                "backup_queued",
                &device.id,
                &format!(
                    "job {} on {}: {}",
                    record.id,
                    device.name,
                    job.paths.join(", ")
                ),
            )
            .await;
        queued.push(record);
    }
    queued.into_iter().next().ok_or(BackupError::NoPaths)
}

/// The enabled policies whose target covers `device`.
pub async fn policies_covering(
    state: &AppState,
    device: &DeviceRecord,
) -> Result<Vec<BackupPolicyRecord>> {
    let groups: Vec<String> = device.group_id.iter().cloned().collect();
    let membership = Membership {
        device_id: &device.id,
        groups: &groups,
        tags: &device.tags,
    };
    Ok(state
        .store
        .backup_policies()
        .await?
        .into_iter()
        .filter(|p| p.enabled && Target::parse(&p.target).is_ok_and(|t| t.covers(&membership)))
        .collect())
}

/// What a run of `policy` backs up.
pub(super) fn policy_job(policy: &BackupPolicyRecord) -> BackupJob {
    BackupJob {
        policy: Some(policy.name.clone()),
        paths: policy.paths.clone(),
        excludes: policy.excludes.clone(),
        bandwidth_kib: policy.bandwidth_kib.and_then(|k| u64::try_from(k).ok()),
    }
}

/// The device's live snapshots, newest first.
pub async fn snapshots(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Vec<BackupSnapshotRecord>> {
    caller.require(Action::ViewDevices)?;
    let device = devices::find(state, caller, id).await?;
    Ok(state
        .store
        .scoped(caller.scope())
        .backup_snapshots(&device.id, false)
        .await?)
}

/// The most entries one listing of a snapshot holds, whoever asks: a listing is held whole
/// in memory and answered in one piece.
pub const MAX_LISTED: usize = 100_000;
/// The most a listing holds when the caller does not say.
pub const DEFAULT_LISTED: usize = 10_000;

/// One listing asked of [`listings`]: a snapshot (its id or a unique prefix), a path in it,
/// and how far to go (the limit is held to `1..=`[`MAX_LISTED`]).
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub snapshot: String,
    pub path: String,
    pub scope: ListScope,
}

/// The entries of one of the device's snapshots under `path`, as far as `scope` reaches
/// (see [`listings`]).
pub async fn files(
    state: &AppState,
    caller: &Caller,
    id: &str,
    snapshot: &str,
    path: &str,
    scope: ListScope,
) -> Result<Listing> {
    let asked = ListRequest {
        snapshot: snapshot.to_owned(),
        path: path.to_owned(),
        scope,
    };
    listings(state, caller, id, vec![asked])
        .await?
        .pop()
        .unwrap_or_else(|| Ok(Listing::default()))
}

/// Listings of the device's snapshots, read from the repository on the server with its
/// index loaded once for all of them (in the blocking pool: it decrypts the snapshots'
/// trees). Each listing succeeds or fails on its own: a snapshot may lack a path another has.
pub async fn listings(
    state: &AppState,
    caller: &Caller,
    id: &str,
    asked: Vec<ListRequest>,
) -> Result<Vec<Result<Listing>>> {
    caller.require(Action::ViewDevices)?;
    let device = devices::find(state, caller, id).await?;
    let password = repositories::password(state, &device.id)
        .await?
        .ok_or(BackupError::NoRepository)?;
    let storage = super::storage_for(state, &device.id)?;
    let read = |e: steward_backup::BackupError| match e {
        steward_backup::BackupError::Invalid(m) => BackupError::BadRequest(m),
        steward_backup::BackupError::Repository(m) => BackupError::Repository(m),
    };
    tokio::task::spawn_blocking(move || {
        let indexed = Repo::open(storage, &password, ProgressCounter::new())?.into_indexed()?;
        Ok(asked
            .iter()
            .map(|a| {
                let scope = ListScope {
                    limit: a.scope.limit.clamp(1, MAX_LISTED),
                    ..a.scope
                };
                indexed
                    .ls(&a.snapshot, a.path.trim_matches('/'), scope)
                    .map_err(read)
            })
            .collect())
    })
    .await
    .map_err(|e| BackupError::Repository(e.to_string()))?
    .map_err(read)
}

/// Where a restore puts files.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The device whose snapshot is restored.
    pub source: String,
    pub snapshot: String,
    /// Paths inside the snapshot; empty for all of it.
    pub paths: Vec<String>,
    /// The device to restore on (the source itself, or another).
    pub target_device: String,
    /// The folder there ("/" puts files back where they were).
    pub target_path: String,
}

/// Queues a restore. Restoring to another device hands that device's agent read access to
/// the source's repository for this job alone, so the caller must have both in scope.
pub async fn restore(
    state: &AppState,
    caller: &Caller,
    request: RestoreRequest,
) -> Result<JobRecord> {
    caller.require(Action::ManageBackups)?;
    let source = devices::find(state, caller, &request.source).await?;
    let target = devices::find(state, caller, &request.target_device).await?;
    if !request.snapshot.bytes().all(|b| b.is_ascii_hexdigit()) || request.snapshot.len() < 8 {
        return Err(BackupError::BadRequest(
            "a snapshot is named by its id (at least 8 hex digits)".into(),
        ));
    }
    if !request.target_path.starts_with('/') {
        return Err(BackupError::BadRequest(
            "restore to an absolute folder (\"/\" restores files where they were)".into(),
        ));
    }
    if state.store.backup_repository(&source.id).await?.is_none() {
        return Err(BackupError::NoRepository);
    }
    let job = RestoreJob {
        source_device: source.id.clone(),
        snapshot: request.snapshot.clone(),
        paths: request.paths.clone(),
        target: request.target_path.clone(),
        drill: None,
    };
    let queued = queue(
        state,
        job_record(
            &target.id,
            JobKind::Restore,
            &job,
            &caller.label(),
            caller.now,
        )?,
    )
    .await?;
    let what = if request.paths.is_empty() {
        "everything".to_owned()
    } else {
        request.paths.join(", ")
    };
    caller
        .audit(
            &state.store,
            "restore_queued",
            &target.id,
            &format!(
                "job {}: {what} of snapshot {} of {} to {}:{}",
                queued.id, request.snapshot, source.name, target.name, request.target_path
            ),
        )
        .await;
    Ok(queued)
}

/// A job of this capability for `device_id`, queued, carrying `params`; not stored yet
/// (backups now and restores are stored by [`queue`], scheduled runs with their schedule by
/// `scheduler`).
pub(super) fn job_record(
    device_id: &str,
    kind: JobKind,
    params: &impl serde::Serialize,
    requested_by: &str,
    now: Timestamp,
) -> Result<JobRecord> {
    let mut job = devices::new_job(device_id, kind, requested_by, now);
    job.params =
        serde_json::to_value(params).map_err(|e| BackupError::BadRequest(e.to_string()))?;
    Ok(job)
}

/// Stores a queued job and wakes its device's agent if it is waiting for work.
async fn queue(state: &AppState, job: JobRecord) -> Result<JobRecord> {
    state.store.create_job(&job).await?;
    state.dispatcher.notify(&job.device_id);
    Ok(job)
}

/// The password of a device's repository, for a person who opens it with the standard
/// restic client. It reads every file ever backed up from the device: administrators only,
/// after confirming their password, and audited.
/// Answers the device id, the repository's location and its password.
pub async fn reveal_password(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(String, String, String)> {
    caller.require(Action::RevealBackupPasswords)?;
    caller.require_step_up()?;
    let device = devices::find(state, caller, id).await?;
    let password = repositories::password(state, &device.id)
        .await?
        .ok_or(BackupError::NoRepository)?;
    let location = super::storage_for(state, &device.id)?.location();
    caller
        .audit(
            &state.store,
            "backup_password_revealed",
            &device.id,
            &device.name,
        )
        .await;
    Ok((device.id, location, password))
}

/// The job `job_id` of the agent of `device_id` that is under way, if it is one that uses
/// a repository: a backup (its own) or a restore (its source's).
async fn active_repository_job(
    state: &AppState,
    device_id: &str,
    job_id: &str,
) -> Result<(JobRecord, String)> {
    let job = state
        .store
        .job(job_id)
        .await?
        .filter(|j| j.device_id == device_id);
    let Some(job) = job.filter(|j| matches!(j.state, JobState::Dispatched | JobState::Running))
    else {
        return Err(BackupError::NotAJobWithRepository);
    };
    let repository = match job.kind {
        JobKind::Backup => device_id.to_owned(),
        JobKind::Restore => {
            serde_json::from_value::<RestoreJob>(job.params.clone())
                .map_err(|_| BackupError::NotAJobWithRepository)?
                .source_device
        }
        _ => return Err(BackupError::NotAJobWithRepository),
    };
    Ok((job, repository))
}

/// What an agent running job `job_id` needs to open its repository.
pub async fn repository_access(
    state: &AppState,
    device_id: &str,
    job_id: &str,
) -> Result<RepositoryAccess> {
    let (job, repository) = active_repository_job(state, device_id, job_id).await?;
    let password = if job.kind == JobKind::Backup {
        // A backup's repository is made now if the device has none yet (its first backup).
        repositories::ensure(state, &repository).await?.1
    } else {
        repositories::password(state, &repository)
            .await?
            .ok_or(BackupError::NoRepository)?
    };
    Ok(RepositoryAccess {
        device_id: repository,
        password,
    })
}

/// Whether the agent of `device_id` may read `repository`: its own always; another device's
/// only while it runs a restore from it.
pub async fn may_read(state: &AppState, device_id: &str, repository: &str) -> Result<bool> {
    if device_id == repository {
        return Ok(true);
    }
    // The store's list holds only the device's dispatched or running restores: their
    // parameters say whose repository each reads.
    let restoring = state
        .store
        .active_jobs_of_kind(device_id, JobKind::Restore)
        .await?
        .into_iter()
        .filter_map(|job| serde_json::from_value::<RestoreJob>(job.params).ok())
        .any(|job| job.source_device == repository);
    Ok(restoring)
}

/// A job of this capability ended: a backup's summary is recorded with its snapshot.
/// Then the device's backup alerts are judged again, off the agent's request.
pub async fn job_finished(state: &AppState, job: &JobRecord) {
    if job.kind == JobKind::Restore {
        return super::drills::restore_finished(state, job).await;
    }
    if job.kind != JobKind::Backup {
        return;
    }
    if job.state == JobState::Succeeded
        && let Err(e) = record_backup(state, job).await
    {
        tracing::warn!(device = %job.device_id, job = %job.id, "recording a backup's summary: {e}");
    }
    // A new snapshot may let an old one go.
    super::maintenance::after_backup(state, &job.device_id);
    super::alerts::wake(state);
}

async fn record_backup(state: &AppState, job: &JobRecord) -> Result<()> {
    let result: BackupResult = serde_json::from_str(&job.output)
        .map_err(|e| BackupError::BadRequest(format!("the backup's result: {e}")))?;
    let name = ObjectName::parse(&result.snapshot_id)?;
    let params: BackupJob = serde_json::from_value(job.params.clone()).unwrap_or_default();
    let policy_id = match &params.policy {
        Some(name) => state.store.backup_policy_named(name).await?.map(|p| p.id),
        None => None,
    };
    let summary = SnapshotSummary {
        written_at: Some(Timestamp(result.written_at)),
        policy_id,
        job_id: Some(job.id.clone()),
        files: i64::try_from(result.files).ok(),
        bytes: i64::try_from(result.bytes).ok(),
        added_bytes: i64::try_from(result.added_bytes).ok(),
        stored_bytes: i64::try_from(result.stored_bytes).ok(),
        duration_ms: i64::try_from(result.duration_ms).ok(),
        paths: Some(params.paths),
    };
    if !state
        .store
        .record_snapshot_summary(&job.device_id, name.as_str(), &summary)
        .await?
    {
        // The receipt was not recorded when the object arrived (the database was busy, say).
        // The agent's word is not enough: only a snapshot the storage holds is recorded.
        let storage = super::storage_for(state, &job.device_id)?;
        let object = ObjectRef::named(ObjectKind::Snapshot, name.clone());
        let held = tokio::task::spawn_blocking(move || storage.size(&object))
            .await
            .map_err(|e| BackupError::Repository(e.to_string()))??;
        if held.is_some() {
            state
                .store
                .record_snapshot_received(&job.device_id, name.as_str(), state.now())
                .await?;
            state
                .store
                .record_snapshot_summary(&job.device_id, name.as_str(), &summary)
                .await?;
        }
    }
    Ok(())
}
