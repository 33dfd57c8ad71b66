//! Human-readable numbers and times for the console: sizes in binary units, durations,
//! "3 min ago", and UTC dates without a date crate.

use steward_core::Timestamp;

/// A message as a sentence: capitalised, with a full stop.
pub fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// `1.5 GiB`, `512 MiB`, `900 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ if v >= 100.0 => format!("{v:.0} {}", UNITS[unit]),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

/// `3 min ago`, `2 h ago`, `5 d ago`, `4 mo ago`, `in 5 min`, relative to `now`.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = now.since(t) / 1000;
    let n = secs.unsigned_abs();
    if n < 10 {
        return "just now".to_string();
    }
    let text = match n {
        0..60 => format!("{n} s"),
        60..3600 => format!("{} min", n / 60),
        3600..86_400 => format!("{} h", n / 3600),
        86_400..5_184_000 => format!("{} d", n / 86_400),
        5_184_000..31_536_000 => format!("{} mo", n / 2_592_000),
        _ => format!("{} y", n / 31_536_000),
    };
    if secs < 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// A duration such as an uptime: `45 s`, `12 min`, `5 h 20 min`, `3 d 4 h`.
pub fn duration_secs(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => match (secs % 3600) / 60 {
            0 => format!("{} h", secs / 3600),
            m => format!("{} h {m} min", secs / 3600),
        },
        _ => match (secs % 86_400) / 3600 {
            0 => format!("{} d", secs / 86_400),
            h => format!("{} d {h} h", secs / 86_400),
        },
    }
}

/// (year, month, day, hour, minute) in UTC.
fn civil(t: Timestamp) -> (i64, i64, i64, i64, i64) {
    let secs = t.secs();
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = steward_core::time::civil_from_days(secs.div_euclid(86_400));
    (year, month, day, rem / 3600, (rem % 3600) / 60)
}

/// `2026-11-23 14:05 UTC`.
pub fn utc(t: Timestamp) -> String {
    let (y, mo, d, h, mi) = civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// `2026-11-23`.
pub fn date(t: Timestamp) -> String {
    let (y, mo, d, _, _) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// `14:05` (UTC), for a chart's time axis.
pub fn clock(t: Timestamp) -> String {
    let (_, _, _, h, mi) = civil(t);
    format!("{h:02}:{mi:02}")
}

/// `Nov 5` (UTC), for a chart's time axis.
pub fn month_day(t: Timestamp) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, mo, d, _, _) = civil(t);
    let month = MONTHS
        .get((mo - 1).clamp(0, 11) as usize)
        .copied()
        .unwrap_or("");
    format!("{month} {d}")
}

/// A percentage for a usage bar, 0–100.
pub fn percent(part: u64, whole: u64) -> u8 {
    if whole == 0 {
        0
    } else {
        ((part as f64 * 100.0 / whole as f64).round() as u64).min(100) as u8
    }
}

/// Who did something, for people: a user by name, an API token as such, the command line.
/// (Audit and acknowledgements keep the full label, `user:alice`.)
pub fn actor(label: &str) -> String {
    if let Some(user) = label.strip_prefix("user:") {
        user.to_string()
    } else if let Some(token) = label.strip_prefix("api-token:") {
        format!("API token {token}")
    } else if label == "cli" {
        "the command line".to_string()
    } else if let Some(who) = label.strip_prefix("cli:") {
        format!("{who} (command line)")
    } else {
        label.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_are_named_for_people() {
        assert_eq!(actor("user:alice"), "alice");
        assert_eq!(actor("api-token:ci"), "API token ci");
        assert_eq!(actor("cli"), "the command line");
        assert_eq!(actor("cli:root"), "root (command line)");
        assert_eq!(actor("something else"), "something else");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(900), "900 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(256 << 30), "256 GiB");
        assert_eq!(bytes(u64::MAX), "16384 PiB");
    }

    #[test]
    fn relative_times_pick_one_unit() {
        let now = Timestamp::from_secs(100_000_000);
        let ago = |s: i64| relative(Timestamp::from_secs(100_000_000 - s), now);
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(-3), "just now");
        assert_eq!(ago(45), "45 s ago");
        assert_eq!(ago(180), "3 min ago");
        assert_eq!(ago(7_200), "2 h ago");
        assert_eq!(ago(3 * 86_400), "3 d ago");
        assert_eq!(ago(59 * 86_400), "59 d ago");
        assert_eq!(ago(120 * 86_400), "4 mo ago");
        assert_eq!(ago(800 * 86_400), "2 y ago");
        assert_eq!(ago(-300), "in 5 min");
    }

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(duration_secs(0), "0 s");
        assert_eq!(duration_secs(59), "59 s");
        assert_eq!(duration_secs(720), "12 min");
        assert_eq!(duration_secs(3600), "1 h");
        assert_eq!(duration_secs(5 * 3600 + 20 * 60), "5 h 20 min");
        assert_eq!(duration_secs(3 * 86_400), "3 d");
        assert_eq!(duration_secs(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
    }

    #[test]
    fn utc_dates_match_the_calendar() {
        assert_eq!(utc(Timestamp::from_secs(0)), "1970-01-01 00:00 UTC");
        assert_eq!(
            utc(Timestamp::from_secs(1_795_442_700)),
            "2026-11-23 14:05 UTC"
        );
        // A leap day, and the day before the epoch.
        assert_eq!(date(Timestamp::from_secs(1_709_164_800)), "2024-02-29");
        assert_eq!(utc(Timestamp::from_secs(-60)), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn percentages_round_and_clamp() {
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(2, 3), 67);
        assert_eq!(percent(5, 0), 0);
        assert_eq!(percent(7, 5), 100);
    }
}
