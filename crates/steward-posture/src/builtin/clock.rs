//! Dates as the machine writes them, to Unix seconds (UTC): enough calendar arithmetic for
//! age checks, without a date crate.

pub(crate) const DAY: i64 = 86_400;

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn valid(year: i64, month: u32, day: u32) -> Option<i64> {
    ((1..=12).contains(&month) && (1..=31).contains(&day) && (1900..=9999).contains(&year))
        .then(|| days_from_civil(year, month, day) * DAY)
}

/// `2024-05-01` (anything after the date, such as a time, is ignored: whole days suffice).
pub(crate) fn ymd(text: &str) -> Option<i64> {
    let mut parts = text.get(..10)?.split('-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    valid(year, month, day)
}

/// `05/01/2024`, as the firmware (DMI) writes dates.
pub(crate) fn mdy(text: &str) -> Option<i64> {
    let mut parts = text.trim().split('/');
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    let year = parts.next()?.parse().ok()?;
    valid(year, month, day)
}

/// `Sat, 29 Nov 2025 12:00:00 UTC` (a Release file's `Date:`), to the second.
pub(crate) fn rfc2822(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let words: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, ..] = words.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let midnight = valid(
        year.parse().ok()?,
        u32::try_from(month).ok()?,
        day.parse().ok()?,
    )?;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    Some(midnight + h * 3600 + m * 60 + s)
}

/// Whole days between two instants, rounded down.
pub(crate) fn days_between(earlier: i64, later: i64) -> i64 {
    (later - earlier).div_euclid(DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_machines_write() {
        assert_eq!(ymd("1970-01-01"), Some(0));
        assert_eq!(ymd("2026-01-01 10:00:00"), Some(1_767_225_600));
        assert_eq!(mdy("01/01/2026"), Some(1_767_225_600));
        assert_eq!(
            rfc2822("Thu, 01 Jan 2026 00:00:05 UTC"),
            Some(1_767_225_605)
        );
        assert_eq!(ymd("2026-13-01"), None);
        assert_eq!(mdy("garbage"), None);
        assert_eq!(days_between(0, 3 * DAY - 1), 2);
    }
}
