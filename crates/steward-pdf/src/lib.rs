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
//! silently. (A single row taller than a page is the one thing cut, and it is marked.)

mod fonts;
mod layout;
mod paint;
mod table;

pub use layout::MAX_PAGES;

use fonts::{Fonts, Weight};
use layout::{BODY_SIZE, CONTENT_WIDTH, Pages, line_height, place_lines, wrap};
use table::{Grid, Style};

/// The most blocks a document may have.
pub const MAX_BLOCKS: usize = 20_000;
/// The most characters in any one text: a heading, a paragraph, a cell, a key or a value.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most columns in a table: beyond this a column is narrower than a short word.
pub const MAX_COLUMNS: usize = 12;
/// The most rows in one table (or pairs in one key-value list).
pub const MAX_ROWS: usize = 50_000;
/// The most text in the whole document, in bytes of UTF-8 (about 1,500 dense pages): with
/// [`MAX_PAGES`], what bounds a render's time, since the other limits multiply.
pub const MAX_TOTAL_TEXT_BYTES: usize = 4 * 1024 * 1024;

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
    check(doc)?;
    let fonts = Fonts::load()?;
    let mut pages = Pages::new();
    for (index, block) in doc.blocks.iter().enumerate() {
        let next = doc.blocks.get(index + 1);
        place(&mut pages, &fonts, block, next)?;
    }
    let info = paint::Info {
        title: &doc.title,
        subject: &doc.subject,
    };
    paint::paint(&fonts, &info, pages.into_pages())
}

fn place(
    pages: &mut Pages,
    fonts: &Fonts,
    block: &Block,
    next: Option<&Block>,
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
                + next.map_or(0.0, |block| lead_height(fonts, block));
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
            table::place(pages, fonts, &grid, &style, rows)?;
            pages.gap(BLOCK_SPACE_BELOW);
        }
        Block::KeyValues(pairs) => {
            let (grid, style) = key_values_layout(fonts, pairs);
            let rows: Vec<Vec<String>> = pairs
                .iter()
                .map(|(key, value)| vec![key.clone(), value.clone()])
                .collect();
            table::place(pages, fonts, &grid, &style, &rows)?;
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

/// Refuses a document beyond the bounds, or one a layout could not honour.
fn check(doc: &Document) -> Result<(), PdfError> {
    if doc.blocks.len() > MAX_BLOCKS {
        return Err(PdfError::TooManyBlocks {
            count: doc.blocks.len(),
            max: MAX_BLOCKS,
        });
    }
    for text in [&doc.title, &doc.subject] {
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(PdfError::TitleTooLong {
                max: MAX_TEXT_CHARS,
            });
        }
    }
    let mut total = doc.title.len() + doc.subject.len();
    for (block, content) in doc.blocks.iter().enumerate() {
        total += text_bytes(content);
        if total > MAX_TOTAL_TEXT_BYTES {
            return Err(PdfError::TooMuchText {
                max: MAX_TOTAL_TEXT_BYTES,
            });
        }
        match content {
            Block::Heading { level, text } => {
                if !(1..=3).contains(level) {
                    return Err(PdfError::HeadingLevel {
                        block,
                        level: *level,
                    });
                }
                check_text(block, text)?;
            }
            Block::Paragraph(text) => check_text(block, text)?,
            Block::Table { columns, rows } => check_table(block, columns, rows)?,
            Block::KeyValues(pairs) => {
                if pairs.len() > MAX_ROWS {
                    return Err(PdfError::TooManyRows {
                        block,
                        count: pairs.len(),
                        max: MAX_ROWS,
                    });
                }
                for (key, value) in pairs {
                    check_text(block, key)?;
                    check_text(block, value)?;
                }
            }
            Block::PageBreak => {}
        }
    }
    Ok(())
}

fn text_bytes(block: &Block) -> usize {
    match block {
        Block::Heading { text, .. } | Block::Paragraph(text) => text.len(),
        Block::Table { columns, rows } => {
            columns
                .iter()
                .map(|column| column.title.len())
                .sum::<usize>()
                + rows.iter().flatten().map(String::len).sum::<usize>()
        }
        Block::KeyValues(pairs) => pairs
            .iter()
            .map(|(key, value)| key.len() + value.len())
            .sum(),
        Block::PageBreak => 0,
    }
}

fn check_table(block: usize, columns: &[Column], rows: &[Vec<String>]) -> Result<(), PdfError> {
    if columns.is_empty() || columns.len() > MAX_COLUMNS {
        return Err(PdfError::ColumnCount {
            block,
            max: MAX_COLUMNS,
        });
    }
    if columns
        .iter()
        .any(|column| !column.width.is_finite() || column.width <= 0.0)
    {
        return Err(PdfError::ColumnWidth { block });
    }
    if rows.len() > MAX_ROWS {
        return Err(PdfError::TooManyRows {
            block,
            count: rows.len(),
            max: MAX_ROWS,
        });
    }
    for column in columns {
        check_text(block, &column.title)?;
    }
    for (row, cells) in rows.iter().enumerate() {
        if cells.len() > columns.len() {
            return Err(PdfError::RowTooWide {
                block,
                row,
                cells: cells.len(),
                columns: columns.len(),
            });
        }
        for cell in cells {
            check_text(block, cell)?;
        }
    }
    Ok(())
}

fn check_text(block: usize, text: &str) -> Result<(), PdfError> {
    // Bytes bound characters from above: count only when the bytes allow too many.
    if text.len() > MAX_TEXT_CHARS {
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(PdfError::TextTooLong {
                block,
                chars,
                max: MAX_TEXT_CHARS,
            });
        }
    }
    Ok(())
}
