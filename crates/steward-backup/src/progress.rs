//! How far a long operation has got, shared between rustic_core's threads (which advance
//! it) and whoever reports it (the agent's job updates, the admin CLI's progress bar).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustic_core::{Progress, ProgressBars, ProgressType, RusticProgress};

/// Bytes done of bytes to do in the current phase ("backing up...", "restoring file
/// contents..."). Read it from any thread at any time.
#[derive(Debug, Default)]
pub struct ProgressCounter {
    phase: Mutex<String>,
    done: AtomicU64,
    total: AtomicU64,
}

/// A moment's reading of a [`ProgressCounter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReading {
    pub phase: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
}

impl ProgressCounter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn read(&self) -> ProgressReading {
        ProgressReading {
            phase: self.phase.lock().map(|p| p.clone()).unwrap_or_default(),
            done_bytes: self.done.load(Ordering::Relaxed),
            total_bytes: self.total.load(Ordering::Relaxed),
        }
    }

    fn start(&self, phase: &str) {
        if let Ok(mut current) = self.phase.lock() {
            phase.clone_into(&mut current);
        }
        self.done.store(0, Ordering::Relaxed);
        self.total.store(0, Ordering::Relaxed);
    }
}

/// rustic_core's progress factory: byte progress goes to the counter, counters and
/// spinners (listing snapshots, reading the index) are not worth reporting.
#[derive(Debug, Clone)]
pub(crate) struct CounterBars(pub Arc<ProgressCounter>);

impl ProgressBars for CounterBars {
    fn progress(&self, progress_type: ProgressType, prefix: &str) -> Progress {
        match progress_type {
            ProgressType::Bytes => {
                self.0.start(prefix);
                Progress::new(BytesProgress(self.0.clone()))
            }
            ProgressType::Counter | ProgressType::Spinner => Progress::hidden(),
        }
    }
}

#[derive(Debug)]
struct BytesProgress(Arc<ProgressCounter>);

impl RusticProgress for BytesProgress {
    fn is_hidden(&self) -> bool {
        false
    }
    fn set_length(&self, len: u64) {
        self.0.total.store(len, Ordering::Relaxed);
    }
    fn set_title(&self, title: &str) {
        if let Ok(mut phase) = self.0.phase.lock() {
            title.clone_into(&mut phase);
        }
    }
    fn inc(&self, inc: u64) {
        self.0.done.fetch_add(inc, Ordering::Relaxed);
    }
    fn finish(&self) {}
}
