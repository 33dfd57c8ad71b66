//! The console's HTML escaper (askama.toml names it for every `.html` template).
//!
//! Besides HTML escaping, control characters and the bidirectional overrides and isolates
//! (U+202A–U+202E, U+2066–U+2069) are shown as visible `\u{…}` escapes: an agent could
//! otherwise name a device "invoice\u{202E}fdp.exe" to read as "invoiceexe.pdf", or reorder
//! the text of the table row around it. Line breaks and tabs stay (job output in `<pre>`).
//! Being the escaper, it covers every template expression: no call site can forget it.

use std::fmt;

use steward_core::text::{EscapedKeepingLines, is_deceptive};

#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: fmt::Write>(&self, dest: W, string: &str) -> fmt::Result {
        let html = askama::filters::Html;
        if !string
            .chars()
            .any(|c| is_deceptive(c) && !matches!(c, '\n' | '\r' | '\t'))
        {
            return html.write_escaped_str(dest, string);
        }
        // The `\u{…}` escapes contain no character HTML gives a meaning to.
        html.write_escaped_str(dest, &EscapedKeepingLines(string).to_string())
    }
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    fn shown(s: &str) -> String {
        let mut out = String::new();
        super::Html
            .write_escaped_str(&mut out, s)
            .unwrap_or_default();
        out
    }

    #[test]
    fn html_and_bidi_and_controls_are_escaped_lines_kept() {
        assert_eq!(shown("<b>&\"'"), "&#60;b&#62;&#38;&#34;&#39;");
        assert_eq!(
            shown("invoice\u{202E}fdp.exe<\x1b>"),
            "invoice\\u{202e}fdp.exe&#60;\\u{1b}&#62;"
        );
        assert_eq!(shown("line 1\nline\t2"), "line 1\nline\t2");
        assert_eq!(shown("עברית"), "עברית");
    }
}
