//! Real PDFs, read back with lopdf: pages, text on the expected page, footers, metadata.

// Helpers outside #[test] functions unwrap too: a test that cannot read its PDF has failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use lopdf::Object;
use steward_pdf::{
    Block, Column, Document, MAX_BLOCKS, MAX_TEXT_CHARS, MAX_TOTAL_TEXT_BYTES, PdfError, render,
};

/// The PDF's pages' text, first page first.
fn page_texts(pdf: &[u8]) -> Vec<String> {
    let parsed = lopdf::Document::load_mem(pdf).expect("the output parses as a PDF");
    let pages = parsed.get_pages();
    pages
        .keys()
        .map(|number| parsed.extract_text(&[*number]).expect("page text"))
        .collect()
}

/// Text extraction puts line breaks where the PDF moves between runs; compare without them.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn info_string(pdf: &[u8], key: &[u8]) -> String {
    let parsed = lopdf::Document::load_mem(pdf).expect("parses");
    let info = parsed
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .and_then(|id| parsed.get_dictionary(id))
        .expect("an Info dictionary");
    let value = info.get(key).expect("the key is present");
    lopdf::decode_text_string(value).expect("a text string")
}

fn findings_table(rows: usize) -> Block {
    Block::Table {
        columns: vec![
            Column {
                title: "Check".into(),
                width: 3.0,
            },
            Column {
                title: "Result".into(),
                width: 1.0,
            },
            Column {
                title: "Evidence".into(),
                width: 4.0,
            },
        ],
        rows: (1..=rows)
            .map(|n| {
                vec![
                    format!("Check number {n}"),
                    if n % 2 == 0 { "pass" } else { "fail" }.into(),
                    format!(
                        "cell-{n} evidence read from the host, \
                         long enough to wrap onto a second line in its column"
                    ),
                ]
            })
            .collect(),
    }
}

fn report(blocks: Vec<Block>) -> Document {
    Document {
        title: "Posture report".into(),
        subject: "Security posture of the fleet".into(),
        blocks,
    }
}

#[test]
fn a_long_table_spans_pages_with_its_header_on_each() {
    let doc = report(vec![
        Block::Heading {
            level: 1,
            text: "Findings".into(),
        },
        findings_table(300),
    ]);
    let pages = page_texts(&render(&doc).unwrap());
    assert!(
        pages.len() >= 5,
        "300 two-line rows take several pages, got {}",
        pages.len()
    );
    for (n, text) in pages.iter().enumerate() {
        let text = flat(text);
        // At the top of every page but the first, where the heading comes first.
        let header = if n == 0 {
            "Findings Check Result Evidence"
        } else {
            "Check Result Evidence"
        };
        assert!(text.starts_with(header), "header on page {}: {text}", n + 1);
        assert!(
            text.contains(&format!("page {} of {}", n + 1, pages.len())),
            "footer on page {}",
            n + 1
        );
    }
    // The heading and the first row on page 1, the last row on the last page.
    let first = flat(&pages[0]);
    assert!(first.contains("Findings"));
    assert!(first.contains("cell-1 evidence"));
    assert!(flat(pages.last().unwrap()).contains("cell-300 evidence"));
    // Every row exactly once: no row is split or lost at a page break.
    let all = flat(&pages.join(" "));
    for n in 1..=300 {
        assert_eq!(
            all.matches(&format!("cell-{n} evidence")).count(),
            1,
            "row {n}"
        );
    }
}

#[test]
fn the_footer_numbers_pages_and_names_the_title() {
    let doc = report(vec![
        Block::Paragraph("First page.".into()),
        Block::PageBreak,
        Block::Paragraph("Second page.".into()),
        Block::PageBreak,
        Block::Paragraph("Third page.".into()),
    ]);
    let pages = page_texts(&render(&doc).unwrap());
    assert_eq!(pages.len(), 3);
    let second = flat(&pages[1]);
    assert!(second.contains("Second page."));
    assert!(second.contains("Posture report — page 2 of 3"), "{second}");
}

#[test]
fn title_and_subject_are_in_the_metadata() {
    let pdf = render(&report(vec![Block::Paragraph("Body".into())])).unwrap();
    assert_eq!(info_string(&pdf, b"Title"), "Posture report");
    assert_eq!(
        info_string(&pdf, b"Subject"),
        "Security posture of the fleet"
    );
}

#[test]
fn text_beyond_latin_1_round_trips() {
    let line = "Café résumé: score ≥ 80 — passed ✓";
    let doc = report(vec![
        Block::Heading {
            level: 2,
            text: "Ελληνικά и кириллица".into(),
        },
        Block::Paragraph(line.into()),
        Block::KeyValues(vec![("Generated".into(), "2026-11-29 ✓".into())]),
    ]);
    let text = flat(&page_texts(&render(&doc).unwrap())[0]);
    assert!(text.contains(line), "{text}");
    assert!(text.contains("Ελληνικά и кириллица"), "{text}");
    assert!(text.contains("Generated 2026-11-29 ✓"), "{text}");
}

#[test]
fn characters_the_font_lacks_become_question_marks() {
    let doc = report(vec![Block::Paragraph("Status 🙂 and 漢字 end".into())]);
    let text = flat(&page_texts(&render(&doc).unwrap())[0]);
    assert!(text.contains("Status ? and ?? end"), "{text}");
}

#[test]
fn an_empty_document_is_one_page_with_its_footer() {
    let pages = page_texts(&render(&report(Vec::new())).unwrap());
    assert_eq!(pages.len(), 1);
    assert!(flat(&pages[0]).contains("Posture report — page 1 of 1"));
    // Even with no title at all.
    let pages = page_texts(&render(&Document::default()).unwrap());
    assert_eq!(pages.len(), 1);
    assert!(flat(&pages[0]).contains("page 1 of 1"));
}

#[test]
fn long_paragraphs_and_words_wrap_within_the_page() {
    let word = "x".repeat(400);
    let sentence = "Steward wraps long paragraphs at spaces. ".repeat(200);
    let doc = report(vec![
        Block::Paragraph(word.clone()),
        Block::Paragraph(sentence),
    ]);
    let pages = page_texts(&render(&doc).unwrap());
    assert!(pages.len() >= 2, "200 sentences fill more than a page");
    // The long word is all there, broken over lines.
    let joined: String = pages[0]
        .split_whitespace()
        .filter(|w| w.starts_with('x'))
        .collect();
    assert_eq!(joined, word);
}

#[test]
fn a_row_taller_than_a_page_is_cut_with_an_ellipsis() {
    let huge = "word ".repeat(2_000);
    let doc = report(vec![Block::Table {
        columns: vec![Column {
            title: "Notes".into(),
            width: 1.0,
        }],
        rows: vec![vec!["before".into()], vec![huge], vec!["after".into()]],
    }]);
    let pages = page_texts(&render(&doc).unwrap());
    let all = flat(&pages.join(" "));
    assert!(all.contains("word…"), "the cut row ends in an ellipsis");
    assert!(all.contains("before") && all.contains("after"));
}

#[test]
fn a_heading_is_not_left_alone_at_the_bottom_of_a_page() {
    // Fill the first page so that a heading still fits at its bottom but the table after it
    // does not: the heading moves to page 2 with the table.
    let filler: Vec<Block> = (0..34)
        .map(|n| Block::Paragraph(format!("Line {n}")))
        .collect();
    let heading = Block::Heading {
        level: 1,
        text: "Kept heading".into(),
    };
    let page_of = |blocks: Vec<Block>, needle: &str| {
        let pages = page_texts(&render(&report(blocks)).unwrap());
        pages.iter().position(|text| text.contains(needle)).unwrap()
    };
    // The premise: alone, the heading fits on page 1.
    let alone = [filler.clone(), vec![heading.clone()]].concat();
    assert_eq!(page_of(alone, "Kept heading"), 0);
    let with_table = [filler, vec![heading, findings_table(3)]].concat();
    assert_eq!(page_of(with_table.clone(), "Kept heading"), 1);
    assert_eq!(page_of(with_table, "cell-1 evidence"), 1);
}

#[test]
fn a_heading_stays_with_a_first_row_taller_than_the_rest_of_its_page() {
    let doc = report(vec![
        Block::Heading {
            level: 1,
            text: "Notes".into(),
        },
        Block::Table {
            columns: vec![Column {
                title: "Note".into(),
                width: 1.0,
            }],
            rows: vec![vec!["word ".repeat(2_000)], vec!["after".into()]],
        },
    ]);
    let pages = page_texts(&render(&doc).unwrap());
    let first = flat(&pages[0]);
    assert!(first.starts_with("Notes Note word"), "{first}");
    assert!(first.contains("word…"), "the row is cut under the heading");
    assert!(flat(&pages[1]).starts_with("Note after"));
}

#[test]
fn documents_beyond_the_bounds_are_refused() {
    let too_many = report(vec![Block::PageBreak; MAX_BLOCKS + 1]);
    assert!(matches!(
        render(&too_many),
        Err(PdfError::TooManyBlocks { .. })
    ));
    let too_long = report(vec![Block::Paragraph("a".repeat(MAX_TEXT_CHARS + 1))]);
    assert!(matches!(
        render(&too_long),
        Err(PdfError::TextTooLong { block: 0, .. })
    ));
    let paragraph = Block::Paragraph("a".repeat(MAX_TEXT_CHARS));
    let too_much = report(vec![paragraph; MAX_TOTAL_TEXT_BYTES / MAX_TEXT_CHARS + 1]);
    assert!(matches!(
        render(&too_much),
        Err(PdfError::TooMuchText { .. })
    ));
    let too_many_pages = report(
        (0..2_001)
            .flat_map(|n| [Block::Paragraph(format!("Page {n}")), Block::PageBreak])
            .collect(),
    );
    assert!(matches!(
        render(&too_many_pages),
        Err(PdfError::TooManyPages { .. })
    ));
    let bad_level = report(vec![Block::Heading {
        level: 4,
        text: "Too deep".into(),
    }]);
    assert!(matches!(
        render(&bad_level),
        Err(PdfError::HeadingLevel { level: 4, .. })
    ));
    let bad_width = report(vec![Block::Table {
        columns: vec![Column {
            title: "A".into(),
            width: f32::NAN,
        }],
        rows: Vec::new(),
    }]);
    assert!(matches!(
        render(&bad_width),
        Err(PdfError::ColumnWidth { .. })
    ));
    let wide_row = report(vec![Block::Table {
        columns: vec![Column {
            title: "A".into(),
            width: 1.0,
        }],
        rows: vec![vec!["one".into(), "two".into()]],
    }]);
    assert!(matches!(
        render(&wide_row),
        Err(PdfError::RowTooWide { row: 0, .. })
    ));
}

#[test]
fn a_thousand_rows_render_quickly() {
    let doc = report(vec![findings_table(1_000)]);
    let started = Instant::now();
    let pdf = render(&doc).unwrap();
    let elapsed = started.elapsed();
    let pages = lopdf::Document::load_mem(&pdf).unwrap().get_pages().len();
    println!(
        "1,000 table rows: {pages} pages, {} KiB, rendered in {} ms",
        pdf.len() / 1024,
        elapsed.as_millis()
    );
    // The fixed cost: loading the fonts, embedding the (subset) fonts and the metadata.
    let started = Instant::now();
    let pdf = render(&report(vec![Block::Paragraph("One line.".into())])).unwrap();
    println!(
        "one line: {} KiB, rendered in {} ms",
        pdf.len() / 1024,
        started.elapsed().as_millis()
    );
}
