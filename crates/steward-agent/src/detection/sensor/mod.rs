//! The detection sensor: what the kernel says of file operations in the protected folders,
//! turned into the detector's [`Event`]s.
//!
//! [`Sensor::open`] tries fanotify first ([`fanotify`]: each event carries the pid of the
//! process that acted; needs `CAP_SYS_ADMIN`) and falls back to inotify ([`inotify`]: no
//! pid, one watch per directory). Before a process's first file event the sensor sends its
//! [`steward_detect::ProcessInfo`] ([`procs`]), read from `/proc`.
//!
//! Blocking, for a thread of its own: [`Sensor::read`] waits at most its timeout and returns
//! at most [`MAX_EVENTS_PER_READ`] file events (plus their processes). Bounded everywhere:
//! fixed read buffers, capped caches, counted losses ([`Sensor::overflows`]).

pub mod fanotify;
pub mod inotify;
pub mod procs;

use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use steward_detect::{Event, FileEvent, Sample};

/// Most file events one [`Sensor::read`] returns; the rest wait in the kernel's queue.
pub const MAX_EVENTS_PER_READ: usize = 128;

enum Backend {
    Fanotify(fanotify::Fanotify),
    Inotify(inotify::Inotify),
}

/// The sensor on a set of folders.
pub struct Sensor {
    backend: Backend,
    processes: procs::Processes,
    /// The file events of the current read, before their processes are announced.
    scratch: Vec<FileEvent>,
    /// Why fanotify was not used, when it was not.
    fallback_reason: Option<String>,
}

impl Sensor {
    /// Watches `folders` (absolute paths of existing directories), ignoring the events of
    /// `ignore_pid` (the agent's own). fanotify when the kernel allows it, inotify otherwise.
    /// Folders that are not directories are left out (a missing folder must not cost the
    /// pids by failing fanotify); none left is an error.
    pub fn open(folders: &[PathBuf], ignore_pid: u32) -> io::Result<Sensor> {
        let folders: Vec<PathBuf> = folders.iter().filter(|f| f.is_dir()).cloned().collect();
        if folders.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "none of the protected folders is a directory on this machine",
            ));
        }
        let folders = &folders[..];
        match fanotify::Fanotify::open(folders, ignore_pid) {
            Ok(f) => Ok(Sensor::with(Backend::Fanotify(f), None)),
            Err(e) => {
                tracing::info!(error = %e, "fanotify refused; the sensor uses inotify (no process ids)");
                let reason = format!("fanotify refused: {e}");
                Sensor::open_inotify(folders).map(|mut s| {
                    s.fallback_reason = Some(reason);
                    s
                })
            }
        }
    }

    /// [`Sensor::open`], and with fanotify the agent's own events in `rehearsal` read as
    /// another process's ([`fanotify::Fanotify::rehearse_in`]: the engine's rehearsal).
    /// Where that cannot be, `rehearsal` is removed, so the rehearsal writes nothing there.
    pub fn open_rehearsed(
        folders: &[PathBuf],
        ignore_pid: u32,
        rehearsal: &Path,
    ) -> io::Result<Sensor> {
        let mut sensor = Sensor::open(folders, ignore_pid)?;
        let rehearsed = match &mut sensor.backend {
            Backend::Fanotify(f) => f.rehearse_in(rehearsal),
            // inotify has no pids: the agent's own file there would be anybody's.
            Backend::Inotify(_) => {
                super::rehearsal::forget(rehearsal);
                false
            }
        };
        if !rehearsed {
            tracing::info!(folder = %rehearsal.display(),
                "the detection rehearsal's folder is not on a filesystem the sensor watches \
                 with process ids: after each memory release the sensor's own path is not \
                 rehearsed, and the first file of an attack may wait on the disk");
        }
        Ok(sensor)
    }

    /// The inotify sensor, whatever the privileges (tests; machines where fanotify
    /// misbehaves).
    pub fn open_inotify(folders: &[PathBuf]) -> io::Result<Sensor> {
        let backend = Backend::Inotify(inotify::Inotify::open(folders)?);
        Ok(Sensor::with(backend, None))
    }

    fn with(backend: Backend, fallback_reason: Option<String>) -> Sensor {
        Sensor {
            backend,
            processes: procs::Processes::default(),
            scratch: Vec::new(),
            fallback_reason,
        }
    }

    /// `"fanotify"` or `"inotify"`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Fanotify(_) => "fanotify",
            Backend::Inotify(_) => "inotify",
        }
    }

    /// Why fanotify was not used, when the sensor fell back to inotify.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// Waits at most `timeout` for file events and appends them to `out`, each process's
    /// [`Event::Process`] before its first file event. Returns with nothing on a timeout.
    pub fn read(&mut self, timeout: Duration, out: &mut Vec<Event>) -> io::Result<()> {
        self.read_each(timeout, Duration::ZERO, &mut |event| out.push(event))
    }

    /// [`Sensor::read`], handing each event to `each` as soon as it is known: with fanotify,
    /// a write's verdict (and the stop) comes before the next write is even sampled.
    ///
    /// A filesystem mark hears of the whole filesystem: a wake-up may bring only events
    /// outside the folders (a build or a database elsewhere on the disk), and then the
    /// sensor waits on until something is left or the time is up, pausing `gather` before
    /// each further wait so that such writes cost a wake-up every `gather`, not one each.
    pub fn read_each(
        &mut self,
        timeout: Duration,
        gather: Duration,
        each: &mut dyn FnMut(Event),
    ) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut handed = 0usize;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let processes = &mut self.processes;
            let mut emit = |file: FileEvent| {
                if file.pid != 0 {
                    processes.announce(file.pid, clock_ms(), &mut |p| each(p));
                }
                each(Event::File(file));
                handed += 1;
            };
            match &mut self.backend {
                Backend::Fanotify(f) => f.read(left, &mut emit)?,
                Backend::Inotify(i) => {
                    self.scratch.clear();
                    i.read(left, &mut self.scratch)?;
                    self.scratch.drain(..).for_each(&mut emit);
                }
            }
            if handed > 0 || left.is_zero() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(gather.min(left));
        }
    }

    /// How many times the kernel's queue overflowed (events were lost).
    pub fn overflows(&self) -> u64 {
        match &self.backend {
            Backend::Fanotify(f) => f.overflows,
            Backend::Inotify(i) => i.overflows,
        }
    }

    /// Directories left unwatched (inotify's watch limit); always 0 with fanotify.
    pub fn unwatched(&self) -> u64 {
        match &self.backend {
            Backend::Fanotify(_) => 0,
            Backend::Inotify(i) => i.unwatched,
        }
    }
}

/// Milliseconds on the sensor's clock: monotonic, from the first reading in this process.
pub fn clock_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Whether `path` is one of `folders` or inside one.
pub(crate) fn under_any(path: &Path, folders: &[PathBuf]) -> bool {
    folders.iter().any(|f| path.starts_with(f))
}

/// Samples the regular file at `path` (a rename's target, an inotify write), if it is
/// still there. Never follows a symlink and never blocks on a FIFO.
pub(crate) fn sample_path(path: &Path) -> Option<Sample> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    sample_file(&file)
}

/// Samples an open file, if it is a regular file that still has a name (one deleted since
/// it was written says nothing: its delete event is what matters). The one place the
/// sensor reads content, so the code a sample runs is the same for every event (and for
/// the engine's rehearsal, [`super::rehearsal`]).
pub fn sample_file(file: &std::fs::File) -> Option<Sample> {
    let info = file.metadata().ok()?;
    if !info.is_file() || std::os::unix::fs::MetadataExt::nlink(&info) == 0 {
        return None;
    }
    Sample::read_with(info.len(), |offset, buf| file.read_at(buf, offset)).ok()
}
