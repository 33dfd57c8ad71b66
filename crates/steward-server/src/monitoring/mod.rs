//! Monitoring: checks, their alerts, and the notifications that reach a person.
//!
//! This first part runs network monitors on the server: checks are declared (today in the
//! TOML configuration: [`sync_declared`]), the [`scheduler`] runs each when due and feeds
//! the result through `steward_core::alerting`, and the [`notifier`] delivers what that
//! decided through the channels, from the durable outbox in the store. See "Monitoring and
//! alerting" in docs/ARCHITECTURE.md for the parts still to come (agent checks, the console
//! and API, routing, maintenance windows and dependencies from the store).

pub mod notifier;
pub mod scheduler;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use steward_core::Timestamp;
use steward_core::alerting::{AlertRules, AlertState};
use steward_store::{ChannelRecord, CheckRecord, StoreError, TrackWrite};

use crate::state::AppState;

/// Where a check or channel came from: the configuration file's are replaced at every start.
pub const FROM_CONFIG: &str = "config";

/// A network monitor as declared: what to probe, how often, how patiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredCheck {
    pub name: String,
    pub probe: steward_probes::Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub runbook: String,
}

/// A notification channel as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredChannel {
    pub name: String,
    pub channel: steward_notify::Channel,
}

/// What the store keeps of a check's kind-specific settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Spec {
    pub probe: steward_probes::Probe,
    pub timeout_ms: u64,
}

/// Stable ids for declared entries: the same name is the same check across restarts, so
/// its state and history carry over.
fn declared_id(prefix: &str, name: &str) -> String {
    format!("{prefix}:{name}")
}

/// Makes the store's declared checks and channels those of the configuration: new ones are
/// added (and start being tracked), changed ones replaced, and those no longer declared
/// removed. Entries made in the console are left alone.
pub async fn sync_declared(
    state: &AppState,
    checks: &[DeclaredCheck],
    channels: &[DeclaredChannel],
) -> Result<(), StoreError> {
    let now = state.now();
    let store = &state.store;
    for c in channels {
        let id = declared_id("config", &c.name);
        let settings =
            serde_json::to_vec(&c.channel).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = state
            .config
            .sealing_key
            .seal(&settings, &id)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        store
            .save_channel(&ChannelRecord {
                id,
                name: c.name.clone(),
                kind: kind_of(&c.channel).to_string(),
                settings: sealed,
                source: FROM_CONFIG.into(),
                created_at: now,
            })
            .await?;
    }
    // Unchanged checks are not written again: a restart with thousands declared rewrites
    // nothing, and the scheduler's definitions stay as they are (no revision raised).
    let stored: std::collections::HashMap<String, CheckRecord> = store
        .checks()
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let initial = serde_json::to_string(&AlertState::new(now))
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut changed = Vec::new();
    let mut tracks = Vec::with_capacity(checks.len());
    for c in checks {
        let record = declared_record(c, now)?;
        tracks.push(TrackWrite {
            check_id: record.id.clone(),
            subject: String::new(),
            initial_state: initial.clone(),
            now,
            // Spread over the interval: thousands declared at once do not all run together.
            first_run_at: scheduler::first_run_at(&record.id, record.interval_ms, now),
        });
        if !stored
            .get(&record.id)
            .is_some_and(|old| same_definition(old, &record))
        {
            changed.push(record);
        }
    }
    store.save_checks(&changed).await?;
    store.track_checks(&tracks).await?;
    let declared: std::collections::HashSet<String> = checks
        .iter()
        .map(|c| declared_id("config", &c.name))
        .collect();
    for old in stored.values() {
        if old.source == FROM_CONFIG && !declared.contains(&old.id) {
            store.delete_check(&old.id).await?;
        }
    }
    Ok(())
}

/// The stored form of a declared check.
fn declared_record(c: &DeclaredCheck, now: Timestamp) -> Result<CheckRecord, StoreError> {
    let spec = Spec {
        probe: c.probe.clone(),
        timeout_ms: u64::try_from(c.timeout.as_millis()).unwrap_or(u64::MAX),
    };
    let rules = AlertRules {
        retries: c.retries,
        ..AlertRules::default()
    };
    Ok(CheckRecord {
        id: declared_id("config", &c.name),
        name: c.name.clone(),
        kind: probe_kind(&c.probe).into(),
        target: String::new(),
        spec: serde_json::to_string(&spec).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        interval_ms: i64::try_from(c.interval.as_millis()).unwrap_or(i64::MAX),
        rules: serde_json::to_string(&rules).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        runner: "server".into(),
        parent_id: None,
        runbook: c.runbook.clone(),
        source: FROM_CONFIG.into(),
        enabled: true,
        created_at: now,
        updated_at: now,
    })
}

/// The same check apart from when it was written.
fn same_definition(a: &CheckRecord, b: &CheckRecord) -> bool {
    let written_as_b = CheckRecord {
        created_at: b.created_at,
        updated_at: b.updated_at,
        ..a.clone()
    };
    written_as_b == *b
}

fn probe_kind(probe: &steward_probes::Probe) -> &'static str {
    match probe {
        steward_probes::Probe::Http { .. } => "http",
        steward_probes::Probe::Tcp { .. } => "tcp",
    }
}

fn kind_of(channel: &steward_notify::Channel) -> &'static str {
    match channel {
        steward_notify::Channel::Webhook { .. } => "webhook",
    }
}

/// The message a notice becomes, for every channel: what, how it stands, since when.
pub(crate) fn message(
    check: &CheckRecord,
    notice: &steward_core::alerting::Notice,
    summary: &str,
    at: Timestamp,
) -> serde_json::Value {
    use steward_core::alerting::Notice;
    let (event, status, previous) = match notice {
        Notice::Problem { status, .. } => ("problem", status.as_str(), None),
        Notice::Recovery { was } => ("recovery", "ok", Some(was.as_str())),
        Notice::Reminder { status, .. } => ("reminder", status.as_str(), None),
        Notice::FlappingStarted => ("flapping_started", "unknown", None),
        Notice::FlappingStopped => ("flapping_stopped", "unknown", None),
    };
    serde_json::json!({
        "event": event,
        "check": check.name,
        "status": status,
        "previous": previous,
        "summary": summary,
        "at": at.0,
        "runbook": check.runbook,
    })
}
