//! A ransomware drill's result: the agent's measurement (a `DrillRun`, the job's output)
//! recorded and scored with `steward_core::detection::drill::score` against the channels
//! the Detection alert went to: a channel counts as delivered when the outbox has a
//! delivered notification of a detection check about the device since the drill was queued.

use steward_core::JobState;
use steward_core::checks::DeviceCheck;
use steward_core::detection::drill::{DrillRun, score};
use steward_store::{DrillFinishWrite, JobRecord, StoreError};

use crate::state::AppState;

/// Notifications read back when scoring (the newest; a drill is scored minutes after).
const NOTIFICATIONS_READ: u32 = 1_000;

/// How long a finished drill waits for its alert to be delivered before it is scored: the
/// agent reports the job's end a check-in after the detection, while the alert may still be
/// on its way to a slow channel.
const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A `ransomware_drill` job finished: record its result, once the alert of a detected
/// attack has reached every channel it went to (or [`DELIVERY_WAIT`] has passed), in a task
/// of its own so the report that brought the job is not held. Failures are logged (the
/// drill then stays unfinished, and shows so).
pub async fn job_finished(state: &AppState, job: &JobRecord) {
    let (state, job) = (state.clone(), job.clone());
    tokio::spawn(async move {
        if let Err(e) = record(&state, &job).await {
            tracing::warn!(job = %job.id, error = %e, "detection: could not record a drill's result");
        }
    });
}

/// Each channel the drill's alert went to, with whether it was delivered: waited for while
/// none is known yet or one is still in flight, up to [`DELIVERY_WAIT`].
async fn settled_channels(
    state: &AppState,
    device_name: &str,
    since: steward_core::Timestamp,
) -> Result<Vec<(String, bool)>, StoreError> {
    let started = std::time::Instant::now();
    loop {
        let channels = delivered(state, device_name, since).await?;
        // No channel at all: nothing will be delivered, so nothing to wait for.
        if channels.is_empty()
            && state
                .monitoring
                .get(&state.store, state.now())
                .await?
                .channels
                .is_empty()
        {
            return Ok(channels);
        }
        let settled = !channels.is_empty() && channels.iter().all(|(_, ok)| *ok);
        if settled || started.elapsed() >= DELIVERY_WAIT {
            return Ok(channels);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The id of the drill's detection once its report is in, waited for up to
/// [`DELIVERY_WAIT`] (the agent sends it when its executable is hashed).
async fn stored_detection(
    state: &AppState,
    device_id: &str,
    local_id: &str,
) -> Result<Option<String>, StoreError> {
    let started = std::time::Instant::now();
    loop {
        let found = state.store.detection_id_of(device_id, local_id).await?;
        if found.is_some() || started.elapsed() >= DELIVERY_WAIT {
            return Ok(found);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

async fn record(state: &AppState, job: &JobRecord) -> Result<(), StoreError> {
    let Some(drill) = state.store.drill(&job.id).await? else {
        return Ok(());
    };
    let run: Option<DrillRun> = (job.state == JobState::Succeeded)
        .then(|| serde_json::from_str(&job.output).ok())
        .flatten();
    let write = match run {
        Some(run) => {
            let channels = if run.time_to_detect_ms.is_some() {
                settled_channels(state, &drill.device_name, drill.queued_at).await?
            } else {
                // Not detected: no alert to wait for.
                delivered(state, &drill.device_name, drill.queued_at).await?
            };
            // The detection comes in a report of its own, perhaps after the job's end.
            let detection_id = match &run.detection {
                Some(local) => stored_detection(state, &job.device_id, local).await?,
                None => None,
            };
            if let (Some(local), Some(_)) = (&run.detection, &detection_id)
                && let Err(e) =
                    super::steps::drill_ended(state, &job.device_id, local, &job.id).await
            {
                tracing::warn!(job = %job.id, error = %e, "detection: could not mark the drill's attack ended");
            }
            let scored = score(&run, &channels);
            DrillFinishWrite {
                files_total: run.files_total,
                files_lost: run.files_lost,
                time_to_detect_ms: run.time_to_detect_ms,
                detection_id,
                channels,
                passed: scored.passed,
                failures: scored.failures,
            }
        }
        None => DrillFinishWrite {
            files_total: 0,
            files_lost: 0,
            time_to_detect_ms: None,
            detection_id: None,
            channels: Vec::new(),
            passed: false,
            failures: vec![format!(
                "the drill did not run: {} {}",
                job.state.as_str(),
                job.message.chars().take(300).collect::<String>()
            )],
        },
    };
    state
        .store
        .finish_drill(&job.id, &write, state.now())
        .await
        .or_else(|e| match e {
            // Finished already (a second report of the same job): the first stands.
            StoreError::NotFound => Ok(()),
            e => Err(e),
        })
}

/// Each channel a detection check's alert about `device_name` was sent to since `since`,
/// with whether it was delivered.
async fn delivered(
    state: &AppState,
    device_name: &str,
    since: steward_core::Timestamp,
) -> Result<Vec<(String, bool)>, StoreError> {
    let now = state.now();
    let catalog = state.monitoring.get(&state.store, now).await?;
    let check_names: Vec<&str> = catalog
        .checks
        .iter()
        .filter(|c| matches!(c.spec.device_check(), Some(DeviceCheck::Detection)))
        .map(|c| c.record.name.as_str())
        .collect();
    let mut channels: Vec<(String, bool)> = Vec::new();
    for n in state.store.notifications(NOTIFICATIONS_READ).await? {
        if n.created_at < since || !about(&n.payload, device_name, &check_names) {
            continue;
        }
        let name = catalog
            .channels
            .iter()
            .find(|c| c.id == n.channel_id)
            .map_or(n.channel_id.clone(), |c| c.name.clone());
        match channels.iter_mut().find(|(c, _)| *c == name) {
            Some((_, ok)) => *ok |= n.delivered_at.is_some(),
            None => channels.push((name, n.delivered_at.is_some())),
        }
    }
    channels.sort();
    Ok(channels)
}

/// Whether a notification's payload is a problem of one of `checks` about `device`.
fn about(payload: &str, device: &str, checks: &[&str]) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(payload) else {
        return false;
    };
    let alerts = value
        .get("alerts")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_else(|| vec![value.clone()]);
    alerts.iter().any(|a| {
        a.get("subject").and_then(|s| s.as_str()) == Some(device)
            && a.get("check")
                .and_then(|c| c.as_str())
                .is_some_and(|c| checks.contains(&c))
            && a.get("event").and_then(|e| e.as_str()) == Some("problem")
    })
}
