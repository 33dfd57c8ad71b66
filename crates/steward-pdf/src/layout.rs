//! Page geometry, line breaking and the page cursor.
//!
//! Layout produces plain marks (text at a position, a shaded box, a rule) page by page;
//! painting them with krilla comes after, once the page count is known for the footers.
//! Coordinates are PDF points (1/72 inch) from the page's top-left corner, y downwards.

use crate::PdfError;
use crate::fonts::{Face, Weight};

/// A4 portrait.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
/// 18 mm on every side; the footer sits inside the bottom margin.
pub(crate) const MARGIN: f32 = 51.02;
pub(crate) const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
pub(crate) const CONTENT_BOTTOM: f32 = PAGE_HEIGHT - MARGIN;
pub(crate) const CONTENT_HEIGHT: f32 = CONTENT_BOTTOM - MARGIN;

/// Body text size and the line pitch as a multiple of the size.
pub(crate) const BODY_SIZE: f32 = 10.0;
const LINE_PITCH: f32 = 1.3;

/// A document of more pages than this is refused rather than written: a report that long
/// is a caller's mistake, and the limit bounds the time and memory one render takes.
pub const MAX_PAGES: usize = 2_000;

const ELLIPSIS: char = '…';

/// The vertical distance between two baselines of text at `size`.
pub(crate) fn line_height(size: f32) -> f32 {
    size * LINE_PITCH
}

/// Where the baseline falls below the top of a line box of [`line_height`]: the glyphs'
/// ascent-to-descent extent centred in the box.
pub(crate) fn baseline_offset(face: &Face, size: f32) -> f32 {
    let extent = (face.ascent + face.descent) * size;
    (line_height(size) - extent) / 2.0 + face.ascent * size
}

/// One thing drawn on a page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    Text {
        x: f32,
        baseline: f32,
        weight: Weight,
        size: f32,
        text: String,
    },
    /// A light background box (a table's header row).
    Shade {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
    /// A thin horizontal line (under a table row).
    Rule { x0: f32, x1: f32, y: f32 },
}

/// The pages laid out so far and the top of the free space on the last one.
pub(crate) struct Pages {
    pages: Vec<Vec<Mark>>,
    y: f32,
}

impl Pages {
    pub(crate) fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: MARGIN,
        }
    }

    /// The top of the free space on the current page.
    pub(crate) fn y(&self) -> f32 {
        self.y
    }

    /// The height left on the current page.
    pub(crate) fn remaining(&self) -> f32 {
        CONTENT_BOTTOM - self.y
    }

    /// Nothing has been placed on the current page yet.
    pub(crate) fn is_fresh(&self) -> bool {
        self.y <= MARGIN
    }

    pub(crate) fn new_page(&mut self) -> Result<(), PdfError> {
        if self.pages.len() >= MAX_PAGES {
            return Err(PdfError::TooManyPages { max: MAX_PAGES });
        }
        self.pages.push(Vec::new());
        self.y = MARGIN;
        Ok(())
    }

    /// Moves to a new page unless `height` fits in what is left of this one. A fresh page is
    /// never left for another: what does not fit there does not fit anywhere.
    pub(crate) fn make_room(&mut self, height: f32) -> Result<(), PdfError> {
        if height > self.remaining() && !self.is_fresh() {
            self.new_page()?;
        }
        Ok(())
    }

    pub(crate) fn advance(&mut self, height: f32) {
        self.y += height;
    }

    /// Vertical space between blocks; dropped at the top of a page, where it would only
    /// push the content down.
    pub(crate) fn gap(&mut self, height: f32) {
        if !self.is_fresh() {
            self.y = (self.y + height).min(CONTENT_BOTTOM);
        }
    }

    pub(crate) fn mark(&mut self, mark: Mark) {
        if let Some(page) = self.pages.last_mut() {
            page.push(mark);
        }
    }

    pub(crate) fn into_pages(self) -> Vec<Vec<Mark>> {
        self.pages
    }
}

/// Breaks `text` into lines no wider than `max_width` at `size`: greedily, at spaces, each
/// line taking as many words as fit; a word wider than a whole line is broken between
/// characters. A newline in `text` always ends a line. Runs of spaces collapse to one (the
/// no-break space is not a break). Always at least one line, possibly empty.
pub(crate) fn wrap(face: &Face, size: f32, text: &str, max_width: f32) -> Vec<String> {
    let space = face.width(" ", size);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in paragraph.split(' ').filter(|word| !word.is_empty()) {
            let width = face.width(word, size);
            if !line.is_empty() && line_width + space + width <= max_width {
                line.push(' ');
                line.push_str(word);
                line_width += space + width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if width <= max_width {
                line.push_str(word);
                line_width = width;
            } else {
                let mut pieces = break_word(face, size, word, max_width);
                let last = pieces.pop().unwrap_or_default();
                lines.append(&mut pieces);
                line_width = face.width(&last, size);
                line = last;
            }
        }
        lines.push(line);
    }
    lines
}

/// A word too wide for a line, cut into pieces that each fit (at least one character per
/// piece, so even a line narrower than one glyph makes progress).
fn break_word(face: &Face, size: f32, word: &str, max_width: f32) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut width = 0.0;
    for c in word.chars() {
        let mut buffer = [0u8; 4];
        let advance = face.width(c.encode_utf8(&mut buffer), size);
        if !piece.is_empty() && width + advance > max_width {
            pieces.push(std::mem::take(&mut piece));
            width = 0.0;
        }
        piece.push(c);
        width += advance;
    }
    pieces.push(piece);
    pieces
}

/// `line` shortened so that it and a trailing "…" fit in `max_width`, to mark text cut off.
pub(crate) fn with_ellipsis(face: &Face, size: f32, line: &str, max_width: f32) -> String {
    let ellipsis = face.width("…", size);
    let mut kept = line.trim_end().to_owned();
    while !kept.is_empty() && face.width(&kept, size) + ellipsis > max_width {
        kept.pop();
    }
    let mut cut = kept.trim_end().to_owned();
    cut.push(ELLIPSIS);
    cut
}

/// Places lines of one style top to bottom, starting a new page whenever the next line does
/// not fit.
pub(crate) fn place_lines(
    pages: &mut Pages,
    face: &Face,
    weight: Weight,
    size: f32,
    lines: Vec<String>,
) -> Result<(), PdfError> {
    let height = line_height(size);
    let baseline = baseline_offset(face, size);
    for text in lines {
        pages.make_room(height)?;
        pages.mark(Mark::Text {
            x: MARGIN,
            baseline: pages.y() + baseline,
            weight,
            size,
            text,
        });
        pages.advance(height);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fonts::Fonts;

    const WIDTH: f32 = 120.0;

    #[test]
    fn lines_fit_and_keep_every_word_in_order() {
        let fonts = Fonts::load().unwrap();
        let face = fonts.face(Weight::Regular);
        let text = "Steward checks every device against the safeguards the owner selected, \
                    and reports what it saw.";
        let lines = wrap(face, BODY_SIZE, text, WIDTH);
        assert!(lines.len() > 3);
        for line in &lines {
            assert!(face.width(line, BODY_SIZE) <= WIDTH, "{line:?} is too wide");
        }
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn a_word_wider_than_the_line_is_broken_between_characters() {
        let fonts = Fonts::load().unwrap();
        let face = fonts.face(Weight::Regular);
        let word = "0123456789".repeat(10);
        let lines = wrap(face, BODY_SIZE, &format!("short {word} tail"), WIDTH);
        assert_eq!(lines[0], "short");
        assert_eq!(
            lines.last().map(String::as_str),
            Some(&*format!("{} tail", &word[90..]))
        );
        assert_eq!(lines.concat().replace(' ', ""), format!("short{word}tail"));
        assert!(
            lines
                .iter()
                .all(|line| face.width(line, BODY_SIZE) <= WIDTH)
        );
    }

    #[test]
    fn newlines_end_lines_and_empty_text_is_one_empty_line() {
        let fonts = Fonts::load().unwrap();
        let face = fonts.face(Weight::Regular);
        assert_eq!(wrap(face, BODY_SIZE, "a\n\nb", WIDTH), ["a", "", "b"]);
        assert_eq!(wrap(face, BODY_SIZE, "", WIDTH), [""]);
        assert_eq!(
            wrap(face, BODY_SIZE, "  spaced   out  ", WIDTH),
            ["spaced out"]
        );
    }

    #[test]
    fn a_line_narrower_than_a_glyph_still_makes_progress() {
        let fonts = Fonts::load().unwrap();
        let face = fonts.face(Weight::Regular);
        assert_eq!(wrap(face, BODY_SIZE, "abc", 0.5), ["a", "b", "c"]);
        assert_eq!(wrap(face, BODY_SIZE, "abc", -5.0), ["a", "b", "c"]);
    }

    #[test]
    fn the_ellipsis_fits_in_the_width() {
        let fonts = Fonts::load().unwrap();
        let face = fonts.face(Weight::Regular);
        let cut = with_ellipsis(
            face,
            BODY_SIZE,
            "a line much too long for its column",
            WIDTH,
        );
        assert!(cut.ends_with('…'));
        assert!(face.width(&cut, BODY_SIZE) <= WIDTH);
        assert_eq!(with_ellipsis(face, BODY_SIZE, "abc", 1.0), "…");
    }
}
