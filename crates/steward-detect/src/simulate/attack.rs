//! The simulated ransomware: the ways real ones destroy files, on the simulator's own tree.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Keystream;
use super::tree::{files_in_order, read_manifest};
use crate::event::Op;

/// How the simulated attack destroys a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Overwrite each file in place, then rename it with an added `.locked` (LockBit).
    InPlace,
    /// Rename each file to `.locked` first, then overwrite it under the new name.
    EncryptThenRename,
    /// Write an encrypted copy beside each file (`.enc`), then delete the original.
    CopyThenDelete,
    /// Encrypt every other 4 KiB block in place, from the first, and keep the name.
    Intermittent,
    /// Leave a ransom note in every folder first, then encrypt in place.
    NoteFirst,
    /// In place, one file a second: under any rate threshold.
    Slow,
    /// In place, the files split over several worker processes.
    Workers,
    /// Overwrite in place and keep the original name and extension.
    KeepExtension,
}

impl Mode {
    pub const ALL: [Mode; 8] = [
        Mode::InPlace,
        Mode::EncryptThenRename,
        Mode::CopyThenDelete,
        Mode::Intermittent,
        Mode::NoteFirst,
        Mode::Slow,
        Mode::Workers,
        Mode::KeepExtension,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::InPlace => "in-place",
            Mode::EncryptThenRename => "encrypt-then-rename",
            Mode::CopyThenDelete => "copy-then-delete",
            Mode::Intermittent => "intermittent",
            Mode::NoteFirst => "note-first",
            Mode::Slow => "slow",
            Mode::Workers => "workers",
            Mode::KeepExtension => "keep-extension",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// How many processes the attack runs in.
    pub fn workers(self) -> usize {
        if self == Mode::Workers { 4 } else { 1 }
    }

    /// The pause between two files: one second for the slow mode; otherwise the pace of
    /// the fastest ransomware measured in the wild (LockBit, about 25,000 files a minute:
    /// 2.4 ms a file, per worker). [`Options::unthrottled`] takes the pause away: this
    /// machine's own speed on small cached files, many times any real attack's.
    pub fn pace(self) -> Duration {
        if self == Mode::Slow {
            Duration::from_secs(1)
        } else {
            LOCKBIT_PACE
        }
    }
}

/// LockBit's measured pace: about 25,000 files a minute.
pub const LOCKBIT_PACE: Duration = Duration::from_micros(2_400);

/// Told of each operation the attack made, right after it (the synthetic sensor).
pub trait Observer {
    fn did(&mut self, op: Op, path: &Path, to: Option<&Path>);
}

/// Observes nothing: a live attack, watched by the real sensor.
pub struct Unobserved;

impl Observer for Unobserved {
    fn did(&mut self, _: Op, _: &Path, _: Option<&Path>) {}
}

/// The name of the ransom note left in each folder.
pub const NOTE: &str = "HOW_TO_RECOVER_YOUR_FILES.txt";
const NOTE_TEXT: &str = "This is a Steward ransomware drill. Nothing was stolen and the files \
     in this scratch folder were made by the drill itself.\n";

/// How one attacking process runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The "encryption" key: the same key undoes it.
    pub key: u64,
    /// This worker's share: part `.0` of `.1` (`(0, 1)`: every file).
    pub part: (usize, usize),
    /// The pause between two files.
    pub pace: Duration,
    /// Walk the tree as real ransomware does, sorted, attacking every file found there
    /// (canaries placed in it included), instead of only the files the tree's manifest
    /// lists. Still refused on a folder without the simulator's manifest.
    pub walk: bool,
}

impl Options {
    /// No pause between files (the slow mode's second stays).
    pub fn unthrottled(mut self, mode: Mode) -> Options {
        if mode != Mode::Slow {
            self.pace = Duration::ZERO;
        }
        self
    }

    /// One process attacking every file at the mode's own pace.
    pub fn of(mode: Mode, key: u64) -> Options {
        Options {
            key,
            part: (0, 1),
            pace: mode.pace(),
            walk: false,
        }
    }
}

/// Runs the attack on the tree at `root`. Touches only the files the tree's manifest
/// lists. Returns the number of files it finished.
pub fn attack(
    root: &Path,
    mode: Mode,
    options: Options,
    observer: &mut dyn Observer,
) -> io::Result<usize> {
    let part = options.part;
    let manifest = read_manifest(root)?;
    let in_order = if options.walk {
        walk_sorted(root)?
    } else {
        files_in_order(root, &manifest)
    };
    let files: Vec<PathBuf> = in_order
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % part.1.max(1) == part.0)
        .map(|(_, f)| f)
        .collect();
    if mode == Mode::NoteFirst && part.0 == 0 {
        let mut folders: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
        folders.dedup();
        for folder in folders {
            let note = folder.join(NOTE);
            fs::write(&note, NOTE_TEXT)?;
            observer.did(Op::Create, &note, None);
            observer.did(Op::Write, &note, None);
        }
    }
    let mut stream = Keystream::new(options.key);
    let mut done = 0;
    for file in &files {
        if done > 0 && !options.pace.is_zero() {
            std::thread::sleep(options.pace);
        }
        match mode {
            Mode::InPlace | Mode::NoteFirst | Mode::Slow | Mode::Workers => {
                overwrite(file, &mut stream, false)?;
                observer.did(Op::Write, file, None);
                let locked = with_suffix(file, ".locked");
                fs::rename(file, &locked)?;
                observer.did(Op::Rename, file, Some(&locked));
            }
            Mode::EncryptThenRename => {
                let locked = with_suffix(file, ".locked");
                fs::rename(file, &locked)?;
                observer.did(Op::Rename, file, Some(&locked));
                overwrite(&locked, &mut stream, false)?;
                observer.did(Op::Write, &locked, None);
            }
            Mode::CopyThenDelete => {
                let mut content = fs::read(file)?;
                stream.apply(&mut content);
                let copy = with_suffix(file, ".enc");
                observer.did(Op::Create, &copy, None);
                fs::write(&copy, &content)?;
                observer.did(Op::Write, &copy, None);
                fs::remove_file(file)?;
                observer.did(Op::Delete, file, None);
            }
            Mode::Intermittent => {
                overwrite(file, &mut stream, true)?;
                observer.did(Op::Write, file, None);
            }
            Mode::KeepExtension => {
                overwrite(file, &mut stream, false)?;
                observer.did(Op::Write, file, None);
            }
        }
        done += 1;
    }
    Ok(done)
}

/// Every file under `root` but the manifest, sorted by path (folders' files in name order:
/// `!Accounts.xlsx` before `April 0000.png`).
fn walk_sorted(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() && entry.file_name() != super::tree::MANIFEST {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Encrypts a file in place: all of it, or every other 4 KiB block from the first.
fn overwrite(path: &Path, stream: &mut Keystream, every_other_block: bool) -> io::Result<()> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    if every_other_block {
        for block in content.chunks_mut(4096).step_by(2) {
            stream.apply(block);
        }
    } else {
        stream.apply(&mut content);
    }
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&content)?;
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads a worker's share, `I/N`.
pub fn parse_part(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("a part is I/N with I < N, such as 0/4, not {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || i >= n || n > 64 {
        return Err(bad());
    }
    Ok((i, n))
}
