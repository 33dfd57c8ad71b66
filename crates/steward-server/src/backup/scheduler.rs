//! Runs backup policies: keeps the schedule (one row per policy and device it covers) in
//! step with the policies and the fleet, and queues each run's backup job when it is due.
//!
//! Several servers may share one database: a due run is claimed with a lease
//! (`Store::claim_backups_due`) and its job is queued in the transaction that moves the
//! schedule on, only if the run is still due as claimed (`Store::record_backup_queued`), so a
//! run is queued once however the servers' passes overlap. A server that dies holding claims
//! leaves them to lapse; another queues those runs a lease later.
//!
//! Decisions:
//! - a policy's first run on a device is its schedule's next slot after the device came
//!   under it (or after the policy was made, or its schedule changed);
//! - after a run is queued the next is the first slot after *now*, so slots missed while no
//!   server ran are skipped, not queued back to back;
//! - a slot is skipped while the policy's previous backup of the device has not ended (a
//!   device that is off keeps one backup waiting, not a pile);
//! - a revoked device is not scheduled; scheduled runs are not audited one by one (each job
//!   names its policy as who asked for it).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use steward_core::backup::schedule::Schedule;
use steward_core::checks::{Membership, Target};
use steward_core::{JobKind, Scope, Timestamp};
use steward_proto::backup::BackupJob;
use steward_store::{BackupDue, BackupPolicyRecord, DeviceMembership, StoreError};

use super::repositories;
use super::service::{self, BackupError};
use crate::state::AppState;

/// How often due runs are looked for.
const TICK: Duration = Duration::from_secs(5);
/// How often the schedule is brought in step with the fleet (devices enrolled, revoked,
/// moved between groups, tagged). A policy made or changed is brought in step at once.
const SYNC_EVERY: Duration = Duration::from_secs(60);
/// How long a claimed run is this server's: far longer than queueing a job takes.
const LEASE_MS: i64 = 120_000;
/// Runs claimed at once.
const BATCH: u32 = 100;
/// How many of a device's latest jobs are looked through for a backup still under way.
const RECENT_JOBS: u64 = 100;

/// Starts the task; it runs until aborted. A server with no backups directory runs no
/// policies (it could not keep what they back up).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !super::storage::configured(&state) {
            tracing::info!("backups: no backup storage, so backup policies are not run here");
            return;
        }
        let mut synced: Option<Instant> = None;
        loop {
            if synced.is_none_or(|at| at.elapsed() >= SYNC_EVERY) {
                match sync_all(&state).await {
                    Ok(()) => synced = Some(Instant::now()),
                    Err(e) => tracing::warn!("backups: bringing the schedule in step: {e}"),
                }
            }
            if let Err(e) = queue_due(&state).await {
                tracing::warn!("backups: queueing due backups: {e}");
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

/// One pass as the task makes it: the schedule brought in step, then the due runs queued.
/// Answers how many jobs were queued.
pub async fn run_once(state: &AppState) -> Result<usize, StoreError> {
    sync_all(state).await?;
    queue_due(state).await
}

/// Brings every policy's schedule in step with the devices it covers.
pub async fn sync_all(state: &AppState) -> Result<(), StoreError> {
    let devices = state.store.device_memberships().await?;
    for policy in state.store.backup_policies().await? {
        sync_with(state, &policy, &devices).await?;
    }
    Ok(())
}

/// Brings one policy's schedule in step.
pub async fn sync_policy(state: &AppState, policy: &BackupPolicyRecord) -> Result<(), StoreError> {
    let devices = state.store.device_memberships().await?;
    sync_with(state, policy, &devices).await
}

/// Tracks the policy on each device it covers (not revoked) that it is not tracked on yet,
/// first due at the schedule's next slot, and stops tracking it elsewhere. A disabled
/// policy (or one whose text no longer reads) is tracked nowhere.
async fn sync_with(
    state: &AppState,
    policy: &BackupPolicyRecord,
    devices: &[DeviceMembership],
) -> Result<(), StoreError> {
    let now = state.now();
    let rules = (policy.enabled)
        .then(|| {
            Target::parse(&policy.target)
                .ok()
                .zip(Schedule::parse(&policy.schedule).ok())
        })
        .flatten();
    let covered: Vec<&DeviceMembership> = match &rules {
        Some((target, _)) => devices
            .iter()
            .filter(|d| {
                let groups: Vec<String> = d.group_id.iter().cloned().collect();
                target.covers(&Membership {
                    device_id: &d.device_id,
                    groups: &groups,
                    tags: &d.tags,
                })
            })
            .collect(),
        None => Vec::new(),
    };
    let tracked = state.store.backup_schedule(&policy.id).await?;
    let tracked_ids: HashSet<&str> = tracked.iter().map(|t| t.device_id.as_str()).collect();
    let covered_ids: HashSet<&str> = covered.iter().map(|d| d.device_id.as_str()).collect();
    if let Some((_, schedule)) = &rules {
        let first = schedule.next_after(now);
        let new: Vec<(String, Timestamp)> = covered
            .iter()
            .filter(|d| !tracked_ids.contains(d.device_id.as_str()))
            .map(|d| (d.device_id.clone(), first))
            .collect();
        match state.store.track_backups(&policy.id, &new).await {
            // The policy (or a device) was deleted meanwhile: the next pass sees it so.
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    if tracked_ids.iter().any(|id| !covered_ids.contains(id)) {
        let keep: Vec<String> = covered_ids.iter().map(|s| (*s).to_owned()).collect();
        state
            .store
            .retain_backup_schedule(&policy.id, &keep)
            .await?;
    }
    Ok(())
}

/// Claims the runs due now and queues their jobs; answers how many were queued. A run that
/// fails to queue is left claimed: its lease lapses and a later pass tries again.
pub async fn queue_due(state: &AppState) -> Result<usize, StoreError> {
    let now = state.now();
    let mut queued = 0;
    loop {
        let claimed = state
            .store
            .claim_backups_due(now, now.plus_millis(LEASE_MS), BATCH)
            .await?;
        for run in &claimed {
            match queue_run(state, run, now).await {
                Ok(true) => queued += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    policy = %run.policy_id, device = %run.device_id,
                    "backups: queueing a scheduled backup: {e}; trying again in {} s",
                    LEASE_MS / 1000
                ),
            }
        }
        if claimed.len() < BATCH as usize {
            return Ok(queued);
        }
    }
}

/// Queues one claimed run's job; `false` when nothing was queued (the run was skipped, or
/// another server queued it).
async fn queue_run(state: &AppState, run: &BackupDue, now: Timestamp) -> Result<bool, BackupError> {
    let Some(policy) = state.store.backup_policy(&run.policy_id).await? else {
        return Ok(false); // Deleted since claimed; its schedule went with it.
    };
    let schedule =
        Schedule::parse(&policy.schedule).map_err(|e| BackupError::BadRequest(e.to_string()))?;
    let next = schedule.next_after(Timestamp(now.0.max(run.due_at.0)));
    let device = state
        .store
        .scoped(&Scope::AllDevices)
        .device(&run.device_id)
        .await?;
    if device.as_ref().is_none_or(|d| d.revoked_at.is_some()) {
        // The next pass of `sync_all` stops tracking it.
        return Ok(false);
    }
    let job = service::policy_job(&policy);
    if still_running(state, &run.device_id, &job).await? {
        tracing::info!(
            policy = %policy.name, device = %run.device_id,
            "backups: the last scheduled backup has not ended; this slot is skipped"
        );
        state
            .store
            .set_backup_due(&run.policy_id, &run.device_id, next)
            .await?;
        return Ok(false);
    }
    repositories::ensure(state, &run.device_id).await?;
    let record = service::job_record(
        &run.device_id,
        JobKind::Backup,
        &job,
        &format!("policy:{}", policy.name),
        now,
    )?;
    let queued = state.store.record_backup_queued(run, &record, next).await?;
    if queued {
        state.dispatcher.notify(&run.device_id);
    }
    Ok(queued)
}

/// Whether a backup job of the same policy is still queued or under way on the device.
async fn still_running(
    state: &AppState,
    device_id: &str,
    job: &BackupJob,
) -> Result<bool, StoreError> {
    let recent = state
        .store
        .scoped(&Scope::AllDevices)
        .jobs(device_id, RECENT_JOBS)
        .await?;
    Ok(recent.iter().any(|j| {
        j.kind == JobKind::Backup
            && !j.state.is_final()
            && serde_json::from_value::<BackupJob>(j.params.clone())
                .is_ok_and(|p| p.policy == job.policy)
    }))
}
