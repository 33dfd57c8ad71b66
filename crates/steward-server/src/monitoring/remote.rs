//! Network monitors run by an agent (`runner` = `device:ID`): the probe orders put in that
//! agent's watch list, and the results its reports carry judged in the order they ran — as
//! the server's own probe results are, with the same decision, written compare-and-set like
//! device checks (two servers judging one report record a transition once).

use std::collections::HashMap;
use std::sync::Arc;

use steward_core::Timestamp;
use steward_core::alerting::{CheckResult, CheckStatus};
use steward_core::checks::remote::{MIN_PROBE_INTERVAL_SECS, ProbeOrder, ProbeResult};
use steward_store::{CheckResultWrite, CheckStateRecord};

use super::catalog::{Catalog, CheckDef};
use super::decide::{Context, NOT_SCHEDULED, decide};
use super::spec::Spec;
use crate::state::AppState;

/// The orders for the probes `device_id`'s agent runs.
pub fn orders(catalog: &Catalog, device_id: &str) -> Vec<ProbeOrder> {
    catalog
        .agent_probes(device_id)
        .filter_map(|c| match &c.spec {
            Spec::Probe { probe, timeout_ms } => Some(ProbeOrder {
                check_id: c.record.id.clone(),
                probe: serde_json::to_string(probe).ok()?,
                interval_secs: u32::try_from(c.record.interval_ms / 1000)
                    .unwrap_or(u32::MAX)
                    .max(MIN_PROBE_INTERVAL_SECS),
                timeout_ms: *timeout_ms,
            }),
            Spec::Device { .. } => None,
        })
        .collect()
}

/// Judges the probe results a report of `device_id` carried, for the probes its agent runs
/// (results for other checks — one moved to another runner meanwhile — are ignored), and
/// stores what changed.
pub async fn judge(state: &AppState, catalog: &Catalog, device_id: &str, results: &[ProbeResult]) {
    let ours: HashMap<&str, &Arc<CheckDef>> = catalog
        .agent_probes(device_id)
        .map(|c| (c.record.id.as_str(), c))
        .collect();
    let mut by_check: HashMap<&str, Vec<&ProbeResult>> = HashMap::new();
    for r in results {
        if ours.contains_key(r.check_id.as_str()) {
            by_check.entry(r.check_id.as_str()).or_default().push(r);
        }
    }
    let now = state.now();
    let mut writes = Vec::new();
    for (check_id, mut runs) in by_check {
        let check = ours[check_id];
        let stored = match state.store.check_state(check_id, "").await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(check = %check.record.name, error = %e, "monitoring: cannot read a check's state; its probe results go unjudged");
                continue;
            }
        };
        runs.sort_by_key(|r| r.at);
        writes.extend(judge_runs(catalog, check, stored, &runs, now));
    }
    if writes.is_empty() {
        return;
    }
    if let Err(e) = state.store.record_device_results(&writes).await {
        tracing::warn!(error = %e, "monitoring: cannot store probe results from an agent");
    }
}

/// The writes for one check's runs, each expecting the state the one before left: in one
/// transaction they apply in order, or not at all past a state another server changed.
/// Each run is judged at the server's `now` (the agent's clock may be off); their order is
/// the agent's.
fn judge_runs(
    catalog: &Catalog,
    check: &CheckDef,
    stored: Option<CheckStateRecord>,
    runs: &[&ProbeResult],
    now: Timestamp,
) -> Vec<(Option<String>, CheckResultWrite)> {
    let mut previous = stored;
    let mut writes = Vec::new();
    for run in runs {
        let decision = decide(
            catalog,
            check,
            CheckResult {
                status: run.status,
                summary: run.summary.clone(),
                at: now,
            },
            Context {
                subject: "",
                device: None,
                label: None,
                previous: previous.as_ref(),
                // Dependencies between agent-run probes are not followed (yet): the parent's
                // state would come from another report.
                parent: None::<CheckStatus>,
                next_run_at: NOT_SCHEDULED,
            },
        );
        if !decision.changed {
            continue;
        }
        let w = decision.write;
        let next = CheckStateRecord {
            check_id: w.check_id.clone(),
            subject: w.subject.clone(),
            state: w.state.clone(),
            status: w.status.clone(),
            since: w.since,
            summary: w.summary.clone(),
            next_run_at: w.next_run_at,
        };
        writes.push((previous.as_ref().map(|p| p.state.clone()), w));
        previous = Some(next);
    }
    writes
}
