//! Debian package versions ordered as dpkg orders them (`[epoch:]upstream[-revision]`),
//! so a security suite's version can be told newer than the installed one without apt.

use std::cmp::Ordering;

/// How `a` compares with `b` by dpkg's rules.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (Version::parse(a), Version::parse(b));
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| compare_part(a.upstream, b.upstream))
        .then_with(|| compare_part(a.revision, b.revision))
}

struct Version<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

impl<'a> Version<'a> {
    fn parse(text: &'a str) -> Self {
        let text = text.trim();
        // A malformed epoch counts as none: the comparison still orders the rest.
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => (epoch.parse().unwrap_or(0), rest),
            None => (0, text),
        };
        // The revision follows the last hyphen; the upstream part may contain hyphens.
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        Self {
            epoch,
            upstream,
            revision,
        }
    }
}

/// dpkg's `verrevcmp`: alternating runs of non-digits (compared character by character,
/// `~` before everything, even the end; letters before other symbols) and digits (compared
/// as numbers).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        let (a_text, a_rest) = split_run(a, |c| !c.is_ascii_digit());
        let (b_text, b_rest) = split_run(b, |c| !c.is_ascii_digit());
        let order = compare_text(a_text, b_text);
        if order != Ordering::Equal {
            return order;
        }
        let (a_digits, a_rest) = split_run(a_rest, |c| c.is_ascii_digit());
        let (b_digits, b_rest) = split_run(b_rest, |c| c.is_ascii_digit());
        let order = compare_number(a_digits, b_digits);
        if order != Ordering::Equal {
            return order;
        }
        (a, b) = (a_rest, b_rest);
    }
    Ordering::Equal
}

/// The leading run of bytes that satisfy `keep`, and the rest.
fn split_run(bytes: &[u8], keep: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let end = bytes.iter().position(|&c| !keep(c)).unwrap_or(bytes.len());
    bytes.split_at(end)
}

/// Non-digit runs, compared by [`weight`], the shorter padded with "end of text".
fn compare_text(a: &[u8], b: &[u8]) -> Ordering {
    let length = a.len().max(b.len());
    (0..length)
        .map(|i| weight(a.get(i).copied()).cmp(&weight(b.get(i).copied())))
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// `~` sorts before the end of the text, which sorts before letters, which sort before
/// any other symbol.
fn weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// Digit runs as numbers of any size: without leading zeros, the longer is larger, and
/// equal lengths compare as text. An empty run is zero.
fn compare_number(a: &[u8], b: &[u8]) -> Ordering {
    let significant = |digits: &[u8]| -> usize {
        digits
            .iter()
            .position(|&c| c != b'0')
            .unwrap_or(digits.len())
    };
    let a = &a[significant(a)..];
    let b = &b[significant(b)..];
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn older(a: &str, b: &str) {
        assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
        assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
    }

    #[test]
    fn orders_versions_as_dpkg_does() {
        older("1.0~rc1", "1.0");
        older("2.0", "1:0.1");
        older("3.0.11-1~deb12u1", "3.0.11-1~deb12u2");
        older("2.36-9+deb12u4", "2.36-9+deb12u10");
        older("1.0~~", "1.0~");
        older("1.0", "1.0a");
        older("1.0a", "1.0+");
        older("1.2-1", "1.10-1");
        older("2025b-0+deb12u1", "2025b-0+deb12u2");
        older("22.01+dfsg-8", "22.01+really26.02+dfsg-0+deb12u1");
        older("1.0-1", "1.0-1.1");
        older("99999999999999999999999", "100000000000000000000000");
    }

    #[test]
    fn equal_versions_are_equal() {
        for (a, b) in [
            ("1.0", "1.0"),
            ("0:1.0", "1.0"),
            ("1.0-0", "1.0"),
            ("1.01", "1.1"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} = {b}");
        }
    }

    #[test]
    fn hyphens_in_upstream_belong_to_it() {
        older("1.0-beta-1", "1.0-beta-2");
        older("1.0-alpha-9", "1.0-beta-1");
    }
}
