//! The `patching` device check, judged here from the fleet's patching facts by monitoring's
//! own sweep ([`crate::monitoring::devices::sweep_checks`]), so it pages through the same
//! routes, maintenance windows and outbox as every other check: an install that failed (its
//! packages still pending), a security update pending past 14 days (warning from 7), a
//! listing that fails. Judged every minute, and soon after a listing or an install arrives.

use std::collections::HashMap;
use std::time::Duration;

use steward_core::checks::DeviceCheck;
use steward_core::patching::verdict::PatchFacts;
use steward_core::{JobKind, JobState};
use steward_store::StoreError;

use crate::state::AppState;

const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// After a wake-up, how long to gather the listings arriving meanwhile.
const GATHER: Duration = Duration::from_millis(500);

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    crate::monitoring::devices::spawn_judgement(
        state,
        SWEEP_EVERY,
        GATHER,
        |s| &s.patching_alerts,
        |s| async move { judge(&s).await },
    )
}

/// A listing or an install arrived: judge soon (wake-ups fold into one judgement).
pub fn wake(state: &AppState) {
    state.patching_alerts.notify_one();
}

/// Judges every device's `patching` check now.
pub async fn judge(state: &AppState) {
    let result = async {
        let patching = facts(state).await?;
        crate::monitoring::devices::sweep_checks(
            state,
            |c| matches!(c, DeviceCheck::Patching),
            &crate::monitoring::devices::SweptFacts {
                patching,
                ..Default::default()
            },
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "patching: judging the patching alerts failed");
    }
}

/// Each listed device's facts, from three fleet-wide reads.
pub(crate) async fn facts(state: &AppState) -> Result<HashMap<String, PatchFacts>, StoreError> {
    let mut facts: HashMap<String, PatchFacts> = HashMap::new();
    let mut pending_count: HashMap<String, u32> = HashMap::new();
    for row in state.store.pending_updates(None).await? {
        *pending_count.entry(row.device_id.clone()).or_default() += 1;
        if row.update.security {
            let f = facts.entry(row.device_id).or_default();
            f.security_pending += 1;
            f.oldest_security = Some(
                f.oldest_security
                    .map_or(row.first_seen, |t| t.min(row.first_seen)),
            );
        }
    }
    for status in state.store.update_statuses().await? {
        let f = facts.entry(status.device_id).or_default();
        f.listing_error = status.error;
    }
    for job in state
        .store
        .newest_finished_jobs_of_kind(JobKind::InstallUpdates)
        .await?
    {
        let failed = matches!(job.state, JobState::Failed | JobState::Unsupported);
        // Cleared once the device lists nothing pending any more (a person installed by
        // hand) or a later install succeeds (then this is not the newest).
        if failed && pending_count.get(&job.device_id).copied().unwrap_or(0) > 0 {
            let why = if job.message.is_empty() {
                job.state.as_str().to_owned()
            } else {
                job.message.chars().take(300).collect()
            };
            facts.entry(job.device_id).or_default().install_failed = Some((job.updated_at, why));
        }
    }
    Ok(facts)
}
