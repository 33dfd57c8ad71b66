//! Notification channels and their routes, installation-wide (channels hold credentials):
//! defined by administrators, settings sealed at rest, secrets never shown again; and a test
//! message per channel, sent at once so a person sees whether it arrives.

use std::time::Duration;

use steward_core::Action;
use steward_core::alerting::CheckStatus;
use steward_core::checks::Target;
use steward_proto::monitoring::{
    ChannelInfo, ChannelTestResult, CreateChannel, CreateRoute, RouteInfo,
};
use steward_store::{ChannelRecord, RouteRecord, StoreError};

use super::error::{MonitoringError, Result, invalid};
use crate::secrets::new_id;
use crate::service::Caller;
use crate::state::AppState;

const TEST_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<ChannelInfo>> {
    caller.require(Action::ManageChannels)?;
    let routes = state.store.routes().await?;
    let mut out = Vec::new();
    for c in state.store.channels().await? {
        let summary = match open(state, &c) {
            Ok(channel) => super::describe_channel(&channel),
            Err(e) => format!("unreadable settings: {e}"),
        };
        out.push(ChannelInfo {
            routes: routes
                .iter()
                .filter(|r| r.channel_id == c.id)
                .map(route_info)
                .collect(),
            id: c.id,
            name: c.name,
            kind: c.kind,
            summary,
            source: c.source,
        });
    }
    Ok(out)
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: &CreateChannel,
) -> Result<ChannelInfo> {
    caller.require(Action::ManageChannels)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name: 1 to 100 characters"));
    }
    let channel: steward_notify::Channel = serde_json::from_value(input.channel.clone())
        .map_err(|e| invalid(format!("channel: {e}")))?;
    channel
        .check()
        .map_err(|e| invalid(format!("channel: {e}")))?;
    let id = new_id();
    let record = seal(state, &id, name, &channel, "console", caller.now)?;
    state.store.save_channel(&record).await?;
    state.monitoring.invalidate();
    caller
        .audit(
            &state.store,
            "channel.create",
            name,
            super::kind_of(&channel),
        )
        .await;
    Ok(ChannelInfo {
        id,
        name: name.to_string(),
        kind: record.kind,
        summary: super::describe_channel(&channel),
        source: record.source,
        routes: Vec::new(),
    })
}

pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManageChannels)?;
    let record = find(state, id).await?;
    if record.source == super::FROM_CONFIG {
        return Err(MonitoringError::Declared("channel"));
    }
    state.store.delete_channel(id).await.map_err(|e| match e {
        StoreError::NotFound => MonitoringError::NotFound("channel"),
        other => other.into(),
    })?;
    state.monitoring.invalidate();
    caller
        .audit(&state.store, "channel.delete", &record.name, "")
        .await;
    Ok(())
}

/// Sends a test message through the channel now, outside the queue, and says what happened.
pub async fn test(state: &AppState, caller: &Caller, id: &str) -> Result<ChannelTestResult> {
    caller.require(Action::ManageChannels)?;
    let record = find(state, id).await?;
    let channel = open(state, &record).map_err(MonitoringError::Conflict)?;
    let client = steward_notify::client().map_err(|e| MonitoringError::Conflict(e.to_string()))?;
    let message = super::test_message(&caller.label(), caller.now);
    let sent = steward_notify::send(&channel, &message, &client, TEST_TIMEOUT).await;
    caller
        .audit(
            &state.store,
            "channel.test",
            &record.name,
            if sent.is_ok() { "delivered" } else { "failed" },
        )
        .await;
    Ok(ChannelTestResult {
        delivered: sent.is_ok(),
        error: sent.err().map(|e| e.to_string()),
    })
}

pub async fn create_route(
    state: &AppState,
    caller: &Caller,
    input: &CreateRoute,
) -> Result<RouteInfo> {
    caller.require(Action::ManageChannels)?;
    if input.min_status == CheckStatus::Ok {
        return Err(invalid("min_status: warning, unknown or critical"));
    }
    let devices = Target::parse(&input.devices)
        .map_err(|e| invalid(format!("devices: {e}")))?
        .as_string();
    let channel = find(state, &input.channel_id).await?;
    let record = RouteRecord {
        id: new_id(),
        channel_id: channel.id.clone(),
        min_status: input.min_status.as_str().to_string(),
        devices,
        source: "console".into(),
        created_at: caller.now,
    };
    state.store.save_route(&record).await.map_err(|e| match e {
        StoreError::NotFound => MonitoringError::NotFound("channel"),
        other => other.into(),
    })?;
    state.monitoring.invalidate();
    caller
        .audit(
            &state.store,
            "route.create",
            &channel.name,
            &format!("{} and worse, {}", record.min_status, record.devices),
        )
        .await;
    Ok(route_info(&record))
}

pub async fn delete_route(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManageChannels)?;
    let route = state
        .store
        .routes()
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(MonitoringError::NotFound("route"))?;
    if route.source == super::FROM_CONFIG {
        return Err(MonitoringError::Declared("route"));
    }
    state.store.delete_route(id).await?;
    state.monitoring.invalidate();
    caller
        .audit(
            &state.store,
            "route.delete",
            &route.channel_id,
            &route.devices,
        )
        .await;
    Ok(())
}

/// A route declared in the configuration file (`[[routes]]`): notices at least as urgent
/// as `min_status` about `devices` go to the channel named `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredRoute {
    /// A channel's name (from `[[notifications]]` or made in the console) or id.
    pub channel: String,
    pub min_status: CheckStatus,
    pub devices: super::windows::Named,
    /// Where it is declared (`steward.toml line 30`).
    pub origin: String,
}

/// Makes the store's declared routes those of the configuration, all at once (after the
/// declared channels are stored, so a route may name one). A route whose channel or devices
/// cannot be found is left out; the returned problems say which and why.
pub async fn sync_declared_routes(
    state: &AppState,
    declared: &[DeclaredRoute],
) -> std::result::Result<Vec<String>, StoreError> {
    let channels = state.store.channels().await?;
    let mut problems = Vec::new();
    let mut records = Vec::new();
    for r in declared {
        let problem = |reason: &dyn std::fmt::Display| {
            format!("{}: route to {:?}: {reason}", r.origin, r.channel)
        };
        let Some(channel) = channels
            .iter()
            .find(|c| c.name == r.channel || c.id == r.channel)
        else {
            problems.push(problem(&"no notification channel has this name"));
            continue;
        };
        if matches!(r.devices, super::windows::Named::Check(_)) || r.min_status == CheckStatus::Ok {
            problems.push(problem(&"a route is for devices and an urgency"));
            continue;
        }
        let devices =
            match super::windows::target_of(state, &steward_core::Scope::AllDevices, &r.devices)
                .await
            {
                Ok(t) => t,
                Err(MonitoringError::Store(e)) => return Err(e),
                Err(e) => {
                    problems.push(problem(&e));
                    continue;
                }
            };
        records.push(RouteRecord {
            id: format!("{}:route:{}", super::FROM_CONFIG, records.len()),
            channel_id: channel.id.clone(),
            min_status: r.min_status.as_str().to_string(),
            devices,
            source: super::FROM_CONFIG.into(),
            created_at: state.now(),
        });
    }
    match state
        .store
        .replace_routes(super::FROM_CONFIG, &records)
        .await
    {
        Ok(()) => {}
        // A channel deleted in the moment since it was read: the old routes stay.
        Err(StoreError::NotFound) => problems.push(
            "routes: a channel was deleted while they were being stored; restart to store them"
                .into(),
        ),
        Err(e) => return Err(e),
    }
    state.monitoring.invalidate();
    Ok(problems)
}

async fn find(state: &AppState, id: &str) -> Result<ChannelRecord> {
    state
        .store
        .channels()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(MonitoringError::NotFound("channel"))
}

/// A channel's settings, sealed with the sealing key under the channel's id.
pub(crate) fn seal(
    state: &AppState,
    id: &str,
    name: &str,
    channel: &steward_notify::Channel,
    source: &str,
    now: steward_core::Timestamp,
) -> Result<ChannelRecord> {
    let settings = serde_json::to_vec(channel).map_err(invalid)?;
    let sealed = state
        .config
        .sealing_key
        .seal(&settings, id)
        .map_err(|e| MonitoringError::Store(StoreError::Corrupt(e.to_string())))?;
    Ok(ChannelRecord {
        id: id.to_string(),
        name: name.to_string(),
        kind: super::kind_of(channel).to_string(),
        settings: sealed,
        source: source.to_string(),
        created_at: now,
    })
}

/// A stored channel's settings, opened.
pub(crate) fn open(
    state: &AppState,
    record: &ChannelRecord,
) -> std::result::Result<steward_notify::Channel, String> {
    let plain = state
        .config
        .sealing_key
        .open(&record.settings, &record.id)
        .map_err(|e| format!("cannot open the channel's settings: {e}"))?;
    serde_json::from_slice(&plain).map_err(|e| format!("unreadable channel settings: {e}"))
}

fn route_info(r: &RouteRecord) -> RouteInfo {
    RouteInfo {
        id: r.id.clone(),
        channel_id: r.channel_id.clone(),
        min_status: CheckStatus::parse(&r.min_status).unwrap_or(CheckStatus::Warning),
        devices: r.devices.clone(),
    }
}
