//! Stores the decisions of check runs, many to a transaction: whatever has queued up while
//! the previous commit ran goes in the next one (group commit: no waiting to fill a batch,
//! so a lone result is stored at once, and under load one commit carries hundreds).
//!
//! A batch commits whole or not at all, so each result's state, history line and notices
//! still commit together. A batch that fails is stored again one result at a time, so one
//! bad result (a channel deleted under it, say) costs only itself; a result that cannot be
//! stored at all is dropped with a warning, its claim lapses, and the check runs again —
//! nothing was committed for it, so nothing is announced twice.

use steward_store::{CheckResultWrite, Recorded};
use tokio::sync::mpsc;

use crate::state::AppState;

/// Results waiting to be stored; a full queue slows the probes down (they wait to hand in).
const QUEUE: usize = 4_096;
/// The most results in one transaction: the writer (SQLite's only one) is never held long.
const MAX_BATCH: usize = 256;

/// Where run tasks hand in their decisions.
pub type Results = mpsc::Sender<CheckResultWrite>;

/// Starts the writer; it stops once every [`Results`] sender is gone, after storing what
/// they handed in.
pub fn spawn(state: AppState) -> (Results, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<CheckResultWrite>(QUEUE);
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            store(&state, &batch).await;
            batch.clear();
        }
    });
    (tx, task)
}

/// Stores a batch: in one transaction, or one at a time if that fails.
pub async fn store(state: &AppState, batch: &[CheckResultWrite]) {
    let Err(e) = state.store.record_check_results(batch).await else {
        return;
    };
    tracing::warn!(error = %e, results = batch.len(),
        "monitoring: a batch of check results failed; storing them one at a time");
    for r in batch {
        match state
            .store
            .record_check_results(std::slice::from_ref(r))
            .await
        {
            Ok(outcomes) if outcomes.first() == Some(&Recorded::Skipped) => {
                tracing::debug!(check = %r.check_id, "monitoring: a result answered already or for a check no longer tracked");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(check = %r.check_id, error = %e,
                    "monitoring: cannot store a result; the check runs again when its claim lapses");
            }
        }
    }
}
