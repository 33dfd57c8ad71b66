//! Runbooks are Markdown; the console shows them as HTML. A runbook is written by anyone who
//! may define checks (a technician, an API token, the configuration file), and shown to
//! everyone who sees the alert, so it is treated as hostile:
//! - raw HTML in it (blocks and inline tags) comes out as text, escaped;
//! - a link keeps its target only when that is an absolute `http:`, `https:` or `mailto:`
//!   address (no `javascript:`, `data:`, relative or protocol-relative ones): otherwise its
//!   words stay, as text;
//! - images are not fetched: their description stays, as text (no tracking pixels);
//! - control and bidirectional-override characters are made visible, as everywhere in the
//!   console (`console::escape`).
//!
//! The result is the one string templates print unescaped (`|safe`); everything else goes
//! through the escaper.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use steward_core::text::{EscapedKeepingLines, is_deceptive};

/// The runbook as sanitised HTML (empty for an empty runbook).
pub fn to_html(markdown: &str) -> String {
    if markdown.trim().is_empty() {
        return String::new();
    }
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    // Whether each open link or image was kept, so that its end matches its start.
    let mut open: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(visible(raw))),
        Event::Text(text) => Some(Event::Text(visible(text))),
        Event::Code(text) => Some(Event::Code(visible(text))),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let keep = link_type == LinkType::Email || allowed_target(&dest_url);
            open.push(keep);
            keep.then_some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::Start(Tag::Image { .. }) => {
            open.push(false);
            None
        }
        Event::End(end @ (TagEnd::Link | TagEnd::Image)) => {
            open.pop().unwrap_or(false).then_some(Event::End(end))
        }
        other => Some(other),
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// An absolute address of a scheme that only navigates: `http:`, `https:` or `mailto:`.
/// Browsers ignore tabs and line breaks inside a URL (`java\tscript:`), and leading spaces;
/// a target holding any control character or space is refused outright.
fn allowed_target(target: &str) -> bool {
    if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    let lower = target.to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
}

/// Text with control and bidirectional characters shown as `\u{…}` (line breaks kept).
fn visible(text: CowStr<'_>) -> CowStr<'_> {
    if text
        .chars()
        .any(|c| is_deceptive(c) && !matches!(c, '\n' | '\r' | '\t'))
    {
        CowStr::from(EscapedKeepingLines(&text).to_string())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn ordinary_markdown_renders() {
        let html = to_html(
            "# Disk full\n\n1. Run `du -sh /var/log/*`\n2. **Delete** old logs\n\nSee [the wiki](https://wiki.example.com/disk).",
        );
        assert!(html.contains("<h1>Disk full</h1>"), "{html}");
        assert!(html.contains("<li>Run <code>du -sh /var/log/*</code></li>"));
        assert!(html.contains("<strong>Delete</strong>"));
        assert!(html.contains("<a href=\"https://wiki.example.com/disk\">the wiki</a>"));
        assert_eq!(to_html("  \n "), "");
    }

    #[test]
    fn raw_html_comes_out_as_text() {
        let html = to_html(
            "<script>alert(1)</script>\n\nHello <img src=x onerror=alert(2)> there <b>bold</b>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{html}"
        );
        // The attribute's text is there to read, but never inside a tag.
        for (i, _) in html.match_indices("onerror") {
            let before = &html[..i];
            assert!(before.rfind('<') < before.rfind('>'), "{html}");
        }
    }

    #[test]
    fn only_navigating_links_keep_their_target() {
        for hostile in [
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click](java\tscript:alert(1))",
            "[click](data:text/html;base64,PHNjcmlwdD4=)",
            "[click](vbscript:msgbox)",
            "[click](//evil.example.com/)",
            "[click](/devices)",
            "<javascript:alert(1)>",
            "[click][ref]\n\n[ref]: javascript:alert(1)",
        ] {
            let html = to_html(hostile);
            assert!(!html.contains("<a"), "{hostile}: {html}");
            assert!(!html.contains("href"), "{hostile}: {html}");
        }
        assert!(to_html("[click](javascript:alert(1))").contains("<p>click</p>"));
        assert!(
            to_html("<https://example.com/a?b=c&d>")
                .contains("<a href=\"https://example.com/a?b=c&amp;d\">")
        );
        assert!(
            to_html("[mail](mailto:ops@example.com)").contains("href=\"mailto:ops@example.com\"")
        );
        assert!(to_html("<ops@example.com>").contains("href=\"mailto:ops@example.com\""));
        // An attribute cannot be opened from the target or the title.
        let html = to_html(r#"[x](https://example.com "a\" onclick=\"y")"#);
        assert!(
            html.contains(r#"<a href="https://example.com" title="a&quot; onclick=&quot;y">x</a>"#),
            "{html}"
        );
    }

    #[test]
    fn images_are_not_fetched() {
        let html = to_html(
            "![server rack](https://tracker.example.com/pixel.png) and [![logo](https://x.example.com/l.png)](https://example.com)",
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("server rack"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com\">logo</a>"),
            "{html}"
        );
    }

    #[test]
    fn deceptive_characters_are_visible() {
        let html = to_html("invoice\u{202E}fdp.exe and `code\u{1b}`");
        assert!(html.contains("invoice\\u{202e}fdp.exe"), "{html}");
        assert!(html.contains("<code>code\\u{1b}</code>"), "{html}");
    }
}
