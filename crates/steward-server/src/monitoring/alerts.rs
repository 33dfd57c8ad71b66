//! Alerts for people: what is wrong now (worst first), what recovered lately, a device's
//! checks, a check's history, and acknowledging a problem with a comment.

use steward_core::Action;
use steward_core::Timestamp;
use steward_core::alerting::{self, Acknowledgement, AlertState, CheckStatus};
use steward_proto::monitoring::{
    AcknowledgementInfo, AlertInfo, AlertQuery, AlertsView, HistoryInfo, ResolvedInfo,
};
use steward_store::{AckWrite, AlertRecord, StoreError};

use super::error::{MonitoringError, Result, invalid};
use crate::service::Caller;
use crate::state::AppState;

/// Most open alerts read at once.
const MAX_OPEN: u32 = 2_000;
const MAX_RESOLVED: u32 = 500;
const MAX_COMMENT: usize = 1_000;

/// Open alerts (filtered) and those resolved within the last `resolved_hours`.
pub async fn view(state: &AppState, caller: &Caller, query: &AlertQuery) -> Result<AlertsView> {
    caller.require(Action::ViewDevices)?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            CheckStatus::parse(s)
                .filter(|s| s.is_problem())
                .ok_or_else(|| invalid("status: critical, warning or unknown"))?,
        ),
        None => None,
    };
    let hours = query.resolved_hours.unwrap_or(24);
    if hours > 720 {
        return Err(invalid("resolved_hours: at most 720"));
    }
    let scoped = state.store.scoped(caller.scope());
    let mut open: Vec<AlertInfo> = scoped
        .open_alerts(MAX_OPEN)
        .await?
        .iter()
        .map(info)
        .filter(|a| status.is_none_or(|s| a.status == s))
        .filter(|a| {
            query
                .acknowledged
                .is_none_or(|want| a.acknowledged.is_some() == want)
        })
        .filter(|a| query.device.as_ref().is_none_or(|d| &a.subject == d))
        .collect();
    sort_worst_first(&mut open);
    let since = Timestamp(caller.now.0 - i64::from(hours) * 3_600_000);
    let resolved = scoped
        .resolved_alerts(since, MAX_RESOLVED)
        .await?
        .into_iter()
        .filter(|r| query.device.as_ref().is_none_or(|d| &r.subject == d))
        .map(|r| ResolvedInfo {
            check_id: r.check_id,
            check: r.check_name,
            subject: r.subject,
            device: r.device_name,
            was: CheckStatus::parse(&r.from_status).unwrap_or(CheckStatus::Unknown),
            at: r.at,
        })
        .collect();
    Ok(AlertsView { open, resolved })
}

/// Critical, unknown, warning; within each, the oldest problem first.
pub fn sort_worst_first(alerts: &mut [AlertInfo]) {
    alerts.sort_by(|a, b| {
        b.status
            .urgency()
            .cmp(&a.status.urgency())
            .then(a.since.cmp(&b.since))
            .then(a.check.cmp(&b.check))
    });
}

/// A device's checks and how each stands.
pub async fn of_device(
    state: &AppState,
    caller: &Caller,
    device_id: &str,
) -> Result<Vec<AlertInfo>> {
    caller.require(Action::ViewDevices)?;
    let scoped = state.store.scoped(caller.scope());
    if scoped.device(device_id).await?.is_none() {
        return Err(MonitoringError::NotFound("device"));
    }
    Ok(scoped
        .device_alerts(device_id)
        .await?
        .iter()
        .map(info)
        .collect())
}

/// A network monitor's state (its one subject), once it has one.
pub async fn of_network_monitor(
    state: &AppState,
    caller: &Caller,
    check_id: &str,
) -> Result<Option<AlertInfo>> {
    caller.require(Action::ViewDevices)?;
    let scoped = state.store.scoped(caller.scope());
    Ok(scoped.alert(check_id, "").await?.as_ref().map(info))
}

/// How one check stands: a network monitor's state (none before its first run), or the
/// open problems of a device check (its devices that are fine are not listed).
pub async fn of_check(state: &AppState, caller: &Caller, check_id: &str) -> Result<Vec<AlertInfo>> {
    let check = super::checks::get(state, caller, check_id).await?;
    if check.target.is_empty() {
        return Ok(of_network_monitor(state, caller, check_id)
            .await?
            .into_iter()
            .collect());
    }
    let mut open: Vec<AlertInfo> = state
        .store
        .scoped(caller.scope())
        .open_alerts(MAX_OPEN)
        .await?
        .iter()
        .filter(|a| a.check_id == check_id)
        .map(info)
        .collect();
    sort_worst_first(&mut open);
    Ok(open)
}

/// A check's history for one subject, newest first.
pub async fn history(
    state: &AppState,
    caller: &Caller,
    check_id: &str,
    subject: &str,
) -> Result<Vec<HistoryInfo>> {
    caller.require(Action::ViewDevices)?;
    let scoped = state.store.scoped(caller.scope());
    if scoped.alert(check_id, subject).await?.is_none() {
        return Err(MonitoringError::NotFound("alert"));
    }
    Ok(scoped
        .alert_history(check_id, subject, 200)
        .await?
        .into_iter()
        .map(|h| HistoryInfo {
            at: h.at,
            event: h.event,
            from: h.from_status,
            to: h.to_status,
            summary: h.summary,
            actor: h.actor,
        })
        .collect())
}

/// Acknowledges a problem: no reminders until it recovers. Kept in the check's history and
/// the audit log.
pub async fn acknowledge(
    state: &AppState,
    caller: &Caller,
    check_id: &str,
    subject: &str,
    comment: &str,
) -> Result<()> {
    caller.require(Action::ManageMonitoring)?;
    let comment = comment.trim();
    if comment.is_empty() || comment.chars().count() > MAX_COMMENT {
        return Err(invalid(format!(
            "comment: 1 to {MAX_COMMENT} characters (say what is being done)"
        )));
    }
    // The state moves on with every result (flap bookkeeping), so an acknowledgement read
    // on one state may meet the next: read again and retry a few times.
    let mut attempts = 0;
    let current = loop {
        attempts += 1;
        match try_acknowledge(state, caller, check_id, subject, comment).await {
            Err(MonitoringError::Conflict(m)) if m == CHANGED && attempts < 5 => continue,
            other => break other?,
        }
    };
    let what = match &current.device_name {
        Some(device) => format!("{} on {device}", current.check_name),
        None => current.check_name.clone(),
    };
    caller
        .audit(&state.store, "alert.acknowledge", &what, comment)
        .await;
    Ok(())
}

const CHANGED: &str = "the alert changed meanwhile; look again";

/// One attempt: the stored state read, acknowledged and written back if still unchanged.
async fn try_acknowledge(
    state: &AppState,
    caller: &Caller,
    check_id: &str,
    subject: &str,
    comment: &str,
) -> Result<AlertRecord> {
    let current = state
        .store
        .scoped(caller.scope())
        .alert(check_id, subject)
        .await?
        .ok_or(MonitoringError::NotFound("alert"))?;
    let stored: AlertState = serde_json::from_str(&current.state)
        .map_err(|e| MonitoringError::Store(StoreError::Corrupt(e.to_string())))?;
    let acked = alerting::acknowledge(
        &stored,
        Acknowledgement {
            by: caller.label(),
            comment: comment.to_string(),
            at: caller.now,
        },
    )
    .map_err(|e| MonitoringError::Conflict(e.to_string()))?;
    state
        .store
        .acknowledge_check(&AckWrite {
            check_id: check_id.to_string(),
            subject: subject.to_string(),
            expected_state: current.state.clone(),
            state: serde_json::to_string(&acked).unwrap_or_default(),
            status: current.status.clone(),
            actor: caller.label(),
            comment: comment.to_string(),
            at: caller.now,
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => MonitoringError::NotFound("alert"),
            StoreError::Conflict(_) => MonitoringError::Conflict(CHANGED.into()),
            other => other.into(),
        })?;
    Ok(current)
}

/// An alert as shown.
pub fn info(a: &AlertRecord) -> AlertInfo {
    let state: Option<AlertState> = serde_json::from_str(&a.state).ok();
    AlertInfo {
        check_id: a.check_id.clone(),
        check: a.check_name.clone(),
        kind: a.check_kind.clone(),
        subject: a.subject.clone(),
        device: a.device_name.clone(),
        status: CheckStatus::parse(&a.status).unwrap_or(CheckStatus::Unknown),
        since: a.since,
        summary: a.summary.clone(),
        runbook: a.runbook.clone(),
        flapping: state.as_ref().is_some_and(|s| s.flapping),
        acknowledged: state
            .and_then(|s| s.acknowledged)
            .map(|k| AcknowledgementInfo {
                by: k.by,
                comment: k.comment,
                at: k.at,
            }),
    }
}
