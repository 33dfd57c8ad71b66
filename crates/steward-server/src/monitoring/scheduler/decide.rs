//! What a check's run means: the one place where a result becomes the state, history line
//! and notices to store. No IO and no clock: everything it needs is in its arguments, so it
//! is tested with times passed in.
//!
//! The order is the alerting model's: **observe** the result (retries, flap damping, the
//! confirmed transition), **remind** (re-notification, catch-up after suppression),
//! **notices** (each addressed to every channel, keyed so the outbox takes it once), and the
//! **write** that stores them together. Maintenance windows, dependencies, routing and
//! grouping come in here: they are more [`Circumstances`] and a choice of channels per notice.

use steward_core::Timestamp;
use steward_core::alerting::{self, AlertRules, AlertState, CheckResult, Circumstances, Notice};
use steward_store::{ChannelRecord, CheckRecord, CheckResultWrite, CheckStateRecord, NoticeWrite};

/// The shortest interval a check runs at, whatever its definition says.
pub const MIN_INTERVAL_MS: i64 = 1_000;

/// Everything a decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Evaluation<'a> {
    pub check: &'a CheckRecord,
    pub rules: &'a AlertRules,
    /// The check's state for its subject, as claimed (its `next_run_at` is when this run
    /// was due).
    pub due: &'a CheckStateRecord,
    /// What the run found, and when (the decision's "now").
    pub result: &'a CheckResult,
    /// What keeps notices back now (maintenance, an unreachable parent).
    pub circumstances: Circumstances,
    /// Where notices go.
    pub channels: &'a [ChannelRecord],
}

/// Decides what a run of a check changes; see the module documentation.
pub fn decide(e: Evaluation<'_>) -> CheckResultWrite {
    let now = e.result.at;
    let previous: AlertState =
        serde_json::from_str(&e.due.state).unwrap_or_else(|_| AlertState::new(now));
    let observed = alerting::observe(&previous, e.result, e.rules, e.circumstances);
    let (next_state, reminders) = alerting::remind(&observed.state, e.rules, e.circumstances, now);
    let mut notices = Vec::new();
    for (i, notice) in observed.notices.iter().chain(reminders.iter()).enumerate() {
        // A problem or recovery announcing this result's transition is keyed by its history
        // line; other notices by the check, the subject and the moment. Either way the outbox
        // takes a key once per channel.
        let announces_transition = observed.transition.is_some()
            && matches!(notice, Notice::Problem { .. } | Notice::Recovery { .. });
        let key = if announces_transition {
            "transition:{history}".to_string()
        } else {
            format!("notice:{}:{}:{}:{i}", e.check.id, e.due.subject, now.0)
        };
        let payload =
            crate::monitoring::message(e.check, notice, &e.result.summary, now).to_string();
        for channel in e.channels {
            notices.push(NoticeWrite {
                key: key.clone(),
                channel_id: channel.id.clone(),
                payload: payload.clone(),
            });
        }
    }
    CheckResultWrite {
        decided_at: now,
        check_id: e.check.id.clone(),
        subject: e.due.subject.clone(),
        state: serde_json::to_string(&next_state).unwrap_or_default(),
        status: next_state.status.as_str().to_string(),
        since: next_state.since,
        summary: e.result.summary.clone(),
        next_run_at: next_run_at(e.due.next_run_at, e.check.interval_ms, now),
        transition: observed
            .transition
            .as_ref()
            .map(|t| (t.from.as_str().to_string(), t.to.as_str().to_string(), t.at)),
        notices,
    }
}

/// When a check runs next: one interval after the time this run was due, so a check keeps
/// its place in the schedule (runs spread over the interval stay spread, rather than bunching
/// behind a slow moment); when that has passed already (the run was late by more than an
/// interval), the first such time still ahead, skipping the missed runs rather than running
/// them back to back.
pub fn next_run_at(was_due: Timestamp, interval_ms: i64, now: Timestamp) -> Timestamp {
    let interval = interval_ms.max(MIN_INTERVAL_MS);
    let next = was_due.0.saturating_add(interval);
    if next > now.0 {
        return Timestamp(next);
    }
    let missed = (now.0 - next) / interval + 1;
    Timestamp(next.saturating_add(missed.saturating_mul(interval)))
}

/// Where in its interval a newly tracked check first runs: a fixed offset from its id, so
/// thousands of checks declared at once spread over the interval instead of all running at
/// the same moment (and again at every interval after).
pub fn first_run_offset_ms(check_id: &str, interval_ms: i64) -> i64 {
    use sha2::{Digest, Sha256};
    let interval = u64::try_from(interval_ms.max(MIN_INTERVAL_MS)).unwrap_or(u64::MAX);
    let digest = Sha256::digest(check_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::try_from(u64::from_le_bytes(first) % interval).unwrap_or(0)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
