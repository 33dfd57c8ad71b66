//! The device page's "Checks" section: each check judged for the device, how it stands and
//! since when, its last summary, its runbook (when it is failing), and its last few changes.

use steward_core::Timestamp;

use crate::console::format::{relative, utc};
use crate::monitoring::{MonitoringError, MonitoringResult, alerts};
use crate::service::Caller;
use crate::state::AppState;

/// Changes shown under each check (the API's `/alerts/history` has them all).
const HISTORY_ROWS: usize = 5;

pub struct HistoryRow {
    pub when: String,
    pub exact: String,
    /// `change` or `acknowledged`.
    pub event: String,
    pub from: String,
    pub to: String,
    pub summary: String,
    pub actor: String,
}

pub struct CheckRow {
    pub check: String,
    pub status: &'static str,
    pub since: String,
    pub since_exact: String,
    pub summary: String,
    pub flapping: bool,
    pub acknowledged_by: String,
    /// Sanitised HTML; only for a check that is failing.
    pub runbook_html: String,
    pub history: Vec<HistoryRow>,
}

/// The section: the checks, worst first.
#[derive(Default)]
pub struct DeviceChecks {
    pub rows: Vec<CheckRow>,
    /// Shows the link to the checks page.
    pub can_manage: bool,
}

/// The device's checks for its page, through the alerts service (which scopes them).
pub async fn section(
    state: &AppState,
    caller: &Caller,
    device_id: &str,
    now: Timestamp,
) -> MonitoringResult<DeviceChecks> {
    let mut checks = alerts::of_device(state, caller, device_id).await?;
    alerts::sort_worst_first(&mut checks);
    let mut rows = Vec::with_capacity(checks.len());
    for a in checks {
        // A check deleted meanwhile has no history left: shown without.
        let history = match alerts::history(state, caller, &a.check_id, device_id).await {
            Err(MonitoringError::NotFound(_)) => Vec::new(),
            other => other?,
        };
        let history = history
            .into_iter()
            .take(HISTORY_ROWS)
            .map(|h| HistoryRow {
                when: relative(h.at, now),
                exact: utc(h.at),
                event: h.event,
                from: h.from,
                to: h.to,
                summary: h.summary,
                actor: h.actor,
            })
            .collect();
        rows.push(CheckRow {
            status: a.status.as_str(),
            since: relative(a.since, now),
            since_exact: utc(a.since),
            runbook_html: if a.status.is_problem() {
                crate::console::markdown::to_html(&a.runbook)
            } else {
                String::new()
            },
            acknowledged_by: a
                .acknowledged
                .map(|k| crate::console::format::actor(&k.by))
                .unwrap_or_default(),
            flapping: a.flapping,
            check: a.check,
            summary: a.summary,
            history,
        });
    }
    Ok(DeviceChecks {
        rows,
        can_manage: caller.who.may(steward_core::Action::ManageMonitoring),
    })
}
