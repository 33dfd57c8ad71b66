//! When checks run: each keeps its place in the schedule, and checks created together are
//! spread over their interval. Pure functions of times passed in.

use steward_core::Timestamp;

/// The shortest interval a check runs at, whatever its definition says.
pub const MIN_INTERVAL_MS: i64 = 1_000;

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

/// When a check newly tracked first runs: within one interval of `now`, at an offset fixed
/// by its id ([`first_run_offset_ms`]).
pub fn first_run_at(check_id: &str, interval_ms: i64, now: Timestamp) -> Timestamp {
    now.plus_millis(first_run_offset_ms(check_id, interval_ms))
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_next_run_keeps_the_schedule_and_skips_what_was_missed() {
        let at = |ms| next_run_at(Timestamp(1_000), 30_000, Timestamp(ms));
        // On time or a little late: one interval after it was due.
        assert_eq!(at(1_000), Timestamp(31_000));
        assert_eq!(at(29_000), Timestamp(31_000));
        // Late by more than an interval: the next slot still ahead, not a burst of catch-ups.
        assert_eq!(at(31_000), Timestamp(61_000));
        assert_eq!(at(95_000), Timestamp(121_000));
        // Never more often than once a second.
        assert_eq!(
            next_run_at(Timestamp(0), 10, Timestamp(0)),
            Timestamp(1_000)
        );
    }

    #[test]
    fn first_runs_spread_over_the_interval_and_stay_put() {
        let interval = 30_000;
        let offsets: Vec<i64> = (0..3_000)
            .map(|i| first_run_offset_ms(&format!("config:check-{i}"), interval))
            .collect();
        assert!(offsets.iter().all(|o| (0..interval).contains(o)));
        assert_eq!(offsets[7], first_run_offset_ms("config:check-7", interval));
        // Thirty one-second slots each get a share near 100.
        let mut per_second = [0u32; 30];
        for o in &offsets {
            per_second[usize::try_from(o / 1_000).unwrap()] += 1;
        }
        assert!(
            per_second.iter().all(|n| (50..=150).contains(n)),
            "{per_second:?}"
        );
    }
}
