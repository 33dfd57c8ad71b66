//! Painting laid-out pages with krilla: the marks, the running footer, the metadata.

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};

use crate::PdfError;
use crate::fonts::{Fonts, Weight};
use crate::layout::{
    CONTENT_WIDTH, MARGIN, Mark, PAGE_HEIGHT, PAGE_WIDTH, line_height, with_ellipsis,
};

const FOOTER_SIZE: f32 = 8.0;
/// Grey levels (0 black, 255 white).
const SHADE_GREY: u8 = 232;
const RULE_GREY: u8 = 170;
const FOOTER_GREY: u8 = 90;

/// What the PDF's document information says.
pub(crate) struct Info<'a> {
    pub(crate) title: &'a str,
    pub(crate) subject: &'a str,
}

/// Writes the pages, each with its footer "TITLE — page N of M", into a PDF file.
pub(crate) fn paint(
    fonts: &Fonts,
    info: &Info<'_>,
    pages: Vec<Vec<Mark>>,
) -> Result<Vec<u8>, PdfError> {
    let settings = SerializeSettings {
        // Untagged: the marks carry no structure to tag; text stays extractable through the
        // fonts' ToUnicode maps.
        enable_tagging: false,
        ..SerializeSettings::default()
    };
    let mut document = Document::new_with(settings);
    document.set_metadata(
        Metadata::new()
            .title(info.title.to_owned())
            .description(info.subject.to_owned())
            .producer("Steward".to_owned()),
    );
    let size = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
        .ok_or(PdfError::Write("the A4 page size was refused".to_owned()))?;
    let count = pages.len();
    let title = fonts.sanitize(&info.title.replace('\n', " "));
    for (index, marks) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(size.clone());
        let mut surface = page.surface();
        for mark in marks {
            draw(&mut surface, fonts, mark);
        }
        draw_footer(&mut surface, fonts, &title, index + 1, count);
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|error| PdfError::Write(error.to_string()))
}

fn draw(surface: &mut Surface<'_>, fonts: &Fonts, mark: Mark) {
    match mark {
        Mark::Text {
            x,
            baseline,
            weight,
            size,
            text,
        } => draw_text(
            surface,
            fonts,
            weight,
            size,
            Point::from_xy(x, baseline),
            &text,
            0,
        ),
        Mark::Shade {
            x,
            y,
            width,
            height,
        } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(x, y, width, height) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(grey_fill(SHADE_GREY)));
                surface.draw_path(&path);
            }
        }
        Mark::Rule { x0, x1, y } => {
            let mut path = PathBuilder::new();
            path.move_to(x0, y);
            path.line_to(x1, y);
            if let Some(path) = path.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: luma::Color::new(RULE_GREY).into(),
                    width: 0.5,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
                surface.set_stroke(None);
            }
        }
    }
}

fn draw_text(
    surface: &mut Surface<'_>,
    fonts: &Fonts,
    weight: Weight,
    size: f32,
    at: Point,
    text: &str,
    grey: u8,
) {
    let face = fonts.face(weight);
    surface.set_stroke(None);
    surface.set_fill(Some(grey_fill(grey)));
    surface.draw_glyphs(at, &face.glyphs(text), face.font.clone(), text, size, false);
}

/// "TITLE — page N of M", centred in the bottom margin; a title too long for the line is
/// shortened with "…" so the page numbers always show.
fn draw_footer(surface: &mut Surface<'_>, fonts: &Fonts, title: &str, page: usize, count: usize) {
    let face = fonts.face(Weight::Regular);
    let numbers = format!("page {page} of {count}");
    let separator = " — ";
    let room =
        CONTENT_WIDTH - face.width(&numbers, FOOTER_SIZE) - face.width(separator, FOOTER_SIZE);
    let title = if face.width(title, FOOTER_SIZE) > room {
        with_ellipsis(face, FOOTER_SIZE, title, room)
    } else {
        title.to_owned()
    };
    let text = if title.is_empty() {
        numbers
    } else {
        format!("{title}{separator}{numbers}")
    };
    let x = (PAGE_WIDTH - face.width(&text, FOOTER_SIZE)) / 2.0;
    let baseline = PAGE_HEIGHT - MARGIN / 2.0 + line_height(FOOTER_SIZE) / 2.0;
    draw_text(
        surface,
        fonts,
        Weight::Regular,
        FOOTER_SIZE,
        Point::from_xy(x, baseline),
        &text,
        FOOTER_GREY,
    );
}

fn grey_fill(level: u8) -> Fill {
    Fill {
        paint: luma::Color::new(level).into(),
        ..Fill::default()
    }
}
