//! The `detection` device check, judged from the fleet's detections through monitoring's
//! own sweep ([`crate::monitoring::devices::sweep_checks`]), so it pages through the same
//! routes, maintenance windows and outbox as every other check. Judged at once when a
//! detection arrives or is decided (no retries: the default rules confirm at the first
//! result), and every few minutes so a missed judgement is caught up.

use std::collections::HashMap;
use std::time::Duration;

use steward_core::Scope;
use steward_core::checks::DeviceCheck;
use steward_core::detection::alert::{DetectionFacts, OpenDetection};
use steward_core::detection::policy::is_within;
use steward_core::detection::record::Status;
use steward_store::{DetectionFilter, StoreError};

use crate::state::AppState;

/// The periodic catch-up; the real judgements happen at ingest and at decisions.
const SWEEP_EVERY: Duration = Duration::from_secs(300);
/// Detections read per judgement: far more than any fleet has open at once.
const MAX_READ: u32 = 5_000;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            judge(&state).await;
        }
    })
}

/// Judges every device's `detection` check now. Failures are logged: the next judgement
/// (at the next detection, decision or sweep) tries again.
pub async fn judge(state: &AppState) {
    let result = async {
        let detection = facts(state).await?;
        crate::monitoring::devices::sweep_checks(
            state,
            |c| matches!(c, DeviceCheck::Detection),
            &crate::monitoring::devices::SweptFacts {
                detection,
                ..Default::default()
            },
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "detection: judging the detection alerts failed");
    }
}

/// Each device with a detection: its open ones, newest first, the newest with its files
/// and the last backup of them. A device with none has no facts (its check records nothing).
pub(crate) async fn facts(state: &AppState) -> Result<HashMap<String, DetectionFacts>, StoreError> {
    let mut facts: HashMap<String, DetectionFacts> = HashMap::new();
    let listed = state
        .store
        .detections(&DetectionFilter {
            limit: MAX_READ,
            ..Default::default()
        })
        .await?;
    for d in listed {
        let device_facts = facts.entry(d.device_id.clone()).or_default();
        if d.status != Status::Open {
            continue;
        }
        // Only the newest open detection is named: its files and backup are read once.
        let (files, last_backup) = if device_facts.open.is_empty() {
            let files: Vec<String> = state
                .store
                .detection(&d.id)
                .await?
                .map(|full| full.files.into_iter().map(|f| f.path).collect())
                .unwrap_or_default();
            let backup = last_backup_of(state, &d.device_id, &files)
                .await?
                .map(|(at, _)| at);
            (files, backup)
        } else {
            (Vec::new(), None)
        };
        device_facts.open.push(OpenDetection {
            kind: d.kind,
            summary: d.summary,
            process: d.process,
            files,
            last_backup,
        });
    }
    Ok(facts)
}

/// The newest snapshot of the device that holds the first touched file: when it was
/// received, and its id.
pub(crate) async fn last_backup_of(
    state: &AppState,
    device_id: &str,
    files: &[String],
) -> Result<Option<(steward_core::Timestamp, String)>, StoreError> {
    let Some(first) = files.first() else {
        return Ok(None);
    };
    static ALL: Scope = Scope::AllDevices;
    let snapshots = state
        .store
        .scoped(&ALL)
        .backup_snapshots(device_id, false)
        .await?;
    Ok(snapshots
        .into_iter()
        .find(|s| {
            s.paths
                .as_ref()
                .is_some_and(|paths| paths.iter().any(|p| is_within(first, p)))
        })
        .map(|s| (s.received_at, s.snapshot_id)))
}
