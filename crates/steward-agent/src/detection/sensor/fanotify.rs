//! The fanotify sensor: every file event carries the pid of the process that caused it.
//!
//! Hand-written FFI over `libc` (the only module of the agent that allows `unsafe`): no
//! maintained crate supports fanotify's FID modes (`FAN_REPORT_DFID_NAME`), which are the
//! only way to hear of creates, renames and deletes. Needs `CAP_SYS_ADMIN`.
//!
//! Two notification groups, both with filesystem marks (`FAN_MARK_FILESYSTEM`) on the
//! filesystems that hold the protected folders, filtered by path prefix here (a mark on a
//! folder would not cover its subfolders):
//! - **writes**, classic fd mode, `FAN_CLOSE_WRITE`: the event brings an open descriptor of
//!   the file as the writer closed it, so its content is sampled with `pread` and its path
//!   read from `/proc/self/fd/N`, with no window for a later rename to make us read another
//!   file;
//! - **names**, `FAN_REPORT_DFID_NAME`, `FAN_CREATE | FAN_DELETE | FAN_RENAME` (or
//!   `FAN_MOVED_FROM | FAN_MOVED_TO` paired by pid on kernels before 5.17): the event names
//!   the directory by a file handle and the entry by its name; a directory's handle is
//!   turned into its path with `open_by_handle_at` + `readlink`, cached (bounded, and
//!   dropped whenever a directory is renamed or deleted, since its cached path is then
//!   wrong).
//!
//! The two groups are read one after the other, so within one batch a file's write and its
//! rename may come out of order; the detector scores over a window of seconds, where this
//! does not matter.
//!
//! Limits: the kernel's queue holds 16384 events per group; past that it drops events and
//! says so once (`FAN_Q_OVERFLOW`, counted in [`Fanotify::overflows`]).

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use steward_detect::{FileEvent, Op, Sample};

use super::{MAX_EVENTS_PER_READ, clock_ms, sample_path, under_any};

/// The read buffer: about 300 name events a read.
const BUFFER: usize = 64 * 1024;
/// How much of it one read of the write group may fill: 64 events (24 bytes each). Each
/// write event is sampled before the detector sees any of the read; a small read puts the
/// first writes of an attack in front of the detector within a fraction of a millisecond
/// instead of after thousands of others.
const WRITES_READ: usize = 64 * 24;
/// The same for the name group (events of 30 to 300 bytes).
const NAMES_READ: usize = 8 * 1024;
/// Most directory paths remembered.
const MAX_DIRS: usize = 4096;
/// Most reads of one group in one [`Fanotify::read`].
const MAX_READS: usize = 16;

/// The two groups, and what is needed to read them.
pub struct Fanotify {
    writes: OwnedFd,
    names: OwnedFd,
    /// Whether the names group has `FAN_RENAME` (one event with both names) or pairs
    /// `FAN_MOVED_FROM` with `FAN_MOVED_TO`.
    rename_events: bool,
    /// A descriptor inside each marked filesystem, by fsid, for `open_by_handle_at`.
    mounts: Vec<([u8; 8], OwnedFd)>,
    /// Directory handle (fsid + handle type + bytes) → its path, or `None` when it could
    /// not be opened (gone).
    dirs: HashMap<Vec<u8>, Option<PathBuf>>,
    folders: Vec<PathBuf>,
    ignore_pid: u32,
    buf: Vec<u8>,
    /// A `FAN_MOVED_FROM` waiting for its `FAN_MOVED_TO` (older kernels only).
    moved_from: Option<(u32, String)>,
    pub overflows: u64,
}

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

impl Fanotify {
    /// Both groups with marks on the filesystems of `folders`. Fails (`EPERM` without
    /// `CAP_SYS_ADMIN`, `EINVAL` on kernels before 5.9) so the caller falls back to inotify.
    pub fn open(folders: &[PathBuf], ignore_pid: u32) -> io::Result<Fanotify> {
        let writes = init(0)?;
        let names = init(libc::FAN_REPORT_DFID_NAME)?;
        let base = libc::FAN_CREATE | libc::FAN_DELETE | libc::FAN_ONDIR;
        let mut rename_events = true;
        let mut mounts = Vec::new();
        for (i, folder) in folders.iter().enumerate() {
            mark_filesystem(&writes, libc::FAN_CLOSE_WRITE, folder)?;
            if rename_events {
                match mark_filesystem(&names, base | libc::FAN_RENAME, folder) {
                    Ok(()) => {}
                    Err(e) if i == 0 && e.raw_os_error() == Some(libc::EINVAL) => {
                        rename_events = false;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !rename_events {
                mark_filesystem(
                    &names,
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
            writes,
            names,
            rename_events,
            mounts,
            dirs: HashMap::new(),
            folders: folders.to_vec(),
            ignore_pid,
            buf: vec![0; BUFFER],
            moved_from: None,
            overflows: 0,
        })
    }

    /// Waits up to `timeout` for events, then reads what both groups hold (at most
    /// [`MAX_EVENTS_PER_READ`] file events) into `out`.
    pub fn read(&mut self, timeout: Duration, out: &mut Vec<FileEvent>) -> io::Result<()> {
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let (names_ready, writes_ready) = {
            let mut fds = [
                PollFd::new(&self.names, PollFlags::IN),
                PollFd::new(&self.writes, PollFlags::IN),
            ];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
        };
        // Writes first: their content is what an attack destroys.
        if writes_ready {
            self.drain(false, out)?;
        }
        if names_ready {
            self.drain(true, out)?;
        }
        // A move out of the protected folders (or whose other half was lost): the file left.
        // (Kernels before 5.17 only; a pair split across two reads comes out as a delete
        // and a create.)
        if let Some((pid, path)) = self.moved_from.take() {
            out.push(file_event(pid, Op::Delete, path, None, None));
        }
        Ok(())
    }

    /// Reads one group until it is empty, the batch is full, or [`MAX_READS`] reads were
    /// made (a filesystem busy outside the folders must not keep the caller here).
    fn drain(&mut self, names: bool, out: &mut Vec<FileEvent>) -> io::Result<()> {
        for _ in 0..MAX_READS {
            if out.len() >= MAX_EVENTS_PER_READ {
                break;
            }
            let fd = if names { &self.names } else { &self.writes };
            let limit = if names { NAMES_READ } else { WRITES_READ };
            let n = match rustix::io::read(fd.as_fd(), &mut self.buf[..limit]) {
                Ok(0) => return Ok(()),
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
                let end = (at + meta.event_len).min(n);
                if names {
                    self.on_name_event(&meta, &buf[at + meta.metadata_len..end], out);
                } else {
                    self.on_write_event(&meta, out);
                }
                at += meta.event_len.max(EVENT_HEADER);
            }
            self.buf = buf;
        }
        Ok(())
    }

    fn on_write_event(&mut self, meta: &Metadata, out: &mut Vec<FileEvent>) {
        if meta.mask & libc::FAN_Q_OVERFLOW != 0 {
            self.overflows += 1;
        }
        if meta.fd < 0 {
            return;
        }
        // SAFETY: in fd mode each event's descriptor is a new one, ours to close.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(meta.fd as RawFd) });
        if meta.pid == self.ignore_pid || meta.mask & libc::FAN_CLOSE_WRITE == 0 {
            return;
        }
        let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", meta.fd)) else {
            return;
        };
        if !under_any(&path, &self.folders) {
            return;
        }
        let Ok(info) = file.metadata() else { return };
        // Written then deleted before we looked: its delete event says what matters.
        if !info.is_file() || std::os::unix::fs::MetadataExt::nlink(&info) == 0 {
            return;
        }
        let sample = Sample::read_with(info.len(), |offset, buf| file.read_at(buf, offset)).ok();
        out.push(file_event(
            meta.pid,
            Op::Write,
            path.to_string_lossy().into_owned(),
            None,
            sample,
        ));
    }

    fn on_name_event(&mut self, meta: &Metadata, infos: &[u8], out: &mut Vec<FileEvent>) {
        if meta.mask & libc::FAN_Q_OVERFLOW != 0 {
            self.overflows += 1;
            return;
        }
        let mut here = None;
        let mut old = None;
        let mut new = None;
        for (kind, path) in self.names_of(infos) {
            match kind {
                libc::FAN_EVENT_INFO_TYPE_OLD_DFID_NAME => old = path,
                libc::FAN_EVENT_INFO_TYPE_NEW_DFID_NAME => new = path,
                _ => here = path,
            }
        }
        let is_dir = meta.mask & libc::FAN_ONDIR != 0;
        let moves = libc::FAN_RENAME | libc::FAN_MOVED_FROM | libc::FAN_MOVED_TO;
        if is_dir && meta.mask & (moves | libc::FAN_DELETE) != 0 {
            // Paths cached under the directory are now wrong.
            self.dirs.clear();
        }
        if is_dir || meta.pid == self.ignore_pid {
            return;
        }
        let inside = |p: &Option<PathBuf>, folders: &[PathBuf]| {
            p.as_ref().filter(|p| under_any(p, folders)).cloned()
        };
        let pid = meta.pid;
        let text = |p: PathBuf| p.to_string_lossy().into_owned();
        if meta.mask & libc::FAN_CREATE != 0
            && let Some(path) = inside(&here, &self.folders)
        {
            out.push(file_event(pid, Op::Create, text(path), None, None));
        }
        if meta.mask & libc::FAN_RENAME != 0 {
            let (from, to) = (inside(&old, &self.folders), inside(&new, &self.folders));
            self.on_move(pid, from, to, out);
        }
        if meta.mask & libc::FAN_MOVED_FROM != 0 {
            if let Some((pid, path)) = self.moved_from.take() {
                out.push(file_event(pid, Op::Delete, path, None, None));
            }
            if let Some(path) = inside(&here, &self.folders) {
                self.moved_from = Some((pid, text(path)));
            }
        }
        if meta.mask & libc::FAN_MOVED_TO != 0 {
            let to = inside(&here, &self.folders);
            let from = match self.moved_from.take() {
                Some((from_pid, path)) if from_pid == pid => Some(PathBuf::from(path)),
                Some((from_pid, path)) => {
                    out.push(file_event(from_pid, Op::Delete, path, None, None));
                    None
                }
                None => None,
            };
            self.on_move(pid, from, to, out);
        }
        if meta.mask & libc::FAN_DELETE != 0
            && let Some(path) = inside(&here, &self.folders)
        {
            out.push(file_event(pid, Op::Delete, text(path), None, None));
        }
    }

    /// A rename seen from the protected folders: within them, a rename with the target's
    /// content sampled; moved in, a create; moved out, a delete.
    fn on_move(
        &mut self,
        pid: u32,
        from: Option<PathBuf>,
        to: Option<PathBuf>,
        out: &mut Vec<FileEvent>,
    ) {
        let text = |p: &Path| p.to_string_lossy().into_owned();
        match (from, to) {
            (Some(from), Some(to)) => {
                let sample = sample_path(&to);
                out.push(file_event(
                    pid,
                    Op::Rename,
                    text(&from),
                    Some(text(&to)),
                    sample,
                ));
            }
            (Some(from), None) => out.push(file_event(pid, Op::Delete, text(&from), None, None)),
            (None, Some(to)) => {
                let sample = sample_path(&to);
                out.push(file_event(pid, Op::Create, text(&to), None, sample));
            }
            (None, None) => {}
        }
    }

    /// The paths named by an event's info records, with each record's type.
    fn names_of(&mut self, mut infos: &[u8]) -> Vec<(u8, Option<PathBuf>)> {
        let mut found = Vec::new();
        while infos.len() >= 4 {
            let kind = infos[0];
            let len = u16::from_ne_bytes([infos[2], infos[3]]) as usize;
            if len < 4 || len > infos.len() {
                break;
            }
            let record = &infos[..len];
            infos = &infos[len..];
            let named = matches!(
                kind,
                libc::FAN_EVENT_INFO_TYPE_DFID_NAME
                    | libc::FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
                    | libc::FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
            );
            if named {
                found.push((kind, self.path_of_record(record)));
            }
        }
        found
    }

    /// A DFID_NAME record: header (4), fsid (8), file_handle (4 + 4 + bytes), name, NUL.
    fn path_of_record(&mut self, record: &[u8]) -> Option<PathBuf> {
        let fsid: [u8; 8] = record.get(4..12)?.try_into().ok()?;
        let handle_bytes = u32::from_ne_bytes(record.get(12..16)?.try_into().ok()?) as usize;
        let handle_end = 20usize.checked_add(handle_bytes)?;
        let handle = record.get(12..handle_end)?;
        let name = CStr::from_bytes_until_nul(record.get(handle_end..)?).ok()?;
        let mut key = fsid.to_vec();
        key.extend_from_slice(handle);
        let dir = match self.dirs.get(&key) {
            Some(dir) => dir.clone(),
            None => {
                let dir = self.open_handle(&fsid, handle);
                if self.dirs.len() >= MAX_DIRS {
                    self.dirs.clear();
                }
                self.dirs.insert(key, dir.clone());
                dir
            }
        }?;
        let name = name.to_bytes();
        if name.is_empty() || name == b"." {
            return Some(dir);
        }
        Some(dir.join(OsStr::from_bytes(name)))
    }

    /// The current path of the directory with this handle (`struct file_handle` bytes).
    fn open_handle(&self, fsid: &[u8; 8], handle: &[u8]) -> Option<PathBuf> {
        let mount = self
            .mounts
            .iter()
            .find(|(id, _)| id == fsid)
            .or(self.mounts.first())?;
        // Copied into u32s: `struct file_handle` is 4-byte aligned.
        let mut words = vec![0u32; handle.len().div_ceil(4)];
        for (i, chunk) in handle.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            words[i] = u32::from_ne_bytes(w);
        }
        // SAFETY: `words` holds a whole `struct file_handle` (its header and
        // `handle_bytes` bytes, as the kernel wrote them) and outlives the call.
        let fd = unsafe {
            libc::open_by_handle_at(
                mount.1.as_raw_fd(),
                words.as_mut_ptr().cast::<libc::file_handle>(),
                libc::O_PATH | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: a new descriptor just returned by the kernel.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()
    }
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

impl Fanotify {
    /// Whether renames arrive as one event (`FAN_RENAME`, kernel 5.17 and later).
    pub fn has_rename_events(&self) -> bool {
        self.rename_events
    }
}
