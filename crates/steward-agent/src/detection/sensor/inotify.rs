//! The inotify sensor: the fallback where fanotify is refused (no `CAP_SYS_ADMIN`, an old
//! kernel, a container).
//!
//! Its limits, which is why fanotify comes first:
//! - **No process id.** inotify does not say who acted: every event is attributed to pid 0,
//!   and the detector scores the whole machine as one process. Canaries still decide at
//!   once; the response cannot stop the right process tree from this sensor alone. The
//!   agent's own writes (a restore job's files) cannot be told apart from anyone else's.
//! - **One watch per directory**, added recursively at start and as directories appear
//!   (files created in a new directory before its watch is added are announced by a scan
//!   of it). A user has at most `fs.inotify.max_user_watches` (8192 on older kernels, up to
//!   a million on newer ones, scaled with memory); past it, or past [`MAX_WATCHES`], folders
//!   go unwatched and are counted in [`Inotify::unwatched`].
//! - **Events lost on overflow.** The kernel's queue (`fs.inotify.max_queued_events`,
//!   16384) drops events when full and says so once (`IN_Q_OVERFLOW`, counted in
//!   [`Inotify::overflows`]).
//! - A write is sampled by opening the file by path when the writer closed it: a rename
//!   in between makes it unreadable (and it is then reported without a sample).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use steward_detect::{FileEvent, Op, Sample};

use super::{MAX_EVENTS_PER_READ, clock_ms, sample_path};

/// Most directories watched.
pub const MAX_WATCHES: usize = 65_536;
/// The read buffer: a few hundred events a read.
const BUFFER: usize = 64 * 1024;
/// Most moves waiting for their other half.
const MAX_PENDING_MOVES: usize = 256;

/// One raw event, copied out of the read buffer.
struct Raw {
    wd: i32,
    flags: ReadFlags,
    cookie: u32,
    name: Option<Vec<u8>>,
}

pub struct Inotify {
    fd: OwnedFd,
    /// Watch descriptor → the directory's path.
    watches: HashMap<i32, PathBuf>,
    buf: Vec<MaybeUninit<u8>>,
    /// `IN_MOVED_FROM` by cookie: (where it was, whether a directory).
    moved_from: Vec<(u32, PathBuf, bool)>,
    pub overflows: u64,
    /// Directories that could not be watched (the watch limit).
    pub unwatched: u64,
}

fn mask() -> WatchFlags {
    WatchFlags::CLOSE_WRITE
        | WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::DONT_FOLLOW
        | WatchFlags::ONLYDIR
}

impl Inotify {
    pub fn open(folders: &[PathBuf]) -> io::Result<Inotify> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let mut sensor = Inotify {
            fd,
            watches: HashMap::new(),
            buf: vec![MaybeUninit::uninit(); BUFFER],
            moved_from: Vec::new(),
            overflows: 0,
            unwatched: 0,
        };
        for folder in folders {
            sensor.watch_tree(folder, None);
        }
        if sensor.watches.is_empty() {
            return Err(io::Error::other(
                "inotify: none of the protected folders could be watched",
            ));
        }
        Ok(sensor)
    }

    /// Watches `root` and every directory under it (not following symlinks). With `found`,
    /// the files already there are announced as created (a directory made and filled before
    /// its watch was added).
    fn watch_tree(&mut self, root: &Path, mut found: Option<&mut Vec<FileEvent>>) {
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            if self.watches.len() >= MAX_WATCHES {
                self.unwatched += 1 + stack.len() as u64;
                return;
            }
            match inotify::add_watch(&self.fd, &dir, mask()) {
                Ok(wd) => {
                    self.watches.insert(wd, dir.clone());
                }
                Err(_) => {
                    self.unwatched += 1;
                    continue;
                }
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file()
                    && let Some(out) = found.as_deref_mut()
                    && out.len() < MAX_EVENTS_PER_READ
                {
                    let path = entry.path();
                    let sample = sample_path(&path);
                    out.push(event(Op::Create, &path, None, sample));
                }
            }
        }
    }

    /// Stops watching `dir` and everything under it (moved out of the protected folders).
    fn unwatch_tree(&mut self, dir: &Path) {
        let gone: Vec<i32> = self
            .watches
            .iter()
            .filter(|(_, p)| p.starts_with(dir))
            .map(|(wd, _)| *wd)
            .collect();
        for wd in gone {
            let _ = inotify::remove_watch(&self.fd, wd);
            self.watches.remove(&wd);
        }
    }

    /// A directory renamed within the folders: its watches stay, their paths change.
    fn rename_tree(&mut self, from: &Path, to: &Path) {
        for path in self.watches.values_mut() {
            if let Ok(rest) = path.strip_prefix(from) {
                *path = if rest.as_os_str().is_empty() {
                    to.to_path_buf()
                } else {
                    to.join(rest)
                };
            }
        }
    }

    pub fn read(&mut self, timeout: Duration, out: &mut Vec<FileEvent>) -> io::Result<()> {
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        {
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        while out.len() < MAX_EVENTS_PER_READ {
            let raws = self.read_raw()?;
            if raws.is_empty() {
                break;
            }
            for raw in raws {
                self.on_event(raw, out);
            }
        }
        // Moves whose other half never came: out of the protected folders.
        for (_, path, is_dir) in std::mem::take(&mut self.moved_from) {
            if is_dir {
                self.unwatch_tree(&path);
            } else {
                out.push(event(Op::Delete, &path, None, None));
            }
        }
        Ok(())
    }

    /// One read of the descriptor's queue (empty when there is nothing).
    fn read_raw(&mut self) -> io::Result<Vec<Raw>> {
        let mut raws = Vec::new();
        let mut reader = inotify::Reader::new(&self.fd, &mut self.buf);
        loop {
            match reader.next() {
                Ok(e) => raws.push(Raw {
                    wd: e.wd(),
                    flags: e.events(),
                    cookie: e.cookie(),
                    name: e.file_name().map(|n| n.to_bytes().to_vec()),
                }),
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => break,
                Err(e) => return Err(e.into()),
            }
            if reader.is_buffer_empty() {
                break;
            }
        }
        Ok(raws)
    }

    fn on_event(&mut self, raw: Raw, out: &mut Vec<FileEvent>) {
        if raw.flags.contains(ReadFlags::QUEUE_OVERFLOW) {
            self.overflows += 1;
            return;
        }
        if raw.flags.contains(ReadFlags::IGNORED) {
            self.watches.remove(&raw.wd);
            return;
        }
        let (Some(dir), Some(name)) = (self.watches.get(&raw.wd), raw.name.as_ref()) else {
            return;
        };
        let path = dir.join(OsStr::from_bytes(name));
        let is_dir = raw.flags.contains(ReadFlags::ISDIR);
        if raw.flags.contains(ReadFlags::CREATE) {
            if is_dir {
                self.watch_tree(&path, Some(out));
            } else {
                out.push(event(Op::Create, &path, None, None));
            }
        }
        if raw.flags.contains(ReadFlags::CLOSE_WRITE) && !is_dir {
            let sample = sample_path(&path);
            out.push(event(Op::Write, &path, None, sample));
        }
        if raw.flags.contains(ReadFlags::MOVED_FROM) {
            if self.moved_from.len() >= MAX_PENDING_MOVES {
                self.moved_from.remove(0);
            }
            self.moved_from.push((raw.cookie, path.clone(), is_dir));
        }
        if raw.flags.contains(ReadFlags::MOVED_TO) {
            let from = self
                .moved_from
                .iter()
                .position(|(cookie, _, _)| *cookie == raw.cookie)
                .map(|i| self.moved_from.remove(i).1);
            match (from, is_dir) {
                (Some(from), true) => self.rename_tree(&from, &path),
                (None, true) => self.watch_tree(&path, Some(out)),
                (Some(from), false) => {
                    let sample = sample_path(&path);
                    out.push(event(Op::Rename, &from, Some(&path), sample));
                }
                (None, false) => {
                    let sample = sample_path(&path);
                    out.push(event(Op::Create, &path, None, sample));
                }
            }
        }
        if raw.flags.contains(ReadFlags::DELETE) && !is_dir {
            out.push(event(Op::Delete, &path, None, None));
        }
    }

    pub fn watched(&self) -> usize {
        self.watches.len()
    }
}

/// A file event attributed to pid 0: inotify does not say who acted.
fn event(op: Op, path: &Path, to: Option<&Path>, sample: Option<Sample>) -> FileEvent {
    FileEvent {
        at_ms: clock_ms(),
        pid: 0,
        op,
        path: path.to_string_lossy().into_owned(),
        to: to.map(|p| p.to_string_lossy().into_owned()),
        sample,
    }
}
