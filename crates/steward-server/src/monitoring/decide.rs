//! One decision, whoever produced the result (a probe, a report, a heartbeat sweep): the
//! alert rules applied to the check's state under the circumstances of the moment
//! (maintenance, an unreachable parent), and the notices routed to their channels — all
//! returned as one write for the store, which commits state, history and outbox together.

use steward_core::Timestamp;
use steward_core::alerting::routing::channels_for;
use steward_core::alerting::{self, AlertState, CheckResult, CheckStatus, Circumstances, Notice};
use steward_core::checks::Membership;
use steward_store::{CheckResultWrite, CheckStateRecord, NoticeWrite};

use super::catalog::{Catalog, CheckDef};

/// The device a result is about (none for a network monitor).
#[derive(Debug, Clone, Copy)]
pub struct DeviceView<'a> {
    pub name: &'a str,
    pub membership: Membership<'a>,
}

/// The `next_run_at` of a check the server's scheduler never claims: one judged when an
/// agent reports, by a sweep, or by the agent itself.
pub(super) const NOT_SCHEDULED: Timestamp = Timestamp(i64::MAX);

/// What a decision needs besides the result.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// A device id, or empty for a network monitor.
    pub subject: &'a str,
    pub device: Option<DeviceView<'a>>,
    /// What notifications name when the subject is no device (an organisation's checklist
    /// item); a device's name is taken from `device`.
    pub label: Option<&'a str>,
    /// The stored state (`None`: the check meets this subject for the first time).
    pub previous: Option<&'a CheckStateRecord>,
    /// How the check this one depends on stands for the same subject, if it has a parent.
    pub parent: Option<CheckStatus>,
    /// When the check runs next (device checks judged at reports: never by the scheduler).
    pub next_run_at: Timestamp,
}

/// The write, and whether anything in it differs from what is stored (a steady OK result of
/// a device check changes nothing and need not be written).
pub struct Decision {
    pub write: CheckResultWrite,
    pub changed: bool,
}

pub fn decide(
    catalog: &Catalog,
    check: &CheckDef,
    result: CheckResult,
    context: Context<'_>,
) -> Decision {
    let now = result.at;
    let stored_state: Option<AlertState> = context
        .previous
        .and_then(|s| serde_json::from_str(&s.state).ok());
    let previous = stored_state.clone().unwrap_or_else(|| AlertState::new(now));
    let membership = context.device.map(|d| d.membership);
    let circumstances = Circumstances {
        in_maintenance: catalog.in_maintenance(&check.record.id, membership.as_ref(), now),
        unreachable: !alerting::reachable(context.parent),
    };
    let decided = alerting::observe(&previous, &result, &check.rules, circumstances);
    let (state, reminders) = alerting::remind(&decided.state, &check.rules, circumstances, now);
    let device_name = context.device.map(|d| d.name).or(context.label);
    let mut notices = Vec::new();
    for (i, notice) in decided.notices.iter().chain(reminders.iter()).enumerate() {
        // A problem or recovery announcing this result's transition is keyed by its history
        // line; other notices by the check, the subject and the moment. Either way the
        // outbox takes a key once per channel.
        let announces_transition = decided.transition.is_some()
            && matches!(notice, Notice::Problem { .. } | Notice::Recovery { .. });
        let key = if announces_transition {
            "transition:{history}".to_string()
        } else {
            format!(
                "notice:{}:{}:{}:{i}",
                check.record.id, context.subject, now.0
            )
        };
        let payload = serde_json::to_string(&super::message(
            &check.record,
            device_name,
            notice,
            &result.summary,
            now,
        ))
        .unwrap_or_default();
        let urgency = match notice {
            Notice::Problem { status, .. } | Notice::Reminder { status, .. } => *status,
            Notice::Recovery { was } => *was,
            Notice::FlappingStarted | Notice::FlappingStopped => CheckStatus::Warning,
        };
        for channel in channels_for(
            &catalog.channel_ids,
            &catalog.routes,
            urgency,
            membership.as_ref(),
        ) {
            notices.push(NoticeWrite {
                key: key.clone(),
                channel_id: channel.to_string(),
                payload: payload.clone(),
            });
        }
    }
    let state_json = serde_json::to_string(&state).unwrap_or_default();
    // A problem's line ("disk / at 93 %") is kept current; an OK one need not be. A result
    // that only adds to the count of results seen (`samples`, which grows to the flap window
    // while nothing changes) is not worth a write either: a device's first twenty reports
    // would each write every check. Left uncounted, a young check needs more results
    // before it can be judged flapping, never fewer.
    let only_counted = stored_state.is_some_and(|mut was| {
        was.samples = state.samples;
        was == state
    });
    let changed = match context.previous {
        None => true,
        Some(stored) => {
            (stored.state != state_json && !only_counted)
                || (state.status.is_problem() && stored.summary != result.summary)
        }
    } || decided.transition.is_some()
        || !notices.is_empty();
    Decision {
        write: CheckResultWrite {
            decided_at: now,
            due_at: context.next_run_at,
            check_id: check.record.id.clone(),
            subject: context.subject.to_string(),
            status: state.status.as_str().to_string(),
            since: state.since,
            state: state_json,
            summary: result.summary,
            next_run_at: context.next_run_at,
            transition: decided
                .transition
                .as_ref()
                .map(|t| (t.from.as_str().to_string(), t.to.as_str().to_string(), t.at)),
            notices,
        },
        changed,
    }
}
