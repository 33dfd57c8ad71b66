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
