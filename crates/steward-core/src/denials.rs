//! Repeated authorisation denials, aggregated: a script retrying a forbidden call every
//! second would otherwise write one audit entry (and one hash) per try, drowning the log and
//! growing it without end. The first denial of an (actor, action) pair is recorded; repeats
//! within [`DENIAL_WINDOW_MILLIS`] of it are only counted, and once the window has closed one
//! summary entry ("N more") is written with the next denial recorded. Nothing is lost but
//! the individual times, and the audit chain stays a plain append-only chain.

use std::collections::BTreeMap;

use crate::time::Timestamp;

/// How long repeats of a recorded denial are counted instead of recorded.
pub const DENIAL_WINDOW_MILLIS: i64 = 10 * 60 * 1000;

/// Repeats of one denial that were counted, not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialSummary {
    pub actor: String,
    pub action: String,
    /// Denials after the recorded first one.
    pub repeats: u64,
    /// The recorded denial's time and the last repeat's.
    pub first: Timestamp,
    pub last: Timestamp,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    first: Timestamp,
    last: Timestamp,
    repeats: u64,
}

/// What to write for one denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialDecision {
    /// Summaries of windows that have closed, to write first.
    pub summaries: Vec<DenialSummary>,
    /// Whether to record this denial itself (the first of a new window).
    pub record: bool,
}

/// The open windows, keyed by (actor, action). Held in memory by the server.
#[derive(Debug, Default)]
pub struct DenialAggregator {
    open: BTreeMap<(String, String), Window>,
}

impl DenialAggregator {
    /// A denial of `action` to `actor` at `now`.
    pub fn deny(&mut self, actor: &str, action: &str, now: Timestamp) -> DenialDecision {
        let mut summaries = Vec::new();
        self.open.retain(|(a, act), w| {
            let open = now.since(w.first) < DENIAL_WINDOW_MILLIS;
            if !open && w.repeats > 0 {
                summaries.push(DenialSummary {
                    actor: a.clone(),
                    action: act.clone(),
                    repeats: w.repeats,
                    first: w.first,
                    last: w.last,
                });
            }
            open
        });
        let key = (actor.to_string(), action.to_string());
        let record = match self.open.get_mut(&key) {
            Some(w) => {
                w.repeats += 1;
                w.last = now;
                false
            }
            None => {
                self.open.insert(
                    key,
                    Window {
                        first: now,
                        last: now,
                        repeats: 0,
                    },
                );
                true
            }
        };
        DenialDecision { summaries, record }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_counted_then_summarised_once_the_window_closes() {
        let mut agg = DenialAggregator::default();
        let t = Timestamp;
        assert!(agg.deny("user:eve", "ManageUsers", t(0)).record);
        for i in 1..=50 {
            let d = agg.deny("user:eve", "ManageUsers", t(i * 1000));
            assert_eq!(
                d,
                DenialDecision {
                    summaries: vec![],
                    record: false
                }
            );
        }
        // Another actor or action is its own window.
        assert!(agg.deny("user:eve", "ViewAudit", t(60_000)).record);
        assert!(agg.deny("user:mallory", "ManageUsers", t(60_000)).record);
        // After the window: the 50 repeats are summarised, and this denial is recorded.
        let d = agg.deny("user:eve", "ManageUsers", t(DENIAL_WINDOW_MILLIS));
        assert!(d.record);
        assert_eq!(
            d.summaries,
            vec![DenialSummary {
                actor: "user:eve".into(),
                action: "ManageUsers".into(),
                repeats: 50,
                first: t(0),
                last: t(50_000),
            }]
        );
        // A closed window without repeats needs no summary.
        let later = agg.deny("x", "y", t(3 * DENIAL_WINDOW_MILLIS));
        assert!(later.record && later.summaries.is_empty());
    }
}
