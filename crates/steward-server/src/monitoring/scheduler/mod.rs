//! Runs due network monitors: claims them from the store (with a lease naming this server,
//! so several servers share the work and a dead server's claims lapse — `leases.rs`),
//! probes each at its time, decides what the result means ([`super::decide`]), and hands the
//! decision to the [`writer`], which stores many in one transaction — each result's state,
//! history line and notices together.
//!
//! Built for thousands of checks on one server: definitions come from the catalog cache,
//! read again only when the store's monitoring revision moves; due checks are claimed a
//! little ahead, in one statement per batch, and each probe waits for its own due time, so
//! a check starts on time rather than at the scheduler's next look; results are
//! group-committed.

pub mod timing;
pub(crate) mod writer;

use std::sync::Arc;
use std::time::Duration;

use steward_core::alerting::{CheckResult, CheckStatus};
use steward_store::{CheckStateRecord, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::catalog::{Catalog, CheckDef};
use super::decide::{Context, decide};
use super::spec::Spec;
use crate::state::AppState;

pub use timing::first_run_at;

/// How often the scheduler looks for due checks when it found fewer than a batch.
const TICK: Duration = Duration::from_millis(250);
/// How far ahead it claims: a look's claims cover the time until the next look, and each
/// probe waits for its due time.
const LOOK_AHEAD_MS: i64 = 300;
/// How many checks one look claims.
const BATCH: u32 = 512;
/// How long a claim holds: short, as it is renewed while the probe runs (`leases`).
const LEASE_MS: i64 = super::leases::LEASE_MS;
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
        loop {
            let (catalog, claimed) = match look(&state).await {
                Ok(look) => look,
                Err(e) => {
                    tracing::warn!(error = %e, "monitoring: cannot claim due checks");
                    tokio::time::sleep(TICK).await;
                    continue;
                }
            };
            let full = claimed.len() >= BATCH as usize;
            for due in claimed {
                let Some(check) = catalog.check(&due.check_id).cloned() else {
                    // Deleted since it was claimed: its state went with it.
                    continue;
                };
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let run = Run {
                    state: state.clone(),
                    client: client.clone(),
                    catalog: catalog.clone(),
                    check,
                    due,
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

/// One look: the catalog brought up to date, and the checks due by the next look claimed.
/// A claimed check the catalog does not know yet (created since it was read) makes it read
/// again.
async fn look(state: &AppState) -> Result<(Arc<Catalog>, Vec<CheckStateRecord>), StoreError> {
    let now = state.now();
    let mut catalog = state.monitoring.get(&state.store, now).await?;
    let claimed = state
        .store
        .claim_checks_due_by(
            &state.instance,
            now,
            now.plus_millis(LOOK_AHEAD_MS),
            BATCH,
            LEASE_MS,
        )
        .await?;
    if claimed
        .iter()
        .any(|due| catalog.check(&due.check_id).is_none())
    {
        state.monitoring.invalidate();
        catalog = state.monitoring.get(&state.store, state.now()).await?;
    }
    Ok((catalog, claimed))
}

/// One run of one check for one subject.
struct Run {
    state: AppState,
    client: reqwest::Client,
    catalog: Arc<Catalog>,
    check: Arc<CheckDef>,
    due: CheckStateRecord,
    results: writer::Results,
}

impl Run {
    /// Waits for the due time, probes, decides, and hands the decision to the writer.
    async fn go(self, permit: OwnedSemaphorePermit) {
        let Spec::Probe { probe, timeout_ms } = &self.check.spec else {
            // A device check is judged at reports, never claimed; its claim lapses.
            tracing::warn!(check = %self.check.record.name, "monitoring: a device check was scheduled; it is not a probe");
            return;
        };
        let early_ms = self.due.next_run_at.0 - self.state.now().0;
        if early_ms > 0 {
            let wait = u64::try_from(early_ms.min(LOOK_AHEAD_MS)).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        let started = self.state.now();
        let lateness_ms = u64::try_from(started.0 - self.due.next_run_at.0).unwrap_or(0);
        let outcome = steward_probes::run(
            probe,
            &self.client,
            Duration::from_millis((*timeout_ms).max(1)),
        )
        .await;
        drop(permit);
        self.state.telemetry.check_ran(
            &self.check.record.kind,
            outcome.status,
            Duration::from_millis(lateness_ms),
        );
        let now = self.state.now();
        let parent = self.parent_status().await;
        let decision = decide(
            &self.catalog,
            &self.check,
            CheckResult {
                status: outcome.status,
                summary: outcome.summary,
                at: now,
            },
            Context {
                subject: &self.due.subject,
                device: None,
                label: None,
                previous: Some(&self.due),
                parent,
                next_run_at: timing::next_run_at(
                    self.due.next_run_at,
                    self.check.record.interval_ms,
                    started,
                    now,
                ),
            },
        );
        let mut write = decision.write;
        // The run this result answers: a second answer (from a server whose lease lapsed)
        // is refused by the store.
        write.due_at = self.due.next_run_at;
        if self.results.send(write).await.is_err() {
            tracing::warn!(check = %self.check.record.name, "monitoring: the result writer has stopped");
        }
    }

    /// How the check this one depends on stands for the same subject, if it has a parent.
    async fn parent_status(&self) -> Option<CheckStatus> {
        let parent = self.check.record.parent_id.as_ref()?;
        self.state
            .store
            .check_state(parent, &self.due.subject)
            .await
            .ok()
            .flatten()
            .and_then(|s| CheckStatus::parse(&s.status))
    }
}
