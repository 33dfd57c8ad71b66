//! The alert rules every capability's results go through: one pure state machine with time
//! passed in. A check (or any judged subject: a backup's freshness, a posture item, a
//! detector verdict) produces [`CheckResult`]s; [`observe`] turns each into the check's next
//! [`AlertState`], the state change it confirms (kept as history) and the [`Notice`]s a person
//! must get. [`remind`] re-notifies an unacknowledged problem.
//!
//! The rules, in order:
//! - **Retries.** A check that was OK must fail `retries + 1` times in a row before the
//!   problem is confirmed (a "soft" failure first), and, when `confirm_after_ms` is set, the
//!   failures must also have lasted that long ("CPU above 90 % for 10 minutes"). Recovery,
//!   and a change between two problem states, are confirmed at once.
//! - **Flap damping.** The raw result's changes over the last [`FLAP_WINDOW`] results are
//!   counted; at `flap_start_percent` or more the check is flapping until they fall to
//!   `flap_stop_percent` or less. While flapping, problems and recoveries are not announced
//!   (one notice says it started, one that it stopped, and then whatever is true is).
//! - **Suppression.** In a maintenance window ([`window`]), or while a check it depends on is
//!   down (the check is *unreachable*), state is still kept but nothing is announced; when
//!   the suppression ends, what is still true is announced then — a problem that began and
//!   ended inside a window pages nobody.
//! - **Announcing.** A notice goes out when the confirmed state differs from the last one
//!   announced: a problem, or a recovery naming what it recovered from. Never twice for the
//!   same state.
//! - **Acknowledgement** stops reminders until the check recovers.
//!
//! Notices are grouped for sending by [`group::batches`]. Detection verdicts skip retries and
//! damping by using [`AlertRules::immediate`].

pub mod group;
pub mod routing;
pub mod window;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// How a check stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Warning,
    Critical,
    /// The check could not be evaluated (a probe error, no data); never shown as OK.
    Unknown,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<CheckStatus> {
        s.parse().ok()
    }

    pub fn is_problem(self) -> bool {
        self != CheckStatus::Ok
    }

    /// Worst first, for "what is wrong now": critical, unknown, warning, ok.
    pub fn urgency(self) -> u8 {
        match self {
            CheckStatus::Critical => 3,
            CheckStatus::Unknown => 2,
            CheckStatus::Warning => 1,
            CheckStatus::Ok => 0,
        }
    }
}

/// One evaluation of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub status: CheckStatus,
    /// A line for people: "HTTP 503 in 120 ms", "disk / at 93 %".
    pub summary: String,
    pub at: Timestamp,
}

/// How many recent results flap damping looks at.
pub const FLAP_WINDOW: u32 = 20;

/// A check's alerting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRules {
    /// Failures after the first before a problem is confirmed (0: at the first).
    pub retries: u32,
    /// Enter flapping at this share of changed results in the window, in percent (0: never).
    pub flap_start_percent: u8,
    /// Leave flapping at or below this share.
    pub flap_stop_percent: u8,
    /// Remind of an unacknowledged problem this often (`None`: never).
    pub renotify_every_ms: Option<i64>,
    /// A problem is confirmed only once failures have lasted this long (a condition
    /// sustained over a window); `None` or 0: the retries alone decide.
    #[serde(default)]
    pub confirm_after_ms: Option<i64>,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            retries: 2,
            flap_start_percent: 50,
            flap_stop_percent: 25,
            renotify_every_ms: Some(4 * 3_600_000),
            confirm_after_ms: None,
        }
    }
}

impl AlertRules {
    /// For verdicts that must page at once (an attack detected): no retries, no damping.
    pub fn immediate() -> Self {
        Self {
            retries: 0,
            flap_start_percent: 0,
            flap_stop_percent: 0,
            renotify_every_ms: None,
            confirm_after_ms: None,
        }
    }
}

/// Who acknowledged a problem, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub comment: String,
    pub at: Timestamp,
}

/// What is kept per check between results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// The confirmed ("hard") status.
    pub status: CheckStatus,
    pub since: Timestamp,
    /// Consecutive failures not yet confirmed (while `status` is OK), and since when.
    pub soft_failures: u32,
    #[serde(default)]
    pub soft_since: Option<Timestamp>,
    /// The last raw result's status, and the last [`FLAP_WINDOW`] changes between raw results
    /// as bits (the lowest the latest), of `samples` results seen (at most the window).
    pub last_raw: Option<CheckStatus>,
    pub changes: u32,
    pub samples: u32,
    pub flapping: bool,
    /// The status last announced to people (OK before any problem), and when.
    pub announced: CheckStatus,
    pub announced_at: Option<Timestamp>,
    pub acknowledged: Option<Acknowledgement>,
}

impl AlertState {
    /// A check that has not run yet counts as OK since `now`: a first failure is a problem.
    pub fn new(now: Timestamp) -> Self {
        Self {
            status: CheckStatus::Ok,
            since: now,
            soft_failures: 0,
            soft_since: None,
            last_raw: None,
            changes: 0,
            samples: 0,
            flapping: false,
            announced: CheckStatus::Ok,
            announced_at: None,
            acknowledged: None,
        }
    }

    /// The share of changed results in the window, in percent.
    pub fn change_percent(&self) -> u32 {
        if self.samples < 2 {
            return 0;
        }
        self.changes.count_ones() * 100 / (self.samples - 1).max(1)
    }
}

/// What keeps notices back now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Circumstances {
    /// A maintenance window covers the check or its device.
    pub in_maintenance: bool,
    /// A check this one depends on (the site's gateway, the device's heartbeat) is down.
    pub unreachable: bool,
}

impl Circumstances {
    pub fn suppressed(self) -> bool {
        self.in_maintenance || self.unreachable
    }
}

/// A confirmed change of status, kept as history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: CheckStatus,
    pub to: CheckStatus,
    pub at: Timestamp,
    pub summary: String,
}

/// What a person is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A problem confirmed (or a problem changed: warning became critical).
    Problem {
        status: CheckStatus,
        since: Timestamp,
    },
    /// Back to OK after `was`.
    Recovery {
        was: CheckStatus,
    },
    /// Still a problem, still unacknowledged.
    Reminder {
        status: CheckStatus,
        since: Timestamp,
    },
    FlappingStarted,
    FlappingStopped,
}

/// The next state after a result, the change it confirmed, and what to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: AlertState,
    pub transition: Option<Transition>,
    pub notices: Vec<Notice>,
}

/// Applies one result to a check's state under its rules.
pub fn observe(
    state: &AlertState,
    result: &CheckResult,
    rules: &AlertRules,
    now: Circumstances,
) -> Outcome {
    let mut next = state.clone();
    let at = result.at;
    let raw = result.status;

    // Flap bookkeeping on the raw results.
    if let Some(previous) = next.last_raw {
        let changed = u32::from(previous != raw);
        next.changes = ((next.changes << 1) | changed) & ((1 << (FLAP_WINDOW - 1)) - 1);
    }
    next.last_raw = Some(raw);
    next.samples = (next.samples + 1).min(FLAP_WINDOW);
    let was_flapping = next.flapping;
    next.flapping = if rules.flap_start_percent == 0 {
        false
    } else if was_flapping {
        next.change_percent() > u32::from(rules.flap_stop_percent)
    } else {
        next.samples >= FLAP_WINDOW / 2
            && next.change_percent() >= u32::from(rules.flap_start_percent)
    };

    // The confirmed status: failures from OK wait for the retries; the rest is at once.
    let confirmed = if !raw.is_problem() {
        next.soft_failures = 0;
        next.soft_since = None;
        CheckStatus::Ok
    } else if next.status.is_problem() {
        raw
    } else {
        next.soft_failures += 1;
        let soft_since = *next.soft_since.get_or_insert(at);
        let lasted = rules
            .confirm_after_ms
            .is_none_or(|window| at.since(soft_since) >= window);
        if next.soft_failures > rules.retries && lasted {
            next.soft_failures = 0;
            next.soft_since = None;
            raw
        } else {
            CheckStatus::Ok
        }
    };
    let transition = (confirmed != next.status).then(|| {
        let t = Transition {
            from: next.status,
            to: confirmed,
            at,
            summary: result.summary.clone(),
        };
        next.status = confirmed;
        next.since = at;
        if confirmed == CheckStatus::Ok {
            next.acknowledged = None;
        }
        t
    });

    let mut notices = Vec::new();
    if !now.suppressed() {
        if next.flapping && !was_flapping {
            notices.push(Notice::FlappingStarted);
        }
        if was_flapping && !next.flapping {
            notices.push(Notice::FlappingStopped);
        }
    }
    if !now.suppressed() && !next.flapping {
        announce(&mut next, at, &mut notices);
    }
    Outcome {
        state: next,
        transition,
        notices,
    }
}

/// Announces the confirmed status if it is not what people were last told.
fn announce(state: &mut AlertState, at: Timestamp, notices: &mut Vec<Notice>) {
    if state.status == state.announced {
        return;
    }
    notices.push(if state.status.is_problem() {
        Notice::Problem {
            status: state.status,
            since: state.since,
        }
    } else {
        Notice::Recovery {
            was: state.announced,
        }
    });
    state.announced = state.status;
    state.announced_at = Some(at);
}

/// At `at`, with no new result: announces what a lifted suppression held back, and reminds
/// of an unacknowledged problem last announced `renotify_every_ms` ago.
pub fn remind(
    state: &AlertState,
    rules: &AlertRules,
    now: Circumstances,
    at: Timestamp,
) -> (AlertState, Vec<Notice>) {
    let mut next = state.clone();
    let mut notices = Vec::new();
    if now.suppressed() || next.flapping {
        return (next, notices);
    }
    announce(&mut next, at, &mut notices);
    if !notices.is_empty() {
        return (next, notices);
    }
    let due = match (rules.renotify_every_ms, next.announced_at) {
        (Some(every), Some(last)) => at.since(last) >= every,
        _ => false,
    };
    if next.status.is_problem() && next.acknowledged.is_none() && due {
        notices.push(Notice::Reminder {
            status: next.status,
            since: next.since,
        });
        next.announced_at = Some(at);
    }
    (next, notices)
}

/// Why an acknowledgement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckRefused {
    #[error("the check is OK: there is nothing to acknowledge")]
    NothingWrong,
}

/// Acknowledges the current problem: no reminders until the check recovers (the next problem
/// after a recovery is announced as usual).
pub fn acknowledge(state: &AlertState, ack: Acknowledgement) -> Result<AlertState, AckRefused> {
    if !state.status.is_problem() {
        return Err(AckRefused::NothingWrong);
    }
    Ok(AlertState {
        acknowledged: Some(ack),
        ..state.clone()
    })
}

/// Whether a check whose parent stands at `parent` is reachable: a parent that is down
/// (critical) makes its children unreachable, so they page nobody.
pub fn reachable(parent: Option<CheckStatus>) -> bool {
    parent != Some(CheckStatus::Critical)
}

#[cfg(test)]
mod tests;
