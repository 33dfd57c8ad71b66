//! Keeps history from growing without end: change events older than
//! `ServerConfig::change_retention_days` are deleted, in small batches so that a year's
//! backlog never holds the database writer for long.

use std::time::Duration;

use steward_core::Timestamp;

use crate::state::AppState;

/// Rows deleted per transaction.
const BATCH: u32 = 5_000;
/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(3600);

/// Starts the hourly sweep (the first a minute after start, off the busy start-up).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        loop {
            if let Err(e) = prune_changes(&state).await {
                tracing::warn!(error = %e, "pruning old change history failed; retrying in an hour");
            }
            tokio::time::sleep(EVERY).await;
        }
    })
}

/// Deletes change events older than the retention period; how many went.
pub async fn prune_changes(state: &AppState) -> Result<u64, steward_store::StoreError> {
    let days = state.config.change_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let before = Timestamp(state.now().0 - i64::from(days) * 86_400_000);
    let mut total = 0;
    loop {
        let deleted = state.store.prune_changes(before, BATCH).await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            break;
        }
        // Let other writers in between batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if total > 0 {
        tracing::info!(
            deleted = total,
            days,
            "pruned change history older than the retention period"
        );
    }
    Ok(total)
}
