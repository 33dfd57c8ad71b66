//! The embedded typeface (DejaVu Sans 2.37, regular and bold): character to glyph mapping,
//! advance widths for measuring, and the glyph runs krilla draws.
//!
//! Text is drawn glyph by glyph from the font's character map, without a shaper: Steward's
//! reports are left-to-right text in scripts that need no shaping (Latin, Greek, Cyrillic,
//! symbols), and measuring with the very advances that are drawn keeps wrapping exact.

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::{GlyphMetrics, Metrics};
use skrifa::{FontRef, MetadataProvider};

use crate::PdfError;

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Drawn in place of a character the font has no glyph for.
pub(crate) const MISSING: char = '?';

/// Which of the two embedded faces a run of text is set in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// One face: krilla's handle (for drawing and embedding) and skrifa's tables (for mapping
/// and measuring), both over the same static bytes.
pub(crate) struct Face {
    pub(crate) font: Font,
    charmap: skrifa::charmap::Charmap<'static>,
    advances: GlyphMetrics<'static>,
    units_per_em: f32,
    /// Ascent and descent as fractions of the em (descent positive, below the baseline).
    pub(crate) ascent: f32,
    pub(crate) descent: f32,
}

impl Face {
    fn load(data: &'static [u8], name: &'static str) -> Result<Self, PdfError> {
        let font_ref = FontRef::new(data).map_err(|_| PdfError::Font(name))?;
        let metrics = Metrics::new(&font_ref, Size::unscaled(), LocationRef::default());
        let units_per_em = f32::from(metrics.units_per_em);
        if units_per_em <= 0.0 {
            return Err(PdfError::Font(name));
        }
        let font = Font::new(data.into(), 0).ok_or(PdfError::Font(name))?;
        Ok(Self {
            font,
            charmap: font_ref.charmap(),
            advances: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
            ascent: metrics.ascent / units_per_em,
            descent: -metrics.descent / units_per_em,
        })
    }

    /// The glyph for `c` and its advance in ems; `None` when the font lacks the character.
    fn glyph(&self, c: char) -> Option<(GlyphId, f32)> {
        // Glyph 0 is .notdef, the "missing" box some character maps point at.
        let id = self.charmap.map(c).filter(|id| id.to_u32() != 0)?;
        let advance = self.advances.advance_width(id).unwrap_or(0.0) / self.units_per_em;
        Some((GlyphId::new(id.to_u32()), advance))
    }

    /// The width of `text` at `size` points (every character is expected to be mapped, see
    /// [`Fonts::sanitize`]).
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.glyph(c).map_or(0.0, |(_, advance)| advance))
            .sum::<f32>()
            * size
    }

    /// The glyph run krilla draws for `text`, each glyph pointing back at its character so
    /// the PDF's ToUnicode map lets readers extract and search the text.
    pub(crate) fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .filter_map(|(at, c)| {
                let (id, advance) = self.glyph(c)?;
                Some(KrillaGlyph::new(
                    id,
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    at..at + c.len_utf8(),
                    None,
                ))
            })
            .collect()
    }
}

/// Both faces of the report's typeface.
pub(crate) struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    pub(crate) fn load() -> Result<Self, PdfError> {
        Ok(Self {
            regular: Face::load(REGULAR, "DejaVu Sans")?,
            bold: Face::load(BOLD, "DejaVu Sans Bold")?,
        })
    }

    pub(crate) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// `text` with tabs as spaces, carriage returns dropped (a newline alone ends a line)
    /// and every character either face lacks (an emoji, CJK, a control character) replaced
    /// by [`MISSING`], so what is measured, drawn and extracted is the same string. Both
    /// faces are checked so a text draws the same in either weight.
    pub(crate) fn sanitize(&self, text: &str) -> String {
        text.chars()
            .filter(|&c| c != '\r')
            .map(|c| match c {
                '\t' => ' ',
                '\n' => '\n',
                c if self.regular.glyph(c).is_some() && self.bold.glyph(c).is_some() => c,
                _ => MISSING,
            })
            .collect()
    }
}
