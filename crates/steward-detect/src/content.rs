//! What a file's name promises about its content, and whether a sample keeps the promise.
//!
//! A `.docx` is a zip (or, encrypted by Office, an OLE container), a `.jpg` starts with
//! `FF D8 FF`, a `.txt` is text in every region. Ransomware breaks the promise: what it
//! leaves under the name is random bytes. Compression keeps it: a `.gz` is gzip, a `.zip`
//! is a zip, however random the rest looks.

use crate::Sample;
use crate::sample::{REGION, region_offsets};

/// What a file's extension says its content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A format with magic bytes (any of these, at its offset), and what it is called.
    Magic(&'static Format),
    /// Text: low entropy in every region.
    Text,
    /// Nothing is promised (no extension, or one not listed here).
    Unknown,
}

/// A file format known by its first bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Format {
    pub name: &'static str,
    /// Accepted signatures: (offset, bytes).
    pub magic: &'static [(usize, &'static [u8])],
    /// Whether it is a document a person made (office files, images, PDFs, media,
    /// archives), as opposed to a program's own file.
    pub document: bool,
}

const ZIP: &[(usize, &[u8])] = &[(0, b"PK\x03\x04"), (0, b"PK\x05\x06"), (0, b"PK\x07\x08")];
const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

macro_rules! format {
    ($ident:ident, $name:expr, $document:expr, [$(($off:expr, $bytes:expr)),+ $(,)?]) => {
        static $ident: Format = Format {
            name: $name,
            magic: &[$(($off, $bytes)),+],
            document: $document,
        };
    };
}

static ZIP_ARCHIVE: Format = Format {
    name: "zip archive",
    magic: ZIP,
    document: true,
};
// Office Open XML and OpenDocument are zips; Office's password protection wraps them in an
// OLE container.
format!(
    OFFICE_XML,
    "office document",
    true,
    [(0, b"PK\x03\x04"), (0, b"PK\x05\x06"), (0, OLE)]
);
format!(OFFICE_OLE, "office document (97-2003)", true, [(0, OLE)]);
format!(PDF, "PDF document", true, [(0, b"%PDF")]);
format!(JPEG, "JPEG image", true, [(0, b"\xFF\xD8\xFF")]);
format!(PNG, "PNG image", true, [(0, b"\x89PNG")]);
format!(GIF, "GIF image", true, [(0, b"GIF8")]);
format!(BMP, "bitmap image", true, [(0, b"BM")]);
format!(
    TIFF,
    "TIFF or raw camera image",
    true,
    [(0, b"II*\0"), (0, b"MM\0*")]
);
format!(PSD, "Photoshop image", true, [(0, b"8BPS")]);
format!(GZIP, "gzip archive", true, [(0, b"\x1F\x8B")]);
format!(BZIP2, "bzip2 archive", true, [(0, b"BZh")]);
format!(XZ, "xz archive", true, [(0, b"\xFD7zXZ\0")]);
format!(ZSTD, "zstd archive", true, [(0, b"\x28\xB5\x2F\xFD")]);
format!(
    SEVEN_ZIP,
    "7-zip archive",
    true,
    [(0, b"7z\xBC\xAF\x27\x1C")]
);
format!(RAR, "RAR archive", true, [(0, b"Rar!")]);
format!(
    MP3,
    "MP3 audio",
    true,
    [
        (0, b"ID3"),
        (0, b"\xFF\xFB"),
        (0, b"\xFF\xF3"),
        (0, b"\xFF\xF2")
    ]
);
format!(ISO_MEDIA, "MP4/MOV/HEIC media", true, [(4, b"ftyp")]);
format!(RIFF, "RIFF media", true, [(0, b"RIFF")]);
format!(OGG, "Ogg media", true, [(0, b"OggS")]);
format!(FLAC, "FLAC audio", true, [(0, b"fLaC")]);
format!(
    SQLITE,
    "SQLite database",
    false,
    [(0, b"SQLite format 3\0")]
);
format!(WINDOWS_EXE, "Windows program", false, [(0, b"MZ")]);
format!(RTF, "RTF document", true, [(0, b"{\\rtf")]);

/// Extensions of text files (documents, data, code, configuration).
const TEXT: &[&str] = &[
    "txt",
    "csv",
    "tsv",
    "md",
    "log",
    "html",
    "htm",
    "xml",
    "json",
    "yaml",
    "yml",
    "ini",
    "conf",
    "cfg",
    "sql",
    "svg",
    "css",
    "js",
    "ts",
    "py",
    "rs",
    "c",
    "h",
    "cpp",
    "hpp",
    "java",
    "go",
    "php",
    "rb",
    "pl",
    "sh",
    "tex",
    "eml",
    "vcf",
    "ics",
    "srt",
    "toml",
    "properties",
];

/// Extensions documents of text kind (what a person writes, not a program's source).
const TEXT_DOCUMENTS: &[&str] = &["txt", "csv", "tsv", "md", "eml", "vcf", "ics", "tex"];

/// What a path's extension promises.
pub fn expect(path: &str) -> Expect {
    let Some(ext) = extension(path) else {
        return Expect::Unknown;
    };
    let ext = ext.to_ascii_lowercase();
    let format = match ext.as_str() {
        "docx" | "xlsx" | "pptx" | "docm" | "xlsm" | "pptm" | "odt" | "ods" | "odp" | "odg" => {
            &OFFICE_XML
        }
        "zip" | "jar" | "epub" | "apk" => &ZIP_ARCHIVE,
        "doc" | "xls" | "ppt" | "msg" | "pub" | "vsd" => &OFFICE_OLE,
        "pdf" => &PDF,
        "jpg" | "jpeg" | "jpe" => &JPEG,
        "png" => &PNG,
        "gif" => &GIF,
        "bmp" => &BMP,
        "tif" | "tiff" | "cr2" | "nef" | "arw" | "dng" => &TIFF,
        "webp" | "wav" | "avi" => &RIFF,
        "psd" => &PSD,
        "gz" | "tgz" => &GZIP,
        "bz2" | "tbz2" => &BZIP2,
        "xz" | "txz" => &XZ,
        "zst" => &ZSTD,
        "7z" => &SEVEN_ZIP,
        "rar" => &RAR,
        "mp3" => &MP3,
        "mp4" | "m4a" | "m4v" | "mov" | "heic" | "heif" | "3gp" => &ISO_MEDIA,
        "ogg" | "oga" | "ogv" | "opus" => &OGG,
        "flac" => &FLAC,
        "sqlite" | "sqlite3" => &SQLITE,
        "exe" | "dll" => &WINDOWS_EXE,
        "rtf" => &RTF,
        _ if TEXT.contains(&ext.as_str()) => return Expect::Text,
        _ => return Expect::Unknown,
    };
    Expect::Magic(format)
}

/// Whether the path names a document a person made (an office file, image, PDF, media,
/// archive, or a text document such as a `.csv`), the files mass deletion counts.
pub fn is_document(path: &str) -> bool {
    match expect(path) {
        Expect::Magic(f) => f.document,
        Expect::Text => extension(path)
            .map(|e| TEXT_DOCUMENTS.contains(&e.to_ascii_lowercase().as_str()))
            .unwrap_or(false),
        Expect::Unknown => false,
    }
}

/// The format whose magic bytes `head` starts with, among those listed here (and ELF).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x7FELF") {
        return Some("ELF program");
    }
    ALL.iter().find(|f| matches_magic(f, head)).map(|f| f.name)
}

static ALL: &[&Format] = &[
    &OFFICE_OLE,
    &PDF,
    &JPEG,
    &PNG,
    &GIF,
    &TIFF,
    &RIFF,
    &PSD,
    &GZIP,
    &BZIP2,
    &XZ,
    &ZSTD,
    &SEVEN_ZIP,
    &RAR,
    &ISO_MEDIA,
    &OGG,
    &FLAC,
    &SQLITE,
    &RTF,
    &ZIP_ARCHIVE,
    &MP3,
    &BMP,
    &WINDOWS_EXE,
];

fn matches_magic(format: &Format, head: &[u8]) -> bool {
    format.magic.iter().any(|(off, bytes)| {
        head.len() >= off + bytes.len() && &head[*off..off + bytes.len()] == *bytes
    })
}

/// How a sample stands against what its name promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// The content is what the name says (or nothing is promised and it is not random).
    Fits,
    /// The name promises a format and the content is random bytes without its magic.
    LostMagic { format: &'static str },
    /// The name promises text and some regions are random (`regions` of `of`).
    NotText { regions: usize, of: usize },
    /// Nothing is promised; the content looks random (a new extension, or none).
    RandomUnknown,
    /// Too little to judge (empty, or too short for entropy to mean anything).
    Undecided,
}

impl Judged {
    /// Whether the content breaks its name's promise.
    pub fn broken(&self) -> bool {
        matches!(self, Judged::LostMagic { .. } | Judged::NotText { .. })
    }
}

/// The smallest region whose entropy is judged: shorter random data cannot reach a
/// threshold that text never reaches.
pub const MIN_JUDGED: u64 = 256;

/// The entropy at or above which a region of `len` bytes looks random. Random data measures
/// lower in small regions (the estimate is biased by about 255 / (2 n ln 2) bits); text and
/// program code stay under 6.5 at any length.
pub fn random_threshold(len: u64) -> f32 {
    let bias = 255.0 / (2.0 * len.max(1) as f64 * std::f64::consts::LN_2);
    ((8.0 - bias - 0.35) as f32).clamp(6.6, crate::sample::RANDOM)
}

/// Which of the sample's regions look random.
pub fn random_regions(sample: &Sample) -> Vec<bool> {
    region_offsets(sample.size)
        .into_iter()
        .zip(&sample.entropy)
        .map(|(offset, entropy)| {
            let len = (sample.size - offset).min(REGION);
            len >= MIN_JUDGED && *entropy >= random_threshold(len)
        })
        .collect()
}

/// Judges `sample` against what `path` promises.
pub fn judge(path: &str, sample: &Sample) -> Judged {
    if sample.size < MIN_JUDGED || sample.entropy.is_empty() {
        return Judged::Undecided;
    }
    let random = random_regions(sample);
    let random_count = random.iter().filter(|r| **r).count();
    match expect(path) {
        Expect::Magic(format) => {
            if matches_magic(format, &sample.head) || random_count == 0 {
                Judged::Fits
            } else if sniff(&sample.head).is_some() {
                // Another real format under the wrong name (a PNG saved as .jpg): a program's
                // doing, not an encryption.
                Judged::Fits
            } else {
                Judged::LostMagic {
                    format: format.name,
                }
            }
        }
        Expect::Text if random_count > 0 => Judged::NotText {
            regions: random_count,
            of: random.len(),
        },
        Expect::Text => Judged::Fits,
        Expect::Unknown if random_count > 0 && sniff(&sample.head).is_none() => {
            Judged::RandomUnknown
        }
        Expect::Unknown => Judged::Fits,
    }
}

/// The extension of the path's file name (`docx` of `/a/b.docx`), none for `.bashrc`.
pub fn extension(path: &str) -> Option<&str> {
    let name = file_name(path);
    let dot = name.rfind('.')?;
    if dot == 0 || dot + 1 == name.len() {
        return None;
    }
    Some(&name[dot + 1..])
}

/// The last part of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The folder part of a path (`/a/b` of `/a/b/c.txt`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// Names programs give files while they write them, renamed to the real name when done
/// (`.part`, `.tmp`, `~`, `.swp`, dpkg's `.dpkg-new`): neither their deletion nor their
/// rename to a real name is damage.
pub fn is_temporary(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    name.ends_with('~')
        || name.starts_with(".#")
        || name.starts_with('.') && name.contains(".tmp")
        || [
            ".part",
            ".tmp",
            ".temp",
            ".swp",
            ".swx",
            ".crdownload",
            ".partial",
            ".dpkg-new",
            ".dpkg-tmp",
            ".dpkg-old",
            ".dpkg-dist",
            ".bak",
            ".orig",
            ".lock",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
        || name.contains(".tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    #[test]
    fn a_document_replaced_by_random_bytes_breaks_its_promise() {
        let random = Sample::of_bytes(&noise(50_000, 7));
        assert_eq!(
            judge("/srv/a/offer.docx", &random),
            Judged::LostMagic {
                format: "office document"
            }
        );
        assert!(judge("/srv/a/notes.txt", &random).broken());
        assert_eq!(judge("/srv/a/blob", &random), Judged::RandomUnknown);
        assert!(!judge("/srv/a/blob", &random).broken());
    }

    #[test]
    fn compressed_content_under_its_own_name_fits() {
        let mut gz = b"\x1F\x8B\x08\x00".to_vec();
        gz.extend(noise(30_000, 3));
        assert_eq!(
            judge("/srv/a/notes.txt.gz", &Sample::of_bytes(&gz)),
            Judged::Fits
        );
        let mut docx = b"PK\x03\x04".to_vec();
        docx.extend(noise(30_000, 5));
        assert_eq!(
            judge("/srv/a/offer.docx", &Sample::of_bytes(&docx)),
            Judged::Fits
        );
        // A real format under another name is a program's doing, not an attack.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(noise(30_000, 9));
        assert_eq!(
            judge("/srv/a/photo.jpg", &Sample::of_bytes(&png)),
            Judged::Fits
        );
    }

    #[test]
    fn intermittent_encryption_of_text_is_seen_in_a_later_region() {
        // Every other 4 KiB block random, starting with the second: the header is intact.
        let text = "Invoice 2024-113, 12 pairs of safety boots, EUR 1,140.00\n".repeat(2000);
        let mut bytes = text.into_bytes();
        let blocks = bytes.len() / 4096;
        for b in (1..blocks).step_by(2) {
            let r = noise(4096, b as u64);
            bytes[b * 4096..(b + 1) * 4096].copy_from_slice(&r);
        }
        let judged = judge("/srv/a/invoices.csv", &Sample::of_bytes(&bytes));
        assert!(judged.broken(), "{judged:?}");
    }

    #[test]
    fn short_files_are_judged_with_a_lower_bar_and_tiny_ones_not_at_all() {
        assert!(judge("/a/n.txt", &Sample::of_bytes(&noise(600, 1))).broken());
        assert!(
            !judge(
                "/a/n.txt",
                &Sample::of_bytes(&"word ".repeat(120).into_bytes())
            )
            .broken()
        );
        assert_eq!(
            judge("/a/n.txt", &Sample::of_bytes(&noise(100, 1))),
            Judged::Undecided
        );
    }

    #[test]
    fn temporary_names_and_documents_are_told_apart() {
        assert!(is_temporary("/srv/a/x.docx.part"));
        assert!(is_temporary("/usr/bin/ls.dpkg-new"));
        assert!(is_temporary("/home/a/.report.docx.swp"));
        assert!(!is_temporary("/srv/a/x.docx"));
        assert!(is_document("/srv/a/x.docx"));
        assert!(is_document("/srv/a/x.csv"));
        assert!(!is_document("/srv/a/main.rs"));
        assert_eq!(extension("/a/.bashrc"), None);
        assert_eq!(parent("/a/b/c.txt"), "/a/b");
    }
}
