//! Time as a dependency, so expiries and online status are tested without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use steward_core::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp(ms)
    }
}

/// A clock that stands still until it is moved: tests reach an expiry or an idle timeout by
/// moving it, not by waiting. Only the server's own notion of time moves; timers that wait
/// on the runtime (network timeouts, pollers' intervals) run as usual.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            ms: AtomicI64::new(start.0),
        }
    }

    /// Starts at the system's current time, so what the server stores looks like real data
    /// (and agrees with anything a test computes from the wall clock).
    pub fn at_system_time() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let _ = self
            .ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(ms))
            });
    }

    /// Sets the clock to `to`, also backwards (a clock that was wrong and is corrected).
    pub fn set(&self, to: Timestamp) {
        self.ms.store(to.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.ms.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now(), Timestamp(2_500));
        clock.advance(Duration::from_micros(999));
        assert_eq!(clock.now(), Timestamp(2_500));
        clock.set(Timestamp(7));
        assert_eq!(clock.now(), Timestamp(7));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), Timestamp(i64::MAX));
    }
}
