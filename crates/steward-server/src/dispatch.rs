//! Getting a queued job to its agent at once. Each agent keeps a long-poll open
//! (`GET /agent/v1/jobs/next?wait=…`); a job queued through this server wakes that poll
//! directly. Jobs queued elsewhere (the CLI, another server replica) are found by a poller
//! that asks the database once a second for devices with newly queued jobs — one query per
//! second for the whole fleet, not one per waiting agent.
//!
//! A claim (`Store::claim_next_job`) hands over only what the agent can run: a queued job
//! past its deadline expires instead, and one of a kind the agent did not list at its last
//! check-in becomes `unsupported` with a message saying so. That is decided at dispatch
//! rather than refused at queue time so that one rule covers every way a job is queued
//! (console, API, CLI, another replica) and an agent upgraded or downgraded after the job
//! was queued; the job history keeps the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_store::JobRecord;
use tokio::sync::Notify;

use crate::state::AppState;

#[derive(Default)]
pub struct Dispatcher {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Dispatcher {
    fn slot(&self, device_id: &str) -> Arc<Notify> {
        let mut map = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(device_id.to_string()).or_default().clone()
    }

    /// Wakes the device's waiting long-poll, if any.
    pub fn notify(&self, device_id: &str) {
        let map = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(device_id) {
            n.notify_waiters();
        }
    }

    fn release(&self, device_id: &str, slot: Arc<Notify>) {
        let mut map = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        drop(slot);
        // Only the map's own reference left: nobody waits for this device any more.
        if map
            .get(device_id)
            .is_some_and(|n| Arc::strong_count(n) == 1)
        {
            map.remove(device_id);
        }
    }
}

/// Claims the device's next job, waiting up to `wait` for one to be queued.
pub async fn next_job(
    state: &AppState,
    device_id: &str,
    wait: Duration,
) -> Result<Option<JobRecord>, steward_store::StoreError> {
    let slot = state.dispatcher.slot(device_id);
    let deadline = tokio::time::Instant::now() + wait;
    let result = loop {
        // Register interest before looking, so a job queued in between still wakes us.
        let notified = slot.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match state.store.claim_next_job(device_id, state.now()).await {
            Ok(Some(job)) => break Ok(Some(job)),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            break Ok(None);
        }
    };
    state.dispatcher.release(device_id, slot);
    result
}

/// How often the poller expires jobs that can no longer finish.
const EXPIRY_EVERY_TICKS: u32 = 60; // 30 s

/// Expires jobs whose agent took them and went silent past
/// `steward_core::job::DISPATCHED_TIMEOUT_MS`, every unfinished job of a revoked device, and
/// every unfinished job past its deadline (`JobKind::deadline_ms`), queued, dispatched or
/// running.
pub async fn expire_jobs(state: &AppState) -> Result<u64, steward_store::StoreError> {
    let now = state.now();
    let n = state
        .store
        .expire_jobs(steward_core::job::dispatched_expired_before(now), now)
        .await?;
    if n > 0 {
        tracing::info!(jobs = n, "expired jobs that can no longer finish");
    }
    Ok(n)
}

/// Polls for jobs queued outside this process and wakes their agents; every 30 s it also
/// expires jobs that can no longer finish ([`expire_jobs`]).
pub fn spawn_poller(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut since = state.now().plus_millis(-2_000);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u32 = 0;
        loop {
            tick.tick().await;
            if ticks.is_multiple_of(EXPIRY_EVERY_TICKS)
                && let Err(e) = expire_jobs(&state).await
            {
                tracing::warn!(error = %e, "could not expire stale jobs");
            }
            ticks = ticks.wrapping_add(1);
            let now = state.now();
            match state.store.devices_with_jobs_queued_since(since).await {
                Ok(devices) => {
                    for d in devices {
                        state.dispatcher.notify(&d);
                    }
                    // Overlap by a second: a job committed with a slightly older timestamp
                    // than a concurrent poll is still seen next time.
                    since = now.plus_millis(-1_000);
                }
                Err(e) => tracing::warn!(error = %e, "job poller could not read the database"),
            }
        }
    })
}
