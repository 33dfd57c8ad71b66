//! Steward's ransomware detector: a stream of file events in, verdicts out.
//!
//! Pure: no file system, no clock, no threads. The agent's sensor (fanotify or inotify)
//! turns what the kernel says into [`Event`]s, with a [`Sample`] of each written file's
//! content, and feeds them to a [`Detector`]; tests replay recorded traces ([`trace`]) of
//! simulated attacks and of benign work, without privileges.
//!
//! Each process, and its parent, is scored over a sliding window from combined signals
//! ([`signals`]): a canary file touched (decisive at once), content that no longer matches
//! its name (a `.docx` that is no zip, a `.txt` of random bytes, in any of several sampled
//! regions, which catches intermittent encryption), writes followed by renames or deletes
//! of the originals, ransom-note names, the rate of distinct files changed, and lineage (a
//! shell under an office or mail program). High entropy alone never decides: compression
//! is high entropy too.

pub mod content;
pub mod detector;
pub mod event;
mod family;
mod lineage;
pub mod notes;
pub mod sample;
pub mod signals;
#[cfg(feature = "simulate")]
pub mod simulate;
pub mod trace;

pub use detector::{Config, Detector, Touched, Verdict, VerdictKind};
pub use event::{Event, FileEvent, Op, ProcessInfo};
pub use sample::Sample;
