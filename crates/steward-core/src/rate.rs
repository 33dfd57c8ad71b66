//! A token bucket: how often something may happen, with room for a burst. The server uses it
//! to bound how many report deliveries one device may make (an honest agent delivers once a
//! minute, and catches up after an outage in a burst of at most fifteen batches).

use crate::Timestamp;

/// The rule: at most `burst` at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRule {
    pub burst: u32,
    pub per_minute: u32,
}

/// One key's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    at: Timestamp,
}

impl RateRule {
    /// A full bucket at `now`.
    pub fn fresh(&self, now: Timestamp) -> Bucket {
        Bucket {
            tokens: f64::from(self.burst),
            at: now,
        }
    }

    /// Takes one token. `Err(wait_ms)` when the bucket is empty: how long until one is back.
    pub fn take(&self, bucket: &mut Bucket, now: Timestamp) -> Result<(), i64> {
        self.take_many(bucket, now, 1)
    }

    /// Takes `n` tokens at once (more than `burst` are taken as `burst`: a single request may
    /// always be as large as the burst). `Err(wait_ms)`: how long until they are back.
    pub fn take_many(&self, bucket: &mut Bucket, now: Timestamp, n: u32) -> Result<(), i64> {
        self.refill(bucket, now);
        let n = f64::from(n.min(self.burst));
        if bucket.tokens >= n {
            bucket.tokens -= n;
            return Ok(());
        }
        let per_ms = self.per_ms();
        if per_ms <= 0.0 {
            return Err(60_000);
        }
        Err(((n - bucket.tokens) / per_ms).ceil() as i64)
    }

    /// True when the bucket is full again at `now`: it can be forgotten.
    pub fn is_idle(&self, bucket: &Bucket, now: Timestamp) -> bool {
        let mut b = *bucket;
        self.refill(&mut b, now);
        b.tokens >= f64::from(self.burst)
    }

    fn per_ms(&self) -> f64 {
        f64::from(self.per_minute) / 60_000.0
    }

    fn refill(&self, bucket: &mut Bucket, now: Timestamp) {
        // A clock stepping back refills nothing rather than draining.
        let elapsed = (now.0 - bucket.at.0).max(0) as f64;
        bucket.tokens = (bucket.tokens + elapsed * self.per_ms()).min(f64::from(self.burst));
        bucket.at = Timestamp(now.0.max(bucket.at.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let rule = RateRule {
            burst: 3,
            per_minute: 6,
        };
        let mut b = rule.fresh(Timestamp(0));
        for _ in 0..3 {
            assert_eq!(rule.take(&mut b, Timestamp(0)), Ok(()));
        }
        assert_eq!(rule.take(&mut b, Timestamp(0)), Err(10_000));
        assert_eq!(rule.take(&mut b, Timestamp(4_000)), Err(6_000));
        assert_eq!(rule.take(&mut b, Timestamp(10_000)), Ok(()));
        assert!(!rule.is_idle(&b, Timestamp(10_000)));
        assert!(rule.is_idle(&b, Timestamp(40_000)));
    }

    #[test]
    fn many_tokens_at_once() {
        let rule = RateRule {
            burst: 100,
            per_minute: 60,
        };
        let mut b = rule.fresh(Timestamp(0));
        assert_eq!(rule.take_many(&mut b, Timestamp(0), 70), Ok(()));
        assert_eq!(rule.take_many(&mut b, Timestamp(0), 40), Err(10_000));
        // More than the burst counts as the burst: possible once the bucket is full.
        assert_eq!(rule.take_many(&mut b, Timestamp(100_000), 500), Ok(()));
        assert!(rule.take(&mut b, Timestamp(100_000)).is_err());
    }

    #[test]
    fn clock_stepping_back_does_not_refill() {
        let rule = RateRule {
            burst: 1,
            per_minute: 1,
        };
        let mut b = rule.fresh(Timestamp(100_000));
        assert_eq!(rule.take(&mut b, Timestamp(100_000)), Ok(()));
        assert!(rule.take(&mut b, Timestamp(0)).is_err());
    }
}
