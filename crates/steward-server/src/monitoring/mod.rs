//! Monitoring: checks, their alerts, and the notifications that reach a person.
//!
//! This first part runs network monitors on the server: checks are declared (today in the
//! TOML configuration: [`sync_declared`]), the [`scheduler`] runs each when due and feeds
//! the result through `steward_core::alerting`, and the [`notifier`] delivers what that
//! decided through the channels, from the durable outbox in the store. See "Monitoring and
//! alerting" in docs/ARCHITECTURE.md for the parts still to come (agent checks, the console
//! and API, routing, maintenance windows and dependencies from the store).

pub mod alerts;
pub mod api;
pub mod catalog;
pub mod channels;
pub mod checks;
pub mod console;
pub mod decide;
#[cfg(test)]
mod decide_tests;
pub mod declared_devices;
pub mod deliveries;
pub mod devices;
pub mod error;
pub mod leases;
pub mod manage;
pub mod notifier;
pub mod organisation;
pub mod remote;
pub mod scheduler;
pub mod spec;
pub mod windows;

pub use error::{MonitoringError, Result as MonitoringResult};

use std::time::Duration;

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

pub use declared_devices::DeclaredDeviceCheck;

/// A notification channel as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredChannel {
    pub name: String,
    pub channel: steward_notify::Channel,
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
                kind: c.channel.kind().to_string(),
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
    if changed.len() >= 100 {
        store.refresh_monitoring_statistics().await?;
    }
    let declared: std::collections::HashSet<String> = checks
        .iter()
        .map(|c| declared_id("config", &c.name))
        .collect();
    // Network monitors only: the file's device checks are synced by
    // `declared_devices::sync`.
    for old in stored.values() {
        if old.source == FROM_CONFIG && old.target.is_empty() && !declared.contains(&old.id) {
            store.delete_check(&old.id).await?;
        }
    }
    state.monitoring.invalidate();
    Ok(())
}

/// The stored form of a declared check.
fn declared_record(c: &DeclaredCheck, now: Timestamp) -> Result<CheckRecord, StoreError> {
    let spec = spec::Spec::Probe {
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
        kind: c.probe.kind().into(),
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

/// Adds the default device checks (`steward_core::checks::defaults`: heartbeat, disk,
/// memory, failed units, for all devices) the first time a server starts on a database.
/// Once added they are the user's: changed or deleted, they are not added again.
/// The backup capability's defaults (`backup_defaults`) are a second set with its own
/// marker, so databases made before backups existed get them once too.
pub async fn install_default_checks(state: &AppState) -> Result<(), StoreError> {
    install_defaults(
        state,
        "monitoring.default_checks_installed",
        steward_core::checks::defaults(),
    )
    .await?;
    install_defaults(
        state,
        "backup.default_checks_installed",
        steward_core::checks::backup_defaults(),
    )
    .await?;
    install_defaults(
        state,
        "posture.default_checks_installed",
        steward_core::checks::posture_defaults(),
    )
    .await?;
    install_defaults(
        state,
        "posture.review_check_installed",
        steward_core::checks::posture_review_defaults(),
    )
    .await?;
    install_defaults(
        state,
        "patching.default_check_installed",
        steward_core::checks::patching_defaults(),
    )
    .await?;
    install_defaults(
        state,
        "detection.default_check_installed",
        steward_core::checks::detection_defaults(),
    )
    .await
}

async fn install_defaults(
    state: &AppState,
    installed: &str,
    defaults: Vec<(&'static str, steward_core::checks::DeviceCheck, u64)>,
) -> Result<(), StoreError> {
    if state.store.setting(installed).await?.is_some() {
        return Ok(());
    }
    let now = state.now();
    for (name, check, sustain_secs) in defaults {
        let rules = steward_core::checks::default_rules(&check, sustain_secs);
        let record = CheckRecord {
            id: format!("default:{}", check.kind()),
            name: name.to_string(),
            kind: check.kind().to_string(),
            target: "all".into(),
            spec: serde_json::to_string(&spec::Spec::Device { check })
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            interval_ms: 60_000,
            rules: serde_json::to_string(&rules).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            runner: "server".into(),
            parent_id: None,
            runbook: String::new(),
            source: "default".into(),
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        match state.store.save_check(&record).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    state.store.set_setting(installed, "1", now).await?;
    state.monitoring.invalidate();
    Ok(())
}

/// Where a channel sends, for people, without its secrets.
pub(crate) fn describe_channel(channel: &steward_notify::Channel) -> String {
    channel
        .redacted()
        .into_iter()
        .map(|s| format!("{}: {}", s.field, s.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What "send test" sends.
pub(crate) fn test_message(by: &str, at: Timestamp) -> steward_notify::Message {
    steward_notify::Message::one(steward_notify::Alert {
        event: steward_notify::Event::Test,
        check: "Steward test message".into(),
        subject: None,
        status: steward_core::alerting::CheckStatus::Ok,
        previous: None,
        summary: format!("sent by {by} to check this channel"),
        at: at.0,
        runbook: String::new(),
        link: None,
    })
}

pub(crate) fn kind_of(channel: &steward_notify::Channel) -> &'static str {
    channel.kind()
}

/// The message a notice becomes, for every channel: what, about which device, how it
/// stands, since when. One alert per message; the notifier groups several into one.
pub(crate) fn message(
    check: &CheckRecord,
    device: Option<&str>,
    notice: &steward_core::alerting::Notice,
    summary: &str,
    at: Timestamp,
) -> steward_notify::Message {
    use steward_core::alerting::{CheckStatus, Notice};
    use steward_notify::Event;
    let (event, status, previous) = match notice {
        Notice::Problem { status, .. } => (Event::Problem, *status, None),
        Notice::Recovery { was } => (Event::Recovery, CheckStatus::Ok, Some(*was)),
        Notice::Reminder { status, .. } => (Event::Reminder, *status, None),
        Notice::FlappingStarted => (Event::FlappingStarted, CheckStatus::Unknown, None),
        Notice::FlappingStopped => (Event::FlappingStopped, CheckStatus::Unknown, None),
    };
    steward_notify::Message::one(steward_notify::Alert {
        event,
        check: check.name.clone(),
        subject: device.map(str::to_string),
        status,
        previous,
        summary: summary.to_string(),
        at: at.0,
        runbook: check.runbook.clone(),
        link: None,
    })
}

/// Monitoring's routes.
pub fn routes() -> crate::web::routes::Routes {
    use crate::web::routes::{Access, Routes};
    use steward_core::Action::*;
    use utoipa_axum::routes;
    Routes::new()
        .api(Access::Requires(ViewDevices), routes!(api::list_checks))
        .api(
            Access::Requires(ManageMonitoring),
            routes!(api::create_check),
        )
        .api(
            Access::Requires(ManageMonitoring),
            routes!(api::update_check),
        )
        .api(
            Access::Requires(ManageMonitoring),
            routes!(api::delete_check),
        )
        .api(Access::Requires(ViewDevices), routes!(api::alerts))
        .api(
            Access::Requires(ManageMonitoring),
            routes!(api::acknowledge),
        )
        .api(Access::Requires(ViewDevices), routes!(api::history))
        .api(Access::Requires(ViewDevices), routes!(api::device_checks))
        .api(Access::Requires(ViewDevices), routes!(api::windows))
        .api(
            Access::Requires(ManageMonitoring),
            routes!(api::create_window),
        )
        .api(
            Access::Requires(ManageMonitoring),
            routes!(api::delete_window),
        )
        .api(Access::Requires(ManageChannels), routes!(api::channels))
        .api(Access::Requires(ManageChannels), routes!(api::deliveries))
        .api(
            Access::Requires(ManageChannels),
            routes!(api::create_channel),
        )
        .api(
            Access::Requires(ManageChannels),
            routes!(api::delete_channel),
        )
        .api(Access::Requires(ManageChannels), routes!(api::test_channel))
        .api(Access::Requires(ManageChannels), routes!(api::create_route))
        .api(Access::Requires(ManageChannels), routes!(api::delete_route))
        .get("/alerts", Access::Requires(ViewDevices), console::page)
        .post(
            "/alerts/acknowledge",
            Access::Requires(ManageMonitoring),
            console::acknowledge,
        )
}
