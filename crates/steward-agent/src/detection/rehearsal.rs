//! The engine's rehearsal: its verdict and stop path run once on a made-up attack, so the
//! code it needs in an attack is in memory when the rest of the agent's idle code is paged
//! out ([`crate::residency`]).
//!
//! Why: the agent hands back the code pages a burst of work left resident, to stay small.
//! The path from a damaged file to the SIGSTOP runs only during an attack; paged out with
//! the rest, it would be read back from disk during one, on the engine's thread, while the
//! attack runs on (measured: at full speed the stop came after a median of 22–96 files
//! instead of 3–4). Rehearsed right after the release, it faults back in (the kernel reads
//! code in windows around each touch, so the neighbours of what runs come too), and the
//! agent keeps the gain of the release for everything else.
//!
//! What it runs, each as the engine would, without side effects:
//! - the sensor's announcement of a process (its `/proc` reads and lineage) and a sample
//!   of a real file through the sensor's one sampling function;
//! - a scratch [`Detector`] fed a small attack (in-place overwrites, encrypt-then-rename,
//!   copy-then-delete, a ransom note) on paths that do not exist, until its verdict;
//! - the response to that verdict as the engine makes it: the policy and drill lookups,
//!   the stop aimed at the agent itself (which the stop always refuses: the agent never
//!   stops itself or its ancestors), the stop's walk of a process tree over the agent's
//!   own (each process only asked whether it could be signalled), the executable opened
//!   and the record built;
//! - one file written and renamed in `detection-rehearsal/` of the agent's state directory,
//!   which the fanotify sensor reads as an attack's file before the detector ignores it as
//!   the agent's own (`write_for_the_sensor`).
//!
//! Nothing is signalled, isolated, logged or sent, and nothing is written elsewhere.

use std::io;
use std::path::{Path, PathBuf};

use steward_detect::simulate::Keystream;
use steward_detect::{Config, Detector, Event, FileEvent, Op, Sample};

use super::feed::DetectionFeed;
use super::sensor::{self, procs::Processes};
use super::{device, record, respond};

/// Where the made-up attack's files are: a path no device has, so nothing real is named.
const ROOT: &str = "/nonexistent/steward-rehearsal";

/// The folder in the agent's state directory where the rehearsal writes a file for the
/// sensor to read (`write_for_the_sensor`).
pub fn folder(state_dir: &Path) -> PathBuf {
    state_dir.join("detection-rehearsal")
}

/// What a rehearsal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehearsed {
    /// Whether the made-up attack got a verdict (it must: otherwise the response path was
    /// not run).
    pub verdict: bool,
    /// Whether the stop was refused, as it must be for the agent itself.
    pub stop_refused: bool,
    /// Processes the stop's walk found in the agent's own tree (the agent at least), each
    /// only asked whether it could be signalled.
    pub walked: usize,
    /// Files named in the record built.
    pub recorded_files: usize,
    /// Whether the file for the sensor was written (only where a fanotify sensor made the
    /// rehearsal folder: it reads it there).
    pub sensor_file_written: bool,
}

/// Runs the engine's verdict and stop path once on a made-up attack. Takes about a
/// millisecond once the code is in memory; blocking (it reads `/proc` and a file), so call
/// it off the async workers.
pub fn rehearse(feed: &DetectionFeed) -> Rehearsed {
    // First, so the engine's thread reads it while the rest runs here.
    let sensor_file_written = write_for_the_sensor(&folder(feed.state_dir())).is_ok();
    let me = std::process::id();
    let mut events = Vec::new();
    let mut processes = Processes::default();
    processes.announce(me, sensor::clock_ms(), &mut |e| events.push(e));
    // A real sample, through the function every sampled event goes through; its result is
    // not needed (the made-up files have made-up content below).
    if let Ok(exe) = std::env::current_exe()
        && let Ok(file) = std::fs::File::open(exe)
    {
        std::hint::black_box(sensor::sample_file(&file));
    }
    events.extend(made_up_attack(me, sensor::clock_ms()));
    // The engine's configuration, except that the agent's own events count here.
    let mut detector = Detector::new(Config::default());
    let mut verdict = None;
    for event in &events {
        if let Some(v) = detector.feed(event) {
            verdict.get_or_insert(v);
        }
    }
    let Some(verdict) = verdict else {
        return Rehearsed {
            verdict: false,
            stop_refused: false,
            walked: 0,
            recorded_files: 0,
            sensor_file_written,
        };
    };
    // The engine's response ([`super::engine`]), step by step, minus what acts or leaves
    // the process.
    let policy = std::hint::black_box(feed.policy());
    let drill = feed.drill_of(verdict.files.iter().map(|f| f.path.as_str()));
    std::hint::black_box((&policy, &drill));
    let stop = device::stop_all(&[me]);
    let walked = respond::rehearse_stop();
    let exe = record::open_executable(me);
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let detected = record::detected(
        &verdict,
        crate::runner::now(),
        vec![stop.clone()],
        None,
        &passwd,
    );
    drop(exe);
    Rehearsed {
        verdict: true,
        stop_refused: !stop.ok,
        walked,
        recorded_files: detected.files.len(),
        sensor_file_written,
    }
}

/// The sensor's part: a file written and then renamed, as an attack's would be, in a new
/// subfolder of `folder`, after the previous rehearsal's subfolder is deleted. Only where
/// the sensor made `folder` (it reads the agent's own events there: fanotify on that
/// filesystem, [`super::sensor::fanotify::Fanotify::rehearse_in`]); the sensor then reads
/// them as an attack's (its directory lookup, the written file's sample through its handle,
/// the rename), and the detector ignores them as the agent's. The names promise nothing (no
/// extension), so even a sensor without pids could not make them an attack. The file stays
/// until the next rehearsal: the sensor reads it after this returns.
fn write_for_the_sensor(folder: &Path) -> io::Result<()> {
    // A folder, not a link to one elsewhere: what is in it is deleted.
    if !std::fs::symlink_metadata(folder)?.is_dir() {
        return Err(io::Error::other("the rehearsal folder is not a directory"));
    }
    for previous in std::fs::read_dir(folder)?.flatten() {
        let path = previous.path();
        match previous.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path)?,
            _ => std::fs::remove_file(&path)?,
        }
    }
    let dir = folder.join(sensor::clock_ms().to_string());
    std::fs::create_dir_all(&dir)?;
    let mut content = vec![0u8; 8 * 1024];
    Keystream::new(sensor::clock_ms()).fill(&mut content);
    let written = dir.join("written");
    std::fs::write(&written, &content)?;
    std::fs::rename(&written, dir.join("renamed"))
}

/// Removes the rehearsal folder `folder` (the sensor cannot read it), so that nothing is
/// written there. Best effort: a folder that cannot be removed is written to in vain.
pub fn forget(folder: &Path) {
    if std::fs::symlink_metadata(folder).is_ok_and(|m| m.is_dir()) {
        let _ = std::fs::remove_dir_all(folder);
    }
}

/// The made-up attack by `pid`, one operation a millisecond from `start_ms`.
fn made_up_attack(pid: u32, start_ms: u64) -> Vec<Event> {
    let mut keys = Keystream::new(u64::from(pid));
    let mut random = |size: u64| {
        let mut head = vec![0u8; steward_detect::sample::HEAD];
        keys.fill(&mut head);
        Sample {
            size,
            head,
            entropy: vec![7.98; steward_detect::sample::MAX_REGIONS],
        }
    };
    let mut at_ms = start_ms;
    let mut event = |op: Op, path: String, to: Option<String>, sample: Option<Sample>| {
        at_ms += 1;
        Event::File(FileEvent {
            at_ms,
            pid,
            op,
            path,
            to,
            sample,
        })
    };
    // The note first (some families leave it before they start), then each mode's shape,
    // the least decisive first, so more of the detector runs before its verdict.
    let note = Path::new(ROOT).join("HOW_TO_RECOVER_FILES.txt");
    let mut out = vec![event(
        Op::Create,
        note.to_string_lossy().into_owned(),
        None,
        None,
    )];
    for i in 0..3 {
        // Copied encrypted, the original deleted.
        let pdf = format!("{ROOT}/invoice-{i}.pdf");
        let copy = format!("{pdf}.enc");
        out.push(event(Op::Create, copy.clone(), None, None));
        out.push(event(Op::Write, copy, None, Some(random(12 * 1024))));
        out.push(event(Op::Delete, pdf, None, None));
        // In place.
        let doc = format!("{ROOT}/offer-{i}.docx");
        out.push(event(Op::Write, doc, None, Some(random(48 * 1024))));
        // Encrypted, then renamed.
        let sheet = format!("{ROOT}/ledger-{i}.xlsx");
        out.push(event(
            Op::Write,
            sheet.clone(),
            None,
            Some(random(96 * 1024)),
        ));
        let locked = format!("{sheet}.locked");
        out.push(event(
            Op::Rename,
            sheet,
            Some(locked),
            Some(random(96 * 1024)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_made_up_attack_gets_a_verdict_and_the_agent_is_never_stopped() {
        let dir = tempfile::tempdir().expect("state dir");
        let feed = DetectionFeed::open(dir.path());
        // No folder made by a sensor: nothing is written for it.
        assert!(!rehearse(&feed).sensor_file_written);
        assert!(!folder(dir.path()).exists());
        std::fs::create_dir(folder(dir.path())).expect("as the sensor makes it");
        let rehearsed = rehearse(&feed);
        assert!(rehearsed.verdict, "{rehearsed:?}");
        assert!(rehearsed.stop_refused, "{rehearsed:?}");
        assert!(rehearsed.walked >= 1, "{rehearsed:?}");
        assert!(rehearsed.recorded_files >= 2, "{rehearsed:?}");
        // Nothing was queued for the server.
        assert!(feed.take().is_empty());
        // The sensor's file: one, in one subfolder, the previous one gone.
        assert!(rehearsed.sensor_file_written, "{rehearsed:?}");
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(rehearse(&feed).sensor_file_written);
        let subfolders: Vec<_> = std::fs::read_dir(folder(dir.path()))
            .expect("rehearsal folder")
            .flatten()
            .collect();
        assert_eq!(subfolders.len(), 1, "{subfolders:?}");
        let files: Vec<_> = std::fs::read_dir(subfolders[0].path())
            .expect("subfolder")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(files, ["renamed"]);
        // Where the sensor cannot read it, it is removed and nothing is written.
        forget(&folder(dir.path()));
        assert!(!rehearse(&feed).sensor_file_written);
        assert!(!folder(dir.path()).exists());
    }
}
