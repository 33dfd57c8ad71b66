//! Restore drills: proof that a device's backups restore. A drill checks the repository's
//! structure and reads back part of its data on the server, then has an agent (the
//! device's own, or another chosen one) restore a random sample of files of the newest
//! snapshot into a scratch folder and report each file's SHA-256; the server compares them
//! with its own reading of the repository. Its outcome, time and speed are recorded and
//! alert through the `drill` check. Weekly for every device with backups, or on demand.

use std::sync::Arc;
use std::time::Duration;

use steward_backup::storage::Storage;
use steward_backup::{Digest, EntryKind, ListScope, ProgressCounter, Repo};
use steward_core::backup::drill::{SAMPLE_BYTES, SAMPLE_FILES, sample};
use steward_core::backup::verdict::DRILL_EVERY_MS;
use steward_core::{Action, JobKind, JobState, Scope, Timestamp};
use steward_proto::backup::{RestoreJob, RestoreResult};
use steward_store::{BackupDrillRecord, DrillFinish, DrillOutcome, JobRecord};

use super::repositories;
use super::service::{BackupError, Result};
use crate::devices;
use crate::secrets::new_id;
use crate::service::Caller;
use crate::state::AppState;

/// How much of the repository's pack data a drill reads back on the server.
const READ_PERCENT: f64 = 10.0;
/// How often the server looks for devices due a drill and for drills that never ended.
const SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);

/// Starts a drill of device `id`'s backups, its sample restored by `runner` (the device
/// itself when `None`). Answers the drill as started; it ends when the restore reports.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    id: &str,
    runner: Option<&str>,
) -> Result<BackupDrillRecord> {
    caller.require(Action::ManageBackups)?;
    let device = devices::find(state, caller, id).await?;
    let runner = match runner {
        Some(runner) => devices::find(state, caller, runner).await?,
        None => device.clone(),
    };
    let drill = begin(state, &device.id, &runner.id).await?;
    caller
        .audit(
            &state.store,
            "backup_drill_started",
            &device.id,
            &format!(
                "drill {} of {} restored by {}",
                drill.id, device.name, runner.name
            ),
        )
        .await;
    Ok(drill)
}

/// The device's drills, newest first.
pub async fn list(state: &AppState, caller: &Caller, id: &str) -> Result<Vec<BackupDrillRecord>> {
    caller.require(Action::ViewDevices)?;
    let device = devices::find(state, caller, id).await?;
    Ok(state
        .store
        .scoped(caller.scope())
        .backup_drills(&device.id, 50)
        .await?)
}

async fn begin(state: &AppState, device_id: &str, runner_id: &str) -> Result<BackupDrillRecord> {
    let password = repositories::password(state, device_id)
        .await?
        .ok_or(BackupError::NoRepository)?;
    let id = new_id();
    let started = state.now();
    state
        .store
        .start_backup_drill(&id, device_id, Some(runner_id), started)
        .await?;
    let storage = super::storage_for(state, device_id)?;
    let seed = u64::try_from(started.0).unwrap_or(0);
    let planned = tokio::task::spawn_blocking(move || plan(storage, &password, seed))
        .await
        .map_err(|e| BackupError::Repository(e.to_string()))?;
    let outcome = match planned {
        Err(error) => Some(finish(state, &id, started, Err(error)).await),
        Ok(None) => Some(finish(state, &id, started, Ok((0, 0, 0))).await),
        Ok(Some((snapshot, paths))) => {
            let job = RestoreJob {
                source_device: device_id.to_owned(),
                snapshot,
                paths,
                target: "/".into(),
                drill: Some(id.clone()),
            };
            let mut record =
                devices::new_job(runner_id, JobKind::Restore, "system:drill", state.now());
            record.params =
                serde_json::to_value(&job).map_err(|e| BackupError::BadRequest(e.to_string()))?;
            state.store.create_job(&record).await?;
            state.dispatcher.notify(runner_id);
            None
        }
    };
    if let Some(Err(e)) = outcome {
        tracing::warn!(device = %device_id, drill = %id, "recording a drill: {e}");
    }
    state
        .store
        .scoped(&Scope::AllDevices)
        .backup_drills(device_id, 1)
        .await?
        .into_iter()
        .next()
        .ok_or(BackupError::NoRepository)
}

/// On the server: check the repository, and choose the newest snapshot's sample. `None`
/// when there is nothing to restore yet.
fn plan(
    storage: Arc<dyn Storage>,
    password: &str,
    seed: u64,
) -> std::result::Result<Option<(String, Vec<String>)>, String> {
    let repo =
        Repo::open(storage.clone(), password, ProgressCounter::new()).map_err(|e| e.to_string())?;
    let report = repo
        .check(READ_PERCENT)
        .map_err(|e| format!("checking the repository: {e}"))?;
    if !report.errors.is_empty() {
        return Err(format!(
            "the repository check found {} problem(s): {}",
            report.errors.len(),
            report.errors.join("; ")
        ));
    }
    let Some(newest) = repo.snapshots().map_err(|e| e.to_string())?.pop() else {
        return Ok(None);
    };
    let indexed = repo.into_indexed().map_err(|e| e.to_string())?;
    let files: Vec<(String, u64)> = indexed
        .ls(&newest.id, "", ListScope::UNBOUNDED)
        .map_err(|e| e.to_string())?
        .entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| (e.path, e.size))
        .collect();
    let chosen = sample(&files, SAMPLE_FILES, SAMPLE_BYTES, seed);
    Ok((!chosen.is_empty()).then_some((newest.id, chosen)))
}

/// A drill's restore ended (`job` is the `restore` job carrying its id): compare what the
/// agent restored with the server's own reading of the repository, and record the outcome.
pub async fn restore_finished(state: &AppState, job: &JobRecord) {
    let Ok(params) = serde_json::from_value::<RestoreJob>(job.params.clone()) else {
        return;
    };
    let Some(drill_id) = params.drill.clone() else {
        return;
    };
    let started = job.created_at;
    let verdict = match job.state {
        JobState::Succeeded => compare(state, &params, &job.output).await,
        _ => Err(format!(
            "the restore on the chosen device did not succeed ({}): {}",
            job.state.as_str(),
            job.message
        )),
    };
    if let Err(e) = finish(state, &drill_id, started, verdict).await {
        tracing::warn!(drill = %drill_id, "recording a drill's outcome: {e}");
    }
}

/// `Ok((files, bytes, duration_ms))` when every restored file matches the repository.
async fn compare(
    state: &AppState,
    params: &RestoreJob,
    output: &str,
) -> std::result::Result<(u64, u64, u64), String> {
    let result: RestoreResult =
        serde_json::from_str(output).map_err(|e| format!("the restore's report: {e}"))?;
    let password = repositories::password(state, &params.source_device)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the repository is gone")?;
    let storage = super::storage_for(state, &params.source_device).map_err(|e| e.to_string())?;
    let (snapshot, paths) = (params.snapshot.clone(), params.paths.clone());
    let expected: Vec<(String, Digest)> = tokio::task::spawn_blocking(move || {
        let indexed = Repo::open(storage, &password, ProgressCounter::new())?.into_indexed()?;
        paths
            .iter()
            .map(|p| {
                Ok((
                    p.trim_start_matches('/').to_owned(),
                    indexed.digest(&snapshot, p.trim_start_matches('/'))?,
                ))
            })
            .collect::<std::result::Result<Vec<_>, steward_backup::BackupError>>()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("reading the sample from the repository: {e}"))?;
    let mut differ = Vec::new();
    for (path, digest) in &expected {
        let restored = result.checked.iter().find(|f| &f.path == path);
        if restored.is_none_or(|f| f.size != digest.size || f.sha256 != digest.sha256) {
            differ.push(path.clone());
        }
    }
    if !differ.is_empty() {
        return Err(format!(
            "{} of {} restored files differ from the backup: {}",
            differ.len(),
            expected.len(),
            differ
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok((expected.len() as u64, result.bytes, result.duration_ms))
}

async fn finish(
    state: &AppState,
    id: &str,
    started: Timestamp,
    verdict: std::result::Result<(u64, u64, u64), String>,
) -> std::result::Result<BackupDrillRecord, steward_store::StoreError> {
    let now = state.now();
    let (passed, files, bytes, duration_ms, error) = match verdict {
        Ok((files, bytes, ms)) => (true, files, bytes, ms, None),
        Err(why) => (
            false,
            0,
            0,
            u64::try_from(now.since(started)).unwrap_or(0),
            Some(why),
        ),
    };
    let record = state
        .store
        .finish_backup_drill(
            id,
            &DrillFinish {
                finished_at: now,
                passed,
                files_checked: i64::try_from(files).unwrap_or(i64::MAX),
                bytes_checked: i64::try_from(bytes).unwrap_or(i64::MAX),
                duration_ms: i64::try_from(duration_ms).unwrap_or(i64::MAX),
                error,
            },
        )
        .await?;
    // The drill alert follows at once, off the caller's request.
    super::alerts::wake(state);
    Ok(record)
}

/// Starts the drill sweep: weekly drills for every device with backups, and drills whose
/// restore never came back closed as failed.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            if let Err(e) = sweep(&state).await {
                tracing::warn!("backups: the drill sweep failed: {e}");
            }
        }
    })
}

pub async fn sweep(state: &AppState) -> Result<()> {
    let now = state.now();
    // A restore job lives 6 hours at most; a drill older than that will not hear back.
    let deadline = JobKind::Restore.deadline_ms() + 3_600_000;
    for stale in state
        .store
        .backup_drills_running_since(Timestamp(now.0 - deadline))
        .await?
    {
        let _ = finish(
            state,
            &stale.id,
            stale.started_at,
            Err("the restore did not report back in time (was the device offline?)".into()),
        )
        .await;
    }
    for device in state
        .store
        .scoped(&Scope::AllDevices)
        .backup_overview()
        .await?
    {
        let due = device.storage.is_some()
            && device.last_received_at.is_some()
            && device.last_drill_outcome != Some(DrillOutcome::Running)
            && device
                .last_drill_finished_at
                .is_none_or(|at| now.since(at) >= DRILL_EVERY_MS);
        if due && let Err(e) = begin(state, &device.device_id, &device.device_id).await {
            tracing::warn!(device = %device.device_id, "backups: starting a weekly drill: {e}");
        }
    }
    Ok(())
}
