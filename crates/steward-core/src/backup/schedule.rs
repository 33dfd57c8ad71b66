//! When a backup policy runs: `hourly` (at minute 0 unless `hourly :MM`), `daily HH:MM`,
//! `weekly DAY HH:MM` (`mon` … `sun`), or `every DURATION` (`every 6h`, at least 15 min).
//! Times are UTC, like maintenance windows. Parsed once where a policy is defined; a bad one
//! is refused with what was expected.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// The shortest interval `every` accepts.
pub const MIN_EVERY_MS: i64 = 15 * MINUTE;

/// A policy's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Hourly {
        minute: u8,
    },
    Daily {
        minute_of_day: u16,
    },
    /// `weekday` 0 = Monday … 6 = Sunday.
    Weekly {
        weekday: u8,
        minute_of_day: u16,
    },
    Every {
        ms: i64,
    },
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        const EXPECTED: &str =
            "expected `hourly`, `hourly :MM`, `daily HH:MM`, `weekly DAY HH:MM` or `every 6h`";
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = || format!("{text:?}: {EXPECTED}");
        match words.as_slice() {
            ["hourly"] => Ok(Schedule::Hourly { minute: 0 }),
            ["hourly", m] => {
                let minute: u8 = m
                    .strip_prefix(':')
                    .and_then(|m| m.parse().ok())
                    .filter(|m| *m < 60)
                    .ok_or_else(bad)?;
                Ok(Schedule::Hourly { minute })
            }
            ["daily", hm] => Ok(Schedule::Daily {
                minute_of_day: clock(hm).ok_or_else(bad)?,
            }),
            ["weekly", d, hm] => Ok(Schedule::Weekly {
                weekday: weekday(d).ok_or_else(bad)?,
                minute_of_day: clock(hm).ok_or_else(bad)?,
            }),
            ["every", d] => {
                let ms = duration_ms(d).ok_or_else(bad)?;
                if ms < MIN_EVERY_MS {
                    return Err(format!("{text:?}: at least every 15 minutes"));
                }
                Ok(Schedule::Every { ms })
            }
            _ => Err(bad()),
        }
    }

    /// The first run strictly after `after`. `Every` counts from `after` (the last run).
    pub fn next_after(&self, after: Timestamp) -> Timestamp {
        let t = after.0;
        let next_in = |period: i64, offset: i64| {
            let start = t - (t - offset).rem_euclid(period);
            Timestamp(start + period)
        };
        match *self {
            Schedule::Hourly { minute } => next_in(HOUR, i64::from(minute) * MINUTE),
            Schedule::Daily { minute_of_day } => next_in(DAY, i64::from(minute_of_day) * MINUTE),
            // 1970-01-05 was a Monday.
            Schedule::Weekly {
                weekday,
                minute_of_day,
            } => next_in(
                WEEK,
                4 * DAY + i64::from(weekday) * DAY + i64::from(minute_of_day) * MINUTE,
            ),
            Schedule::Every { ms } => Timestamp(t.saturating_add(ms)),
        }
    }

    /// The longest gap between two runs: how late a backup may be before it is overdue.
    pub fn period_ms(&self) -> i64 {
        match *self {
            Schedule::Hourly { .. } => HOUR,
            Schedule::Daily { .. } => DAY,
            Schedule::Weekly { .. } => WEEK,
            Schedule::Every { ms } => ms,
        }
    }
}

/// `6h`, `90m`, `1h30m`, `2d` as milliseconds.
fn duration_ms(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1_000,
            'm' => MINUTE,
            'h' => HOUR,
            'd' => DAY,
            _ => return None,
        };
        let n: i64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && total > 0).then_some(total)
}

/// `HH:MM` as minutes after midnight.
fn clock(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.len() <= 5).then_some(h * 60 + m)
}

fn weekday(text: &str) -> Option<u8> {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let lower = text.to_ascii_lowercase();
    days.iter()
        .position(|d| lower.starts_with(d) && lower.len() >= 3)
        .and_then(|i| u8::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_read_or_refused_with_what_was_expected() {
        assert_eq!(
            Schedule::parse("hourly"),
            Ok(Schedule::Hourly { minute: 0 })
        );
        assert_eq!(
            Schedule::parse("hourly :15"),
            Ok(Schedule::Hourly { minute: 15 })
        );
        assert_eq!(
            Schedule::parse("daily 01:00"),
            Ok(Schedule::Daily { minute_of_day: 60 })
        );
        assert_eq!(
            Schedule::parse("weekly Sunday 02:30"),
            Ok(Schedule::Weekly {
                weekday: 6,
                minute_of_day: 150
            })
        );
        assert_eq!(
            Schedule::parse("every 6h"),
            Ok(Schedule::Every { ms: 6 * HOUR })
        );
        for bad in [
            "",
            "daily",
            "daily 25:00",
            "daily 1:00:00",
            "weekly xyz 01:00",
            "hourly 15",
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains("expected"), "{bad:?}: {e}");
        }
        assert!(
            Schedule::parse("every 5m")
                .unwrap_err()
                .contains("15 minutes")
        );
        assert_eq!(
            Schedule::parse("every 1h30m"),
            Ok(Schedule::Every { ms: 90 * MINUTE })
        );
        assert!(Schedule::parse("every 6").is_err() && Schedule::parse("every h").is_err());
    }

    #[test]
    fn the_next_run_is_the_first_slot_after() {
        let daily = Schedule::parse("daily 01:00").unwrap();
        assert_eq!(daily.next_after(Timestamp(0)), Timestamp(HOUR));
        assert_eq!(
            daily.next_after(Timestamp(HOUR)),
            Timestamp(DAY + HOUR),
            "strictly after"
        );
        assert_eq!(
            daily.next_after(Timestamp(DAY + 2 * HOUR)),
            Timestamp(2 * DAY + HOUR)
        );
        // 1970-01-01 was a Thursday: the first Sunday 02:30 is the 4th.
        let weekly = Schedule::parse("weekly sun 02:30").unwrap();
        assert_eq!(
            weekly.next_after(Timestamp(0)),
            Timestamp(3 * DAY + 2 * HOUR + 30 * MINUTE)
        );
        assert_eq!(
            weekly.next_after(Timestamp(3 * DAY + 3 * HOUR)),
            Timestamp(10 * DAY + 2 * HOUR + 30 * MINUTE)
        );
        let hourly = Schedule::parse("hourly :15").unwrap();
        assert_eq!(
            hourly.next_after(Timestamp(20 * MINUTE)),
            Timestamp(HOUR + 15 * MINUTE)
        );
        let every = Schedule::parse("every 6h").unwrap();
        assert_eq!(
            every.next_after(Timestamp(1_000)),
            Timestamp(1_000 + 6 * HOUR)
        );
        assert_eq!(every.period_ms(), 6 * HOUR);
    }
}
