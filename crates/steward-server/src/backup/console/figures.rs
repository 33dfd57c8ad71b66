//! The numbers the backup pages explain: what deduplication and compression saved, whether a
//! device's clock seems off, whether a device's last backup is late. Pure, with times passed
//! in.

use steward_core::Timestamp;

use crate::console::format::bytes;

/// How far a snapshot's own time may be from the server's view of it before the page says
/// the device's clock differs.
pub const CLOCK_TOLERANCE_MS: i64 = 5 * 60_000;

/// A backup is late when its last success is older than this many of its schedule's
/// intervals.
pub const LATE_AFTER_INTERVALS: i64 = 2;

/// The interval assumed for a device no enabled policy schedules (backed up by hand).
pub const UNSCHEDULED_INTERVAL_MS: i64 = 24 * 3_600_000;

/// What one backup's figures say, in words for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Savings {
    /// Of the data read, how much was already in the repository (unchanged files, or
    /// blocks found in other files): not uploaded again.
    pub deduplicated: String,
    /// How much smaller compression made the new data.
    pub compressed: String,
}

/// The savings of a backup that read `read` bytes, found `added` of them new (after
/// deduplication, before compression) and stored them as `stored` bytes. `None` without the
/// figures (a snapshot whose backup never reported).
pub fn savings(read: Option<i64>, added: Option<i64>, stored: Option<i64>) -> Option<Savings> {
    let (read, added, stored) = (
        u64::try_from(read?).ok()?,
        u64::try_from(added?).ok()?,
        u64::try_from(stored?).ok()?,
    );
    let known = read.saturating_sub(added);
    let deduplicated = if read == 0 {
        "nothing was read".to_owned()
    } else if known == 0 {
        // New data counts the snapshot's folder listings too, so a first backup of small
        // files adds more than it read.
        format!(
            "none of the {} read was stored before; {} was new (contents and folder listings)",
            bytes(read),
            bytes(added)
        )
    } else {
        format!(
            "{} of {} ({} %) was already stored; {} was new",
            bytes(known),
            bytes(read),
            share(known, read),
            bytes(added)
        )
    };
    let compressed = if added == 0 {
        "no new data to compress".to_owned()
    } else if stored >= added {
        format!(
            "{} of new data stored as {} (did not compress)",
            bytes(added),
            bytes(stored)
        )
    } else {
        format!(
            "{} of new data stored as {} ({} % smaller)",
            bytes(added),
            bytes(stored),
            share(added - stored, added)
        )
    };
    Some(Savings {
        deduplicated,
        compressed,
    })
}

/// `part` as a whole percentage of `whole` (rounded down, so "100 %" means all of it).
fn share(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        (u128::from(part) * 100 / u128::from(whole)) as u64
    }
}

/// Whether the time a device wrote into its snapshot is off from the server's clock. The
/// snapshot's time is when the backup *started* and the server received the snapshot when it
/// *ended*, so the backup's duration is allowed for; beyond that, more than
/// [`CLOCK_TOLERANCE_MS`] either way says the device's clock differs.
pub fn clock_differs(
    received_at: Timestamp,
    written_at: Option<Timestamp>,
    duration_ms: Option<i64>,
) -> bool {
    let Some(written) = written_at else {
        return false;
    };
    let ended = written.plus_millis(duration_ms.unwrap_or(0).max(0));
    received_at.since(ended).abs() > CLOCK_TOLERANCE_MS
}

/// Whether a device's last backup is late: older than [`LATE_AFTER_INTERVALS`] of its
/// schedule's interval (`interval_ms`, the shortest of the enabled policies covering it),
/// or of a day when none schedules it. A device never backed up is not "late" but "never"
/// (its own column and count).
pub fn is_late(last: Timestamp, now: Timestamp, interval_ms: Option<i64>) -> bool {
    let interval = interval_ms
        .filter(|i| *i > 0)
        .unwrap_or(UNSCHEDULED_INTERVAL_MS);
    now.since(last) > interval.saturating_mul(LATE_AFTER_INTERVALS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savings_say_what_was_known_and_what_compressed() {
        let s = savings(Some(10 << 20), Some(1 << 20), Some(256 << 10))
            .unwrap_or_else(|| unreachable!("figures given"));
        assert_eq!(
            s.deduplicated,
            "9.0 MiB of 10.0 MiB (90 %) was already stored; 1.0 MiB was new"
        );
        assert_eq!(
            s.compressed,
            "1.0 MiB of new data stored as 256 KiB (75 % smaller)"
        );
        let first = savings(Some(74), Some(1900), Some(2100))
            .unwrap_or_else(|| unreachable!("figures given"));
        assert_eq!(
            first.deduplicated,
            "none of the 74 B read was stored before; 1.9 KiB was new (contents and folder listings)"
        );
        assert!(first.compressed.contains("did not compress"), "{first:?}");
        let unchanged =
            savings(Some(500), Some(0), Some(0)).unwrap_or_else(|| unreachable!("figures given"));
        assert!(unchanged.deduplicated.contains("(100 %)"));
        assert_eq!(unchanged.compressed, "no new data to compress");
        assert_eq!(savings(Some(1), None, Some(1)), None);
        assert_eq!(savings(Some(-1), Some(0), Some(0)), None);
    }

    #[test]
    fn a_clock_differs_beyond_the_backups_own_duration() {
        let received = Timestamp::from_secs(1_000_000);
        let started = |ago_s: i64| Some(Timestamp::from_secs(1_000_000 - ago_s));
        assert!(!clock_differs(received, None, None));
        assert!(!clock_differs(received, started(60), Some(50_000)));
        // An hour-long backup started an hour ago: the clock is right.
        assert!(!clock_differs(received, started(3_600), Some(3_590_000)));
        assert!(clock_differs(received, started(3_600), Some(1_000)));
        // Written "in the future": a clock ahead.
        assert!(clock_differs(received, started(-400), Some(1_000)));
        assert!(!clock_differs(received, started(-200), None));
    }

    #[test]
    fn late_means_two_intervals_or_two_days() {
        let now = Timestamp::from_secs(10_000_000);
        let hours_ago = |h: i64| Timestamp::from_secs(10_000_000 - h * 3_600);
        assert!(!is_late(hours_ago(47), now, None));
        assert!(is_late(hours_ago(49), now, None));
        let hourly = Some(3_600_000);
        assert!(!is_late(hours_ago(1), now, hourly));
        assert!(is_late(hours_ago(3), now, hourly));
        assert!(!is_late(hours_ago(49), now, Some(7 * 24 * 3_600_000)));
        assert!(
            is_late(hours_ago(49), now, Some(0)),
            "a nonsense interval: a day"
        );
    }
}
