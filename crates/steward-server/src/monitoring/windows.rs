//! Maintenance windows: while one is open, what it covers pages nobody (results are still
//! kept; what is still wrong when it closes is announced then).

use steward_core::alerting::window::Window;
use steward_core::checks::Target;
use steward_core::{Action, Scope};
use steward_proto::monitoring::{CreateWindow, WindowInfo};
use steward_store::{StoreError, WindowRecord};

use super::error::{MonitoringError, Result, invalid};
use crate::secrets::new_id;
use crate::service::Caller;
use crate::state::AppState;

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<WindowInfo>> {
    caller.require(Action::ViewDevices)?;
    Ok(state
        .store
        .windows()
        .await?
        .into_iter()
        .filter(|w| visible(caller.scope(), &w.target))
        .filter_map(|w| info(w, caller.now))
        .collect())
}

pub async fn create(state: &AppState, caller: &Caller, input: &CreateWindow) -> Result<WindowInfo> {
    caller.require(Action::ManageMonitoring)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name: 1 to 100 characters"));
    }
    if input.comment.chars().count() > 1_000 {
        return Err(invalid("comment: at most 1,000 characters"));
    }
    input
        .schedule
        .check()
        .map_err(|e| invalid(format!("schedule: {e}")))?;
    let target = parse_target(&input.target)?;
    match &target {
        Covers::Check(id) => {
            if super::checks::get(state, caller, id).await.is_err() {
                return Err(invalid("target: no such check"));
            }
            if *caller.scope() != Scope::AllDevices {
                return Err(MonitoringError::OutsideScope("a whole check"));
            }
        }
        Covers::Devices(Target::Group(g)) if caller.scope().allows(Some(g)) => {}
        Covers::Devices(Target::Device(d)) => {
            if state
                .store
                .scoped(caller.scope())
                .device(d)
                .await?
                .is_none()
            {
                return Err(invalid("target: no such device"));
            }
        }
        Covers::Devices(_) if *caller.scope() == Scope::AllDevices => {}
        Covers::Devices(_) => return Err(MonitoringError::OutsideScope("these devices")),
    }
    let record = WindowRecord {
        id: new_id(),
        name: name.to_string(),
        target: input.target.clone(),
        schedule: serde_json::to_string(&input.schedule).map_err(invalid)?,
        comment: input.comment.clone(),
        source: "console".into(),
        created_by: caller.label(),
        created_at: caller.now,
    };
    state.store.save_window(&record).await?;
    state.monitoring.invalidate();
    caller
        .audit(
            &state.store,
            "maintenance.create",
            &record.name,
            &record.target,
        )
        .await;
    info(record, caller.now).ok_or_else(|| invalid("schedule: unreadable"))
}

pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManageMonitoring)?;
    let window = state
        .store
        .windows()
        .await?
        .into_iter()
        .find(|w| w.id == id && visible(caller.scope(), &w.target))
        .ok_or(MonitoringError::NotFound("maintenance window"))?;
    if window.source == super::FROM_CONFIG {
        return Err(MonitoringError::Declared("maintenance window"));
    }
    if !matches!(
        Target::parse(&window.target),
        Ok(Target::Group(_) | Target::Device(_))
    ) && *caller.scope() != Scope::AllDevices
    {
        return Err(MonitoringError::OutsideScope("this window"));
    }
    state.store.delete_window(id).await.map_err(|e| match e {
        StoreError::NotFound => MonitoringError::NotFound("maintenance window"),
        other => other.into(),
    })?;
    state.monitoring.invalidate();
    caller
        .audit(&state.store, "maintenance.delete", &window.name, "")
        .await;
    Ok(())
}

enum Covers {
    Check(String),
    Devices(Target),
}

fn parse_target(t: &str) -> Result<Covers> {
    match t.strip_prefix("check:") {
        Some(id) if !id.is_empty() => Ok(Covers::Check(id.to_string())),
        _ => Target::parse(t)
            .map(Covers::Devices)
            .map_err(|e| invalid(format!("target: {e}, or `check:ID`"))),
    }
}

fn visible(scope: &Scope, target: &str) -> bool {
    match Target::parse(target) {
        Ok(Target::Group(g)) => scope.allows(Some(&g)),
        _ => true,
    }
}

/// What a window covers, or a route is for, as a person names it: a device or a group by
/// name (or id), a tag, a check by name (or id). Looked up when stored ([`target_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    All,
    Device(String),
    Group(String),
    Tag(String),
    Check(String),
}

/// The stored target (`all`, `device:ID`, `group:ID`, `tag:NAME`, `check:ID`) of `named`,
/// looking names up among what `scope` sees; an unknown or ambiguous name is `Invalid`.
pub async fn target_of(state: &AppState, scope: &Scope, named: &Named) -> Result<String> {
    Ok(match named {
        Named::All => Target::All.as_string(),
        Named::Tag(tag) => Target::parse(&format!("tag:{tag}"))
            .map_err(|e| invalid(format!("tag: {e}")))?
            .as_string(),
        Named::Device(name) => {
            let view = state.store.scoped(scope);
            let id = match view.device(name).await? {
                Some(d) => d.id,
                None => {
                    let found = view.devices_named(name).await?;
                    match found.as_slice() {
                        [] => return Err(invalid(format!("no device named {name:?}"))),
                        [one] => one.id.clone(),
                        many => {
                            let ids: Vec<&str> = many.iter().map(|d| d.id.as_str()).collect();
                            return Err(invalid(format!(
                                "{} devices are named {name:?}: give the id ({})",
                                many.len(),
                                ids.join(", ")
                            )));
                        }
                    }
                }
            };
            Target::Device(id).as_string()
        }
        Named::Group(name) => {
            let group = state
                .store
                .list_groups()
                .await?
                .into_iter()
                .find(|g| (g.name == *name || g.id == *name) && scope.allows(Some(&g.id)))
                .ok_or_else(|| invalid(format!("no group named {name:?}")))?;
            Target::Group(group.id).as_string()
        }
        Named::Check(name) => {
            let mut found = None;
            for c in state.store.checks().await? {
                if (c.id == *name || c.name == *name)
                    && super::checks::target_visible(state, scope, &c.target).await?
                {
                    found = Some(c.id);
                    break;
                }
            }
            let id = found.ok_or_else(|| invalid(format!("no check named {name:?}")))?;
            format!("check:{id}")
        }
    })
}

/// A maintenance window declared in the configuration file (`[[maintenance]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredWindow {
    pub name: String,
    pub covers: Named,
    pub schedule: Window,
    pub reason: String,
    /// Where it is declared (`steward.toml line 12`), for what is found wrong only when it
    /// is stored (a device not enrolled, a name already taken).
    pub origin: String,
}

/// Makes the store's declared windows those of the configuration, as `sync_declared` does
/// for checks: stored under `config:NAME`, replaced at each start, those no longer declared
/// removed. A window whose target cannot be found, or whose name a window made in the
/// console holds, is left out; the returned problems say which and why.
pub async fn sync_declared(
    state: &AppState,
    declared: &[DeclaredWindow],
) -> std::result::Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut kept = Vec::new();
    for w in declared {
        let problem = |reason: &dyn std::fmt::Display| {
            format!("{}: maintenance {:?}: {reason}", w.origin, w.name)
        };
        let target = match target_of(state, &Scope::AllDevices, &w.covers).await {
            Ok(t) => t,
            Err(MonitoringError::Store(e)) => return Err(e),
            Err(e) => {
                problems.push(problem(&e));
                continue;
            }
        };
        let record = WindowRecord {
            id: format!("{}:{}", super::FROM_CONFIG, w.name),
            name: w.name.clone(),
            target,
            schedule: serde_json::to_string(&w.schedule)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            comment: w.reason.clone(),
            source: super::FROM_CONFIG.into(),
            created_by: super::FROM_CONFIG.into(),
            created_at: state.now(),
        };
        match state.store.save_window(&record).await {
            Ok(()) => kept.push(record.id),
            Err(StoreError::Conflict(reason)) => problems.push(problem(&reason)),
            Err(e) => return Err(e),
        }
    }
    for old in state.store.windows().await? {
        if old.source == super::FROM_CONFIG && !kept.contains(&old.id) {
            state.store.delete_window(&old.id).await?;
        }
    }
    state.monitoring.invalidate();
    Ok(problems)
}

fn info(w: WindowRecord, now: steward_core::Timestamp) -> Option<WindowInfo> {
    let schedule: Window = serde_json::from_str(&w.schedule).ok()?;
    Some(WindowInfo {
        open: schedule.covers(now),
        id: w.id,
        name: w.name,
        target: w.target,
        schedule,
        comment: w.comment,
        source: w.source,
        created_by: w.created_by,
    })
}
