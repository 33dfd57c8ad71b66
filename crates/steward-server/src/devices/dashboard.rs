//! The dashboard: the fleet at a glance — how many devices and in which state, the
//! operating systems, what changed lately, and which devices stopped reporting.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_store::{DeviceFilter, DeviceSortKey};

use crate::auth::ConsoleUser;
use crate::console::views::{ChangeRow, DeviceRow};
use crate::console::{Chrome, render};
use crate::state::AppState;

const ATTENTION_ROWS: usize = 8;

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
    /// Offline devices not listed under "needs attention".
    attention_more: u64,
    /// Security nudges: the policy does not require two-factor sign-in of administrators
    /// (shown to those who may change it), and the user has not set it up.
    policy_lax: bool,
    own_two_factor_off: bool,
    /// What is wrong now, worst first (the first few), and how many in all.
    problems: Vec<crate::monitoring::console::AlertRow>,
    problems_total: usize,
    /// Backups and the last proven restore; `None` when no device has backups.
    backups: Option<crate::backup::console::BackupCard>,
    /// The organisation's posture and its trend; `None` before any device reported it.
    posture: Option<crate::posture::summary::PostureCard>,
    /// The fleet's patching; `None` before any device listed its updates.
    updates: Option<steward_proto::patching::UpdatesOverview>,
    /// The open detections, newest first (a few named; the card is shown only when any).
    detections: Vec<steward_proto::detection::DetectionSummary>,
    detections_open: usize,
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    match build(&state, &user).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

/// Open alerts shown on the dashboard; the alerts page has the rest.
const PROBLEM_ROWS: usize = 10;

async fn build(state: &AppState, user: &ConsoleUser) -> crate::error::AppResult<DashboardPage> {
    let now = state.now();
    let caller = user.caller(state);
    let stats = super::fleet_stats(state, &caller).await?;
    let changes = super::recent_changes(state, &caller, 20).await?;
    // Devices that stopped reporting, longest silent first.
    let filter = DeviceFilter {
        sort: DeviceSortKey::LastSeen,
        limit: 200,
        ..Default::default()
    };
    let (candidates, _) = super::list(state, &caller, &filter).await?;
    let attention: Vec<DeviceRow> = candidates
        .iter()
        .map(|d| DeviceRow::new(d, now))
        .filter(|d| d.status == "offline")
        .take(ATTENTION_ROWS)
        .collect();
    let policy_lax = user.0.may(steward_core::Action::ManageSecurity)
        && !crate::auth::two_factor_policy(state)
            .await?
            .requires(steward_core::Role::Admin);
    let own_two_factor_off = match user.0.user_id() {
        Some(id) => state
            .store
            .user_by_id(id)
            .await?
            .is_some_and(|u| u.totp_enabled_at.is_none()),
        None => false,
    };
    let open = crate::monitoring::alerts::view(
        state,
        &caller,
        &steward_proto::monitoring::AlertQuery {
            resolved_hours: Some(0),
            ..Default::default()
        },
    )
    .await?
    .open;
    let problems = open
        .iter()
        .take(PROBLEM_ROWS)
        .map(|a| crate::monitoring::console::row(a, now))
        .collect();
    let backups = crate::backup::console::dashboard_card(state, &caller).await?;
    let posture = crate::posture::summary::card(state, caller.scope()).await?;
    let updates = crate::patching::service::overview(state, &caller)
        .await
        .ok()
        .filter(|u| u.devices_listed > 0);
    let mut detections = crate::detection::service::list(state, &caller, None, Some("open"))
        .await
        .unwrap_or_default();
    let detections_open = detections.len();
    detections.truncate(PROBLEM_ROWS);
    let active = stats.total.saturating_sub(stats.revoked);
    let offline = active.saturating_sub(stats.online + stats.never_seen);
    Ok(DashboardPage {
        chrome: Chrome::new(&user.0, "dashboard"),
        total: stats.total,
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
                percent: crate::console::format::percent(*count, active.max(1)),
            })
            .collect(),
        changes: changes.iter().map(|c| ChangeRow::new(c, now)).collect(),
        attention_more: offline.saturating_sub(attention.len() as u64),
        policy_lax,
        own_two_factor_off,
        attention,
        problems,
        problems_total: open.len(),
        backups,
        posture,
        updates,
        detections,
        detections_open,
    })
}
