//! Time as a value: milliseconds since the Unix epoch, passed in by the caller.

use serde::{Deserialize, Serialize};

/// A point in time, in milliseconds since 1970-01-01T00:00:00Z (UTC).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// `self + ms`, saturating.
    pub const fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// (year, month, day) of a day counted from 1970-01-01, in the proleptic Gregorian calendar
/// (Howard Hinnant's civil-from-days; no date crate is worth it for this).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a date: the inverse of [`civil_from_days`].
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A duration for people, at most two units: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
pub fn human_duration_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `2026-12-31`: the day (UTC) of `t`.
pub fn date(t: Timestamp) -> String {
    let (y, m, d) = civil_from_days(t.0.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-12-31` → the end of that day (UTC).
pub fn end_of_day(text: &str) -> Option<Timestamp> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    Some(Timestamp((days + 1) * 86_400_000 - 1))
}

#[cfg(test)]
mod human_tests {
    #[test]
    fn dates_end_at_the_end_of_their_day() {
        let t = super::end_of_day("2026-12-31").unwrap();
        assert_eq!(t.0 % 86_400_000, 86_400_000 - 1);
        assert_eq!(
            super::end_of_day(" 1970-01-01 "),
            Some(crate::Timestamp(86_400_000 - 1))
        );
        assert!(super::end_of_day("2026-13-01").is_none());
        assert!(super::end_of_day("soon").is_none());
        assert_eq!(super::date(t), "2026-12-31");
    }

    #[test]
    fn calendar_days_are_right_both_ways() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (19_723, (2024, 1, 1)),
            (19_782, (2024, 2, 29)),
            (-1, (1969, 12, 31)),
        ] {
            assert_eq!(super::civil_from_days(days), date);
            assert_eq!(super::days_from_civil(date.0, date.1, date.2), days);
        }
    }

    #[test]
    fn durations_read_in_two_units_at_most() {
        use super::human_duration_ms as h;
        assert_eq!(h(-5), "0 s");
        assert_eq!(h(45_000), "45 s");
        assert_eq!(h(12 * 60_000 + 5_000), "12 min");
        assert_eq!(h(3 * 3_600_000), "3 h");
        assert_eq!(h(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(h(2 * 86_400_000 + 4 * 3_600_000 + 60_000), "2 d 4 h");
        assert_eq!(h(86_400_000), "1 d");
    }
}
