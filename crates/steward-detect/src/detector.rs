//! The detector: scores each process over a sliding window and gives a verdict.

use crate::Event;
use crate::event::Op;
use crate::signals::Fired;

/// How the detector is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The canary files' paths: touching one is decisive.
    pub canaries: Vec<String>,
    /// The sliding window, in milliseconds.
    pub window_ms: u64,
    /// Pids whose events are ignored (the agent itself).
    pub ignore_pids: Vec<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            canaries: Vec::new(),
            window_ms: 60_000,
            ignore_pids: Vec::new(),
        }
    }
}

/// What the detector concluded about a process.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// The offending process (for an attack by several workers, their parent).
    pub pid: u32,
    /// Every process to stop: the offender and the processes it was scored with.
    pub pids: Vec<u32>,
    pub at_ms: u64,
    pub signals: Vec<Fired>,
    /// The files touched, in order, at most 200.
    pub files: Vec<Touched>,
    /// One line for people.
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    Ransomware,
    MassDeletion,
}

/// One file a process touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Touched {
    pub at_ms: u64,
    pub op: Op,
    pub path: String,
    pub to: Option<String>,
    /// Whether this operation destroyed the file's content as the detector judges it.
    pub damaged: bool,
}

/// Scores processes from their file events.
pub struct Detector {
    config: Config,
}

impl Detector {
    pub fn new(config: Config) -> Detector {
        Detector { config }
    }

    /// Replaces the canary list (the agent re-places canaries when its policy changes).
    pub fn set_canaries(&mut self, canaries: Vec<String>) {
        self.config.canaries = canaries;
    }

    /// Feeds one event; a verdict when this event tipped a process over. A process is
    /// given at most one verdict until it is [`Detector::forget`]ten.
    pub fn feed(&mut self, event: &Event) -> Option<Verdict> {
        let _ = event;
        None
    }

    /// Forgets a process (it exited, or a person decided about it).
    pub fn forget(&mut self, pid: u32) {
        let _ = pid;
    }
}
