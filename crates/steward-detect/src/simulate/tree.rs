//! The tree the simulator attacks: a small business's shared folder in miniature.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Keystream;

/// What [`generate`] made: every file with a hash of its content, so what an attack
/// destroyed can be counted afterwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Relative to the tree's root.
    pub path: String,
    pub size: u64,
    /// FNV-1a 64 of the content: enough to tell changed from unchanged.
    pub hash: u64,
}

/// The manifest's file name, at the tree's root.
pub const MANIFEST: &str = ".steward-simulation.json";

const FOLDERS: &[&str] = &["Accounts", "Customers", "Photos", "Production"];
const WORDS: &[&str] = &[
    "invoice",
    "order",
    "boots",
    "leather",
    "sole",
    "delivery",
    "customer",
    "price",
    "total",
    "quantity",
    "factory",
    "shift",
    "supplier",
    "payment",
    "due",
    "March",
    "April",
    "size",
    "black",
    "brown",
    "stitching",
    "batch",
    "EUR",
    "net",
    "tax",
    "the",
    "of",
    "and",
    "for",
];

/// Kinds of file made, with their share in tenths of a percent and size range in KiB.
const KINDS: &[(&str, u32, u64, u64)] = &[
    ("docx", 200, 8, 96),
    ("xlsx", 150, 8, 64),
    ("pdf", 150, 16, 192),
    ("jpg", 200, 48, 320),
    ("png", 50, 16, 96),
    ("txt", 100, 2, 48),
    ("csv", 100, 4, 64),
    ("zip", 50, 16, 128),
];

/// Makes `count` files under `root` (in four folders), deterministic for a `seed`, and
/// writes the manifest. `root` must not exist or be empty.
pub fn generate(root: &Path, count: usize, seed: u64) -> io::Result<Manifest> {
    fs::create_dir_all(root)?;
    if fs::read_dir(root)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is not empty: the simulator only makes its own tree",
                root.display()
            ),
        ));
    }
    let mut rng = Keystream::new(seed);
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        let folder = FOLDERS[i % FOLDERS.len()];
        let (ext, kib_min, kib_max) = pick_kind(&mut rng);
        let size = (kib_min + rng.below(kib_max - kib_min + 1)) * 1024 + rng.below(1024);
        let name = format!(
            "{} {:04}.{ext}",
            WORDS[rng.below(WORDS.len() as u64) as usize],
            i
        );
        let rel = format!("{folder}/{name}");
        let content = make_content(ext, size as usize, &mut rng);
        let path = root.join(&rel);
        fs::create_dir_all(path.parent().unwrap_or(root))?;
        fs::write(&path, &content)?;
        files.push(ManifestEntry {
            path: rel,
            size: content.len() as u64,
            hash: fnv(&content),
        });
    }
    let manifest = Manifest { files };
    fs::write(
        root.join(MANIFEST),
        serde_json::to_vec(&manifest).map_err(io::Error::other)?,
    )?;
    Ok(manifest)
}

/// Reads the manifest of a tree [`generate`] made.
pub fn read_manifest(root: &Path) -> io::Result<Manifest> {
    let bytes = fs::read(root.join(MANIFEST))?;
    serde_json::from_slice(&bytes).map_err(io::Error::other)
}

/// The tree's files in the order an attack walks them (sorted, as Windows-born ransomware
/// and most directory walkers do).
pub fn files_in_order(root: &Path, manifest: &Manifest) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = manifest.files.iter().map(|f| root.join(&f.path)).collect();
    files.sort();
    files
}

/// The files of the manifest whose content is gone: missing, or changed.
pub fn lost_files(root: &Path, manifest: &Manifest) -> Vec<String> {
    manifest
        .files
        .iter()
        .filter(|f| match fs::read(root.join(&f.path)) {
            Ok(content) => fnv(&content) != f.hash,
            Err(_) => true,
        })
        .map(|f| f.path.clone())
        .collect()
}

fn pick_kind(rng: &mut Keystream) -> (&'static str, u64, u64) {
    let mut roll = rng.below(1000) as u32;
    for (ext, share, min, max) in KINDS {
        if roll < *share {
            return (ext, *min, *max);
        }
        roll -= share;
    }
    ("txt", 2, 48)
}

/// Content that measures like the real format: the right magic bytes, compressed parts as
/// random bytes, text as text.
fn make_content(ext: &str, size: usize, rng: &mut Keystream) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    match ext {
        "docx" | "xlsx" | "zip" => {
            out.extend_from_slice(b"PK\x03\x04\x14\x00\x06\x00\x08\x00");
            out.extend_from_slice(
                b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x13\x00\x00\x00",
            );
            out.extend_from_slice(b"[Content_Types].xml");
            random_to(&mut out, size, rng);
        }
        "pdf" => {
            out.extend_from_slice(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");
            while out.len() < size {
                let text_end = (out.len() + 2048).min(size);
                text_to(&mut out, text_end, rng);
                out.extend_from_slice(b"\nstream\n");
                let stream_end = (out.len() + 12_288).min(size);
                random_to(&mut out, stream_end, rng);
                out.extend_from_slice(b"\nendstream\n");
            }
        }
        "jpg" => {
            out.extend_from_slice(b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01");
            random_to(&mut out, size, rng);
        }
        "png" => {
            out.extend_from_slice(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR");
            random_to(&mut out, size, rng);
        }
        "csv" => {
            out.extend_from_slice(b"date;customer;article;quantity;price\n");
            while out.len() < size {
                let line = format!(
                    "2026-{:02}-{:02};{} {};{}-{};{};{}.{:02}\n",
                    1 + rng.below(12),
                    1 + rng.below(28),
                    WORDS[rng.below(WORDS.len() as u64) as usize],
                    rng.below(900),
                    WORDS[rng.below(WORDS.len() as u64) as usize],
                    rng.below(50),
                    1 + rng.below(400),
                    rng.below(700),
                    rng.below(100)
                );
                out.extend_from_slice(line.as_bytes());
            }
        }
        _ => text_to(&mut out, size, rng),
    }
    out.truncate(size);
    out
}

fn random_to(out: &mut Vec<u8>, size: usize, rng: &mut Keystream) {
    if out.len() < size {
        let start = out.len();
        out.resize(size, 0);
        rng.fill(&mut out[start..]);
    }
}

fn text_to(out: &mut Vec<u8>, size: usize, rng: &mut Keystream) {
    while out.len() < size {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        out.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
    }
    out.truncate(size);
}

/// FNV-1a, 64 bits.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}
