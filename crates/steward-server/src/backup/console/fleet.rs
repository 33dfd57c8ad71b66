//! `/backups`: every device in the user's scope and its backups — the last one and its
//! age (late ones flagged), size, snapshots kept, what the repository stores, the next run,
//! the last restore drill — with the totals on top.
//!
//! Late, kept simple: the last backup is older than twice the interval of the shortest
//! schedule among the enabled policies covering the device, or than two days when none
//! does ([`figures::is_late`]).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_core::Timestamp;
use steward_core::backup::schedule::Schedule;
use steward_core::checks::{Membership, Target};
use steward_store::{
    BackupOverviewRecord, DeviceFilter, DeviceRecord, DeviceSortKey, DrillOutcome,
};

use super::{device_href, figures};
use crate::auth::ConsoleUser;
use crate::console::format::{bytes, relative, utc};
use crate::console::{Chrome, render};
use crate::error::AppResult;
use crate::service::Caller;
use crate::state::AppState;

/// Devices listed at most (by name); the totals count every device with backups.
const MAX_DEVICES: u64 = 2_000;

pub struct FleetRow {
    pub name: String,
    pub href: String,
    /// No snapshot kept.
    pub never: bool,
    pub late: bool,
    pub last: String,
    pub last_exact: String,
    pub size: String,
    pub snapshots: i64,
    pub stored: String,
    pub next_run: String,
    pub next_run_exact: String,
    pub drill: String,
    /// `ok`, `critical`, `pending`, or empty (never).
    pub drill_badge: &'static str,
}

#[derive(Template)]
#[template(path = "backups.html")]
struct FleetPage {
    chrome: Chrome,
    rows: Vec<FleetRow>,
    backed_up: usize,
    never: usize,
    late: usize,
    total_stored: String,
    /// More devices than listed: how many in all.
    cut: Option<u64>,
    /// Where backups are kept, and whether they are locked.
    storage: String,
    /// What is wrong with the storage: unreachable, or a bucket that locks nothing.
    storage_warning: Option<String>,
}

/// The storage line of the page and its warning.
fn storage_line(state: &AppState) -> (String, Option<String>) {
    let status = crate::backup::storage::status(state);
    let location = status.location.clone().unwrap_or_default();
    match status.kind.as_str() {
        "none" => (
            "This server keeps no backups: it has no backup storage configured.".into(),
            None,
        ),
        "local" => (format!("Stored in the directory {location}."), None),
        _ => {
            let lock = status
                .object_lock
                .as_deref()
                .map_or(String::new(), |l| format!(" Object Lock: {l}."));
            let warning = match (&status.error, status.locked, &status.object_lock) {
                (Some(error), _, _) => Some(format!("The bucket cannot be used: {error}")),
                (None, false, Some(_)) => Some(
                    "Backups in this bucket are not locked: whoever holds the server's S3 key \
                     can delete them. Use a bucket made with Object Lock and a default \
                     retention."
                        .into(),
                ),
                _ => None,
            };
            (format!("Stored in the bucket {location}.{lock}"), warning)
        }
    }
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    match build(&state, &user.caller(&state)).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

/// The enabled policies' targets and schedule intervals.
async fn schedules(state: &AppState) -> AppResult<Vec<(Target, i64)>> {
    Ok(state
        .store
        .backup_policies()
        .await?
        .into_iter()
        .filter(|p| p.enabled)
        .filter_map(|p| {
            let target = Target::parse(&p.target).ok()?;
            let schedule = Schedule::parse(&p.schedule).ok()?;
            Some((target, schedule.period_ms()))
        })
        .collect())
}

/// The shortest interval among the schedules that cover `device`.
fn interval_of(schedules: &[(Target, i64)], device: &DeviceRecord) -> Option<i64> {
    let groups: Vec<String> = device.group_id.iter().cloned().collect();
    let membership = Membership {
        device_id: &device.id,
        groups: &groups,
        tags: &device.tags,
    };
    schedules
        .iter()
        .filter(|(target, _)| target.covers(&membership))
        .map(|(_, period)| *period)
        .min()
}

async fn build(state: &AppState, caller: &Caller) -> AppResult<FleetPage> {
    let now = caller.now;
    let filter = DeviceFilter {
        sort: DeviceSortKey::Name,
        limit: MAX_DEVICES,
        ..Default::default()
    };
    let (devices, total) = crate::devices::list(state, caller, &filter).await?;
    let overview = state.store.scoped(caller.scope()).backup_overview().await?;
    let total_stored: i64 = overview.iter().map(|o| o.live_stored_bytes.max(0)).sum();
    let by_device: HashMap<&str, &BackupOverviewRecord> =
        overview.iter().map(|o| (o.device_id.as_str(), o)).collect();
    let schedules = schedules(state).await?;
    let (storage, storage_warning) = storage_line(state);
    let rows: Vec<FleetRow> = devices
        .iter()
        .filter_map(|d| {
            let backups = by_device.get(d.id.as_str()).copied();
            // A revoked device is listed only for the backups it left.
            if d.revoked_at.is_some() && backups.is_none() {
                return None;
            }
            Some(row(d, backups, interval_of(&schedules, d), now))
        })
        .collect();
    Ok(FleetPage {
        chrome: Chrome::new(&caller.who, "backups"),
        backed_up: rows.iter().filter(|r| !r.never).count(),
        never: rows.iter().filter(|r| r.never).count(),
        late: rows.iter().filter(|r| r.late).count(),
        total_stored: bytes(u64::try_from(total_stored).unwrap_or(0)),
        cut: (total > MAX_DEVICES).then_some(total),
        storage,
        storage_warning,
        rows,
    })
}

fn row(
    device: &DeviceRecord,
    backups: Option<&BackupOverviewRecord>,
    interval: Option<i64>,
    now: Timestamp,
) -> FleetRow {
    let last = backups.and_then(|b| b.last_received_at);
    let next = backups.and_then(|b| b.next_due_at);
    let (drill, drill_badge) = match backups.and_then(|b| b.last_drill_outcome) {
        None => ("never".to_owned(), ""),
        Some(DrillOutcome::Running) => ("running".to_owned(), "pending"),
        Some(outcome) => {
            let when = backups
                .and_then(|b| b.last_drill_finished_at)
                .map(|t| format!(" {}", relative(t, now)))
                .unwrap_or_default();
            if outcome == DrillOutcome::Passed {
                (format!("passed{when}"), "ok")
            } else {
                (format!("failed{when}"), "critical")
            }
        }
    };
    let size = |n: Option<i64>| {
        n.and_then(|n| u64::try_from(n).ok())
            .map_or_else(|| "—".to_owned(), bytes)
    };
    FleetRow {
        name: device.name.clone(),
        href: device_href(&device.id, None),
        never: last.is_none(),
        late: last.is_some_and(|t| figures::is_late(t, now, interval)),
        last: last.map_or_else(|| "never".to_owned(), |t| relative(t, now)),
        last_exact: last.map(utc).unwrap_or_default(),
        size: size(backups.and_then(|b| b.last_bytes)),
        snapshots: backups.map_or(0, |b| b.live_snapshots),
        stored: size(backups.map(|b| b.live_stored_bytes)),
        next_run: next.map_or_else(
            || {
                if interval.is_some() {
                    "not scheduled yet".to_owned()
                } else {
                    "no policy".to_owned()
                }
            },
            |t| relative(t, now),
        ),
        next_run_exact: next.map(utc).unwrap_or_default(),
        drill,
        drill_badge,
    }
}
