//! The `Range` header of a read: rustic and restic read parts of packs with one byte range
//! (`bytes=FIRST-LAST`, or `bytes=FIRST-` to the end). A suffix (`bytes=-N`) is taken too;
//! several ranges at once are not (no restic client asks for them).

use steward_backup::storage::Range;

/// One byte range as asked, before the object's size is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// From `first` to `last` inclusive, or to the end.
    From { first: u64, last: Option<u64> },
    /// The last `n` bytes.
    Suffix(u64),
}

const EXPECTED: &str =
    "expected one byte range: Range: bytes=FIRST-LAST, bytes=FIRST- or bytes=-LENGTH";

/// Parses a `Range` header's value; the error says what was expected.
pub fn parse(header: &str) -> Result<Asked, String> {
    let bad = || format!("unusable Range header {:?}: {EXPECTED}", clip(header));
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (first, last) = spec.trim().split_once('-').ok_or_else(bad)?;
    let number = |text: &str| -> Result<u64, String> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        text.parse().map_err(|_| bad())
    };
    match (first.trim(), last.trim()) {
        ("", "") => Err(bad()),
        ("", n) => Ok(Asked::Suffix(number(n)?)),
        (f, "") => Ok(Asked::From {
            first: number(f)?,
            last: None,
        }),
        (f, l) => {
            let (first, last) = (number(f)?, number(l)?);
            if last < first {
                return Err(bad());
            }
            Ok(Asked::From {
                first,
                last: Some(last),
            })
        }
    }
}

impl Asked {
    /// The part of an object of `size` bytes this range covers (a range reaching past the end
    /// stops at the end), or `None` when none of it exists: 416.
    pub fn within(self, size: u64) -> Option<Range> {
        match self {
            Asked::From { first, last } => {
                if first >= size {
                    return None;
                }
                let end = last.map_or(size, |last| last.saturating_add(1).min(size));
                Some(Range {
                    offset: first,
                    length: end - first,
                })
            }
            Asked::Suffix(0) => None,
            Asked::Suffix(n) => {
                if size == 0 {
                    return None;
                }
                let length = n.min(size);
                Some(Range {
                    offset: size - length,
                    length,
                })
            }
        }
    }
}

fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(offset: u64, length: u64) -> Option<Range> {
        Some(Range { offset, length })
    }

    #[test]
    fn ranges_as_restic_and_rustic_ask_them() {
        assert_eq!(
            parse("bytes=0-99"),
            Ok(Asked::From {
                first: 0,
                last: Some(99)
            })
        );
        assert_eq!(
            parse("bytes=100-"),
            Ok(Asked::From {
                first: 100,
                last: None
            })
        );
        assert_eq!(parse("bytes=-5"), Ok(Asked::Suffix(5)));
        for bad in [
            "bytes=",
            "bytes=-",
            "bytes=5-2",
            "bytes=0-1,5-6",
            "bytes=a-b",
            "bytes=+1-2",
            "items=0-1",
            "0-1",
            "bytes=99999999999999999999-",
        ] {
            let error = parse(bad).map(|_| ()).unwrap_err();
            assert!(error.contains("bytes=FIRST-LAST"), "{bad}: {error}");
        }
    }

    #[test]
    fn ranges_are_clipped_to_the_object() {
        let from = |first, last| Asked::From { first, last };
        assert_eq!(from(0, Some(99)).within(1000), range(0, 100));
        assert_eq!(
            from(10, Some(19)).within(15),
            range(10, 5),
            "stops at the end"
        );
        assert_eq!(from(10, None).within(15), range(10, 5));
        assert_eq!(from(15, None).within(15), None, "416: nothing there");
        assert_eq!(from(0, Some(0)).within(0), None);
        assert_eq!(from(0, Some(u64::MAX)).within(7), range(0, 7));
        assert_eq!(Asked::Suffix(4).within(10), range(6, 4));
        assert_eq!(Asked::Suffix(40).within(10), range(0, 10));
        assert_eq!(Asked::Suffix(0).within(10), None);
    }
}
