//! Which snapshots a retention policy lets go — restic's `forget --keep-*` rules, with two
//! differences that make them safe against someone holding a device's credential:
//!
//! - age is the time the *server received* a snapshot, never the time written inside it
//!   (which the device chooses), so forged times move nothing;
//! - no snapshot younger than the protection window is let go, whatever the policy says, so
//!   a flood of fake snapshots cannot push the real ones of the last weeks out of "keep the
//!   last N".
//!
//! A policy that keeps nothing keeps everything (as restic refuses an empty policy).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::time::civil_from_days as civil;

/// The default protection window: 30 days.
pub const DEFAULT_PROTECTION_MS: i64 = 30 * 86_400_000;

/// How many snapshots to keep: the newest `last`, and the newest of each of the newest
/// `hourly` hours, `daily` days, `weekly` weeks (Monday to Sunday), `monthly` months and
/// `yearly` years that have one (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Keep {
    #[serde(default)]
    pub last: u32,
    #[serde(default)]
    pub hourly: u32,
    #[serde(default)]
    pub daily: u32,
    #[serde(default)]
    pub weekly: u32,
    #[serde(default)]
    pub monthly: u32,
    #[serde(default)]
    pub yearly: u32,
}

impl Keep {
    fn keeps_nothing(&self) -> bool {
        *self == Keep::default()
    }
}

/// A snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    /// When the server received it.
    pub at: Timestamp,
}

/// The ids of the snapshots `keep` lets go at `now`, none younger than `protection_ms`.
pub fn to_forget(
    snapshots: &[Received],
    keep: &Keep,
    protection_ms: i64,
    now: Timestamp,
) -> Vec<String> {
    if keep.keeps_nothing() {
        return Vec::new();
    }
    let mut newest_first: Vec<&Received> = snapshots.iter().collect();
    newest_first.sort_by(|a, b| b.at.0.cmp(&a.at.0).then_with(|| a.id.cmp(&b.id)));
    let mut kept: HashSet<&str> = HashSet::new();
    for s in newest_first.iter().take(keep.last as usize) {
        kept.insert(&s.id);
    }
    let rules: [(u32, Bucket); 5] = [
        (keep.hourly, |t| t.0.div_euclid(3_600_000)),
        (keep.daily, day),
        // 1970-01-01 was a Thursday: weeks counted from Monday.
        (keep.weekly, |t| (day(t) + 3).div_euclid(7)),
        (keep.monthly, |t| {
            let (y, m, _) = civil(day(t));
            y * 12 + m
        }),
        (keep.yearly, |t| civil(day(t)).0),
    ];
    for (count, bucket) in rules {
        let mut seen: Vec<i64> = Vec::new();
        for s in &newest_first {
            if seen.len() >= count as usize {
                break;
            }
            let b = bucket(s.at);
            if !seen.contains(&b) {
                seen.push(b);
                kept.insert(&s.id);
            }
        }
    }
    newest_first
        .iter()
        .filter(|s| !kept.contains(s.id.as_str()) && now.since(s.at) >= protection_ms)
        .map(|s| s.id.clone())
        .collect()
}

/// Which hour, day, week, month or year a time falls in (a number; equal means the same).
type Bucket = fn(Timestamp) -> i64;

fn day(t: Timestamp) -> i64 {
    t.0.div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn snaps(times: &[i64]) -> Vec<Received> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| Received {
                id: format!("s{i}"),
                at: Timestamp(*t),
            })
            .collect()
    }

    #[test]
    fn keep_last_and_daily_like_restic_outside_the_protection_window() {
        // One snapshot a day at noon for 100 days; now is day 100.
        let s = snaps(&(0..100).map(|d| d * DAY + 12 * HOUR).collect::<Vec<_>>());
        let now = Timestamp(100 * DAY);
        let keep = Keep {
            last: 3,
            daily: 7,
            ..Keep::default()
        };
        let gone = to_forget(&s, &keep, 0, now);
        // The newest 7 days (which include the last 3) stay; 93 go.
        assert_eq!(gone.len(), 93);
        assert!(!gone.contains(&"s99".to_string()) && !gone.contains(&"s93".to_string()));
        assert!(gone.contains(&"s92".to_string()));
        // With the 30-day window, nothing younger than 30 days goes.
        let gone = to_forget(&s, &keep, 30 * DAY, now);
        assert_eq!(gone.len(), 70, "days 0..70 go, 70..100 are protected");
        assert!(gone.iter().all(|id| id[1..].parse::<i64>().unwrap() < 70));
    }

    #[test]
    fn weekly_monthly_and_yearly_keep_the_newest_of_each() {
        // Every day for two years.
        let s = snaps(&(0..730).map(|d| d * DAY).collect::<Vec<_>>());
        let now = Timestamp(730 * DAY);
        let kept = |keep: Keep| s.len() - to_forget(&s, &keep, 0, now).len();
        assert_eq!(
            kept(Keep {
                weekly: 4,
                ..Keep::default()
            }),
            4
        );
        assert_eq!(
            kept(Keep {
                monthly: 12,
                ..Keep::default()
            }),
            12
        );
        assert_eq!(
            kept(Keep {
                yearly: 5,
                ..Keep::default()
            }),
            2,
            "only two years have any"
        );
        assert_eq!(
            kept(Keep {
                hourly: 24,
                ..Keep::default()
            }),
            24
        );
    }

    #[test]
    fn fake_snapshots_cannot_push_real_ones_out() {
        // Real daily snapshots for 20 days, then a burst of 1,000 fakes just received.
        let mut s = snaps(&(0..20).map(|d| d * DAY).collect::<Vec<_>>());
        for i in 0..1_000 {
            s.push(Received {
                id: format!("fake{i}"),
                at: Timestamp(20 * DAY + i),
            });
        }
        let keep = Keep {
            last: 5,
            ..Keep::default()
        };
        let gone = to_forget(&s, &keep, DEFAULT_PROTECTION_MS, Timestamp(21 * DAY));
        assert!(
            gone.is_empty(),
            "all younger than the window: {}",
            gone.len()
        );
    }

    #[test]
    fn a_policy_that_keeps_nothing_forgets_nothing() {
        let s = snaps(&[0, DAY, 2 * DAY]);
        assert!(to_forget(&s, &Keep::default(), 0, Timestamp(100 * DAY)).is_empty());
    }
}
