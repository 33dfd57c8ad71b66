//! The bounds on what [`render`](crate::render) accepts, and the checks that refuse a
//! document beyond them (or one a layout could not honour) before any layout starts.

use crate::{Block, Column, Document, PdfError};

/// The most blocks a document may have.
pub const MAX_BLOCKS: usize = 20_000;
/// The most characters in any one text: a heading, a paragraph, a cell, a key or a value.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The most columns in a table: beyond this a column is narrower than a short word.
pub const MAX_COLUMNS: usize = 12;
/// The most rows in one table (or pairs in one key-value list).
pub const MAX_ROWS: usize = 50_000;
/// The most text in the whole document, in bytes of UTF-8 (about 1,500 dense pages). With
/// [`MAX_PAGES`](crate::MAX_PAGES) this bounds a render's time, which the other limits,
/// multiplied together, would not.
pub const MAX_TOTAL_TEXT_BYTES: usize = 4 * 1024 * 1024;

/// Refuses a document beyond the bounds, or one a layout could not honour.
pub(crate) fn check(doc: &Document) -> Result<(), PdfError> {
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
