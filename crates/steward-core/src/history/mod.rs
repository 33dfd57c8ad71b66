//! Metrics history: every check-in's metrics sample kept as time series, rolled up into
//! 5-minute and hourly averages and maxima, and read back at the resolution a range needs.
//!
//! - [`series`]: series names (`cpu`, `fs:/`, `disk_read:sda`, …), their units, and the
//!   values of one sample.
//! - [`rollup`]: averages and maxima over aligned buckets, merging and downsampling points.
//! - [`keeping`]: retention, the resolution a range is read at, and the roll-up schedule
//!   (watermarks, late samples, what may be pruned).
//!
//! Pure: time is passed in; the store keeps the rows and the server runs the schedule.

pub mod keeping;
pub mod rollup;
pub mod series;

#[cfg(test)]
mod tests;

pub use keeping::{History, MAX_POINTS, Prune, Resolution, RetentionError, Step, StepRollups};
pub use rollup::{Point, Rolled, Stat, bucket_start, downsample, merge, roll_up};
pub use series::{Sample, SeriesKind, SeriesName, SeriesNameError, Unit};
