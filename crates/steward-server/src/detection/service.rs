//! The detection service: reads of detections (within the caller's scope), a person's
//! decisions (each a status change and, when the device must act, a `detection_response`
//! job), detection policies, and fire drills. Audited. The API, the console and the CLI
//! call these.

use std::collections::HashMap;

use steward_core::checks::Target;
use steward_core::detection::DetectionPolicy;
use steward_core::detection::record::{self, Decision, DecisionError, Standing, Status};
use steward_core::{Action, JobKind};
use steward_proto::detection::{
    DEFAULT_DRILL_FILES, DecisionOut, DetectionDetail, DetectionPolicyIo, DetectionPolicyOut,
    DetectionResponseParams, DetectionSummary, DrillOut, DrillParams, DrillRequest,
    FilesRestoreQueued, MAX_DRILL_FILES, MIN_DRILL_FILES,
};
use steward_store::{DetectionFilter, DetectionRecord, DeviceMembership, DrillRecord, StoreError};

use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum DetectionError {
    #[error("{0}")]
    Invalid(String),
    #[error("no detection {0:?} within your scope")]
    NoDetection(String),
    #[error("no device {0:?} within your scope")]
    NoDevice(String),
    #[error("no detection policy for {0:?}")]
    NoPolicy(String),
    #[error(transparent)]
    Decision(#[from] DecisionError),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Backup(#[from] crate::backup::service::BackupError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for DetectionError {
    fn refusal(&self) -> Refusal {
        match self {
            DetectionError::Invalid(_) => Refusal::Invalid,
            DetectionError::NoDetection(_)
            | DetectionError::NoDevice(_)
            | DetectionError::NoPolicy(_) => Refusal::NotFound,
            DetectionError::Decision(_) | DetectionError::Conflict(_) => Refusal::Conflict,
            DetectionError::Backup(e) => e.refusal(),
            DetectionError::Denied(d) => d.refusal(),
            DetectionError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, DetectionError>;

/// Most detections one list answers.
const LIST_LIMIT: u32 = 500;

/// The caller's devices, by id.
async fn devices_in_scope(
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

/// A device by id or name, within the caller's scope.
pub async fn find_device(
    state: &AppState,
    caller: &Caller,
    id_or_name: &str,
) -> Result<DeviceMembership> {
    let devices = devices_in_scope(state, caller).await?;
    devices
        .get(id_or_name)
        .cloned()
        .or_else(|| devices.values().find(|d| d.name == id_or_name).cloned())
        .ok_or_else(|| DetectionError::NoDevice(id_or_name.to_owned()))
}

fn summary_of(d: &DetectionRecord) -> DetectionSummary {
    DetectionSummary {
        id: d.id.clone(),
        device_id: d.device_id.clone(),
        device_name: d.device_name.clone(),
        kind: d.kind,
        title: d.kind.describe().to_owned(),
        status: d.status,
        detected_at: d.detected_at,
        summary: d.summary.clone(),
        exe: d.process.as_ref().map(|p| p.exe.clone()),
        stopped: d.stopped,
        isolated: d.isolated,
        drill: d.drill_job_id.clone(),
    }
}

/// Detections within the caller's scope, the open ones first, then the newest; a device's
/// alone (by id or name) and of one status when asked.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    device: Option<&str>,
    status: Option<&str>,
) -> Result<Vec<DetectionSummary>> {
    caller.require(Action::ViewDevices)?;
    let status = status
        .filter(|s| !s.is_empty())
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                DetectionError::Invalid(format!(
                    "status: open, confirmed, released or false_alarm, not {s:?}"
                ))
            })
        })
        .transpose()?;
    let device_id = match device.filter(|d| !d.is_empty()) {
        Some(d) => Some(find_device(state, caller, d).await?.device_id),
        None => None,
    };
    let devices = devices_in_scope(state, caller).await?;
    Ok(state
        .store
        .detections(&DetectionFilter {
            device_id,
            status,
            limit: LIST_LIMIT,
        })
        .await?
        .iter()
        .filter(|d| devices.contains_key(&d.device_id))
        .map(summary_of)
        .collect())
}

/// One detection with everything known of it.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<DetectionDetail> {
    caller.require(Action::ViewDevices)?;
    let full = state
        .store
        .detection(id)
        .await?
        .ok_or_else(|| DetectionError::NoDetection(id.to_owned()))?;
    let devices = devices_in_scope(state, caller).await?;
    if !devices.contains_key(&full.record.device_id) {
        return Err(DetectionError::NoDetection(id.to_owned()));
    }
    let paths: Vec<String> = full.files.iter().map(|f| f.path.clone()).collect();
    let backup = super::alerts::last_backup_of(state, &full.record.device_id, &paths).await?;
    let r = full.record;
    Ok(DetectionDetail {
        summary: summary_of(&r),
        local_id: r.local_id,
        recorded_at: r.recorded_at,
        process: r.process,
        ancestors: r.ancestors,
        signals: r.signals,
        files: full.files,
        responses: full.responses,
        last_backup: backup.as_ref().map(|(at, _)| *at),
        last_backup_snapshot: backup.map(|(_, id)| id),
        decided_by: r.decided_by,
        decided_at: r.decided_at,
    })
}

/// A person's decision: the detection's status moves as the core's rules say, and when the
/// device must act (kill or continue the stopped tree, isolate, lift) a
/// `detection_response` job is queued with the detection's processes.
pub async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &str,
    decision: Decision,
) -> Result<DecisionOut> {
    caller.require(Action::RespondToDetections)?;
    let current = get(state, caller, id).await?;
    let s = &current.summary;
    let outcome = record::decide(
        Standing {
            status: s.status,
            has_process: current.process.is_some(),
            stopped: s.stopped,
            isolated: s.isolated,
        },
        decision,
    )?;
    // The response the decision orders, queued with the decision in one transaction.
    let job = match outcome.response {
        Some(action) => {
            // The offending process: the agent acts on the tree it stopped under it.
            let pids: Vec<u32> = current.process.iter().map(|p| p.pid).collect();
            let params = DetectionResponseParams {
                detection: current.local_id.clone(),
                action,
                pids,
            };
            let mut job = crate::devices::new_job(
                &s.device_id,
                JobKind::DetectionResponse,
                &caller.label(),
                caller.now,
            );
            job.params = serde_json::to_value(&params)
                .map_err(|e| DetectionError::Invalid(e.to_string()))?;
            Some(job)
        }
        None => None,
    };
    if outcome.status != s.status || job.is_some() {
        state
            .store
            .decide_detection(
                id,
                s.status,
                outcome.status,
                &caller.label(),
                caller.now,
                job.as_ref(),
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => DetectionError::Conflict(m),
                e => e.into(),
            })?;
    }
    if job.is_some() {
        state.dispatcher.notify(&s.device_id);
    }
    let job_id = job.map(|j| j.id);
    caller
        .audit(
            &state.store,
            "detection_decided",
            id,
            &format!(
                "{} on {} ({}){}",
                decision.as_str(),
                s.device_name,
                s.title,
                job_id
                    .as_deref()
                    .map(|j| format!("; job {j}"))
                    .unwrap_or_default()
            ),
        )
        .await;
    if outcome.status != s.status {
        super::alerts::judge(state).await;
    }
    Ok(DecisionOut {
        status: outcome.status,
        job_id,
    })
}

/// Restores exactly the files a detection touched from the newest backup that holds them,
/// where they were (a `restore` job through the backup service, which checks the caller
/// may restore and audits the restore itself).
pub async fn restore_files(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<FilesRestoreQueued> {
    caller.require(Action::ManageBackups)?;
    let d = get(state, caller, id).await?;
    let Some(snapshot) = d.last_backup_snapshot.clone() else {
        return Err(DetectionError::Invalid(
            "no backup of these files is known: nothing to restore them from".into(),
        ));
    };
    let mut paths: Vec<String> = Vec::new();
    for f in &d.files {
        if !paths.contains(&f.path) {
            paths.push(f.path.clone());
        }
    }
    if paths.is_empty() {
        return Err(DetectionError::Invalid(
            "this detection names no files to restore".into(),
        ));
    }
    let job = crate::backup::service::restore(
        state,
        caller,
        crate::backup::service::RestoreRequest {
            source: d.summary.device_id.clone(),
            snapshot: snapshot.clone(),
            paths: paths.clone(),
            target_device: d.summary.device_id.clone(),
            target_path: "/".into(),
        },
    )
    .await?;
    caller
        .audit(
            &state.store,
            "detection_files_restore_queued",
            id,
            &format!(
                "{} files of snapshot {snapshot} on {} (job {})",
                paths.len(),
                d.summary.device_name,
                job.id
            ),
        )
        .await;
    Ok(FilesRestoreQueued {
        job_id: job.id,
        snapshot,
        paths,
    })
}

/// Whether a caller limited to some groups may see and change a policy on `target`: only
/// one of their groups or devices. `all` and tags reach beyond any scope.
fn target_within(
    caller: &Caller,
    target: &Target,
    devices: &HashMap<String, DeviceMembership>,
) -> bool {
    match (caller.scope(), target) {
        (steward_core::Scope::AllDevices, _) => true,
        (scope, Target::Group(g)) => scope.allows(Some(g)),
        (_, Target::Device(id)) => devices.contains_key(id),
        (_, Target::All | Target::Tag(_)) => false,
    }
}

fn policy_out(p: &super::policies::StoredPolicy) -> DetectionPolicyOut {
    DetectionPolicyOut {
        target: p.record.target.clone(),
        policy: p.policy.clone(),
        responses: p.policy.describe_responses(),
        updated_at: p.record.updated_at,
        updated_by: p.record.updated_by.clone(),
    }
}

/// The policies the caller may see, by target.
pub async fn policies(state: &AppState, caller: &Caller) -> Result<Vec<DetectionPolicyOut>> {
    caller.require(Action::ViewDevices)?;
    let devices = devices_in_scope(state, caller).await?;
    Ok(super::policies::stored(state)
        .await?
        .iter()
        .filter(|p| target_within(caller, &p.target, &devices))
        .map(policy_out)
        .collect())
}

fn checked_target(
    caller: &Caller,
    text: &str,
    devices: &HashMap<String, DeviceMembership>,
) -> Result<Target> {
    let target = Target::parse(text.trim()).map_err(|e| DetectionError::Invalid(e.to_string()))?;
    if !target_within(caller, &target, devices) {
        return Err(DetectionError::Invalid(format!(
            "target {text}: you can give policies only to your own groups and their devices"
        )));
    }
    Ok(target)
}

/// Sets the policy of a target (its folders checked and tidied).
pub async fn set_policy(
    state: &AppState,
    caller: &Caller,
    input: DetectionPolicyIo,
) -> Result<DetectionPolicyOut> {
    caller.require(Action::ManageDetectionPolicies)?;
    let devices = devices_in_scope(state, caller).await?;
    let target = checked_target(caller, &input.target, &devices)?;
    let policy: DetectionPolicy = input
        .policy
        .normalised()
        .map_err(|e| DetectionError::Invalid(e.to_string()))?;
    let json =
        serde_json::to_string(&policy).map_err(|e| DetectionError::Invalid(e.to_string()))?;
    let record = state
        .store
        .set_detection_policy(&target.as_string(), &json, caller.now, &caller.label())
        .await?;
    state.detection_policies.invalidate();
    caller
        .audit(
            &state.store,
            "detection_policy_set",
            &record.target,
            &format!(
                "folders {}; canaries {}; {}",
                policy.folders.join(", "),
                if policy.canaries { "on" } else { "off" },
                policy.describe_responses()
            ),
        )
        .await;
    Ok(DetectionPolicyOut {
        target: record.target,
        responses: policy.describe_responses(),
        policy,
        updated_at: record.updated_at,
        updated_by: record.updated_by,
    })
}

/// Deletes the policy of a target: its devices fall back to a less specific one.
pub async fn delete_policy(state: &AppState, caller: &Caller, target: &str) -> Result<()> {
    caller.require(Action::ManageDetectionPolicies)?;
    let devices = devices_in_scope(state, caller).await?;
    let target = checked_target(caller, target, &devices)?.as_string();
    match state.store.delete_detection_policy(&target).await {
        Ok(()) => state.detection_policies.invalidate(),
        Err(StoreError::NotFound) => return Err(DetectionError::NoPolicy(target)),
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(&state.store, "detection_policy_deleted", &target, "")
        .await;
    Ok(())
}

pub(crate) fn drill_out(d: DrillRecord) -> DrillOut {
    DrillOut {
        job_id: d.job_id,
        device_id: d.device_id,
        device_name: d.device_name,
        requested_by: d.requested_by,
        queued_at: d.queued_at,
        finished_at: d.finished_at,
        files_total: d.files_total,
        files_lost: d.files_lost,
        time_to_detect_ms: d.time_to_detect_ms,
        detection_id: d.detection_id,
        channels: d.channels.unwrap_or_default(),
        passed: d.passed,
        failures: d.failures.unwrap_or_default(),
    }
}

/// Queues a ransomware fire drill on a device (by id or name).
pub async fn queue_drill(
    state: &AppState,
    caller: &Caller,
    device: &str,
    request: DrillRequest,
) -> Result<DrillOut> {
    caller.require(Action::RespondToDetections)?;
    let files = request.files.unwrap_or(DEFAULT_DRILL_FILES);
    if !(MIN_DRILL_FILES..=MAX_DRILL_FILES).contains(&files) {
        return Err(DetectionError::Invalid(format!(
            "files: {MIN_DRILL_FILES} to {MAX_DRILL_FILES}, not {files}"
        )));
    }
    let device = find_device(state, caller, device).await?;
    let mut job = crate::devices::new_job(
        &device.device_id,
        JobKind::RansomwareDrill,
        &caller.label(),
        caller.now,
    );
    job.params = serde_json::to_value(DrillParams {
        files,
        mode: "in-place".into(),
    })
    .map_err(|e| DetectionError::Invalid(e.to_string()))?;
    state.store.queue_drill(&job).await?;
    state.dispatcher.notify(&device.device_id);
    caller
        .audit(
            &state.store,
            "ransomware_drill_queued",
            &device.device_id,
            &format!("{files} files on {} (job {})", device.name, job.id),
        )
        .await;
    let drill = state
        .store
        .drill(&job.id)
        .await?
        .ok_or_else(|| DetectionError::Conflict("the drill vanished".into()))?;
    Ok(drill_out(drill))
}

/// Drills within the caller's scope, newest first (a device's alone when asked).
pub async fn drills(
    state: &AppState,
    caller: &Caller,
    device: Option<&str>,
) -> Result<Vec<DrillOut>> {
    caller.require(Action::ViewDevices)?;
    let device_id = match device.filter(|d| !d.is_empty()) {
        Some(d) => Some(find_device(state, caller, d).await?.device_id),
        None => None,
    };
    let devices = devices_in_scope(state, caller).await?;
    Ok(state
        .store
        .drills(device_id.as_deref(), LIST_LIMIT)
        .await?
        .into_iter()
        .filter(|d| devices.contains_key(&d.device_id))
        .map(drill_out)
        .collect())
}

/// One drill, by its job's id.
pub async fn drill(state: &AppState, caller: &Caller, job_id: &str) -> Result<DrillOut> {
    caller.require(Action::ViewDevices)?;
    let d = state
        .store
        .drill(job_id)
        .await?
        .ok_or_else(|| DetectionError::Invalid(format!("no drill {job_id:?}")))?;
    let devices = devices_in_scope(state, caller).await?;
    if !devices.contains_key(&d.device_id) {
        return Err(DetectionError::Invalid(format!("no drill {job_id:?}")));
    }
    Ok(drill_out(d))
}
