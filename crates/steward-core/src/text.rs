//! Showing text that came from outside (agents, sign-in forms, the database) where control
//! characters could lie: a terminal, a log line, a CSV file, a web page.
//!
//! A newline forges a log line or a CSV row, ESC sequences recolour or rewrite the admin's
//! terminal, and the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069)
//! reorder the text around them ("evil\u{202E}txt.exe" reads "evilexe.txt"). Such characters
//! are shown as visible `\u{…}` escapes instead, so what a person reads is what was stored.

use std::fmt;

/// C0 and C1 controls, DEL, the Unicode line and paragraph separators (some viewers break
/// lines there), and the bidirectional overrides and isolates.
pub fn is_deceptive(c: char) -> bool {
    // `char::is_control` is the Cc category: U+0000–U+001F, U+007F–U+009F.
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c)
}

/// The bidirectional embeddings, overrides and isolates, which reorder the text after them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Writes `text` with every character for which `escape` holds as `\u{hex}`.
pub fn write_escaped<W: fmt::Write>(
    out: &mut W,
    text: &str,
    escape: impl Fn(char) -> bool,
) -> fmt::Result {
    let mut clean_from = 0;
    for (i, c) in text.char_indices() {
        if escape(c) {
            out.write_str(&text[clean_from..i])?;
            write!(out, "\\u{{{:x}}}", u32::from(c))?;
            clean_from = i + c.len_utf8();
        }
    }
    out.write_str(&text[clean_from..])
}

/// Displays a string with every [`is_deceptive`] character escaped: one line, in order.
/// For terminals, logs and CSV.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, is_deceptive)
    }
}

/// Like [`Escaped`] but keeps line breaks and tabs: for multi-line text shown where they
/// cannot forge anything (job output in a web page's `<pre>`).
#[derive(Debug, Clone, Copy)]
pub struct EscapedKeepingLines<'a>(pub &'a str);

impl fmt::Display for EscapedKeepingLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, |c| {
            is_deceptive(c) && !matches!(c, '\n' | '\r' | '\t')
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_become_visible_escapes() {
        let forged = "admin\n2026-11-28T10:00:00Z  INFO forged\x1b[31mred\u{7f}\u{9b}";
        assert_eq!(
            Escaped(forged).to_string(),
            "admin\\u{a}2026-11-28T10:00:00Z  INFO forged\\u{1b}[31mred\\u{7f}\\u{9b}"
        );
        assert_eq!(
            Escaped("invoice\u{202E}fdp.exe \u{2066}x\u{2069}").to_string(),
            "invoice\\u{202e}fdp.exe \\u{2066}x\\u{2069}"
        );
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for s in [
            "Debian GNU/Linux 13",
            "Żółć ÄÖÜ 日本語 עברית العربية 🚀",
            "C:\\Windows",
            "",
        ] {
            assert_eq!(Escaped(s).to_string(), s);
        }
    }

    #[test]
    fn keeping_lines_escapes_the_rest() {
        assert_eq!(
            EscapedKeepingLines("a\nb\tc\x1b[0m\u{202E}").to_string(),
            "a\nb\tc\\u{1b}[0m\\u{202e}"
        );
    }

    #[test]
    fn the_exact_set() {
        for c in [
            '\0', '\x1f', '\x7f', '\u{80}', '\u{9f}', '\u{2028}', '\u{2029}', '\u{202a}',
            '\u{202e}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_deceptive(c), "{c:?}");
        }
        for c in [' ', '~', '\u{a0}', '\u{2027}', '\u{2065}', '\u{206a}', 'é'] {
            assert!(!is_deceptive(c), "{c:?}");
        }
    }
}
