//! Sending a batch and reading its progress.

use std::collections::HashMap;

use steward_core::checks::{Membership, Target};
use steward_core::job::agent_runs;
use steward_core::{Action, JobKind, JobState, Timestamp};
use steward_proto::scripts::{Batch, BatchDetail, BatchJob, BatchProgress, Skipped};
use steward_store::{BatchRecord, DeviceMembership, JobRecord, StoreError};

use crate::secrets::new_id;
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{0}")]
    Invalid(String),
    #[error("no batch {0:?}")]
    NotFound(String),
    /// The target names devices, none of which can take the job.
    #[error("{target} names {count} device(s), none of which can take this job: {why}")]
    NoneEligible {
        target: String,
        count: usize,
        why: String,
    },
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for BatchError {
    fn refusal(&self) -> Refusal {
        match self {
            BatchError::Invalid(_) | BatchError::NoneEligible { .. } => Refusal::Invalid,
            BatchError::NotFound(_) => Refusal::NotFound,
            BatchError::Denied(d) => d.refusal(),
            BatchError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, BatchError>;

/// What a capability says of one device before its job is made: it may take the job, or
/// why it may not.
pub enum Eligibility {
    Yes,
    No(String),
}

/// A job to send to every device a target names.
pub struct Fanout<'a> {
    pub kind: JobKind,
    pub target: &'a str,
    /// What it does, for people (`restart-nginx v3`).
    pub label: String,
    /// When every job of the batch expires if it has not finished.
    pub deadline_at: Timestamp,
    /// Most jobs one batch may hold (their parameters are built and stored at once).
    pub max_jobs: usize,
}

/// A device as a capability sees it when deciding and building its job.
pub struct Candidate<'a> {
    pub device: &'a DeviceMembership,
    /// Whether its agent said its own configuration allows scripts.
    pub scripts_allowed: bool,
}

/// Sends `fanout` to the devices its target names within the caller's scope. `eligible`
/// decides per device (beyond "its agent runs this kind", checked here); `params` builds
/// each device's job parameters from the new job's id. Devices that cannot take the job are
/// listed in the answer, not sent it; when none can, nothing is stored and the error says
/// why. The caller checks the capability's own permission first.
pub async fn send(
    state: &AppState,
    caller: &Caller,
    fanout: Fanout<'_>,
    eligible: impl Fn(&Candidate<'_>) -> Eligibility,
    mut params: impl FnMut(&str, &DeviceMembership) -> serde_json::Value,
) -> Result<Batch> {
    let target = Target::parse(fanout.target).map_err(|e| BatchError::Invalid(e.to_string()))?;
    let devices: Vec<DeviceMembership> = state
        .store
        .device_memberships()
        .await?
        .into_iter()
        .filter(|d| caller.scope().allows(d.group_id.as_deref()))
        .filter(|d| {
            target.covers(&Membership {
                device_id: &d.device_id,
                groups: d.group_id.as_slice(),
                tags: &d.tags,
            })
        })
        .collect();
    if devices.is_empty() {
        return Err(BatchError::Invalid(format!(
            "{} names no device you can reach",
            fanout.target
        )));
    }
    let capabilities = state.store.agent_capabilities().await?;
    let mut jobs = Vec::with_capacity(devices.len());
    let mut skipped = Vec::new();
    for device in &devices {
        let (kinds, scripts_allowed) = capabilities
            .get(&device.device_id)
            .cloned()
            .unwrap_or((None, false));
        let candidate = Candidate {
            device,
            scripts_allowed,
        };
        let verdict = if !agent_runs(fanout.kind, kinds.as_deref()) {
            Eligibility::No(format!(
                "its agent does not run {} jobs (update the agent)",
                fanout.kind.as_str()
            ))
        } else {
            eligible(&candidate)
        };
        match verdict {
            Eligibility::No(reason) => skipped.push(Skipped {
                device_id: device.device_id.clone(),
                device_name: device.name.clone(),
                reason,
            }),
            Eligibility::Yes => {
                let mut job = crate::devices::new_job(
                    &device.device_id,
                    fanout.kind,
                    &caller.label(),
                    caller.now,
                );
                job.deadline_at = fanout.deadline_at;
                job.params = params(&job.id, device);
                jobs.push(job);
            }
        }
    }
    if jobs.len() > fanout.max_jobs {
        return Err(BatchError::Invalid(format!(
            "{} names {} devices that can take this job; at most {} at once for it: choose a \
             group or a tag",
            fanout.target,
            jobs.len(),
            fanout.max_jobs
        )));
    }
    if jobs.is_empty() {
        let why = skipped
            .first()
            .map(|s| s.reason.clone())
            .unwrap_or_default();
        return Err(BatchError::NoneEligible {
            target: fanout.target.to_owned(),
            count: devices.len(),
            why,
        });
    }
    let record = BatchRecord {
        id: new_id(),
        kind: fanout.kind.as_str().to_owned(),
        target: fanout.target.to_owned(),
        label: fanout.label,
        requested_by: caller.label(),
        created_at: caller.now,
        total: jobs.len() as i64,
        skipped: serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".into()),
    };
    state.store.create_batch(&record, &jobs).await?;
    for job in &jobs {
        state.dispatcher.notify(&job.device_id);
    }
    let mut progress = BatchProgress {
        total: jobs.len() as u32,
        ..BatchProgress::default()
    };
    let last_seen: HashMap<&str, Option<Timestamp>> = devices
        .iter()
        .map(|d| (d.device_id.as_str(), d.last_seen_at))
        .collect();
    for job in &jobs {
        count(
            &mut progress,
            job.state,
            offline(
                state,
                last_seen.get(job.device_id.as_str()).copied().flatten(),
                caller.now,
            ),
        );
    }
    Ok(to_batch(record, progress))
}

/// `12 devices: 9 succeeded, 1 failed, 2 offline`.
pub fn progress_line(b: &Batch) -> String {
    let p = &b.progress;
    let parts: Vec<String> = [
        (p.succeeded, "succeeded"),
        (p.failed, "failed"),
        (p.running, "running"),
        (p.queued, "queued"),
        (p.offline, "offline"),
        (p.expired, "expired"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    format!(
        "{} device{}: {}",
        p.total,
        if p.total == 1 { "" } else { "s" },
        if parts.is_empty() {
            "nothing yet".to_owned()
        } else {
            parts.join(", ")
        }
    )
}

/// Whether a device last seen at `last_seen` counts as offline at `now`: not seen within
/// two and a half check-in intervals (the rule the device list uses for "online").
fn offline(state: &AppState, last_seen: Option<Timestamp>, now: Timestamp) -> bool {
    let grace = state.config.checkin_interval_secs as i64
        * steward_core::device::ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC;
    last_seen.is_none_or(|seen| seen.plus_millis(grace) < now)
}

fn count(progress: &mut BatchProgress, state: JobState, offline: bool) {
    match state {
        JobState::Queued if offline => progress.offline += 1,
        JobState::Queued => progress.queued += 1,
        JobState::Dispatched | JobState::Running => progress.running += 1,
        JobState::Succeeded => progress.succeeded += 1,
        JobState::Failed | JobState::Unsupported => progress.failed += 1,
        JobState::Expired => progress.expired += 1,
    }
}

fn to_batch(record: BatchRecord, progress: BatchProgress) -> Batch {
    Batch {
        skipped: serde_json::from_str(&record.skipped).unwrap_or_default(),
        id: record.id,
        kind: record.kind,
        target: record.target,
        label: record.label,
        requested_by: record.requested_by,
        created_at: record.created_at,
        progress,
    }
}

/// The newest batches, with their progress. A caller who sees every device gets each
/// batch's counts from one grouped read; a caller limited to some groups sees only the
/// batches with jobs on their devices, counted over those jobs alone (their skipped list
/// too).
pub async fn list(state: &AppState, caller: &Caller, limit: u32) -> Result<Vec<Batch>> {
    caller.require(Action::ViewDevices)?;
    let records = state.store.batches(i64::from(limit.clamp(1, 500))).await?;
    if *caller.scope() != steward_core::Scope::AllDevices {
        let devices = visible_devices(state, caller).await?;
        let mut visible = Vec::new();
        for record in records {
            match detail_of(state, caller, record, &devices).await {
                Ok(d) => visible.push(d.batch),
                Err(BatchError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(visible);
    }
    let ids: Vec<String> = records.iter().map(|b| b.id.clone()).collect();
    let mut counts: HashMap<String, BatchProgress> = HashMap::new();
    for (batch, job_state, n) in state.store.batch_progress(&ids).await? {
        let p = counts.entry(batch).or_default();
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        p.total += n;
        // Offline is told apart only in a batch's detail, where devices are read.
        for _ in 0..n {
            count(p, job_state, false);
        }
    }
    Ok(records
        .into_iter()
        .map(|r| {
            let progress = counts.remove(&r.id).unwrap_or_default();
            to_batch(r, progress)
        })
        .collect())
}

/// One batch and each of its jobs on a device within the caller's scope.
pub async fn detail(state: &AppState, caller: &Caller, id: &str) -> Result<BatchDetail> {
    caller.require(Action::ViewDevices)?;
    let record = state
        .store
        .batch(id)
        .await?
        .ok_or_else(|| BatchError::NotFound(id.to_owned()))?;
    let devices = visible_devices(state, caller).await?;
    detail_of(state, caller, record, &devices).await
}

/// The devices the caller sees, by id.
async fn visible_devices(
    state: &AppState,
    caller: &Caller,
) -> Result<HashMap<String, DeviceMembership>> {
    Ok(state
        .store
        .device_memberships()
        .await?
        .into_iter()
        .filter(|d| caller.scope().allows(d.group_id.as_deref()))
        .map(|d| (d.device_id.clone(), d))
        .collect())
}

/// A batch's jobs on `devices` (those the caller sees), and its progress over them.
async fn detail_of(
    state: &AppState,
    caller: &Caller,
    record: BatchRecord,
    devices: &HashMap<String, DeviceMembership>,
) -> Result<BatchDetail> {
    let mut progress = BatchProgress::default();
    let mut jobs = Vec::new();
    for job in state.store.batch_jobs(&record.id).await? {
        let Some(device) = devices.get(&job.device_id) else {
            continue;
        };
        let is_offline = offline(state, device.last_seen_at, caller.now);
        progress.total += 1;
        count(&mut progress, job.state, is_offline);
        jobs.push(batch_job(job, device, is_offline));
    }
    // A batch none of whose jobs the caller may see is not theirs to see.
    if jobs.is_empty() && *caller.scope() != steward_core::Scope::AllDevices {
        return Err(BatchError::NotFound(record.id));
    }
    let mut batch = to_batch(record, progress);
    // Devices the target named but the caller does not see are not named to them.
    batch.skipped.retain(|s| devices.contains_key(&s.device_id));
    Ok(BatchDetail { batch, jobs })
}

fn batch_job(job: JobRecord, device: &DeviceMembership, offline: bool) -> BatchJob {
    let state = if job.state == JobState::Queued && offline {
        "offline".to_owned()
    } else {
        job.state.as_str().to_owned()
    };
    BatchJob {
        job_id: job.id,
        device_id: job.device_id,
        device_name: device.name.clone(),
        state,
        message: job.message,
        updated_at: job.updated_at,
    }
}
