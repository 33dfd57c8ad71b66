//! Device checks declared in the configuration file (`[[checks]]` with a device kind — disk,
//! memory, cpu, load, unit, failed_units, process, heartbeat — and a `target`): stored at
//! start like the file's network monitors, replaced when changed, removed when no longer
//! declared, and read-only elsewhere.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use steward_core::alerting::AlertRules;
use steward_core::checks::{DeviceCheck, Target};
use steward_store::{CheckRecord, StoreError};

use super::spec::Spec;
use super::{FROM_CONFIG, declared_id, same_definition};
use crate::state::AppState;

/// A device check as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredDeviceCheck {
    pub name: String,
    pub check: DeviceCheck,
    /// Which devices it covers.
    pub target: Target,
    /// A problem is confirmed once it has lasted this long (zero: at once).
    pub sustain: Duration,
    pub retries: u32,
    pub runbook: String,
}

/// Makes the store's declared device checks those of the configuration.
pub async fn sync(state: &AppState, checks: &[DeclaredDeviceCheck]) -> Result<(), StoreError> {
    let now = state.now();
    let store = &state.store;
    let stored: HashMap<String, CheckRecord> = store
        .checks()
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut changed = Vec::new();
    for c in checks {
        let rules = AlertRules {
            retries: c.retries,
            confirm_after_ms: (!c.sustain.is_zero())
                .then(|| i64::try_from(c.sustain.as_millis()).unwrap_or(i64::MAX)),
            ..AlertRules::default()
        };
        let record = CheckRecord {
            id: declared_id("config", &c.name),
            name: c.name.clone(),
            kind: c.check.kind().to_string(),
            target: c.target.as_string(),
            spec: serde_json::to_string(&Spec::Device {
                check: c.check.clone(),
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            interval_ms: 60_000,
            rules: serde_json::to_string(&rules).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            runner: "server".into(),
            parent_id: None,
            runbook: c.runbook.clone(),
            source: FROM_CONFIG.into(),
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        if !stored
            .get(&record.id)
            .is_some_and(|old| same_definition(old, &record))
        {
            changed.push(record);
        }
    }
    store.save_checks(&changed).await?;
    let declared: HashSet<String> = checks
        .iter()
        .map(|c| declared_id("config", &c.name))
        .collect();
    for old in stored.values() {
        if old.source == FROM_CONFIG && !old.target.is_empty() && !declared.contains(&old.id) {
            store.delete_check(&old.id).await?;
        }
    }
    state.monitoring.invalidate();
    Ok(())
}
