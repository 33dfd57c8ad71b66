//! The dashboard: the fleet at a glance.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_store::{DeviceFilter, DeviceSortKey};

use super::devices::{ChangeRow, DeviceRow};
use super::{Chrome, render};
use crate::auth::ConsoleUser;
use crate::state::AppState;

pub struct OsBar {
    pub name: String,
    pub count: u64,
    pub percent: u8,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    total: u64,
    online: u64,
    offline: u64,
    pending: u64,
    revoked: u64,
    os: Vec<OsBar>,
    changes: Vec<ChangeRow>,
    attention: Vec<DeviceRow>,
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    match build(&state, &user).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

async fn build(state: &AppState, user: &ConsoleUser) -> crate::error::AppResult<DashboardPage> {
    let now = state.now();
    let stats = state.store.fleet_stats(now).await?;
    let changes = state.store.recent_changes(12).await?;
    // Devices that stopped reporting, longest silent first.
    let (candidates, _) = state
        .store
        .list_devices(&DeviceFilter {
            sort: DeviceSortKey::LastSeen,
            limit: 200,
            ..Default::default()
        })
        .await?;
    let attention: Vec<DeviceRow> = candidates
        .iter()
        .map(|d| DeviceRow::new(d, now))
        .filter(|d| d.status == "offline")
        .take(8)
        .collect();
    let active = stats.total - stats.revoked;
    let offline = active.saturating_sub(stats.online + stats.never_seen);
    Ok(DashboardPage {
        chrome: Chrome::new(&user.0, "dashboard"),
        total: active,
        online: stats.online,
        offline,
        pending: stats.never_seen,
        revoked: stats.revoked,
        os: stats
            .os_breakdown
            .iter()
            .map(|(name, count)| OsBar {
                name: name.clone(),
                count: *count,
                percent: super::format::percent(*count, active.max(1)),
            })
            .collect(),
        changes: changes.iter().map(|c| ChangeRow::new(c, now)).collect(),
        attention,
    })
}
