//! The fanotify sensor: every file event carries the pid of the process that caused it.
//!
//! Hand-written FFI over `libc` (with `residency` and `realtime`, one of the agent's
//! three modules that allow `unsafe`): no maintained crate supports fanotify's FID modes
//! (`FAN_REPORT_DFID_NAME`), which are the only way to hear of creates, renames and deletes.
//! Needs `CAP_SYS_ADMIN` (and `CAP_DAC_READ_SEARCH` for `open_by_handle_at`; root has both).
//!
//! One notification group, `FAN_REPORT_DFID_NAME | FAN_REPORT_FID`, with filesystem marks
//! (`FAN_MARK_FILESYSTEM`) on the filesystems that hold the protected folders, filtered by
//! path prefix here (a mark on a folder would not cover its subfolders), for
//! `FAN_CLOSE_WRITE | FAN_CREATE | FAN_DELETE | FAN_RENAME` (or `FAN_MOVED_FROM |
//! FAN_MOVED_TO`, paired by pid, on kernels before 5.17). Each event names the directory
//! by a file handle and the entry by its name; a close-write also carries the written
//! file's own handle.
//! - A directory's handle is turned into its path with `open_by_handle_at` + `readlink`,
//!   cached (bounded; a directory's move drops the cached paths under its old name). An
//!   event outside the folders, or of the agent itself, costs a cache lookup and nothing
//!   more: on a busy filesystem most events are such (a build elsewhere, a database).
//! - A close-write inside the folders is sampled through the file's own handle
//!   (`open_by_handle_at`, `O_NOATIME`): the very inode that was written, whatever name it
//!   has by now, with no window for a later rename to make us read another file.
//!
//! One queue keeps the kernel's order: a file's write comes before its rename.
//!
//! Limits: the kernel's queue holds 16384 events; past that it drops events and says so
//! once (`FAN_Q_OVERFLOW`, counted in [`Fanotify::overflows`]).

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use steward_detect::{FileEvent, Op, Sample};

use super::{clock_ms, sample_file, sample_path, under_any};

/// How much one read takes from the kernel's queue: about 40 events (a close-write with
/// its two records is about 100 bytes). Each write is sampled before the detector sees
/// any event of the read; a small read puts the first writes of an attack in front of the
/// detector within a fraction of a millisecond instead of after thousands of others.
const READ: usize = 4 * 1024;
/// Most directory paths remembered.
const MAX_DIRS: usize = 4096;

/// A directory the cache knows: its path, and whether it is inside the protected folders
/// (then so is every file event in it).
#[derive(Clone)]
struct Dir {
    path: PathBuf,
    inside: bool,
}

/// The group, and what is needed to read it.
pub struct Fanotify {
    group: OwnedFd,
    /// Whether the group has `FAN_RENAME` (one event with both names) or pairs
    /// `FAN_MOVED_FROM` with `FAN_MOVED_TO`.
    rename_events: bool,
    /// A descriptor inside each marked filesystem, by fsid, for `open_by_handle_at`.
    mounts: Vec<([u8; 8], OwnedFd)>,
    /// Directory handle (fsid + `struct file_handle`) → its path, or `None` when it could
    /// not be opened (gone).
    dirs: HashMap<Box<[u8]>, Option<Dir>>,
    folders: Vec<PathBuf>,
    ignore_pid: u32,
    buf: Vec<u8>,
    /// A `FAN_MOVED_FROM` waiting for its `FAN_MOVED_TO` (older kernels only).
    moved_from: Option<(u32, String)>,
    /// The samples of the files last written, by path, until they are renamed, deleted or
    /// created again: a rename right after a write (a package's `.dpkg-new` put in place,
    /// an attack's `.locked`) reuses the write's sample instead of reading the file again.
    /// Events come in the kernel's order, so a later write of the file updates it first.
    written: HashMap<PathBuf, Sample>,
    /// The engine's rehearsal folder ([`super::super::rehearsal`]) and its filesystem's id,
    /// when it is on a marked filesystem: the agent's own events there are read as an
    /// attack's would be (the detector then ignores them as the agent's), which keeps that
    /// code in memory.
    rehearsal: Option<(PathBuf, [u8; 8])>,
    pub overflows: u64,
}

/// Most samples kept in [`Fanotify::written`].
const MAX_WRITTEN: usize = 256;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn init(flags: libc::c_uint) -> io::Result<OwnedFd> {
    let event_flags = (libc::O_RDONLY | libc::O_LARGEFILE | libc::O_CLOEXEC) as libc::c_uint;
    // SAFETY: fanotify_init takes two integers and returns a new descriptor or -1.
    let fd = check(unsafe {
        libc::fanotify_init(
            flags | libc::FAN_CLASS_NOTIF | libc::FAN_CLOEXEC | libc::FAN_NONBLOCK,
            event_flags,
        )
    })?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn mark_filesystem(group: &OwnedFd, mask: u64, folder: &Path) -> io::Result<()> {
    let path = CString::new(folder.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a folder's path"))?;
    // SAFETY: a valid descriptor, a NUL-terminated path that outlives the call.
    check(unsafe {
        libc::fanotify_mark(
            group.as_raw_fd(),
            libc::FAN_MARK_ADD | libc::FAN_MARK_FILESYSTEM,
            mask,
            libc::AT_FDCWD,
            path.as_ptr(),
        )
    })?;
    Ok(())
}

/// The filesystem id of the filesystem holding `file`, as the kernel puts it in events.
fn fsid_of(file: &OwnedFd) -> io::Result<[u8; 8]> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct it is given on success.
    check(unsafe { libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: initialised by the successful call above.
    let st = unsafe { st.assume_init() };
    // `fsid_t` is two private ints: the same 8 bytes as the event's `__kernel_fsid_t`.
    // SAFETY: fsid_t is a plain 8-byte value with no invalid bit patterns.
    Ok(unsafe { std::mem::transmute_copy::<libc::fsid_t, [u8; 8]>(&st.f_fsid) })
}

/// One info record of an event, by type: the directory's handle and the entry's name
/// (`DFID_NAME`, and `OLD_`/`NEW_` for a rename), or the written file's own handle (`FID`).
/// Both hold `fsid (8) + struct file_handle`, as [`Record::key`].
#[derive(Default)]
struct Records<'a> {
    here: Option<Named<'a>>,
    old: Option<Named<'a>>,
    new: Option<Named<'a>>,
    file: Option<&'a [u8]>,
}

/// A directory (fsid + handle) and a name in it.
#[derive(Clone, Copy)]
struct Named<'a> {
    dir: &'a [u8],
    name: &'a [u8],
}

impl<'a> Records<'a> {
    /// The records of one event (after its metadata). A record that does not parse ends
    /// the list: what came before it is kept.
    fn parse(mut infos: &'a [u8]) -> Records<'a> {
        let mut found = Records::default();
        while infos.len() >= 4 {
            let kind = infos[0];
            let len = u16::from_ne_bytes([infos[2], infos[3]]) as usize;
            if len < 4 || len > infos.len() {
                break;
            }
            let record = &infos[..len];
            infos = &infos[len..];
            let Some((key, rest)) = split_handle(record) else {
                break;
            };
            let named = || {
                let name = CStr::from_bytes_until_nul(rest).ok()?.to_bytes();
                Some(Named { dir: key, name })
            };
            match kind {
                libc::FAN_EVENT_INFO_TYPE_DFID_NAME => found.here = named(),
                libc::FAN_EVENT_INFO_TYPE_OLD_DFID_NAME => found.old = named(),
                libc::FAN_EVENT_INFO_TYPE_NEW_DFID_NAME => found.new = named(),
                libc::FAN_EVENT_INFO_TYPE_FID => found.file = Some(key),
                _ => {}
            }
        }
        found
    }
}

/// A record's `fsid (8) + struct file_handle (4 + 4 + bytes)`, and what follows it (the
/// name, for a `DFID_NAME` record). The record's header is 4 bytes.
fn split_handle(record: &[u8]) -> Option<(&[u8], &[u8])> {
    let handle_bytes = u32::from_ne_bytes(record.get(12..16)?.try_into().ok()?) as usize;
    let end = 20usize.checked_add(handle_bytes)?;
    Some((record.get(4..end)?, record.get(end..)?))
}

impl Fanotify {
    /// The group with marks on the filesystems of `folders`. Fails (`EPERM` without
    /// `CAP_SYS_ADMIN`, `EINVAL` on kernels before 5.9) so the caller falls back to inotify.
    pub fn open(folders: &[PathBuf], ignore_pid: u32) -> io::Result<Fanotify> {
        let group = init(libc::FAN_REPORT_DFID_NAME | libc::FAN_REPORT_FID)?;
        let base = libc::FAN_CLOSE_WRITE | libc::FAN_CREATE | libc::FAN_DELETE | libc::FAN_ONDIR;
        let mut rename_events = true;
        let mut mounts = Vec::new();
        for (i, folder) in folders.iter().enumerate() {
            if rename_events {
                match mark_filesystem(&group, base | libc::FAN_RENAME, folder) {
                    Ok(()) => {}
                    Err(e) if i == 0 && e.raw_os_error() == Some(libc::EINVAL) => {
                        rename_events = false;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !rename_events {
                mark_filesystem(
                    &group,
                    base | libc::FAN_MOVED_FROM | libc::FAN_MOVED_TO,
                    folder,
                )?;
            }
            let dir: OwnedFd = File::open(folder)?.into();
            let fsid = fsid_of(&dir)?;
            if !mounts.iter().any(|(id, _)| *id == fsid) {
                mounts.push((fsid, dir));
            }
        }
        Ok(Fanotify {
            group,
            rename_events,
            mounts,
            dirs: HashMap::new(),
            folders: folders.to_vec(),
            ignore_pid,
            buf: vec![0; READ],
            moved_from: None,
            written: HashMap::new(),
            rehearsal: None,
            overflows: 0,
        })
    }

    /// Reads the agent's own events in `dir` as any other process's, when `dir`'s parent
    /// is on one of the marked filesystems: then `dir` is made (0700) and `true` returned.
    /// Otherwise `dir` is removed, so that the rehearsal writes nothing no sensor reads
    /// (marking another filesystem for it would make the sensor hear all of that one's
    /// writes).
    pub fn rehearse_in(&mut self, dir: &Path) -> bool {
        use std::os::unix::fs::DirBuilderExt;
        // Compared with the paths `readlink` gives the directory cache: resolved.
        let marked = dir
            .parent()
            .and_then(|parent| parent.canonicalize().ok())
            .and_then(|parent| {
                let fsid = File::open(&parent).and_then(|f| fsid_of(&f.into())).ok()?;
                let name = dir.file_name()?;
                self.mounts
                    .iter()
                    .any(|(id, _)| *id == fsid)
                    .then(|| (parent.join(name), fsid))
            });
        let Some((dir, fsid)) = marked else {
            super::super::rehearsal::forget(dir);
            return false;
        };
        let made = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir);
        if made.is_err() {
            return false;
        }
        self.folders.push(dir.clone());
        self.rehearsal = Some((dir, fsid));
        true
    }

    /// Whether an event of the agent's own is in the rehearsal folder (its filesystem's id
    /// first: the agent's writes elsewhere cost no directory lookup).
    fn rehearsing(&mut self, records: &Records<'_>) -> bool {
        let Some(named) = records.here.or(records.old) else {
            return false;
        };
        let folder = match &self.rehearsal {
            Some((folder, fsid)) if named.dir.get(..8) == Some(fsid.as_slice()) => folder.clone(),
            _ => return false,
        };
        self.dir(named.dir)
            .is_some_and(|d| d.path.starts_with(&folder))
    }

    /// Waits up to `timeout` for events, then reads some of what the group holds (at most
    /// [`READ`] bytes of events), handing each file event to `emit` as soon as it is
    /// sampled.
    pub fn read(&mut self, timeout: Duration, emit: &mut dyn FnMut(FileEvent)) -> io::Result<()> {
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&self.group, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.drain(emit)?;
        // A move out of the protected folders (or whose other half was lost): the file left.
        // (Kernels before 5.17 only; a pair split across two reads comes out as a delete
        // and a create.)
        if let Some((pid, path)) = self.moved_from.take() {
            emit(file_event(pid, Op::Delete, path, None, None));
        }
        Ok(())
    }

    /// One read of the group (at most [`READ`] bytes, about 40 events). Each event goes to
    /// `emit` (the detector) before the next is sampled, so at an attack's full speed the
    /// stop comes right after the file that decided it.
    fn drain(&mut self, emit: &mut dyn FnMut(FileEvent)) -> io::Result<()> {
        let n = match rustix::io::read(self.group.as_fd(), &mut self.buf[..READ]) {
            Ok(n) => n,
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let buf = std::mem::take(&mut self.buf);
        let mut at = 0;
        while at + EVENT_HEADER <= n {
            let Some(meta) = Metadata::parse(&buf[at..n]) else {
                break;
            };
            // The kernel returns whole events; a short one would only lose its records.
            let end = (at + meta.event_len).min(n);
            let start = (at + meta.metadata_len).min(end);
            self.on_event(&meta, &buf[start..end], emit);
            at += meta.event_len.max(EVENT_HEADER);
        }
        self.buf = buf;
        Ok(())
    }

    fn on_event(&mut self, meta: &Metadata, infos: &[u8], emit: &mut dyn FnMut(FileEvent)) {
        if meta.mask & libc::FAN_Q_OVERFLOW != 0 {
            self.overflows += 1;
            return;
        }
        // FID mode never opens a descriptor; one that came anyway is closed.
        if meta.fd >= 0 {
            // SAFETY: a descriptor the kernel put in the event is ours to close.
            drop(unsafe { OwnedFd::from_raw_fd(meta.fd) });
        }
        let records = Records::parse(infos);
        if meta.mask & libc::FAN_ONDIR != 0 {
            self.on_directory(meta.mask, &records);
            return;
        }
        if meta.pid == self.ignore_pid && !self.rehearsing(&records) {
            // The agent's own write (a restore, a canary): a sample kept of the file is old.
            if !self.written.is_empty()
                && let Some(path) = self.inside(records.here)
            {
                self.written.remove(&path);
            }
            return;
        }
        let pid = meta.pid;
        if meta.mask & libc::FAN_CREATE != 0
            && let Some(path) = self.inside(records.here)
        {
            self.written.remove(&path);
            emit(file_event(pid, Op::Create, text(&path), None, None));
        }
        if meta.mask & libc::FAN_CLOSE_WRITE != 0
            && let Some(path) = self.inside(records.here)
            && let Some(sample) = self.sample_written(records.file, &path)
        {
            if self.written.len() >= MAX_WRITTEN {
                self.written.clear();
            }
            self.written.insert(path.clone(), sample.clone());
            emit(file_event(pid, Op::Write, text(&path), None, Some(sample)));
        }
        if meta.mask & libc::FAN_RENAME != 0 {
            let (from, to) = (self.inside(records.old), self.inside(records.new));
            self.on_move(pid, from, to, emit);
        }
        if meta.mask & libc::FAN_MOVED_FROM != 0 {
            if let Some((pid, path)) = self.moved_from.take() {
                emit(file_event(pid, Op::Delete, path, None, None));
            }
            if let Some(path) = self.inside(records.here) {
                self.moved_from = Some((pid, text(&path)));
            }
        }
        if meta.mask & libc::FAN_MOVED_TO != 0 {
            let to = self.inside(records.here);
            let from = match self.moved_from.take() {
                Some((from_pid, path)) if from_pid == pid => Some(PathBuf::from(path)),
                Some((from_pid, path)) => {
                    emit(file_event(from_pid, Op::Delete, path, None, None));
                    None
                }
                None => None,
            };
            self.on_move(pid, from, to, emit);
        }
        if meta.mask & libc::FAN_DELETE != 0
            && let Some(path) = self.inside(records.here)
        {
            self.written.remove(&path);
            emit(file_event(pid, Op::Delete, text(&path), None, None));
        }
    }

    /// A directory's own event. Only a move matters: it drops the cached paths it made
    /// wrong, its own and those under it. A deleted directory needs nothing: it was empty,
    /// and its handle will not come back (handles carry the inode's generation), so its
    /// entry only waits for eviction. (Git and package managers delete directories by the
    /// hundred; dropping the cache on each cost a path lookup per event after it.)
    fn on_directory(&mut self, mask: u64, records: &Records<'_>) {
        let from = if mask & libc::FAN_RENAME != 0 {
            records.old
        } else if mask & libc::FAN_MOVED_FROM != 0 {
            records.here
        } else {
            return;
        };
        match from.and_then(|named| self.path_of(named)) {
            Some(from) => self
                .dirs
                .retain(|_, dir| !dir.as_ref().is_some_and(|d| d.path.starts_with(&from))),
            // The old name could not be read: any cached path may be wrong.
            None => self.dirs.clear(),
        }
    }

    /// The path of a file event's entry, when it is inside the protected folders.
    fn inside(&mut self, named: Option<Named<'_>>) -> Option<PathBuf> {
        let named = named?;
        let dir = self.dir(named.dir)?;
        if !dir.inside || named.name.is_empty() || named.name == b"." {
            return None;
        }
        Some(dir.path.join(OsStr::from_bytes(named.name)))
    }

    /// The path of any entry (a directory's, for its move), inside the folders or not.
    fn path_of(&mut self, named: Named<'_>) -> Option<PathBuf> {
        let dir = self.dir(named.dir)?;
        if named.name.is_empty() || named.name == b"." {
            return Some(dir.path.clone());
        }
        Some(dir.path.join(OsStr::from_bytes(named.name)))
    }

    /// The directory with this handle, from the cache or opened (and then cached).
    fn dir(&mut self, key: &[u8]) -> Option<&Dir> {
        if !self.dirs.contains_key(key) {
            let dir = self.open_handle(key, libc::O_PATH).and_then(|fd| {
                let path = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
                let inside = under_any(&path, &self.folders);
                Some(Dir { path, inside })
            });
            if self.dirs.len() >= MAX_DIRS {
                self.dirs.clear();
            }
            self.dirs.insert(key.into(), dir);
        }
        self.dirs.get(key)?.as_ref()
    }

    /// The sample of a file just written, read through its own handle (the inode that was
    /// closed); by its path when the event had no handle. `None` when it is not a regular
    /// file or was deleted since (its delete event says what matters).
    fn sample_written(&self, handle: Option<&[u8]>, path: &Path) -> Option<Sample> {
        let Some(handle) = handle else {
            return sample_path(path);
        };
        // O_NOATIME: reading a file just written would otherwise update its access time,
        // a metadata write per sample (refused without CAP_FOWNER: then without it).
        // O_NONBLOCK: a FIFO never blocks the engine.
        let read = libc::O_RDONLY | libc::O_NONBLOCK;
        let fd = self
            .open_handle(handle, read | libc::O_NOATIME)
            .or_else(|| self.open_handle(handle, read))?;
        sample_file(&File::from(fd))
    }

    /// Opens what `key` (fsid + `struct file_handle`) names, on the filesystem with that
    /// fsid.
    fn open_handle(&self, key: &[u8], flags: libc::c_int) -> Option<OwnedFd> {
        let fsid = key.get(..8)?;
        let handle = key.get(8..)?;
        let mount = self
            .mounts
            .iter()
            .find(|(id, _)| id == fsid)
            .or(self.mounts.first())?;
        // Copied into u32s: `struct file_handle` is 4-byte aligned.
        let mut words = [0u32; 34];
        let needed = handle.len().div_ceil(4);
        if needed > words.len() {
            return None;
        }
        for (i, chunk) in handle.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            words[i] = u32::from_ne_bytes(w);
        }
        // SAFETY: `words` holds a whole `struct file_handle` (its header and
        // `handle_bytes` bytes, as the kernel wrote them; at most MAX_HANDLE_SZ = 128) and
        // outlives the call.
        let fd = unsafe {
            libc::open_by_handle_at(
                mount.1.as_raw_fd(),
                words.as_mut_ptr().cast::<libc::file_handle>(),
                flags | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: a new descriptor just returned by the kernel.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// A rename seen from the protected folders: within them, a rename with the target's
    /// content sampled (or the sample of its last write); moved in, a create; moved out, a
    /// delete.
    fn on_move(
        &mut self,
        pid: u32,
        from: Option<PathBuf>,
        to: Option<PathBuf>,
        emit: &mut dyn FnMut(FileEvent),
    ) {
        match (from, to) {
            (Some(from), Some(to)) => {
                let sample = match self.written.remove(&from) {
                    Some(sample) => {
                        self.written.insert(to.clone(), sample.clone());
                        Some(sample)
                    }
                    None => {
                        self.written.remove(&to);
                        sample_path(&to)
                    }
                };
                emit(file_event(
                    pid,
                    Op::Rename,
                    text(&from),
                    Some(text(&to)),
                    sample,
                ));
            }
            (Some(from), None) => {
                self.written.remove(&from);
                emit(file_event(pid, Op::Delete, text(&from), None, None));
            }
            (None, Some(to)) => {
                self.written.remove(&to);
                let sample = sample_path(&to);
                emit(file_event(pid, Op::Create, text(&to), None, sample));
            }
            (None, None) => {}
        }
    }

    /// Whether renames arrive as one event (`FAN_RENAME`, kernel 5.17 and later).
    pub fn has_rename_events(&self) -> bool {
        self.rename_events
    }
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `struct fanotify_event_metadata`: event_len u32, vers u8, reserved u8, metadata_len
/// u16, mask u64, fd i32, pid i32.
const EVENT_HEADER: usize = 24;

struct Metadata {
    event_len: usize,
    metadata_len: usize,
    mask: u64,
    fd: i32,
    pid: u32,
}

impl Metadata {
    /// Read field by field (the buffer need not be aligned).
    fn parse(b: &[u8]) -> Option<Metadata> {
        let u32_at = |i: usize| Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?));
        let event_len = u32_at(0)? as usize;
        let metadata_len = u16::from_ne_bytes(b.get(6..8)?.try_into().ok()?) as usize;
        let mask = u64::from_ne_bytes(b.get(8..16)?.try_into().ok()?);
        let fd = u32_at(16)? as i32;
        let pid = u32_at(20)?;
        if event_len < EVENT_HEADER || metadata_len < EVENT_HEADER || metadata_len > event_len {
            return None;
        }
        Some(Metadata {
            event_len,
            metadata_len,
            mask,
            fd,
            pid,
        })
    }
}

fn file_event(
    pid: u32,
    op: Op,
    path: String,
    to: Option<String>,
    sample: Option<Sample>,
) -> FileEvent {
    FileEvent {
        at_ms: clock_ms(),
        pid,
        op,
        path,
        to,
        sample,
    }
}
