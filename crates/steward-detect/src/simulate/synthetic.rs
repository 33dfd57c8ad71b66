//! A synthetic sensor: turns the simulator's (or any tool's) operations into the events the
//! real sensor would report, sampling the files as they are on disk. Tests and the
//! benchmark feed these to the detector without fanotify, inotify or privileges.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use super::attack::Observer;
use crate::event::{Event, FileEvent, Op, ProcessInfo};
use crate::sample::Sample;

/// Collects events as a sensor would, for one process.
pub struct Synthetic {
    pub events: Vec<Event>,
    process: ProcessInfo,
    announced: bool,
    start: Instant,
    /// Fixed milliseconds per operation instead of the clock (for reproducible traces).
    step_ms: Option<u64>,
    at_ms: u64,
}

impl Synthetic {
    pub fn new(process: ProcessInfo) -> Synthetic {
        Synthetic {
            events: Vec::new(),
            process,
            announced: false,
            start: Instant::now(),
            step_ms: None,
            at_ms: 0,
        }
    }

    /// Each operation takes `ms` (a slow attack: 1000), starting at `start_ms`.
    pub fn stepping(mut self, start_ms: u64, ms: u64) -> Synthetic {
        self.step_ms = Some(ms);
        self.at_ms = start_ms;
        self
    }

    fn now_ms(&mut self) -> u64 {
        match self.step_ms {
            Some(step) => {
                self.at_ms += step;
                self.at_ms
            }
            None => self.start.elapsed().as_millis() as u64,
        }
    }
}

impl Observer for Synthetic {
    fn did(&mut self, op: Op, path: &Path, to: Option<&Path>) {
        if !self.announced {
            self.events.push(Event::Process(self.process.clone()));
            self.announced = true;
        }
        let sampled = match op {
            Op::Write => Some(path),
            Op::Rename => to,
            _ => None,
        };
        let sample = sampled.and_then(sample_file);
        let at_ms = self.now_ms();
        self.events.push(Event::File(FileEvent {
            at_ms,
            pid: self.process.pid,
            op,
            path: path.to_string_lossy().into_owned(),
            to: to.map(|t| t.to_string_lossy().into_owned()),
            sample,
        }));
    }
}

/// Samples a file as the sensor does (none when it cannot be read).
pub fn sample_file(path: &Path) -> Option<Sample> {
    let file = File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    Sample::read_with(size, |offset, buf| file.read_at(buf, offset)).ok()
}
