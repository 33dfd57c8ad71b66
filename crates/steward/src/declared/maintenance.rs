//! A maintenance window described in TOML — a `[[maintenance]]` entry, or what `steward
//! admin maintenance add` is given — read into a typed window. Times are UTC.
//!
//! One-off: `start` and `end` (or `duration`). Recurring: `days`, `at` and `duration`.

use std::time::Duration;

use serde::Deserialize;
use steward_core::Timestamp;
use steward_core::alerting::window::Window;
use steward_core::time::days_from_civil;
use steward_server::monitoring::windows::DeclaredWindow;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowEntry {
    name: String,
    device: Option<String>,
    group: Option<String>,
    tag: Option<String>,
    check: Option<String>,
    start: Option<toml::Value>,
    end: Option<toml::Value>,
    duration: Option<String>,
    days: Option<toml::Value>,
    at: Option<String>,
    #[serde(default)]
    reason: String,
}

const MINUTE_MS: i64 = 60_000;
const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Reads one window; `origin` is where it was written.
pub fn window(table: &toml::Table, origin: String) -> Result<DeclaredWindow, String> {
    let e: WindowEntry = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let name = e.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("a name is 1 to 100 characters".into());
    }
    if e.reason.chars().count() > 1_000 {
        return Err("reason is at most 1,000 characters".into());
    }
    let covers = super::named(e.device, e.group, e.tag, e.check)?;
    let duration = e
        .duration
        .as_deref()
        .map(|d| super::checks::duration("duration", Some(d), Duration::ZERO))
        .transpose()?;
    let schedule = match (e.start, e.days.is_some() || e.at.is_some()) {
        (Some(_), true) => {
            return Err(
                "a one-off window has start and end (or duration), a recurring one \
                        days, at and duration: not both"
                    .into(),
            );
        }
        (Some(start), false) => {
            let start = time("start", &start)?;
            let end = match (e.end, duration) {
                (Some(end), None) => time("end", &end)?,
                (None, Some(d)) => Timestamp(
                    start
                        .0
                        .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
                ),
                (Some(_), Some(_)) => return Err("give end or duration, not both".into()),
                (None, None) => return Err("a one-off window needs end (or duration)".into()),
            };
            Window::Once { start, end }
        }
        (None, true) => {
            if e.end.is_some() {
                return Err("end is for a one-off window (with start)".into());
            }
            let days = days(e.days.as_ref().ok_or("a recurring window needs days")?)?;
            let at =
                e.at.as_deref()
                    .ok_or("a recurring window needs at (HH:MM, UTC)")?;
            let duration = duration.ok_or("a recurring window needs duration")?;
            if duration.as_secs() % 60 != 0 {
                return Err("duration of a recurring window is in whole minutes".into());
            }
            Window::Weekly {
                days,
                start_minute: clock(at)?,
                minutes: u32::try_from(duration.as_secs() / 60).unwrap_or(u32::MAX),
            }
        }
        (None, false) => {
            return Err("give start and end (one-off) or days, at and duration (recurring)".into());
        }
    };
    schedule.check().map_err(|e| e.to_string())?;
    Ok(DeclaredWindow {
        name,
        covers,
        schedule,
        reason: e.reason.trim().to_string(),
        origin,
    })
}

/// A time from the file: a TOML date-time or a string, such as `2026-05-01T22:00:00Z`,
/// `2026-05-01 22:00` (UTC) or `2026-05-02T00:00+02:00`.
fn time(key: &str, value: &toml::Value) -> Result<Timestamp, String> {
    let text = match value {
        toml::Value::Datetime(dt) => dt.to_string(),
        toml::Value::String(s) => s.clone(),
        _ => {
            return Err(format!(
                "{key} is a date and time such as 2026-05-01 22:00 (UTC)"
            ));
        }
    };
    parse_time(&text).map_err(|reason| format!("{key}: {reason}"))
}

/// `YYYY-MM-DD HH:MM[:SS]`, `T` or a space between, then `Z`, `+HH:MM`, `-HH:MM` or nothing
/// (UTC).
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let bad = || format!("{text:?} is not a date and time such as 2026-05-01 22:00 (UTC)");
    let t = text.trim();
    let (date, rest) = t.split_at_checked(10).ok_or_else(bad)?;
    let mut rest = rest
        .strip_prefix(['T', 't', ' '])
        .ok_or_else(bad)?
        .to_string();
    let mut offset_min = 0i64;
    if let Some(stripped) = rest.strip_suffix(['Z', 'z']) {
        rest = stripped.to_string();
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let sign = if rest[i..].starts_with('-') { -1 } else { 1 };
        offset_min = sign * i64::from(clock(&rest[i + 1..]).map_err(|_| bad())?);
        rest.truncate(i);
    }
    let mut hms = rest.split(':');
    let number = |part: Option<&str>, max: i64| -> Result<i64, String> {
        let p = part.ok_or_else(bad)?;
        let whole = p.split('.').next().unwrap_or_default();
        match whole.parse::<i64>() {
            Ok(n) if whole.len() == 2 && (0..=max).contains(&n) => Ok(n),
            _ => Err(bad()),
        }
    };
    let hour = number(hms.next(), 23)?;
    let minute = number(hms.next(), 59)?;
    let second = match hms.next() {
        None => 0,
        s => number(s, 60)?,
    };
    if hms.next().is_some() {
        return Err(bad());
    }
    let mut ymd = date.split('-');
    let year: i64 = ymd.next().and_then(|y| y.parse().ok()).ok_or_else(bad)?;
    let month: i64 = ymd.next().and_then(|m| m.parse().ok()).ok_or_else(bad)?;
    let day: i64 = ymd.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day < 1 {
        return Err(bad());
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[usize::try_from(month - 1).unwrap_or(0)] {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    let minutes = days * 1_440 + hour * 60 + minute - offset_min;
    Ok(Timestamp(minutes * MINUTE_MS + second * 1_000))
}

/// `HH:MM` as minutes after midnight.
fn clock(text: &str) -> Result<u16, String> {
    let bad = || format!("at is a time of day such as 22:00 (UTC), not {text:?}");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, most: usize| {
        (1..=most).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return Err(bad());
    }
    match (h.parse::<u16>(), m.parse::<u16>()) {
        (Ok(h), Ok(m)) if h < 24 && m < 60 => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// Days of the week: a list (`["sat", "sun"]`), a comma-separated string (`"mon,wed"`), or
/// `daily`, `weekdays`, `weekends`. Monday is 0.
pub fn days(value: &toml::Value) -> Result<Vec<u8>, String> {
    let names: Vec<String> = match value {
        toml::Value::String(s) => s.split(',').map(|d| d.trim().to_lowercase()).collect(),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_lowercase)
                    .ok_or("days are names such as \"sat\"")
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("days is a list of days such as [\"sat\", \"sun\"]".into()),
    };
    let mut days = Vec::new();
    for name in &names {
        match name.as_str() {
            "daily" | "every day" => days.extend(0..7),
            "weekdays" => days.extend(0..5),
            "weekends" | "weekend" => days.extend(5..7),
            day => {
                let n = DAY_NAMES
                    .iter()
                    .position(|full| day.len() >= 3 && full.starts_with(day))
                    .ok_or_else(|| {
                        format!(
                            "days: {day:?} is not a day (mon, tue, wed, thu, fri, sat, sun, \
                             daily, weekdays, weekends)"
                        )
                    })?;
                days.push(u8::try_from(n).unwrap_or(0));
            }
        }
    }
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Err("days names at least one day".into());
    }
    Ok(days)
}

/// How a schedule reads: `once, 2026-05-01 22:00 UTC to 2026-05-02 02:00 UTC` or
/// `sat, sun at 22:00 UTC for 4h`.
pub fn describe(schedule: &Window) -> String {
    match schedule {
        Window::Once { start, end } => format!("once, {} to {}", utc(*start), utc(*end)),
        Window::Weekly {
            days,
            start_minute,
            minutes,
        } => {
            let names: Vec<&str> = days
                .iter()
                .filter_map(|d| DAY_NAMES.get(usize::from(*d)))
                .map(|d| &d[..3])
                .collect();
            let every = if names.len() == 7 {
                "daily".to_string()
            } else {
                names.join(",")
            };
            format!(
                "{every} at {:02}:{:02} UTC for {}",
                start_minute / 60,
                start_minute % 60,
                humantime::format_duration(Duration::from_secs(u64::from(*minutes) * 60))
            )
        }
    }
}

/// `2026-05-01 22:00 UTC`.
pub fn utc(t: Timestamp) -> String {
    let secs = u64::try_from(t.0.div_euclid(1_000)).unwrap_or(0);
    let text = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs))
        .to_string();
    format!(
        "{} UTC",
        text.get(..16).unwrap_or(&text).replacen('T', " ", 1)
    )
}
