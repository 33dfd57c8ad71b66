//! What people type into the monitoring forms, read and written back: durations ("90s",
//! "10m", "1h30m"), UTC date-times as a `datetime-local` input gives them
//! ("2026-05-01T22:00"), times of day ("22:00") and optional numbers. Each error names the
//! field, for the message above the form.

use steward_core::Timestamp;
use steward_core::time::{civil_from_days, days_from_civil};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 1_440 * MINUTE_MS;

/// An optional number: empty is `None`, anything else must parse.
pub fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| format!("{field}: {text:?} is not a number"))
}

/// A duration in seconds: a bare number is seconds; otherwise numbers with units `s`, `m`
/// (`min`), `h` and `d`, in any sequence ("1h30m"). Empty is `None`.
pub fn duration(field: &str, text: &str) -> Result<Option<u64>, String> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("{field}: {text:?} is not a duration (say 90s, 10m, 2h or 1d)");
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Some(secs));
    }
    let mut total: u64 = 0;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hour" | "hours" => 3_600,
            "d" | "day" | "days" => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(Some(total))
}

/// A duration as [`duration`] reads it back, in the largest unit that is exact.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` input; a space for the `T` and `:SS` are taken
/// too), read as UTC.
pub fn utc_minute(field: &str, text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let bad = || format!("{field}: give a date and time as YYYY-MM-DD HH:MM (UTC)");
    let (date, time) = text
        .split_once(['T', ' '])
        .ok_or_else(|| format!("{field}: a date and time is needed (UTC)"))?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>());
    let (Some(Ok(year)), Some(Ok(month)), Some(Ok(day))) = (d.next(), d.next(), d.next()) else {
        return Err(bad());
    };
    let minute = clock(field, time.get(..5).unwrap_or(time))?;
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day < 1 {
        return Err(bad());
    }
    if day > days_in_month(year, month) {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    Ok(Timestamp(days * DAY_MS + i64::from(minute) * MINUTE_MS))
}

/// A time as a `datetime-local` input shows it: `YYYY-MM-DDTHH:MM`, UTC.
pub fn format_utc_minute(t: Timestamp) -> String {
    let minutes = t.0.div_euclid(MINUTE_MS);
    let days = minutes.div_euclid(1_440);
    let of_day = minutes.rem_euclid(1_440);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", of_day / 60, of_day % 60)
}

/// `HH:MM` as minutes after midnight.
pub fn clock(field: &str, text: &str) -> Result<u16, String> {
    let bad = || format!("{field}: give a time of day as HH:MM (UTC)");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn format_clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_write_back() {
        assert_eq!(duration("d", ""), Ok(None));
        assert_eq!(duration("d", "90"), Ok(Some(90)));
        assert_eq!(duration("d", "10m"), Ok(Some(600)));
        assert_eq!(duration("d", "1h30m"), Ok(Some(5_400)));
        assert_eq!(duration("d", " 2 H "), Ok(Some(7_200)));
        assert_eq!(duration("d", "1d 2h"), Ok(Some(93_600)));
        assert_eq!(duration("d", "10 min"), Ok(Some(600)));
        for bad in ["ten", "5x", "m", "-5m", "99999999999999999999d"] {
            assert!(
                duration("interval", bad)
                    .unwrap_err()
                    .starts_with("interval:")
            );
        }
        for secs in [0, 1, 59, 60, 90, 600, 3_600, 5_400, 86_400, 93_600] {
            assert_eq!(duration("d", &format_duration(secs)), Ok(Some(secs)));
        }
        assert_eq!(format_duration(5_400), "90m");
    }

    #[test]
    fn utc_times_read_and_write_back() {
        // 2026-11-30 was a Monday, day 20,787 since the epoch.
        let t = utc_minute("start", "2026-11-30T22:15").unwrap();
        assert_eq!(t.0, 20_787 * DAY_MS + (22 * 60 + 15) * MINUTE_MS);
        assert_eq!(format_utc_minute(t), "2026-11-30T22:15");
        assert_eq!(utc_minute("start", "2026-11-30 22:15:59"), Ok(t));
        assert_eq!(
            format_utc_minute(utc_minute("s", "2024-02-29T00:00").unwrap()),
            "2024-02-29T00:00"
        );
        for bad in [
            "",
            "2026-11-30",
            "2026-13-01T00:00",
            "2025-02-29T00:00",
            "2026-11-30T24:00",
            "x-y-zT1:2",
        ] {
            assert!(utc_minute("start", bad).is_err(), "{bad}");
        }
        assert_eq!(clock("at", "07:05"), Ok(425));
        assert_eq!(format_clock(425), "07:05");
        assert!(clock("at", "7").is_err());
        assert_eq!(number::<u16>("port", " 443 "), Ok(Some(443)));
        assert_eq!(number::<u16>("port", ""), Ok(None));
        assert!(number::<u16>("port", "70000").is_err());
    }
}
