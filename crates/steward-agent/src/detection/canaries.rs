//! Canary files: small, realistic business documents placed in each protected folder so
//! that they sort first and last in it. Ransomware walks folders in name order (or in
//! reverse); a canary touched is decisive for the detector at once, so the first or the
//! last file it reaches gives it away.
//!
//! Rules: never hidden (no leading dot: some ransomware skips hidden files), real content
//! (a `.xlsx` and a `.docx` that open, a `.pdf`), never written over a user's file of the
//! same name, owned by the folder's owner so they look like the folder's other files.
//! What was placed is remembered in the agent's state directory ([`STATE_FILE`]): so the
//! canaries are removed when the policy drops them or their folder leaves it, recognised
//! as ours (and kept out of Steward's own backups, [`backup_excludes`]), and never confused
//! with a user's file.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steward_core::detection::DetectionPolicy;

/// Where the placed canaries are recorded, in the agent's state directory.
pub const STATE_FILE: &str = "canaries.json";
/// Most folders that get canaries (each protected folder, then its direct subfolders that
/// hold files, in name order).
pub const MAX_FOLDERS: usize = 64;
/// Most subfolders of one protected folder looked at.
const MAX_SUBFOLDERS_SCANNED: usize = 1024;

/// The canaries of one folder: two that sort first (`!` comes before digits and letters,
/// in byte order and in the usual locales' collation), two that sort last.
pub const NAMES: [&str; 4] = [
    "!Accounts 2024.xlsx",
    "!Contracts signed.docx",
    "zz Payroll archive.pdf",
    "zz Supplier prices.xlsx",
];

/// One canary placed: its path and size (a file of another size at that path is not ours
/// any more: a person saved over it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placed {
    pub path: String,
    pub size: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    placed: Vec<Placed>,
}

fn load(state_dir: &Path) -> Vec<Placed> {
    fs::read(state_dir.join(STATE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
        .map(|r| r.placed)
        .unwrap_or_default()
}

fn save(state_dir: &Path, placed: &[Placed]) -> io::Result<()> {
    let record = Record {
        placed: placed.to_vec(),
    };
    let bytes = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
    let tmp = state_dir.join(format!("{STATE_FILE}.tmp"));
    fs::write(&tmp, bytes)?;
    fs::rename(tmp, state_dir.join(STATE_FILE))
}

/// The canaries recorded as placed (the detector's list).
pub fn placed(state_dir: &Path) -> Vec<PathBuf> {
    load(state_dir)
        .into_iter()
        .map(|p| PathBuf::from(p.path))
        .collect()
}

/// Places the canaries `policy` asks for and removes those it no longer does; returns the
/// paths of all canaries now in place, for the detector.
pub fn apply(state_dir: &Path, policy: &DetectionPolicy) -> io::Result<Vec<PathBuf>> {
    let before = load(state_dir);
    let ours: BTreeSet<PathBuf> = before.iter().map(|p| PathBuf::from(&p.path)).collect();
    let wanted: BTreeSet<PathBuf> = if policy.canaries {
        target_folders(&policy.folders, &ours)
            .iter()
            .flat_map(|folder| NAMES.iter().map(move |name| folder.join(name)))
            .collect()
    } else {
        BTreeSet::new()
    };
    let mut now = Vec::new();
    for old in &before {
        let path = Path::new(&old.path);
        if wanted.contains(path) {
            // Still wanted: kept if it is still ours (a person may have saved over it).
            if still_ours(old) {
                now.push(old.clone());
            }
        } else if still_ours(old) {
            fs::remove_file(path)?;
        }
    }
    for path in &wanted {
        if now.iter().any(|p| Path::new(&p.path) == path) {
            continue;
        }
        match place(path) {
            Ok(Some(size)) => now.push(Placed {
                path: path.to_string_lossy().into_owned(),
                size,
            }),
            // A user's file of that name: left alone, and no canary there.
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not place a canary")
            }
        }
    }
    now.sort();
    save(state_dir, &now)?;
    Ok(now.into_iter().map(|p| PathBuf::from(p.path)).collect())
}

fn still_ours(placed: &Placed) -> bool {
    fs::symlink_metadata(&placed.path)
        .map(|m| m.is_file() && m.len() == placed.size)
        .unwrap_or(false)
}

/// Each protected folder that exists, then the direct subfolders of each that hold files
/// (other than our canaries), not hidden, in name order; at most [`MAX_FOLDERS`].
fn target_folders(folders: &[String], ours: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    let mut targets: Vec<PathBuf> = folders
        .iter()
        .map(PathBuf::from)
        .filter(|f| f.is_dir())
        .collect();
    targets.truncate(MAX_FOLDERS);
    let tops = targets.clone();
    for top in tops {
        let Ok(entries) = fs::read_dir(&top) else {
            continue;
        };
        let mut subs: Vec<PathBuf> = entries
            .flatten()
            .take(MAX_SUBFOLDERS_SCANNED)
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|dir| holds_files(dir, ours))
            .collect();
        subs.sort();
        for sub in subs {
            if targets.len() >= MAX_FOLDERS {
                return targets;
            }
            targets.push(sub);
        }
    }
    targets
}

fn holds_files(dir: &Path, ours: &BTreeSet<PathBuf>) -> bool {
    fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().take(MAX_SUBFOLDERS_SCANNED).any(|e| {
                e.file_type().map(|t| t.is_file()).unwrap_or(false) && !ours.contains(&e.path())
            })
        })
        .unwrap_or(false)
}

/// Writes the canary at `path` unless something is there already; `Ok(None)` then. Owned
/// by the folder's owner. Returns its size.
fn place(path: &Path) -> io::Result<Option<u64>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let content = content_for(&name);
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e),
    };
    file.write_all(&content)?;
    file.sync_all()?;
    if let Some(folder) = path.parent() {
        let owner = fs::metadata(folder)?;
        std::os::unix::fs::fchown(&file, Some(owner.uid()), Some(owner.gid()))?;
    }
    Ok(Some(content.len() as u64))
}

/// The content of the canary called `name`, by its extension.
pub fn content_for(name: &str) -> Vec<u8> {
    let title = name
        .trim_start_matches(['!', '0', ' '])
        .trim_start_matches("zz ")
        .rsplit_once('.')
        .map(|(stem, _)| stem)
        .unwrap_or(name);
    if name.ends_with(".xlsx") {
        documents::xlsx(title)
    } else if name.ends_with(".docx") {
        documents::docx(title)
    } else {
        documents::pdf(title)
    }
}

/// The glob patterns that keep the canaries out of Steward's own backups: each placed
/// canary's path, its glob characters escaped.
pub fn backup_excludes(state_dir: &Path) -> Vec<String> {
    load(state_dir)
        .into_iter()
        .map(|p| escape_glob(&p.path))
        .collect()
}

fn escape_glob(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Minimal real documents: an Office Open XML spreadsheet and word-processing document (a
/// zip of the few parts Office needs, stored uncompressed) and a one-page PDF.
mod documents {
    /// A spreadsheet with a title row and a few figures.
    pub fn xlsx(title: &str) -> Vec<u8> {
        let title = escape(title);
        let sheet = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{title}</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Q1</t></is></c><c r="B2"><v>48210.5</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>Q2</t></is></c><c r="B3"><v>51377.25</v></c></row></sheetData></worksheet>"#
        );
        zip(&[
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.as_bytes(),
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.as_bytes(),
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.as_bytes(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.as_bytes(),
            ),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ])
    }

    /// A word-processing document of two paragraphs.
    pub fn docx(title: &str) -> Vec<u8> {
        let title = escape(title);
        let document = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{title}</w:t></w:r></w:p><w:p><w:r><w:t>Signed copies are kept in this folder. Contact the office for originals.</w:t></w:r></w:p></w:body></w:document>"#
        );
        zip(&[
            (
                "[Content_Types].xml",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.as_bytes(),
            ),
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.as_bytes(),
            ),
            ("word/document.xml", document.as_bytes()),
        ])
    }

    /// A one-page PDF with the title as its text; the cross-reference offsets computed.
    pub fn pdf(title: &str) -> Vec<u8> {
        let text: String = title
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .filter(|c| !matches!(c, '(' | ')' | '\\'))
            .collect();
        let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_string(),
            format!(
                "<< /Length {} >>\nstream\n{stream}\nendstream",
                stream.len()
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// A zip of `files`, stored (no compression): local headers, the central directory,
    /// its end record. A fixed timestamp (2024-01-08 09:30).
    pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        const TIME: u16 = (9 << 11) | (30 << 5);
        const DATE: u16 = ((2024 - 1980) << 9) | (1 << 5) | 8;
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u32;
            let crc = crc32(data);
            let size = data.len() as u32;
            let name_len = name.len() as u16;
            // Local file header.
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes()); // version needed
            out.extend_from_slice(&0u16.to_le_bytes()); // flags
            out.extend_from_slice(&0u16.to_le_bytes()); // stored
            out.extend_from_slice(&TIME.to_le_bytes());
            out.extend_from_slice(&DATE.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // extra
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            // Its central directory entry.
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes()); // made by
            central.extend_from_slice(&20u16.to_le_bytes()); // needed
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&TIME.to_le_bytes());
            central.extend_from_slice(&DATE.to_le_bytes());
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&size.to_le_bytes());
            central.extend_from_slice(&size.to_le_bytes());
            central.extend_from_slice(&name_len.to_le_bytes());
            central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
            central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let central_offset = out.len() as u32;
        let count = files.len() as u16;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]); // disk numbers
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&central_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // comment
        out
    }

    /// CRC-32 (IEEE), bit by bit: a few kilobytes per canary, no table needed.
    pub fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn crc32_matches_the_standard_check_value() {
            assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(folders: &[&Path], canaries: bool) -> DetectionPolicy {
        DetectionPolicy {
            folders: folders
                .iter()
                .map(|f| f.to_string_lossy().into_owned())
                .collect(),
            canaries,
            auto_stop: false,
            auto_isolate: false,
        }
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn canaries_sort_first_and_last_are_real_documents_and_never_hidden() {
        let state = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        for name in [
            "Budget.xlsx",
            "letter.docx",
            "Zebra photos.jpg",
            "100 invoices.pdf",
        ] {
            fs::write(share.path().join(name), "x").unwrap();
        }
        fs::create_dir(share.path().join("Clients")).unwrap();
        fs::write(share.path().join("Clients/acme.docx"), "x").unwrap();
        fs::create_dir(share.path().join("empty")).unwrap();
        fs::create_dir(share.path().join(".cache")).unwrap();
        fs::write(share.path().join(".cache/blob"), "x").unwrap();

        let placed = apply(state.path(), &policy(&[share.path()], true)).unwrap();
        assert_eq!(
            placed.len(),
            8,
            "the folder and its subfolder with files: {placed:?}"
        );
        let names = names_in(share.path());
        assert!(names.first().unwrap().starts_with('!'), "{names:?}");
        // `.cache` sorts before `!`-names in byte order but is hidden, never a canary.
        let visible: Vec<&String> = names.iter().filter(|n| !n.starts_with('.')).collect();
        assert!(visible[0].starts_with('!') && visible[1].starts_with('!'));
        assert!(visible.last().unwrap().starts_with("zz "), "{names:?}");
        assert!(names_in(&share.path().join("Clients"))[0].starts_with('!'));
        assert_eq!(names_in(&share.path().join("empty")).len(), 0);
        assert_eq!(names_in(&share.path().join(".cache")), ["blob"]);
        for path in &placed {
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(!name.starts_with('.'));
            let bytes = fs::read(path).unwrap();
            if name.ends_with(".pdf") {
                assert!(bytes.starts_with(b"%PDF-1.4") && bytes.ends_with(b"%%EOF\n"));
            } else {
                assert!(bytes.starts_with(b"PK\x03\x04"), "{name}");
                let text = String::from_utf8_lossy(&bytes);
                assert!(text.contains("[Content_Types].xml"));
                // Where Python is at hand, its zip reader checks every entry's CRC.
                let checked = std::process::Command::new("python3")
                    .args(["-c", "import sys, zipfile; assert zipfile.ZipFile(sys.argv[1]).testzip() is None"])
                    .arg(path)
                    .status();
                if let Ok(status) = checked {
                    assert!(status.success(), "{name} is not a sound zip");
                }
            }
        }
        assert_eq!(placed, super::placed(state.path()));
    }

    #[test]
    fn a_users_file_is_never_overwritten_and_canaries_leave_with_the_policy() {
        let state = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let users = share.path().join(NAMES[0]);
        fs::write(&users, "the user's own accounts").unwrap();

        let placed = apply(state.path(), &policy(&[share.path(), other.path()], true)).unwrap();
        assert_eq!(placed.len(), 7, "{placed:?}");
        assert!(!placed.contains(&users));
        assert_eq!(
            fs::read_to_string(&users).unwrap(),
            "the user's own accounts"
        );

        // Applying again changes nothing.
        let again = apply(state.path(), &policy(&[share.path(), other.path()], true)).unwrap();
        assert_eq!(placed, again);

        // A canary a person saved over is theirs now: not removed, not ours.
        let saved_over = other.path().join(NAMES[1]);
        fs::write(&saved_over, "edited by a person, a different size").unwrap();

        // The second folder leaves the policy: its canaries go, except the one saved over.
        let placed = apply(state.path(), &policy(&[share.path()], true)).unwrap();
        assert_eq!(placed.len(), 3);
        assert_eq!(names_in(other.path()), [NAMES[1]]);

        // Canaries turned off: all of ours go, the user's file stays.
        let placed = apply(state.path(), &policy(&[share.path()], false)).unwrap();
        assert!(placed.is_empty());
        assert_eq!(names_in(share.path()), [NAMES[0]]);
        assert!(backup_excludes(state.path()).is_empty());
    }

    #[test]
    fn canaries_belong_to_the_folders_owner() {
        let state = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        // As root, hand the folder to another user and see the canaries follow.
        let me = fs::metadata(share.path()).unwrap().uid();
        let other = if me == 0 { 1000 } else { me };
        if me == 0 {
            std::os::unix::fs::chown(share.path(), Some(other), Some(other)).unwrap();
        }
        let placed = apply(state.path(), &policy(&[share.path()], true)).unwrap();
        for path in placed {
            let meta = fs::metadata(path).unwrap();
            assert_eq!(meta.uid(), other);
            assert_eq!(meta.mode() & 0o444, 0o444, "readable");
        }
    }

    #[test]
    fn backups_exclude_exactly_the_canaries() {
        let state = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        let odd = share.path().join("Clients [2024]");
        fs::create_dir(&odd).unwrap();
        fs::write(odd.join("a.txt"), "x").unwrap();
        let placed = apply(state.path(), &policy(&[share.path()], true)).unwrap();
        let excludes = backup_excludes(state.path());
        assert_eq!(excludes.len(), placed.len());
        assert!(
            excludes
                .iter()
                .any(|e| e.contains("Clients \\[2024\\]/!Accounts 2024.xlsx")),
            "{excludes:?}"
        );
        assert!(excludes.iter().all(|e| !e.ends_with("a.txt")));
    }
}
