//! Human-readable numbers and times for the console.

use steward_core::Timestamp;

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

/// `3 min ago`, `2 h ago`, `in 5 s` relative to `now`.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = now.since(t) / 1000;
    let (n, future) = if secs < 0 {
        (-secs, true)
    } else {
        (secs, false)
    };
    let text = duration_secs(n as u64);
    if n < 10 {
        "just now".to_string()
    } else if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `45 s`, `12 min`, `5 h`, `3 d`.
pub fn duration_secs(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// `2026-11-23 14:05 UTC`: civil date from days since the epoch (Howard Hinnant's algorithm),
/// written out here to avoid a date crate for one line of formatting.
pub fn utc(t: Timestamp) -> String {
    let secs = t.secs();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A percentage for a usage bar, 0–100.
pub fn percent(part: u64, whole: u64) -> u8 {
    if whole == 0 {
        0
    } else {
        ((part as f64 * 100.0 / whole as f64).round() as u64).min(100) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_bytes_times_and_dates() {
        assert_eq!(bytes(900), "900 B");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(256 << 30), "256 GiB");
        let now = Timestamp::from_secs(10_000);
        assert_eq!(
            relative(Timestamp::from_secs(10_000 - 180), now),
            "3 min ago"
        );
        assert_eq!(relative(Timestamp::from_secs(10_000 - 3), now), "just now");
        assert_eq!(utc(Timestamp::from_secs(0)), "1970-01-01 00:00 UTC");
        assert_eq!(
            utc(Timestamp::from_secs(1_795_442_700)),
            "2026-11-23 14:05 UTC"
        );
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(5, 0), 0);
    }
}
