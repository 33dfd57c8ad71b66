//! Notices decided close together go out as one message per channel: when a switch fails,
//! the twenty checks behind it that were not marked unreachable in time arrive as one mail,
//! not twenty. A batch is the notices decided within `window_ms` of its first; it is sent
//! when its first notice is `window_ms` old, so grouping delays a notice by at most that.

use crate::Timestamp;

/// The batches of `decided` (times notices were decided, oldest first) ready at `now`, as
/// index ranges into it. Notices after the last ready batch wait for a later call.
pub fn batches(
    decided: &[Timestamp],
    window_ms: i64,
    now: Timestamp,
) -> Vec<std::ops::Range<usize>> {
    let mut ready = Vec::new();
    let mut start = 0;
    while start < decided.len() {
        let first = decided[start];
        if now.since(first) < window_ms {
            break;
        }
        // The first notice is always in its batch (with a zero window, alone).
        let end = decided[start + 1..]
            .iter()
            .position(|t| t.since(first) >= window_ms)
            .map_or(decided.len(), |n| start + 1 + n);
        ready.push(start..end);
        start = end;
    }
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(v: &[i64]) -> Vec<Timestamp> {
        v.iter().copied().map(Timestamp).collect()
    }

    #[test]
    fn notices_close_together_go_out_together() {
        let decided = ts(&[0, 100, 900, 1_000, 2_500]);
        assert!(
            batches(&decided, 1_000, Timestamp(999)).is_empty(),
            "too young"
        );
        assert_eq!(batches(&decided, 1_000, Timestamp(1_000)), vec![0..3]);
        assert_eq!(batches(&decided, 1_000, Timestamp(2_000)), vec![0..3, 3..4]);
        assert_eq!(
            batches(&decided, 1_000, Timestamp(3_500)),
            vec![0..3, 3..4, 4..5]
        );
        assert_eq!(batches(&decided, 0, Timestamp(0)), vec![0..1]);
        assert_eq!(
            batches(&decided, 0, Timestamp(2_500)),
            vec![0..1, 1..2, 2..3, 3..4, 4..5]
        );
        assert!(batches(&[], 1_000, Timestamp(5_000)).is_empty());
    }
}
