//! The background task that rolls samples up and prunes history: every half minute it
//! claims the devices whose watermark is behind (`steward_core::history::keeping`), reads
//! each one's samples, rolls them up in the core, and writes the buckets, the new watermark
//! and what may be pruned — a batch of devices per short transaction, with a pause between
//! batches so check-ins get the database writer. Claims carry a lease: with several
//! servers on one PostgreSQL database each device's step is taken by one of them, and a
//! step written twice (a lease that ran out mid-step) changes nothing, since a step applies
//! only where the watermark still is and buckets are replaced, not added to.

use std::time::Duration;

use steward_core::history::keeping::{next_step, rollup_target};
use steward_store::{RollupWrite, StoreError};

use crate::state::AppState;

/// How often the task looks for devices to roll up.
const EVERY: Duration = Duration::from_secs(30);
/// Devices claimed and written together.
const BATCH: u32 = 25;
/// How long a claim holds: far longer than a batch takes.
const LEASE_MS: i64 = 120_000;
/// The pause between batches.
const PAUSE: Duration = Duration::from_millis(20);

/// Starts the task; it runs until aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = roll_up_due(&state).await {
                tracing::warn!(error = %e, "rolling up metrics history failed; retrying soon");
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}

/// Rolls every device up to date at the current time (devices far behind go in several
/// steps) and prunes as it goes; returns how many steps were written.
pub async fn roll_up_due(state: &AppState) -> Result<usize, StoreError> {
    let keep = state.config.metrics_history;
    let mut written = 0;
    loop {
        let now = state.now();
        let claims = state
            .store
            .claim_metric_rollups(now, rollup_target(now), BATCH, LEASE_MS)
            .await?;
        if claims.is_empty() {
            return Ok(written);
        }
        let mut steps = Vec::with_capacity(claims.len());
        for claim in claims {
            let Some(step) = next_step(claim.rolled_until, now) else {
                continue;
            };
            let samples = state
                .store
                .metric_samples(&claim, step.read_from, step.until)
                .await?;
            steps.push(RollupWrite {
                rollups: step.roll(&samples.samples),
                names: samples.names,
                until: step.until,
                prune: keep.prune(now, step.until),
                claim,
            });
        }
        written += state.store.write_metric_rollups(&steps).await?;
        tokio::time::sleep(PAUSE).await;
    }
}
