//! Maintenance windows: one-off (a date and time range) or weekly (days of the week, a start
//! time and a duration), in UTC. A window covers a device, a group or a check; while it
//! covers one, results are kept and nothing is announced (see [`super::observe`]).

use serde::{Deserialize, Serialize};

use crate::Timestamp;

const MINUTE: i64 = 60_000;
const DAY: i64 = 1_440 * MINUTE;

/// When a maintenance window is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Window {
    /// From `start` (inclusive) to `end` (exclusive).
    Once { start: Timestamp, end: Timestamp },
    /// Every week on `days` (0 = Monday … 6 = Sunday) from `start_minute` after midnight UTC,
    /// for `minutes` (which may run past midnight into the next day).
    Weekly {
        days: Vec<u8>,
        start_minute: u16,
        minutes: u32,
    },
}

/// Why a window is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadWindow {
    #[error("a window ends after it starts")]
    EndsBeforeStart,
    #[error("days are 0 (Monday) to 6 (Sunday), at least one")]
    BadDays,
    #[error("a weekly window starts before 24:00 and lasts 1 minute to 7 days")]
    BadTimes,
}

impl Window {
    pub fn check(&self) -> Result<(), BadWindow> {
        match self {
            Window::Once { start, end } if end <= start => Err(BadWindow::EndsBeforeStart),
            Window::Once { .. } => Ok(()),
            Window::Weekly { days, .. } if days.is_empty() || days.iter().any(|d| *d > 6) => {
                Err(BadWindow::BadDays)
            }
            Window::Weekly {
                start_minute,
                minutes,
                ..
            } if *start_minute >= 1_440 || *minutes == 0 || *minutes > 7 * 1_440 => {
                Err(BadWindow::BadTimes)
            }
            Window::Weekly { .. } => Ok(()),
        }
    }

    /// Whether the window is open at `t`.
    pub fn covers(&self, t: Timestamp) -> bool {
        match self {
            Window::Once { start, end } => *start <= t && t < *end,
            Window::Weekly {
                days,
                start_minute,
                minutes,
            } => {
                let day = t.0.div_euclid(DAY);
                let length = i64::from(*minutes) * MINUTE;
                // A window that opened on one of the last few days may still be open.
                let back = i64::from(*minutes).div_euclid(1_440) + 1;
                (0..=back).any(|ago| {
                    let d = day - ago;
                    // 1970-01-01 was a Thursday (3, counting Monday as 0).
                    let weekday = (d + 3).rem_euclid(7) as u8;
                    let opens = d * DAY + i64::from(*start_minute) * MINUTE;
                    days.contains(&weekday) && opens <= t.0 && t.0 < opens + length
                })
            }
        }
    }
}

/// Whether any of `windows` is open at `t`.
pub fn any_covers(windows: &[Window], t: Timestamp) -> bool {
    windows.iter().any(|w| w.covers(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30 was a Monday.
    const MONDAY: i64 = 20_787 * DAY;

    fn t(day: i64, hour: i64, minute: i64) -> Timestamp {
        Timestamp(MONDAY + day * DAY + hour * 60 * MINUTE + minute * MINUTE)
    }

    #[test]
    fn the_reference_day_is_a_monday() {
        let w = Window::Weekly {
            days: vec![0],
            start_minute: 0,
            minutes: 1,
        };
        assert!(w.covers(t(0, 0, 0)));
        assert!(!w.covers(t(1, 0, 0)));
        assert!(w.covers(t(7, 0, 0)));
    }

    #[test]
    fn a_one_off_window_is_half_open() {
        let w = Window::Once {
            start: t(0, 1, 0),
            end: t(0, 2, 0),
        };
        assert!(!w.covers(t(0, 0, 59)));
        assert!(w.covers(t(0, 1, 0)));
        assert!(w.covers(t(0, 1, 59)));
        assert!(!w.covers(t(0, 2, 0)));
    }

    #[test]
    fn a_weekly_window_runs_past_midnight() {
        // Saturdays 22:00 for four hours: until Sunday 02:00.
        let w = Window::Weekly {
            days: vec![5],
            start_minute: 22 * 60,
            minutes: 240,
        };
        assert!(w.check().is_ok());
        assert!(!w.covers(t(5, 21, 59)));
        assert!(w.covers(t(5, 22, 0)));
        assert!(w.covers(t(6, 1, 59)));
        assert!(!w.covers(t(6, 2, 0)));
        assert!(!w.covers(t(4, 23, 0)), "not on Fridays");
        assert!(w.covers(t(12, 23, 0)), "next Saturday too");
        assert!(any_covers(std::slice::from_ref(&w), t(5, 23, 0)));
        assert!(!any_covers(&[], t(5, 23, 0)));
    }

    #[test]
    fn bad_windows_are_refused() {
        let once = Window::Once {
            start: t(0, 2, 0),
            end: t(0, 1, 0),
        };
        assert_eq!(once.check(), Err(BadWindow::EndsBeforeStart));
        let days = Window::Weekly {
            days: vec![7],
            start_minute: 0,
            minutes: 10,
        };
        assert_eq!(days.check(), Err(BadWindow::BadDays));
        let times = Window::Weekly {
            days: vec![1],
            start_minute: 1_440,
            minutes: 10,
        };
        assert_eq!(times.check(), Err(BadWindow::BadTimes));
    }
}
