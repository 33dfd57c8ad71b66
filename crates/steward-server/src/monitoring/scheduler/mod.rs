//! Runs due checks: claims them from the store (with a lease, so several servers share the
//! work and a dead server's claims lapse), probes each at its time, decides what the result
//! means ([`decide`]), and hands the decision to the [`writer`], which stores many in one
//! transaction — each result's state, history line and notices together.
//!
//! Built for thousands of checks on one server: definitions and channels are kept in memory
//! until the store says they changed ([`definitions`]); due checks are claimed a little
//! ahead, in one statement per batch, and each probe waits for its own due time, so a check
//! starts on time rather than at the scheduler's next look; results are group-committed.

pub mod decide;
pub(crate) mod definitions;
pub(crate) mod writer;

use std::sync::Arc;
use std::time::Duration;

use steward_core::Timestamp;
use steward_core::alerting::{CheckResult, CheckStatus, Circumstances};
use steward_store::{ChannelRecord, CheckStateRecord};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use self::decide::{Evaluation, decide};
use self::definitions::{Definition, Definitions};
use crate::state::AppState;

/// How often the scheduler looks for due checks when it found fewer than a batch.
const TICK: Duration = Duration::from_millis(250);
/// How far ahead it claims: a look's claims cover the time until the next look, and each
/// probe waits for its due time.
const LOOK_AHEAD_MS: i64 = 300;
/// How many checks one look claims.
const BATCH: u32 = 512;
/// How long a claim holds: longer than any probe's timeout plus the wait to be stored.
const LEASE_MS: i64 = 120_000;
/// Probes running (or waiting for their time) at once.
const CONCURRENT_PROBES: usize = 1_024;

/// Starts the scheduler; it runs until the task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(client) = steward_probes::client() else {
            tracing::error!("monitoring: no HTTP client for probes; checks do not run");
            return;
        };
        let (results, _writer) = writer::spawn(state.clone());
        let permits = Arc::new(Semaphore::new(CONCURRENT_PROBES));
        let mut definitions = Definitions::default();
        loop {
            let claimed = match look(&state, &mut definitions).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "monitoring: cannot claim due checks");
                    tokio::time::sleep(TICK).await;
                    continue;
                }
            };
            let full = claimed.len() >= BATCH as usize;
            let channels = definitions.channels();
            for due in claimed {
                let Some(check) = definitions.check(&due.check_id) else {
                    // Deleted since it was claimed: its state went with it.
                    continue;
                };
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let run = Run {
                    state: state.clone(),
                    client: client.clone(),
                    check,
                    due,
                    channels: channels.clone(),
                    results: results.clone(),
                };
                tokio::spawn(run.go(permit));
            }
            if !full {
                tokio::time::sleep(TICK).await;
            }
        }
    })
}

/// One look: the definitions brought up to date, and the checks due by the next look
/// claimed. A claimed check the definitions do not know yet (created since the revision was
/// read) makes them read again.
async fn look(
    state: &AppState,
    definitions: &mut Definitions,
) -> Result<Vec<CheckStateRecord>, steward_store::StoreError> {
    definitions.refresh(&state.store, false).await?;
    let now = state.now();
    let claimed = state
        .store
        .claim_checks_due_by(now, now.plus_millis(LOOK_AHEAD_MS), BATCH, LEASE_MS)
        .await?;
    if claimed
        .iter()
        .any(|due| definitions.check(&due.check_id).is_none())
    {
        definitions.refresh(&state.store, true).await?;
    }
    Ok(claimed)
}

/// One run of one check for one subject.
struct Run {
    state: AppState,
    client: reqwest::Client,
    check: Arc<Definition>,
    due: CheckStateRecord,
    channels: Arc<[ChannelRecord]>,
    results: writer::Results,
}

impl Run {
    /// Waits for the due time, probes, decides, and hands the decision to the writer.
    async fn go(self, permit: OwnedSemaphorePermit) {
        let early_ms = self.due.next_run_at.0 - self.state.now().0;
        if early_ms > 0 {
            let wait = u64::try_from(early_ms.min(LOOK_AHEAD_MS)).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let started = self.state.now();
        let lateness_ms = u64::try_from(started.0 - self.due.next_run_at.0).unwrap_or(0);
        let (status, summary) = match &self.check.spec {
            Ok(spec) => {
                let outcome = steward_probes::run(
                    &spec.probe,
                    &self.client,
                    Duration::from_millis(spec.timeout_ms.max(1)),
                )
                .await;
                (outcome.status, outcome.summary)
            }
            Err(problem) => {
                tracing::error!(check = %self.check.record.name, %problem, "monitoring: a check cannot run");
                (CheckStatus::Unknown, problem.clone())
            }
        };
        drop(permit);
        self.state.telemetry.check_ran(
            &self.check.record.kind,
            status,
            Duration::from_millis(lateness_ms),
        );
        let result = CheckResult {
            status,
            summary,
            at: self.state.now(),
        };
        let write = decide(Evaluation {
            check: &self.check.record,
            rules: &self.check.rules,
            due: &self.due,
            result: &result,
            circumstances: Circumstances::default(),
            channels: &self.channels,
        });
        if self.results.send(write).await.is_err() {
            tracing::warn!(check = %self.check.record.name, "monitoring: the result writer has stopped");
        }
    }
}

/// When a check newly tracked first runs: within one interval of `now`, at an offset fixed
/// by its id ([`decide::first_run_offset_ms`]).
pub fn first_run_at(check_id: &str, interval_ms: i64, now: Timestamp) -> Timestamp {
    now.plus_millis(decide::first_run_offset_ms(check_id, interval_ms))
}
