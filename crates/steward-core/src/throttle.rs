//! Sign-in throttling: how long someone must wait after failed sign-ins, per account and per
//! source address. A few mistakes cost nothing; after that each failure doubles the wait, and
//! an hourly cap stops a patient guesser at a hundred tries.
//!
//! Which counters an attempt is judged by depends on where it comes from ([`Origin`]), so
//! that strangers' failures can slow strangers but never lock the owner out: a browser
//! holding a *known-device* token (set when this account last signed in there) or a
//! signed-in session is judged only by its own failures. Everyone else — every source that
//! cannot prove it signed in to this account before — shares the account's counter, so the
//! account still sees at most [`PER_ACCOUNT`]`.max_failures_per_hour` guesses an hour from
//! anyone who does not hold one of the owner's browsers.

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

/// Where a password (or code) attempt comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// A browser that signed in to this account before (its known-device token's id).
    KnownDevice { device: &'a str },
    /// A signed-in session proving itself again (step-up, password change): its id.
    Session { session: &'a str },
    /// Anyone else, from this source address.
    Stranger { address: &'a str },
}

/// A failure counter and the policy it is judged by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub key: String,
    pub policy: ThrottlePolicy,
}

/// The counters an attempt on `account` is judged by and counted against.
///
/// - a stranger: the account's shared counter and the source address's;
/// - a known device: only that device's (the owner mistyping is slowed as before);
/// - a session: only that session's (a session exists only after the password was given).
pub fn counters(account: &str, origin: Origin<'_>) -> Vec<Counter> {
    let account = account.to_lowercase();
    match origin {
        Origin::Stranger { address } => vec![
            Counter {
                key: format!("user:{account}"),
                policy: PER_ACCOUNT,
            },
            Counter {
                key: format!("ip:{address}"),
                policy: PER_SOURCE,
            },
        ],
        Origin::KnownDevice { device } => vec![Counter {
            key: format!("device:{account}:{device}"),
            policy: PER_ACCOUNT,
        }],
        Origin::Session { session } => vec![Counter {
            key: format!("session:{account}:{session}"),
            policy: PER_ACCOUNT,
        }],
    }
}

/// A known-device token not used for this long is forgotten: the browser is a stranger again.
pub const KNOWN_DEVICE_TTL_MILLIS: i64 = 90 * 24 * 3600 * 1000;

/// Whether a known-device token last used at `last_used` still vouches for its browser.
pub fn known_device_valid(last_used: Timestamp, now: Timestamp) -> bool {
    now.since(last_used) <= KNOWN_DEVICE_TTL_MILLIS
}

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
    fn strangers_share_the_account_counter_but_known_devices_do_not() {
        let stranger = counters(
            "Admin",
            Origin::Stranger {
                address: "192.0.2.1",
            },
        );
        let keys: Vec<_> = stranger.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["user:admin", "ip:192.0.2.1"]);
        assert_eq!(stranger[0].policy, PER_ACCOUNT);
        let other = counters(
            "admin",
            Origin::Stranger {
                address: "192.0.2.2",
            },
        );
        assert_eq!(
            other[0].key, stranger[0].key,
            "every stranger counts against the account"
        );
        let known = counters("admin", Origin::KnownDevice { device: "d1" });
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].policy, PER_ACCOUNT);
        for c in [
            &known[0],
            &counters("admin", Origin::Session { session: "s1" })[0],
        ] {
            assert!(
                !stranger.iter().any(|s| s.key == c.key),
                "strangers' failures never count against {}",
                c.key
            );
        }
    }

    #[test]
    fn known_devices_are_forgotten_after_ninety_days() {
        assert!(known_device_valid(at(0), at(90 * 24 * 3600)));
        assert!(!known_device_valid(at(0), at(90 * 24 * 3600 + 1)));
    }

    #[test]
    fn the_hourly_cap_waits_out_the_hour() {
        let v = decide(PER_ACCOUNT, 100, Some(at(3000)), Some(at(1000)), at(3000));
        assert_eq!(v, Verdict::Wait { secs: 1600 });
    }
}
