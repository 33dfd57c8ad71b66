//! Runs due checks: claims them from the store (with a lease, so several servers share the
//! work and a dead server's claims lapse), probes each, applies the alert rules, and stores
//! the new state, its history line and its notices together.

use std::sync::Arc;
use std::time::Duration;

use steward_core::alerting::{self, AlertRules, AlertState, CheckResult, Circumstances};
use steward_store::{ChannelRecord, CheckRecord, CheckResultWrite, CheckStateRecord, NoticeWrite};
use tokio::sync::Semaphore;

use super::Spec;
use crate::state::AppState;

/// How often the scheduler looks for due checks.
const TICK: Duration = Duration::from_millis(250);
/// How many checks one look claims.
const BATCH: u32 = 256;
/// How long a claim holds: longer than any probe's timeout.
const LEASE_MS: i64 = 120_000;
/// Probes running at once.
const CONCURRENT_PROBES: usize = 512;

/// Starts the scheduler; it runs until the task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(client) = steward_probes::client() else {
            tracing::error!("monitoring: no HTTP client for probes; checks do not run");
            return;
        };
        let permits = Arc::new(Semaphore::new(CONCURRENT_PROBES));
        loop {
            match state
                .store
                .claim_due_checks(state.now(), BATCH, LEASE_MS)
                .await
            {
                Ok(due) if !due.is_empty() => {
                    // Read once a batch, not once a check.
                    let (checks, channels) =
                        match (state.store.checks().await, state.store.channels().await) {
                            (Ok(checks), Ok(channels)) => (checks, Arc::new(channels)),
                            (Err(e), _) | (_, Err(e)) => {
                                tracing::warn!(error = %e, "monitoring: cannot read checks");
                                tokio::time::sleep(TICK).await;
                                continue;
                            }
                        };
                    for due in due {
                        let Some(check) = checks.iter().find(|c| c.id == due.check_id).cloned()
                        else {
                            continue;
                        };
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let state = state.clone();
                        let client = client.clone();
                        let channels = channels.clone();
                        tokio::spawn(async move {
                            run_one(&state, &client, &check, &due, &channels).await;
                            drop(permit);
                        });
                    }
                }
                Ok(_) => tokio::time::sleep(TICK).await,
                Err(e) => {
                    tracing::warn!(error = %e, "monitoring: cannot claim due checks");
                    tokio::time::sleep(TICK).await;
                }
            }
        }
    })
}

/// Probes one check for one subject and stores what the alert rules made of it.
async fn run_one(
    state: &AppState,
    client: &reqwest::Client,
    check: &CheckRecord,
    due: &CheckStateRecord,
    channels: &[ChannelRecord],
) {
    let spec: Spec = match serde_json::from_str(&check.spec) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(check = %check.name, error = %e, "monitoring: unreadable check");
            return;
        }
    };
    let outcome = steward_probes::run(
        &spec.probe,
        client,
        Duration::from_millis(spec.timeout_ms.max(1)),
    )
    .await;
    let now = state.now();
    let rules: AlertRules = serde_json::from_str(&check.rules).unwrap_or_default();
    let previous: AlertState =
        serde_json::from_str(&due.state).unwrap_or_else(|_| AlertState::new(now));
    let result = CheckResult {
        status: outcome.status,
        summary: outcome.summary.clone(),
        at: now,
    };
    let decided = alerting::observe(&previous, &result, &rules, Circumstances::default());
    let (next_state, reminders) =
        alerting::remind(&decided.state, &rules, Circumstances::default(), now);
    let mut notices = Vec::new();
    for (i, notice) in decided.notices.iter().chain(reminders.iter()).enumerate() {
        // A problem or recovery announcing this result's transition is keyed by its history
        // line; other notices by the check, the subject and the moment. Either way the outbox
        // takes a key once per channel.
        let announces_transition = decided.transition.is_some()
            && matches!(
                notice,
                alerting::Notice::Problem { .. } | alerting::Notice::Recovery { .. }
            );
        let key = if announces_transition {
            "transition:{history}".to_string()
        } else {
            format!("notice:{}:{}:{}:{i}", check.id, due.subject, now.0)
        };
        // A message is strings, numbers and enums: encoding it cannot fail.
        let payload = serde_json::to_string(&super::message(check, notice, &outcome.summary, now))
            .unwrap_or_default();
        for channel in channels {
            notices.push(NoticeWrite {
                key: key.clone(),
                channel_id: channel.id.clone(),
                payload: payload.clone(),
            });
        }
    }
    let write = CheckResultWrite {
        decided_at: now,
        check_id: check.id.clone(),
        subject: due.subject.clone(),
        state: serde_json::to_string(&next_state).unwrap_or_default(),
        status: next_state.status.as_str().to_string(),
        since: next_state.since,
        summary: outcome.summary,
        next_run_at: now.plus_millis(check.interval_ms.max(1_000)),
        transition: decided
            .transition
            .as_ref()
            .map(|t| (t.from.as_str().to_string(), t.to.as_str().to_string(), t.at)),
        notices,
    };
    if let Err(e) = state.store.record_check_result(&write).await {
        tracing::warn!(check = %check.name, error = %e, "monitoring: cannot store a result");
    }
}
