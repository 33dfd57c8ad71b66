//! Runs due checks: claims them from the store (with a lease, so several servers share the
//! work and a dead server's claims lapse), probes each, applies the alert rules, and stores
//! the new state, its history line and its notices together.

use std::sync::Arc;
use std::time::Duration;

use steward_core::alerting::{CheckResult, CheckStatus};
use steward_store::CheckStateRecord;
use tokio::sync::Semaphore;

use super::catalog::{Catalog, CheckDef};
use super::decide::{Context, decide};
use super::spec::Spec;
use crate::state::AppState;

/// How often the scheduler looks for due checks.
const TICK: Duration = Duration::from_millis(250);
/// How many checks one look claims.
const BATCH: u32 = 256;
/// How long a claim holds: short, as it is renewed while the probe runs (`leases`).
const LEASE_MS: i64 = super::leases::LEASE_MS;
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
                .claim_due_checks(&state.instance, state.now(), BATCH, LEASE_MS)
                .await
            {
                Ok(due) if !due.is_empty() => {
                    let catalog = match state.monitoring.get(&state.store, state.now()).await {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "monitoring: cannot read checks");
                            tokio::time::sleep(TICK).await;
                            continue;
                        }
                    };
                    for due in due {
                        let Some(check) = catalog.check(&due.check_id).cloned() else {
                            continue;
                        };
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            return;
                        };
                        let state = state.clone();
                        let client = client.clone();
                        let catalog = catalog.clone();
                        tokio::spawn(async move {
                            run_one(&state, &client, &catalog, &check, &due).await;
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
    catalog: &Catalog,
    check: &CheckDef,
    due: &CheckStateRecord,
) {
    let Spec::Probe { probe, timeout_ms } = &check.spec else {
        // A device check is judged at reports, never claimed: release it for good.
        tracing::warn!(check = %check.record.name, "monitoring: a device check was scheduled; it is not a probe");
        return;
    };
    let outcome =
        steward_probes::run(probe, client, Duration::from_millis((*timeout_ms).max(1))).await;
    let now = state.now();
    let parent = match &check.record.parent_id {
        Some(parent) => state
            .store
            .check_state(parent, &due.subject)
            .await
            .ok()
            .flatten()
            .and_then(|s| CheckStatus::parse(&s.status)),
        None => None,
    };
    let decision = decide(
        catalog,
        check,
        CheckResult {
            status: outcome.status,
            summary: outcome.summary,
            at: now,
        },
        Context {
            subject: &due.subject,
            device: None,
            previous: Some(due),
            parent,
            next_run_at: now.plus_millis(check.record.interval_ms.max(1_000)),
        },
    );
    let mut write = decision.write;
    // The run this result answers: a second answer (from a server whose lease lapsed) is
    // refused by the store.
    write.due_at = due.next_run_at;
    if let Err(e) = state.store.record_check_result(&write).await {
        tracing::warn!(check = %check.record.name, error = %e, "monitoring: cannot store a result");
    }
}
