//! When checks run: each keeps its place in the schedule, and checks created together are
//! spread over their interval. Pure functions of times passed in.

use steward_core::Timestamp;

/// The shortest interval a check runs at, whatever its definition says.
pub const MIN_INTERVAL_MS: i64 = 1_000;

/// When a check runs next, for a run that was due at `was_due`, started at `started` and
/// was decided at `now`. A run that started on time (less than a quarter of an interval
/// late) keeps its place in the schedule: the next is one interval after this one was due,
/// whatever the probe took, so runs spread over the interval stay spread rather than
/// drifting behind slow probes. A run that started late (a server's scheduler was behind,
/// or another server took over a lapsed claim) starts a new place one interval after it
/// started, so two runs are never much less than an interval apart. Either way a time that
/// has passed already (the probe took longer than an interval) moves on by whole intervals
/// to the first still ahead, skipping missed runs rather than running them back to back.
pub fn next_run_at(
    was_due: Timestamp,
    interval_ms: i64,
    started: Timestamp,
    now: Timestamp,
) -> Timestamp {
    let interval = interval_ms.max(MIN_INTERVAL_MS);
    let on_time = started.0.saturating_sub(was_due.0) < interval / 4;
    let anchor = if on_time { was_due.0 } else { started.0 };
    let next = anchor.saturating_add(interval);
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
        let t = Timestamp;
        // Started on time, decided at once or after a slow probe: one interval after it was due.
        assert_eq!(next_run_at(t(1_000), 30_000, t(1_000), t(1_000)), t(31_000));
        assert_eq!(
            next_run_at(t(1_000), 30_000, t(1_050), t(29_000)),
            t(31_000)
        );
        // A probe longer than the interval: the next slot still ahead, not a burst of
        // catch-ups.
        assert_eq!(
            next_run_at(t(1_000), 30_000, t(1_000), t(31_000)),
            t(61_000)
        );
        assert_eq!(
            next_run_at(t(1_000), 30_000, t(1_000), t(95_000)),
            t(121_000)
        );
        // Started late (a claim taken over after its lease lapsed): an interval after the
        // start, so the next run is not moments after this one.
        assert_eq!(
            next_run_at(t(1_000), 2_000, t(16_200), t(16_300)),
            t(18_200)
        );
        assert_eq!(next_run_at(t(1_000), 30_000, t(9_000), t(9_100)), t(39_000));
        // Never more often than once a second.
        assert_eq!(next_run_at(t(0), 10, t(0), t(0)), t(1_000));
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
