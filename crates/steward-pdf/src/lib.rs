//! Steward's PDF writer: the caller builds a [`Document`] of blocks (headings, paragraphs,
//! tables, key-value lists, page breaks); [`render`] lays it out on A4 pages and writes the
//! PDF.
//!
//! Layout: margins of 18 mm, DejaVu Sans (embedded, subset to the glyphs used), text
//! wrapped greedily by the font's advance widths, a word longer than a line broken between
//! characters. A table row is never split across pages (a row taller than a page is cut, its
//! last line ending in "…"), and the table's header is repeated on each page it continues
//! onto. A heading is kept with what follows it. Every page has the footer
//! "TITLE — page N of M". Characters the font lacks (emoji, CJK) are written as '?'.
//!
//! Input is bounded so a render's time and memory are too: see [`MAX_BLOCKS`],
//! [`MAX_TEXT_CHARS`], [`MAX_COLUMNS`], [`MAX_ROWS`], [`MAX_TOTAL_TEXT_BYTES`] and
//! [`MAX_PAGES`]; a document beyond them is refused with a [`PdfError`], never truncated
//! silently. (Only a table row taller than a page, or a header taller than half a page, is
//! ever cut, and the cut is marked with "…".)

mod fonts;
mod layout;
mod limits;
mod paint;
mod table;

pub use layout::MAX_PAGES;
pub use limits::{MAX_BLOCKS, MAX_COLUMNS, MAX_ROWS, MAX_TEXT_CHARS, MAX_TOTAL_TEXT_BYTES};

use fonts::{Fonts, Weight};
use layout::{BODY_SIZE, CONTENT_WIDTH, Pages, line_height, place_lines, wrap};
use table::{Grid, Style};

/// A document to render: its title (in the metadata and every page's footer), its subject
/// (in the metadata) and its content, top to bottom.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub title: String,
    pub subject: String,
    pub blocks: Vec<Block>,
}

/// One piece of content.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A bold heading; `level` 1 (largest) to 3.
    Heading { level: u8, text: String },
    /// Text wrapped to the page width; a newline starts a new line.
    Paragraph(String),
    /// A table with a header row; each row has at most one cell per column (missing cells
    /// are blank).
    Table {
        columns: Vec<Column>,
        rows: Vec<Vec<String>>,
    },
    /// Labelled values, one pair a line: the label in bold, the value beside it, wrapped.
    KeyValues(Vec<(String, String)>),
    /// The next block starts on a new page (ignored at the top of a page, so it never makes
    /// a blank page).
    PageBreak,
}

/// A table column: its heading and its share of the table's width (shares are relative:
/// `[1.0, 3.0]` gives the second column three quarters).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: String,
    pub width: f32,
}

/// Why a document was not rendered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PdfError {
    #[error("the document has {count} blocks; at most {max} are rendered")]
    TooManyBlocks { count: usize, max: usize },
    #[error("block {block}: a text of {chars} characters; at most {max} are rendered")]
    TextTooLong {
        block: usize,
        chars: usize,
        max: usize,
    },
    #[error("the title or subject is longer than {max} characters")]
    TitleTooLong { max: usize },
    #[error("block {block}: heading level {level}; levels are 1 to 3")]
    HeadingLevel { block: usize, level: u8 },
    #[error("block {block}: a table needs 1 to {max} columns")]
    ColumnCount { block: usize, max: usize },
    #[error("block {block}: column widths must be positive, finite numbers")]
    ColumnWidth { block: usize },
    #[error("block {block}: a table of {count} rows; at most {max} are rendered")]
    TooManyRows {
        block: usize,
        count: usize,
        max: usize,
    },
    #[error("block {block}: row {row} has {cells} cells for {columns} columns")]
    RowTooWide {
        block: usize,
        row: usize,
        cells: usize,
        columns: usize,
    },
    #[error("the document has more than {max} bytes of text")]
    TooMuchText { max: usize },
    #[error("the document would take more than {max} pages")]
    TooManyPages { max: usize },
    #[error("the embedded font {0} could not be read")]
    Font(&'static str),
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// Heading sizes in points, by level.
const HEADING_SIZES: [f32; 3] = [16.0, 13.0, 11.5];
/// Space above a heading and below any block, in points.
const HEADING_SPACE_ABOVE: f32 = 10.0;
const HEADING_SPACE_BELOW: f32 = 3.0;
const BLOCK_SPACE_BELOW: f32 = 7.0;
/// A key-value list's keys take at most this share of the width.
const KEY_SHARE_MAX: f32 = 0.35;

/// Lays `doc` out on A4 pages and returns the PDF file's bytes.
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    limits::check(doc)?;
    let fonts = Fonts::load()?;
    let mut pages = Pages::new();
    for (index, block) in doc.blocks.iter().enumerate() {
        let neighbours = Neighbours {
            under_heading: index
                .checked_sub(1)
                .and_then(|before| doc.blocks.get(before))
                .is_some_and(|before| matches!(before, Block::Heading { .. })),
            next: doc.blocks.get(index + 1),
        };
        place(&mut pages, &fonts, block, &neighbours)?;
    }
    let info = paint::Info {
        title: &doc.title,
        subject: &doc.subject,
    };
    paint::paint(&fonts, &info, pages.into_pages())
}

/// What a block's placement depends on around it: a heading is kept with the next block,
/// and a table under a heading may be cut so as to stay with it.
struct Neighbours<'a> {
    under_heading: bool,
    next: Option<&'a Block>,
}

fn place(
    pages: &mut Pages,
    fonts: &Fonts,
    block: &Block,
    neighbours: &Neighbours<'_>,
) -> Result<(), PdfError> {
    match block {
        Block::Heading { level, text } => {
            let size = heading_size(*level);
            let face = fonts.face(Weight::Bold);
            let lines = wrap(face, size, &fonts.sanitize(text), CONTENT_WIDTH);
            let height = lines.len() as f32 * line_height(size);
            // Kept with the next block's first line (or table header and first row): no
            // heading alone at the bottom of a page.
            let keep = HEADING_SPACE_ABOVE
                + height
                + HEADING_SPACE_BELOW
                + neighbours
                    .next
                    .map_or(0.0, |block| lead_height(fonts, block));
            pages.make_room(keep)?;
            pages.gap(HEADING_SPACE_ABOVE);
            place_lines(pages, face, Weight::Bold, size, lines)?;
            pages.gap(HEADING_SPACE_BELOW);
        }
        Block::Paragraph(text) => {
            let face = fonts.face(Weight::Regular);
            let lines = wrap(face, BODY_SIZE, &fonts.sanitize(text), CONTENT_WIDTH);
            place_lines(pages, face, Weight::Regular, BODY_SIZE, lines)?;
            pages.gap(BLOCK_SPACE_BELOW);
        }
        Block::Table { columns, rows } => {
            let (grid, style) = table_layout(columns);
            table::place(pages, fonts, &grid, &style, rows, neighbours.under_heading)?;
            pages.gap(BLOCK_SPACE_BELOW);
        }
        Block::KeyValues(pairs) => {
            let (grid, style) = key_values_layout(fonts, pairs);
            let rows: Vec<Vec<String>> = pairs
                .iter()
                .map(|(key, value)| vec![key.clone(), value.clone()])
                .collect();
            table::place(pages, fonts, &grid, &style, &rows, neighbours.under_heading)?;
            pages.gap(BLOCK_SPACE_BELOW);
        }
        Block::PageBreak => {
            if !pages.is_fresh() {
                pages.new_page()?;
            }
        }
    }
    Ok(())
}

fn heading_size(level: u8) -> f32 {
    HEADING_SIZES[usize::from(level.clamp(1, 3)) - 1]
}

/// The height `block` needs at the top of a page before it may break: what a heading above
/// it is kept with.
fn lead_height(fonts: &Fonts, block: &Block) -> f32 {
    match block {
        Block::Heading { level, .. } => line_height(heading_size(*level)),
        Block::Paragraph(_) => line_height(BODY_SIZE),
        Block::Table { columns, rows } => {
            let (grid, style) = table_layout(columns);
            table::lead_height(fonts, &grid, &style, rows.first())
        }
        Block::KeyValues(pairs) => {
            let (grid, style) = key_values_layout(fonts, pairs);
            let first = pairs
                .first()
                .map(|(key, value)| vec![key.clone(), value.clone()]);
            table::lead_height(fonts, &grid, &style, first.as_ref())
        }
        Block::PageBreak => 0.0,
    }
}

fn table_layout(columns: &[Column]) -> (Grid, Style) {
    let shares: Vec<f32> = columns.iter().map(|column| column.width).collect();
    let style = Style {
        header: Some(columns.iter().map(|column| column.title.clone()).collect()),
        bold_first_column: false,
        rules: true,
    };
    (Grid::from_shares(&shares, CONTENT_WIDTH), style)
}

/// Keys get the width of the widest key (plus padding), up to [`KEY_SHARE_MAX`] of the line.
fn key_values_layout(fonts: &Fonts, pairs: &[(String, String)]) -> (Grid, Style) {
    let face = fonts.face(Weight::Bold);
    let widest = pairs
        .iter()
        .map(|(key, _)| face.width(&fonts.sanitize(key), BODY_SIZE))
        .fold(0.0, f32::max);
    let key_width = (widest + 16.0).min(CONTENT_WIDTH * KEY_SHARE_MAX);
    let grid = Grid::from_shares(&[key_width, CONTENT_WIDTH - key_width], CONTENT_WIDTH);
    let style = Style {
        header: None,
        bold_first_column: true,
        rules: false,
    };
    (grid, style)
}
