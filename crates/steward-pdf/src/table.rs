//! Tables (and key-value lists, which are two-column tables without a header or rules):
//! cells wrapped within their column, rows kept whole on a page, the header repeated on
//! every page the table continues onto.

use crate::PdfError;
use crate::fonts::{Fonts, Weight};
use crate::layout::{
    BODY_SIZE, CONTENT_HEIGHT, MARGIN, Mark, Pages, baseline_offset, line_height, with_ellipsis,
    wrap,
};

/// Space between a cell's text and its column's edges.
const PAD_X: f32 = 4.0;
const PAD_Y: f32 = 2.5;

/// How a grid is drawn.
pub(crate) struct Style {
    /// Column headings, drawn bold on a shaded row at the top of every page of the table.
    pub(crate) header: Option<Vec<String>>,
    /// The first column in bold (a key-value list's keys).
    pub(crate) bold_first_column: bool,
    /// A thin line under every row.
    pub(crate) rules: bool,
}

impl Style {
    /// The weight of each of `columns` body cells.
    fn body_weights(&self, columns: usize) -> Vec<Weight> {
        (0..columns)
            .map(|i| match i {
                0 if self.bold_first_column => Weight::Bold,
                _ => Weight::Regular,
            })
            .collect()
    }
}

/// Column positions: left edges and widths, in points, filling the content width.
pub(crate) struct Grid {
    lefts: Vec<f32>,
    widths: Vec<f32>,
}

impl Grid {
    /// Columns sized by their shares of `total_width` (shares are checked positive and
    /// finite by the caller).
    pub(crate) fn from_shares(shares: &[f32], total_width: f32) -> Self {
        // Relative to the largest share first, so huge shares cannot overflow the sum.
        let largest = shares.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
        let relative: Vec<f32> = shares.iter().map(|share| share / largest).collect();
        let sum: f32 = relative.iter().sum();
        let widths: Vec<f32> = relative.iter().map(|r| r / sum * total_width).collect();
        let lefts = widths
            .iter()
            .scan(MARGIN, |x, width| {
                let left = *x;
                *x += width;
                Some(left)
            })
            .collect();
        Self { lefts, widths }
    }

    fn total_width(&self) -> f32 {
        self.widths.iter().sum()
    }
}

/// A row broken into lines, cell by cell, and its height.
struct Row {
    cells: Vec<Vec<String>>,
    weights: Vec<Weight>,
    height: f32,
    shaded: bool,
}

impl Row {
    fn lay_out(fonts: &Fonts, grid: &Grid, texts: &[String], weights: Vec<Weight>) -> Self {
        let cells: Vec<Vec<String>> = grid
            .widths
            .iter()
            .enumerate()
            .map(|(i, width)| {
                let text = texts.get(i).map_or("", String::as_str);
                let face = fonts.face(weights[i]);
                wrap(face, BODY_SIZE, &fonts.sanitize(text), width - 2.0 * PAD_X)
            })
            .collect();
        let most_lines = cells.iter().map(Vec::len).max().unwrap_or(1);
        Self {
            height: Self::height_of(most_lines),
            cells,
            weights,
            shaded: false,
        }
    }

    fn height_of(lines: usize) -> f32 {
        lines as f32 * line_height(BODY_SIZE) + 2.0 * PAD_Y
    }

    /// Shortens a row taller than `max_height` to the lines that fit, the last one kept
    /// ending in "…" in every cell that lost text.
    fn cut_to(&mut self, fonts: &Fonts, grid: &Grid, max_height: f32) {
        if self.height <= max_height {
            return;
        }
        let fitting = ((max_height - 2.0 * PAD_Y) / line_height(BODY_SIZE)).floor();
        let keep = (fitting as usize).max(1);
        for (i, lines) in self.cells.iter_mut().enumerate() {
            if lines.len() > keep {
                lines.truncate(keep);
                if let Some(last) = lines.last_mut() {
                    let face = fonts.face(self.weights[i]);
                    *last = with_ellipsis(face, BODY_SIZE, last, grid.widths[i] - 2.0 * PAD_X);
                }
            }
        }
        self.height = Self::height_of(keep);
    }

    fn place(&self, pages: &mut Pages, fonts: &Fonts, grid: &Grid, style: &Style) {
        let top = pages.y();
        if self.shaded {
            pages.mark(Mark::Shade {
                x: MARGIN,
                y: top,
                width: grid.total_width(),
                height: self.height,
            });
        }
        let pitch = line_height(BODY_SIZE);
        for (i, lines) in self.cells.iter().enumerate() {
            let weight = self.weights[i];
            let baseline = top + PAD_Y + baseline_offset(fonts.face(weight), BODY_SIZE);
            for (n, text) in lines.iter().enumerate() {
                if text.is_empty() {
                    continue;
                }
                pages.mark(Mark::Text {
                    x: grid.lefts[i] + PAD_X,
                    baseline: baseline + n as f32 * pitch,
                    weight,
                    size: BODY_SIZE,
                    text: text.clone(),
                });
            }
        }
        if style.rules || self.shaded {
            pages.mark(Mark::Rule {
                x0: MARGIN,
                x1: MARGIN + grid.total_width(),
                y: top + self.height,
            });
        }
        pages.advance(self.height);
    }
}

/// Lays a grid out; the rows may have fewer cells than the grid has columns (the rest are
/// blank), never more (checked by the caller).
///
/// `under_heading`: the grid follows a heading, which was placed only where the grid's start
/// fits below it. Should the first row be too tall even for that (taller than a page less
/// the heading), it is cut to the space left rather than leave the heading alone on a page.
pub(crate) fn place(
    pages: &mut Pages,
    fonts: &Fonts,
    grid: &Grid,
    style: &Style,
    rows: &[Vec<String>],
    under_heading: bool,
) -> Result<(), PdfError> {
    let columns = grid.widths.len();
    let header = style.header.as_ref().map(|titles| {
        let mut row = Row::lay_out(fonts, grid, titles, vec![Weight::Bold; columns]);
        // A header may take at most half a page, so rows always have room under it.
        row.cut_to(fonts, grid, CONTENT_HEIGHT / 2.0);
        row.shaded = true;
        row
    });
    let header_height = header.as_ref().map_or(0.0, |row| row.height);
    let body_weights = style.body_weights(columns);
    let max_row_height = CONTENT_HEIGHT - header_height;

    let mut rows = rows.iter().map(|texts| {
        let mut row = Row::lay_out(fonts, grid, texts, body_weights.clone());
        row.cut_to(fonts, grid, max_row_height);
        row
    });
    // The header never stands alone at the bottom of a page: it goes with the first row.
    let first = rows.next().map(|mut row| {
        if under_heading {
            row.cut_to(fonts, grid, pages.remaining() - header_height);
        }
        row
    });
    pages.make_room(header_height + first.as_ref().map_or(0.0, |row| row.height))?;
    if let Some(header) = &header {
        header.place(pages, fonts, grid, style);
    }
    for row in first.into_iter().chain(rows) {
        if row.height > pages.remaining() {
            pages.new_page()?;
            if let Some(header) = &header {
                header.place(pages, fonts, grid, style);
            }
        }
        row.place(pages, fonts, grid, style);
    }
    Ok(())
}

/// The height a grid needs at the top of a page before its first page break: its header and
/// first row. A heading just above the grid is kept with this much.
pub(crate) fn lead_height(
    fonts: &Fonts,
    grid: &Grid,
    style: &Style,
    first_row: Option<&Vec<String>>,
) -> f32 {
    let columns = grid.widths.len();
    let header = style.header.as_ref().map_or(0.0, |titles| {
        Row::lay_out(fonts, grid, titles, vec![Weight::Bold; columns]).height
    });
    let first = first_row.map_or(0.0, |texts| {
        Row::lay_out(fonts, grid, texts, style.body_weights(columns)).height
    });
    (header + first).min(CONTENT_HEIGHT)
}
