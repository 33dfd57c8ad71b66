//! Records what the real sensor sees of some folders as a trace: the detector's events as
//! JSON lines ([`steward_detect::trace`]), exactly as the engine would have fed them,
//! processes announced before their first file event.
//!
//! What it is for: a workload that raised a false alarm (or an attack that was missed) is
//! recorded once on the machine where it happened, then replayed against the detector
//! anywhere, without privileges (`steward agent record-trace`). The test suite keeps such
//! recordings of the simulator's attacks and of the benign suite as fixtures
//! (`steward-detect/tests/recorded/`), made with `steward-bench detect --record`.
//!
//! Paths can be rewritten as they are written (a temp folder's name becomes `/srv/share`)
//! so a recording says nothing of the machine it was made on.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use steward_detect::{Event, trace};

use super::sensor::Sensor;

/// How long one read of the sensor waits, so `stop` is looked at this often.
const READ_EVERY: Duration = Duration::from_millis(100);

/// What a recording saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    pub events: u64,
    /// Times the kernel's queue overflowed: the recording has holes.
    pub overflows: u64,
    /// `fanotify` or `inotify`.
    pub sensor: &'static str,
}

/// A path prefix replaced in every path, target and executable of a recording.
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub from: String,
    pub to: String,
}

impl Rewrite {
    fn apply(&self, text: &mut String) {
        if let Some(rest) = text.strip_prefix(self.from.as_str())
            && (rest.is_empty() || rest.starts_with('/'))
        {
            *text = format!("{}{rest}", self.to);
        }
    }
}

/// Opens the sensor on `folders` (leaving out `ignore_pid`'s events, the caller's own),
/// then calls `started` and writes every event to `out` until `stop` says so, and for
/// `linger` after that (what the kernel still holds of the last operations). Each line is
/// flushed as it is written.
pub fn record(
    folders: &[PathBuf],
    ignore_pid: u32,
    rewrites: &[Rewrite],
    out: &mut impl Write,
    started: impl FnOnce(),
    mut stop: impl FnMut() -> bool,
    linger: Duration,
) -> io::Result<Recorded> {
    let mut sensor = Sensor::open(folders, ignore_pid)?;
    let mut recorded = Recorded {
        sensor: sensor.kind(),
        ..Recorded::default()
    };
    started();
    let mut events = Vec::new();
    let mut stopping_at: Option<Instant> = None;
    loop {
        if stopping_at.is_none() && stop() {
            stopping_at = Some(Instant::now());
        }
        if stopping_at.is_some_and(|at| at.elapsed() >= linger) {
            break;
        }
        events.clear();
        sensor.read(READ_EVERY, &mut events)?;
        for event in &mut events {
            rewrite(event, rewrites);
            trace::write_event(out, event)?;
            recorded.events += 1;
        }
        out.flush()?;
    }
    recorded.overflows = sensor.overflows();
    Ok(recorded)
}

fn rewrite(event: &mut Event, rewrites: &[Rewrite]) {
    for r in rewrites {
        match event {
            Event::Process(p) => r.apply(&mut p.exe),
            Event::File(f) => {
                r.apply(&mut f.path);
                if let Some(to) = f.to.as_mut() {
                    r.apply(to);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_replaces_a_whole_leading_folder_only() {
        let r = Rewrite {
            from: "/tmp/steward-x1".into(),
            to: "/srv/share".into(),
        };
        for (before, after) in [
            ("/tmp/steward-x1/a/b.docx", "/srv/share/a/b.docx"),
            ("/tmp/steward-x1", "/srv/share"),
            ("/tmp/steward-x10/b.docx", "/tmp/steward-x10/b.docx"),
            ("/home/a.txt", "/home/a.txt"),
        ] {
            let mut text = before.to_string();
            r.apply(&mut text);
            assert_eq!(text, after);
        }
    }

    #[test]
    fn the_files_written_in_a_folder_are_recorded_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let rewrites = [Rewrite {
            from: root.to_string_lossy().into_owned(),
            to: "/srv/share".into(),
        }];
        let mut out = Vec::new();
        let started = std::sync::Arc::new(std::sync::Barrier::new(2));
        let writer = {
            let (root, started) = (root.clone(), started.clone());
            std::thread::spawn(move || {
                started.wait();
                // A child process, so its events are not this process's own.
                let status = std::process::Command::new("sh")
                    .arg("-c")
                    .arg("echo 'quarterly figures' > report.txt && mv report.txt final.txt")
                    .current_dir(&root)
                    .status()
                    .unwrap();
                assert!(status.success());
            })
        };
        let begun = Instant::now();
        let recorded = record(
            std::slice::from_ref(&root),
            std::process::id(),
            &rewrites,
            &mut out,
            || {
                started.wait();
            },
            || writer.is_finished() || begun.elapsed() > Duration::from_secs(10),
            Duration::from_millis(300),
        )
        .unwrap();
        let events = trace::read_events(&out[..]).unwrap();
        assert_eq!(recorded.events as usize, events.len());
        let files: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                Event::File(f) => Some(f.to.clone().unwrap_or_else(|| f.path.clone())),
                Event::Process(_) => None,
            })
            .collect();
        assert!(
            files.contains(&"/srv/share/final.txt".to_string()),
            "{files:?} ({})",
            recorded.sensor
        );
        assert!(
            files.iter().all(|f| f.starts_with("/srv/share/")),
            "{files:?}"
        );
    }
}
