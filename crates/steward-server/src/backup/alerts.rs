//! Backup alerts through monitoring's pipeline: the `backup` and `drill` device checks are
//! judged here, from the fleet's backup facts, by monitoring's own sweep
//! ([`crate::monitoring::devices::sweep_checks`]) — so they page through the same routes,
//! maintenance windows, grouping and outbox as every other check. Judged every minute, and
//! soon after a backup or drill ends ([`wake`]): the judgement reads the whole fleet, so a
//! burst of backups ending together (the nightly run) is judged once, not once each.

use std::collections::HashMap;
use std::time::Duration;

use steward_core::JobKind;
use steward_core::JobState;
use steward_core::Scope;
use steward_core::backup::schedule::Schedule;
use steward_core::backup::verdict::BackupFacts;
use steward_core::checks::{DeviceCheck, Membership, Target};
use steward_store::{DrillOutcome, StoreError};

use crate::state::AppState;

const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// After a wake-up, how long to gather the backups and drills ending meanwhile.
const GATHER: Duration = Duration::from_millis(500);

/// Starts the judgement: every minute, and soon after each [`wake`]. It runs until the
/// task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    crate::monitoring::devices::spawn_judgement(
        state,
        SWEEP_EVERY,
        GATHER,
        |s| &s.backup_alerts,
        |s| async move { judge(&s).await },
    )
}

/// A backup or drill ended: judge the backup alerts soon. Wake-ups while a judgement is
/// pending fold into it (`Notify` keeps at most one).
pub fn wake(state: &AppState) {
    state.backup_alerts.notify_one();
}

/// Judges the backup and drill checks of every device now.
pub async fn judge(state: &AppState) {
    let result = async {
        let backups = facts(state).await?;
        crate::monitoring::devices::sweep_checks(
            state,
            |c| matches!(c, DeviceCheck::Backup | DeviceCheck::Drill),
            &crate::monitoring::devices::SweptFacts {
                backups,
                ..Default::default()
            },
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "backups: judging backup alerts failed");
    }
}

/// What is known of each device's backups, from three fleet-wide reads: the overview, the
/// newest finished backup job of each device, and the policies.
pub(crate) async fn facts(state: &AppState) -> Result<HashMap<String, BackupFacts>, StoreError> {
    let overview = state
        .store
        .scoped(&Scope::AllDevices)
        .backup_overview()
        .await?;
    let newest_jobs: HashMap<String, steward_store::JobRecord> = state
        .store
        .newest_finished_jobs_of_kind(JobKind::Backup)
        .await?
        .into_iter()
        .map(|j| (j.device_id.clone(), j))
        .collect();
    let policies: Vec<_> = state
        .store
        .backup_policies()
        .await?
        .into_iter()
        .filter(|p| p.enabled)
        .collect();
    let mut facts = HashMap::new();
    for device in state.store.device_memberships().await? {
        let groups: Vec<String> = device.group_id.iter().cloned().collect();
        let membership = Membership {
            device_id: &device.device_id,
            groups: &groups,
            tags: &device.tags,
        };
        let covering: Vec<_> = policies
            .iter()
            .filter(|p| Target::parse(&p.target).is_ok_and(|t| t.covers(&membership)))
            .collect();
        let seen = overview.iter().find(|o| o.device_id == device.device_id);
        if covering.is_empty() && seen.and_then(|o| o.storage.as_ref()).is_none() {
            continue;
        }
        let expected_every_ms = covering
            .iter()
            .filter_map(|p| Schedule::parse(&p.schedule).ok())
            .map(|s| s.period_ms())
            .min();
        let covered_since = covering.iter().map(|p| p.created_at).min();
        let expected_since = [
            Some(device.enrolled_at),
            covered_since,
            seen.and_then(|o| o.repository_created_at),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(device.enrolled_at);
        let last_success = seen.and_then(|o| o.last_received_at);
        let last_failure = newest_jobs.get(&device.device_id).and_then(|job| {
            let failed = matches!(
                job.state,
                JobState::Failed | JobState::Expired | JobState::Unsupported
            );
            (failed && last_success.is_none_or(|s| job.updated_at > s)).then(|| {
                let why = if job.message.is_empty() {
                    job.state.as_str().to_owned()
                } else {
                    job.message.clone()
                };
                (job.updated_at, why)
            })
        });
        let last_drill = match seen.map(|o| (&o.last_drill_outcome, o.last_drill_finished_at)) {
            Some((Some(DrillOutcome::Passed), Some(at))) => Some((at, true, String::new())),
            Some((Some(DrillOutcome::Failed), Some(at))) => {
                let why = state
                    .store
                    .scoped(&Scope::AllDevices)
                    .backup_drills(&device.device_id, 1)
                    .await?
                    .into_iter()
                    .next()
                    .and_then(|d| d.error)
                    .unwrap_or_else(|| "see the device's drills".into());
                Some((at, false, why))
            }
            _ => None,
        };
        facts.insert(
            device.device_id.clone(),
            BackupFacts {
                expected_every_ms,
                expected_since,
                last_success,
                last_failure,
                last_drill,
                has_repository: seen.and_then(|o| o.storage.as_ref()).is_some(),
            },
        );
    }
    Ok(facts)
}
