//! Sign-in throttling: how long someone must wait after failed sign-ins, per account and per
//! source address. A few mistakes cost nothing; after that each failure doubles the wait, and
//! an hourly cap stops a patient guesser at a hundred tries.

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures in the last hour that cost no wait.
    pub free_failures: u32,
    /// At most this many failures an hour; then the key waits out the hour.
    pub max_failures_per_hour: u32,
    /// Longest wait between attempts, in seconds.
    pub max_delay_secs: i64,
}

/// Per account: five free mistakes, then 2 s, 4 s, 8 s … up to 15 minutes; 100 an hour.
pub const PER_ACCOUNT: ThrottlePolicy = ThrottlePolicy {
    free_failures: 5,
    max_failures_per_hour: 100,
    max_delay_secs: 900,
};

/// Per source address: more room, since an office shares one address behind its router.
pub const PER_SOURCE: ThrottlePolicy = ThrottlePolicy {
    free_failures: 20,
    max_failures_per_hour: 300,
    max_delay_secs: 900,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refuse without checking the password; try again after this many seconds.
    Wait {
        secs: i64,
    },
}

/// Whether to try a sign-in now, given the failures of the last hour for one key.
pub fn decide(
    policy: ThrottlePolicy,
    failures_last_hour: u32,
    last_failure: Option<Timestamp>,
    oldest_failure_in_hour: Option<Timestamp>,
    now: Timestamp,
) -> Verdict {
    if failures_last_hour >= policy.max_failures_per_hour {
        let frees_at = oldest_failure_in_hour.map_or(now, |t| t.plus_millis(3_600_000));
        return Verdict::Wait {
            secs: (frees_at.since(now) / 1000).max(1),
        };
    }
    if failures_last_hour < policy.free_failures {
        return Verdict::Allow;
    }
    let Some(last) = last_failure else {
        return Verdict::Allow;
    };
    let exponent = (failures_last_hour - policy.free_failures + 1).min(20);
    let delay = (1i64 << exponent).min(policy.max_delay_secs);
    let waited = now.since(last) / 1000;
    if waited >= delay {
        Verdict::Allow
    } else {
        Verdict::Wait {
            secs: delay - waited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn mistakes_are_free_then_waits_double() {
        let d = |n, last, now| decide(PER_ACCOUNT, n, Some(at(last)), Some(at(0)), at(now));
        assert_eq!(d(4, 100, 100), Verdict::Allow);
        assert_eq!(d(5, 100, 100), Verdict::Wait { secs: 2 });
        assert_eq!(d(5, 100, 102), Verdict::Allow);
        assert_eq!(d(6, 100, 101), Verdict::Wait { secs: 3 });
        assert_eq!(d(30, 100, 101), Verdict::Wait { secs: 899 });
    }

    #[test]
    fn the_hourly_cap_waits_out_the_hour() {
        let v = decide(PER_ACCOUNT, 100, Some(at(3000)), Some(at(1000)), at(3000));
        assert_eq!(v, Verdict::Wait { secs: 1600 });
    }
}
