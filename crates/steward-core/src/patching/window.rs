//! A patch policy's maintenance window as people write it: `DAYS HH:MM DURATION`, in UTC —
//! `sun 02:00 4h`, `mon-fri 22:00 90m`, `sat,sun 01:00 3h`, `daily 03:00 1h`. It is one of
//! monitoring's weekly windows ([`crate::alerting::window::Window`]), so patching and
//! alert suppression share one meaning of "window".

use crate::alerting::window::Window;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Why a window's text does not parse; the message shows the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "window: write DAYS HH:MM DURATION in UTC, such as `sun 02:00 4h`, `mon-fri 22:00 90m` or `daily 03:00 1h` (not {0:?})"
)]
pub struct BadWindowText(pub String);

/// Reads a window's text.
pub fn parse(text: &str) -> Result<Window, BadWindowText> {
    let bad = || BadWindowText(text.chars().take(80).collect());
    let words: Vec<&str> = text.split_whitespace().collect();
    let [days, start, length] = words.as_slice() else {
        return Err(bad());
    };
    let days = parse_days(&days.to_ascii_lowercase()).ok_or_else(bad)?;
    let (h, m) = start.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    let minutes = parse_minutes(length).ok_or_else(bad)?;
    let window = Window::Weekly {
        days,
        start_minute: h * 60 + m,
        minutes,
    };
    window.check().map_err(|_| bad())?;
    Ok(window)
}

fn day(name: &str) -> Option<u8> {
    DAYS.iter().position(|d| *d == name).map(|i| i as u8)
}

fn parse_days(text: &str) -> Option<Vec<u8>> {
    if text == "daily" {
        return Some((0..7).collect());
    }
    let mut days = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                if from > to {
                    return None;
                }
                days.extend(from..=to);
            }
            None => days.push(day(part)?),
        }
    }
    days.sort_unstable();
    days.dedup();
    Some(days)
}

fn parse_minutes(text: &str) -> Option<u32> {
    if let Some(h) = text.strip_suffix('h') {
        h.parse::<u32>().ok()?.checked_mul(60)
    } else {
        text.strip_suffix('m')?.parse().ok()
    }
}

/// When the opening of `window` that covers `t` closes; `None` when it is closed at `t`.
/// A policy's install must not start (nor its reboot happen) after that.
pub fn closes_at(window: &Window, t: crate::Timestamp) -> Option<crate::Timestamp> {
    const MINUTE: i64 = 60_000;
    const DAY: i64 = 1_440 * MINUTE;
    match window {
        Window::Once { start, end } => (*start <= t && t < *end).then_some(*end),
        Window::Weekly {
            days,
            start_minute,
            minutes,
        } => {
            let day = t.0.div_euclid(DAY);
            let length = i64::from(*minutes) * MINUTE;
            let back = i64::from(*minutes).div_euclid(1_440) + 1;
            // The latest opening that covers `t` (two may, when a window is longer than
            // the gap to its next opening): its close is the later one.
            (0..=back)
                .filter_map(|ago| {
                    let d = day - ago;
                    // 1970-01-01 was a Thursday (3, counting Monday as 0).
                    let weekday = (d + 3).rem_euclid(7) as u8;
                    let opens = d * DAY + i64::from(*start_minute) * MINUTE;
                    (days.contains(&weekday) && opens <= t.0 && t.0 < opens + length)
                        .then_some(crate::Timestamp(opens + length))
                })
                .max()
        }
    }
}

/// The text form of a weekly window (what [`parse`] reads back); a one-off window as its
/// times.
pub fn format(window: &Window) -> String {
    match window {
        Window::Weekly {
            days,
            start_minute,
            minutes,
        } => {
            let days = if days.len() == 7 {
                "daily".to_owned()
            } else {
                days.iter()
                    .filter_map(|d| DAYS.get(usize::from(*d)))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let length = if minutes % 60 == 0 {
                format!("{}h", minutes / 60)
            } else {
                format!("{minutes}m")
            };
            format!(
                "{days} {:02}:{:02} {length}",
                start_minute / 60,
                start_minute % 60
            )
        }
        Window::Once { start, end } => format!(
            "{} to {}",
            crate::time::date(*start),
            crate::time::date(*end)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    #[test]
    fn windows_read_as_people_write_them() {
        assert_eq!(
            parse("sun 02:00 4h").unwrap(),
            Window::Weekly {
                days: vec![6],
                start_minute: 120,
                minutes: 240
            }
        );
        let Window::Weekly { days, .. } = parse("mon-fri 22:00 90m").unwrap() else {
            panic!()
        };
        assert_eq!(days, [0, 1, 2, 3, 4]);
        for text in [
            "sun 02:00 4h",
            "mon-fri 22:00 90m",
            "sat,sun 01:30 3h",
            "daily 03:00 1h",
        ] {
            assert_eq!(
                format(&parse(text).unwrap()),
                text.replace("mon-fri", "mon,tue,wed,thu,fri")
            );
        }
    }

    #[test]
    fn nonsense_is_refused_with_the_form() {
        for bad in [
            "",
            "sun",
            "sun 25:00 1h",
            "sun 02:00",
            "funday 02:00 1h",
            "sun 02:00 0h",
            "fri-mon 01:00 1h",
            "sun 02:00 9d",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("DAYS HH:MM DURATION"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_parsed_window_opens_when_it_says() {
        // 2026-11-29 was a Sunday; 02:30 UTC is inside `sun 02:00 4h`.
        let sunday = Timestamp(1_795_919_400_000);
        let w = parse("sun 02:00 4h").unwrap();
        assert!(w.covers(sunday));
        assert!(!w.covers(sunday.plus_millis(4 * 3_600_000)));
        // Opened at 02:00, so it closes at 06:00, three and a half hours on.
        assert_eq!(
            closes_at(&w, sunday),
            Some(sunday.plus_millis(210 * 60_000))
        );
        assert_eq!(closes_at(&w, sunday.plus_millis(4 * 3_600_000)), None);
        // A window running past midnight closes the next day.
        let late = parse("sat 23:00 3h").unwrap();
        let saturday_2330 = sunday.plus_millis(-3 * 3_600_000);
        assert_eq!(
            closes_at(&late, saturday_2330),
            Some(sunday.plus_millis(-30 * 60_000))
        );
    }
}
