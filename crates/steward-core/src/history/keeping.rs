//! What is kept and for how long: the three resolutions, their retention, which one a
//! range is read at, and the schedule of roll-ups and pruning.
//!
//! The rules:
//! - Every sample is kept at full resolution for `raw` (48 h by default); 5-minute roll-ups
//!   for `five_minutes` (30 days); hourly roll-ups for `hourly` (a year).
//! - A device's samples are rolled up to a **watermark**: every 5-minute bucket before it is
//!   rolled. A bucket is rolled [`ROLLUP_GRACE_MS`] after it ends, so a check-in delivered a
//!   little late still counts. A roll-up step moves the watermark forward by at most
//!   [`MAX_STEP_MS`], writes the 5-minute buckets it passed and recomputes the hour buckets
//!   it touched from the full-resolution samples of those hours (so an hour is always the
//!   roll-up of its own samples, however many steps built it).
//! - A sample that arrives late (an agent that queued reports while the server was away)
//!   moves the watermark back to its bucket ([`reroll_from`]); the next step rolls those
//!   buckets again. Full-resolution samples are pruned only below the watermark's hour, so
//!   what a step reads is always there — and a sample too old for that
//!   ([`History::accepts`]) is not kept in history at all.

use crate::Timestamp;

use super::rollup::{Rolled, bucket_start, roll_up};
use super::series::Sample;

pub const MINUTE_MS: i64 = 60_000;
pub const FIVE_MINUTES_MS: i64 = 5 * MINUTE_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// How long after a 5-minute bucket ends it is rolled up.
pub const ROLLUP_GRACE_MS: i64 = 2 * MINUTE_MS;
/// The most one roll-up step covers, so a device far behind (a server that was stopped for
/// days) catches up in steps that each write a bounded number of rows.
pub const MAX_STEP_MS: i64 = 6 * HOUR_MS;
/// Most points in a series answer: plenty for a chart a screen wide.
pub const MAX_POINTS: usize = 500;

/// The resolutions history is kept at.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Resolution {
    /// Every sample (one per check-in, 60 s by default).
    Raw,
    /// 5-minute roll-ups.
    FiveMinutes,
    /// Hourly roll-ups.
    Hourly,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A bucket's width; for full resolution, the default check-in interval (the nominal
    /// spacing of samples).
    pub fn width_ms(self) -> i64 {
        match self {
            Resolution::Raw => MINUTE_MS,
            Resolution::FiveMinutes => FIVE_MINUTES_MS,
            Resolution::Hourly => HOUR_MS,
        }
    }
}

/// How long each resolution is kept, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    pub raw_ms: i64,
    pub five_minutes_ms: i64,
    pub hourly_ms: i64,
}

impl Default for History {
    fn default() -> Self {
        Self {
            raw_ms: 48 * HOUR_MS,
            five_minutes_ms: 30 * DAY_MS,
            hourly_ms: 365 * DAY_MS,
        }
    }
}

/// Why retention settings cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error("{0}: at least 2 hours (an hour's roll-up is computed from its samples)")]
    RawTooShort(&'static str),
    #[error("{longer} must be at least {shorter}: roll-ups outlive the samples they come from")]
    Order {
        longer: &'static str,
        shorter: &'static str,
    },
}

impl History {
    /// Names the settings by what the configuration calls them.
    pub fn validate(&self) -> Result<(), RetentionError> {
        if self.raw_ms < 2 * HOUR_MS {
            return Err(RetentionError::RawTooShort("[retention] metrics_raw_hours"));
        }
        if self.five_minutes_ms < self.raw_ms {
            return Err(RetentionError::Order {
                longer: "[retention] metrics_five_minute_days",
                shorter: "[retention] metrics_raw_hours",
            });
        }
        if self.hourly_ms < self.five_minutes_ms {
            return Err(RetentionError::Order {
                longer: "[retention] metrics_hourly_days",
                shorter: "[retention] metrics_five_minute_days",
            });
        }
        Ok(())
    }

    pub fn keeps_ms(&self, resolution: Resolution) -> i64 {
        match resolution {
            Resolution::Raw => self.raw_ms,
            Resolution::FiveMinutes => self.five_minutes_ms,
            Resolution::Hourly => self.hourly_ms,
        }
    }

    /// Whether a sample taken at `at` is kept in history when it arrives at `now`: not
    /// from the future, and young enough that the samples of its hour are all still kept
    /// (its roll-ups are recomputed from them).
    pub fn accepts(&self, at: Timestamp, now: Timestamp) -> bool {
        at <= now && at.0 >= now.0 - self.raw_ms + HOUR_MS
    }

    /// The resolution a range `[from, to)` is read at when it is `now`: the coarsest whose
    /// buckets are still no wider than the range needs for [`MAX_POINTS`] points, among the
    /// resolutions still kept at `from`; when none is fine enough, the finest kept at
    /// `from`; when none is kept that far back, hourly (what is left of it).
    pub fn resolution_for(&self, from: Timestamp, to: Timestamp, now: Timestamp) -> Resolution {
        const ALL: [Resolution; 3] = [Resolution::Raw, Resolution::FiveMinutes, Resolution::Hourly];
        let needed = to.since(from) / MAX_POINTS as i64;
        let kept = |r: Resolution| from.0 >= now.0.saturating_sub(self.keeps_ms(r));
        let candidates = ALL.into_iter().filter(|r| kept(*r));
        candidates
            .clone()
            .rfind(|r| r.width_ms() <= needed)
            .or_else(|| candidates.clone().next())
            .unwrap_or(Resolution::Hourly)
    }

    /// What a device's roll-up step at `now` may delete, its watermark being `rolled_until`.
    pub fn prune(&self, now: Timestamp, rolled_until: Timestamp) -> Prune {
        Prune {
            raw_before: Timestamp((now.0 - self.raw_ms).min(bucket_start(rolled_until, HOUR_MS).0)),
            five_minutes_before: Timestamp(now.0 - self.five_minutes_ms),
            hourly_before: Timestamp(now.0 - self.hourly_ms),
        }
    }
}

/// Below which time each resolution's rows of a device go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prune {
    pub raw_before: Timestamp,
    pub five_minutes_before: Timestamp,
    pub hourly_before: Timestamp,
}

/// The watermark roll-ups may reach at `now`: the end of the last 5-minute bucket that
/// ended at least [`ROLLUP_GRACE_MS`] ago.
pub fn rollup_target(now: Timestamp) -> Timestamp {
    bucket_start(now.plus_millis(-ROLLUP_GRACE_MS), FIVE_MINUTES_MS)
}

/// One roll-up step of a device: read its samples in `[read_from, until)`, write the
/// 5-minute buckets in `[rolled_until, until)` and the hour buckets in `[read_from, until)`,
/// and move the watermark from `rolled_until` to `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub rolled_until: Timestamp,
    pub read_from: Timestamp,
    pub until: Timestamp,
}

/// The next step of a device whose watermark is `rolled_until`, or `None` when it is up to
/// date at `now`.
pub fn next_step(rolled_until: Timestamp, now: Timestamp) -> Option<Step> {
    let rolled_until = bucket_start(rolled_until, FIVE_MINUTES_MS);
    let until = rollup_target(now).min(rolled_until.plus_millis(MAX_STEP_MS));
    (until > rolled_until).then(|| Step {
        rolled_until,
        read_from: bucket_start(rolled_until, HOUR_MS),
        until,
    })
}

/// Where a device's watermark must go back to for samples taken at `times` and arriving at
/// `now`: the bucket of the earliest one that a roll-up may already have passed (one taken
/// more than half the grace before `now`, allowing for another server's clock being a
/// little ahead). `None` for the usual check-in, taken a moment before it arrives.
pub fn reroll_from(
    times: impl IntoIterator<Item = Timestamp>,
    now: Timestamp,
) -> Option<Timestamp> {
    times
        .into_iter()
        .filter(|at| at.0 < now.0 - ROLLUP_GRACE_MS / 2)
        .min()
        .map(|at| bucket_start(at, FIVE_MINUTES_MS))
}

/// Where a new device's watermark starts: the bucket of its first sample.
pub fn first_watermark(first_sample: Timestamp) -> Timestamp {
    bucket_start(first_sample, FIVE_MINUTES_MS)
}

/// What one step writes: the 5-minute buckets it passed and the hour buckets it touched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepRollups<K> {
    pub five_minutes: Vec<Rolled<K>>,
    pub hourly: Vec<Rolled<K>>,
}

impl Step {
    /// Rolls up the device's samples in `[read_from, until)` (others are ignored).
    pub fn roll<K: Ord + Clone>(&self, samples: &[Sample<K>]) -> StepRollups<K> {
        let in_step: Vec<Sample<K>> = samples
            .iter()
            .filter(|s| s.at >= self.read_from && s.at < self.until)
            .cloned()
            .collect();
        let (passed, _): (Vec<Sample<K>>, Vec<Sample<K>>) = in_step
            .iter()
            .cloned()
            .partition(|s| s.at >= self.rolled_until);
        StepRollups {
            five_minutes: roll_up(&passed, FIVE_MINUTES_MS),
            hourly: roll_up(&in_step, HOUR_MS),
        }
    }
}
