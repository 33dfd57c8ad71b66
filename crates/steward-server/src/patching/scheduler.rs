//! Installs by policy: every minute, for each device whose governing policy's window is
//! open, the updates its plan allows (security ones at once or once approved, others after
//! their deferral or approval, held packages never) are queued as one `install_updates`
//! job. A device gets at most one policy install per [`RETRY_AFTER_MS`] (one attempt per
//! window, or per six hours without one), none while one is waiting or running (the store
//! refuses a second: two servers may run this pass at once), and none until it has listed
//! again after its last install. A policy's install expires when its window closes.

use std::collections::HashMap;
use std::time::Duration;

use steward_core::patching::plan;
use steward_core::{JobKind, Timestamp};
use steward_proto::agent::InstallUpdatesParams;

use super::service::{approved_set, pending_by_device, policy_for, stored_policies};
use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(60);
/// The least time between two policy installs on one device.
pub const RETRY_AFTER_MS: i64 = 6 * 3_600_000;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            if let Err(e) = run_once(&state).await {
                tracing::warn!(error = %e, "patching: the policy scheduler failed");
            }
        }
    })
}

/// One pass: queues the installs due now. Returns how many jobs it queued.
pub async fn run_once(state: &AppState) -> Result<usize, super::service::PatchingError> {
    let now = state.now();
    let policies = stored_policies(state).await?;
    if policies.iter().all(|p| !p.record.enabled) {
        return Ok(0);
    }
    let pending = pending_by_device(state).await?;
    let approved = approved_set(state).await?;
    let is_approved = |p: &str, v: &str| approved.contains(&(p.to_owned(), v.to_owned()));
    let listed: HashMap<String, Timestamp> = state
        .store
        .update_statuses()
        .await?
        .into_iter()
        .map(|s| (s.device_id, s.listed_at))
        .collect();
    let last_install: HashMap<String, steward_store::JobRecord> = state
        .store
        .newest_finished_jobs_of_kind(JobKind::InstallUpdates)
        .await?
        .into_iter()
        .map(|j| (j.device_id.clone(), j))
        .collect();
    let capabilities = state.store.agent_capabilities().await?;
    let busy = state
        .store
        .devices_with_unfinished_jobs_of_kind(JobKind::InstallUpdates)
        .await?;
    let mut queued = 0;
    for device in state.store.device_memberships().await? {
        let Some(list) = pending.get(&device.device_id) else {
            continue;
        };
        let Some(policy) = policy_for(&policies, &device) else {
            continue;
        };
        if !policy.window_open(now) {
            continue;
        }
        if let Some(last) = last_install.get(&device.device_id) {
            // The agent lists again as soon as an install ends, before it reports the
            // result: a listing after the install was queued is one after the install.
            let relisted = listed
                .get(&device.device_id)
                .is_some_and(|at| *at > last.created_at);
            if !relisted || now.since(last.created_at) < RETRY_AFTER_MS {
                continue;
            }
        }
        let kinds = capabilities
            .get(&device.device_id)
            .and_then(|(k, _)| k.as_deref());
        if !steward_core::job::agent_runs(JobKind::InstallUpdates, kinds) {
            continue;
        }
        let planned = plan(&policy.policy, list, &is_approved, now);
        if planned.install.is_empty() {
            continue;
        }
        // Running or waiting already (queued by a person, or by an earlier pass whose
        // job has not finished). The store holds the line too, for two servers at once.
        if busy.contains(&device.device_id) {
            continue;
        }
        let mut job = crate::devices::new_job(
            &device.device_id,
            JobKind::InstallUpdates,
            &format!("policy:{}", policy.record.name),
            now,
        );
        job.params = serde_json::to_value(InstallUpdatesParams {
            packages: planned.install.clone(),
            reboot: policy.policy.reboot == steward_core::patching::RebootRule::InWindow,
        })
        .unwrap_or_default();
        // A device that is offline when the window opens installs when it returns only
        // while the window is still open: never a reboot in the middle of a working day.
        if let Some(window) = &policy.window
            && let Some(closes) = steward_core::patching::window::closes_at(window, now)
        {
            job.deadline_at = job.deadline_at.min(closes);
        }
        match state.store.create_job(&job).await {
            Ok(()) => {}
            // Another server queued one for this device a moment ago.
            Err(steward_store::StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        state.dispatcher.notify(&device.device_id);
        crate::audit::record(
            &state.store,
            now,
            &format!("policy:{}", policy.record.name),
            "updates_install_queued",
            &device.device_id,
            &format!(
                "{} ({} packages) on {}",
                planned.install.join(", "),
                planned.install.len(),
                device.name
            ),
            "server",
        )
        .await;
        queued += 1;
    }
    if queued > 0 {
        tracing::info!(devices = queued, "patching: installs queued by policy");
    }
    Ok(queued)
}
