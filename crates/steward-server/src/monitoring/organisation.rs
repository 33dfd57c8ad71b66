//! Checks about the organisation rather than a device or a network service: a capability
//! judges what it knows (today the posture capability's manual checklist items, each past
//! its review-by date) and hands each subject's result here, to go through the same
//! decision, routes, maintenance windows and outbox as every other check. Their subjects
//! (`manual:ITEM`) are no device, so no device's group or tag routes them: routes and
//! windows for every device do.

use std::collections::HashMap;

use steward_core::alerting::{CheckResult, CheckStatus};
use steward_core::checks::DeviceCheck;
use steward_store::{CheckStateRecord, StoreError};

use super::catalog::CheckDef;
use super::decide::{Context, NOT_SCHEDULED, decide};
use crate::state::AppState;

/// One subject's result, as the capability judged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectResult {
    /// Stable across sweeps (`manual:router-firmware`).
    pub subject: String,
    /// What a notification names instead of a device ("Router firmware and admin password").
    pub label: String,
    pub status: CheckStatus,
    pub summary: String,
}

/// Judges every enabled check that `pick` chooses on `results`, writing only what changed.
pub async fn judge(
    state: &AppState,
    pick: impl Fn(&DeviceCheck) -> bool,
    results: &[SubjectResult],
) -> Result<(), StoreError> {
    let now = state.now();
    let catalog = state.monitoring.get(&state.store, now).await?;
    let mut writes = Vec::new();
    for check in catalog
        .checks
        .iter()
        .filter(|c| c.record.enabled && c.spec.device_check().is_some_and(&pick))
    {
        let states = state.store.states_of_check(&check.record.id).await?;
        let by_subject: HashMap<&str, &CheckStateRecord> =
            states.iter().map(|s| (s.subject.as_str(), s)).collect();
        for result in results {
            let previous = by_subject.get(result.subject.as_str()).copied();
            // Nothing to say of a subject that never had a problem and has none now.
            if previous.is_none() && result.status == CheckStatus::Ok {
                continue;
            }
            writes.extend(judge_one(&catalog, check, previous, result, now));
        }
    }
    super::devices::record(state, writes).await;
    Ok(())
}

fn judge_one(
    catalog: &super::catalog::Catalog,
    check: &CheckDef,
    previous: Option<&CheckStateRecord>,
    result: &SubjectResult,
    now: steward_core::Timestamp,
) -> Option<(Option<String>, steward_store::CheckResultWrite)> {
    let decision = decide(
        catalog,
        check,
        CheckResult {
            status: result.status,
            summary: result.summary.clone(),
            at: now,
        },
        Context {
            subject: &result.subject,
            device: None,
            label: Some(&result.label),
            previous,
            parent: None,
            next_run_at: NOT_SCHEDULED,
        },
    );
    decision
        .changed
        .then(|| (previous.map(|p| p.state.clone()), decision.write))
}
