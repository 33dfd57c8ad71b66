//! The detections the server makes itself (the rules are `steward_core::detection::
//! server_side`): protection turned off, from posture transitions as they are recorded;
//! the agent stopped, from a sweep of the devices whose last report said they were
//! stopping. (A new administrator and a new listening port ride the ingest commit: see
//! `crate::ingest::plan`.) Each is recorded as a detection of its kind and raises the same
//! Detection check.

use std::time::Duration;

use steward_core::Timestamp;
use steward_core::detection::server_side::{agent_stopped, protection_off};
use steward_store::{DetectionWrite, PostureTransition};

use crate::state::AppState;

/// How often silent, stopped agents are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// The least silence that counts: a restarting agent is back well within it.
const MIN_WINDOW_MS: i64 = 5 * 60_000;
/// Check-ins missed before the silence counts.
const MISSED_CHECK_INS: i64 = 3;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            stopped_agents(&state).await;
        }
    })
}

async fn record(state: &AppState, device_id: &str, found: Vec<steward_core::detection::Detected>) {
    if found.is_empty() {
        return;
    }
    let writes: Vec<DetectionWrite> = found
        .into_iter()
        .map(|detected| DetectionWrite {
            detected,
            stopped: false,
            isolated: false,
        })
        .collect();
    match state
        .store
        .record_detections(device_id, &writes, state.now())
        .await
    {
        Ok(new) if !new.is_empty() => {
            tracing::info!(device = %device_id, detections = new.len(), "server-side detections recorded");
            super::alerts::judge(state).await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(device = %device_id, error = %e,
            "detection: could not record a server-side detection; the next judgement tries again"),
    }
}

/// Posture results just recorded: a firewall or anti-malware check that went from pass to
/// fail is a detection.
pub async fn posture_transitions(
    state: &AppState,
    device_id: &str,
    transitions: &[PostureTransition],
    at: Timestamp,
) {
    let found = transitions
        .iter()
        .filter_map(|t| protection_off(&t.check_id, t.from.as_deref(), &t.to, at))
        .collect();
    record(state, device_id, found).await;
}

/// Every device whose last report said its agent was stopping and that has been silent past
/// its window: "the agent was stopped". Without that last word the device is merely
/// offline (the heartbeat check says so).
pub async fn stopped_agents(state: &AppState) {
    let now = state.now();
    let devices = match state.store.agents_stopping().await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "detection: cannot read the stopped agents");
            return;
        }
    };
    for (device_id, last_seen, interval_secs) in devices {
        let Some(last_seen) = last_seen else { continue };
        let window = (interval_secs.saturating_mul(1000) * MISSED_CHECK_INS).max(MIN_WINDOW_MS);
        if let Some(found) = agent_stopped(last_seen, window, now) {
            record(state, &device_id, vec![found]).await;
        }
    }
}
