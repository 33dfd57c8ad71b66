//! The backup bench's data set: a seeded, reproducible tree of files of the kinds an office
//! file share holds — prose, source code, structured binaries, the same file copied into
//! several folders, and incompressible data (photos, archives) — and the "change 5 % of the
//! files" step between a first and an incremental backup.
//!
//! A generator of its own (splitmix64) rather than `rand`, so that the same seed gives the
//! same bytes whatever version of a dependency is built.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// splitmix64: fast, and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Log-uniform in lo..hi: many small files, a few large ones, as on a real share.
    fn log_size(&mut self, lo: u64, hi: u64) -> u64 {
        let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (l + u * (h - l)).exp() as u64
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

const WORDS: &[&str] = &[
    "the",
    "order",
    "invoice",
    "customer",
    "boots",
    "winter",
    "delivery",
    "of",
    "and",
    "to",
    "shop",
    "price",
    "please",
    "stock",
    "return",
    "payment",
    "account",
    "meeting",
    "week",
    "monday",
    "report",
    "sales",
    "a",
    "in",
    "for",
    "is",
    "with",
    "on",
    "our",
    "we",
    "will",
    "supplier",
    "leather",
    "size",
    "colour",
    "black",
    "brown",
    "shelf",
    "warehouse",
    "tax",
    "quarter",
    "total",
    "discount",
    "staff",
    "rota",
    "holiday",
    "contract",
    "insurance",
    "heating",
    "rent",
    "thanks",
    "regards",
    "attached",
    "received",
    "pending",
    "confirmed",
];

/// What the generator made: its files (relative paths) and total bytes.
pub struct DataSet {
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

/// Writes about `size` bytes under `root`: 30 % text, 20 % source, 20 % structured binary,
/// 10 % duplicates of earlier files, 20 % random; files of 512 B to 2 MiB (random ones up
/// to 16 MiB) in folders three deep, about 24 files a folder.
pub fn generate(root: &Path, size: u64, seed: u64) -> anyhow::Result<DataSet> {
    let mut rng = Rng::new(seed);
    let mut set = DataSet {
        root: root.to_path_buf(),
        files: Vec::new(),
        bytes: 0,
    };
    let budgets = [
        (Kind::Text, size * 30 / 100),
        (Kind::Source, size * 20 / 100),
        (Kind::Binary, size * 20 / 100),
        (Kind::Duplicate, size * 10 / 100),
        (Kind::Random, size * 20 / 100),
    ];
    let mut buf = Vec::new();
    for (kind, budget) in budgets {
        let mut written = 0;
        while written < budget {
            let n = set.files.len();
            let folder = format!(
                "{}/{}/{}",
                kind.name(),
                format_args!("d{:02}", n / 24 / 16 % 16),
                format_args!("e{:03}", n / 24)
            );
            if kind == Kind::Duplicate {
                // The same file in several folders: the bench's deduplication case.
                let Some(original) = set.files.get(rng.below(n as u64) as usize).cloned() else {
                    break;
                };
                let bytes = fs::read(root.join(&original))?;
                for copy in 0..3 {
                    let rel = PathBuf::from(format!("{folder}/copy{copy}"))
                        .join(original.file_name().unwrap_or_default());
                    write(root, &rel, &bytes)?;
                    written += bytes.len() as u64;
                    set.bytes += bytes.len() as u64;
                    set.files.push(rel);
                }
                continue;
            }
            let len = if kind == Kind::Random {
                rng.log_size(4096, 16 << 20)
            } else {
                rng.log_size(512, 2 << 20)
            }
            .min(budget - written + 512);
            buf.clear();
            kind.content(&mut rng, len as usize, &mut buf);
            let rel = PathBuf::from(format!("{folder}/f{n:06}.{}", kind.extension()));
            write(root, &rel, &buf)?;
            written += buf.len() as u64;
            set.bytes += buf.len() as u64;
            set.files.push(rel);
        }
    }
    Ok(set)
}

/// Changes a seeded 5 % of the files: half get a block in the middle overwritten, half get
/// text appended. Returns how many files and bytes changed.
pub fn change_five_percent(set: &mut DataSet, seed: u64) -> anyhow::Result<(usize, u64)> {
    let mut rng = Rng::new(seed ^ 0x5eed_c4a7);
    let count = set.files.len().div_ceil(20);
    let mut chosen = std::collections::BTreeSet::new();
    while chosen.len() < count {
        chosen.insert(rng.below(set.files.len() as u64) as usize);
    }
    let mut changed = 0;
    for (i, index) in chosen.into_iter().enumerate() {
        let path = set.root.join(&set.files[index]);
        let mut block = vec![0; 16 << 10];
        rng.fill(&mut block);
        if i % 2 == 0 {
            let mut bytes = fs::read(&path)?;
            let at = bytes.len() / 2;
            let end = (at + block.len()).min(bytes.len());
            bytes[at..end].copy_from_slice(&block[..end - at]);
            changed += (end - at) as u64;
            fs::write(&path, bytes)?;
        } else {
            let mut text = Vec::new();
            Kind::Text.content(&mut rng, block.len(), &mut text);
            fs::OpenOptions::new()
                .append(true)
                .open(&path)?
                .write_all(&text)?;
            changed += text.len() as u64;
            set.bytes += text.len() as u64;
        }
    }
    Ok((count, changed))
}

fn write(root: &Path, rel: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, bytes)?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Source,
    Binary,
    Duplicate,
    Random,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Text => "documents",
            Kind::Source => "src",
            Kind::Binary => "data",
            Kind::Duplicate => "shared",
            Kind::Random => "media",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::Text => "txt",
            Kind::Source => "rs",
            Kind::Binary => "dat",
            Kind::Duplicate => "copy",
            Kind::Random => "jpg",
        }
    }

    /// `len` bytes (about, for text) of this kind, appended to `out`.
    fn content(self, rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
        match self {
            Kind::Text | Kind::Duplicate => {
                while out.len() < len {
                    let words = 6 + rng.below(10);
                    for w in 0..words {
                        if w > 0 {
                            out.push(b' ');
                        }
                        out.extend_from_slice(
                            WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes(),
                        );
                    }
                    out.extend_from_slice(b".\n");
                }
            }
            Kind::Source => {
                while out.len() < len {
                    let (f, k, m) = (rng.below(100_000), rng.below(1000), rng.below(64));
                    let line = format!(
                        "/// Computes the {w} of an {v}.\npub fn {w}_{f}(x: u64) -> u64 {{\n    \
                         let v = x.wrapping_mul({k}) + {m};\n    if v > {k} {{ v - {m} }} else \
                         {{ v }}\n}}\n\n",
                        w = WORDS[rng.below(WORDS.len() as u64) as usize],
                        v = WORDS[rng.below(WORDS.len() as u64) as usize],
                    );
                    out.extend_from_slice(line.as_bytes());
                }
            }
            Kind::Binary => {
                // Records: a counter, a rising timestamp, small integers, a random tail.
                let mut t = 1_700_000_000_000u64 + rng.below(1 << 30);
                let mut i = 0u32;
                let mut tail = [0u8; 12];
                while out.len() < len {
                    t += rng.below(5000);
                    out.extend_from_slice(&i.to_le_bytes());
                    out.extend_from_slice(&t.to_le_bytes());
                    out.extend_from_slice(&(rng.below(1000) as u32).to_le_bytes());
                    out.extend_from_slice(&[0; 4]);
                    rng.fill(&mut tail);
                    out.extend_from_slice(&tail);
                    i += 1;
                }
            }
            Kind::Random => {
                let start = out.len();
                out.resize(start + len, 0);
                rng.fill(&mut out[start..]);
            }
        }
        out.truncate(len.max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        Kind::Source.content(&mut Rng::new(7), 10_000, &mut a);
        Kind::Source.content(&mut Rng::new(7), 10_000, &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 10_000);
    }
}
