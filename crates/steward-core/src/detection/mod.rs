//! Detection: ransomware and intrusions seen on the endpoint. Pure data and rules.
//!
//! - [`types`]: what an agent reports of one detection (the process, the signals that
//!   fired with their values, the files touched in order, what the response did), and the
//!   kinds of detection, including those the server makes from facts it already has (a new
//!   administrator, a new listening port, protection turned off, the agent gone silent).
//! - [`policy`]: per group or tag, which folders are protected, whether canary files are
//!   placed, and which responses are automatic.
//! - [`record`]: how a person's decision moves a detection (confirm the kill, release the
//!   process, lift the isolation, mark a false alarm: recorded, never tuned silently).
//! - [`limits`]: how much one report may say, checked when the server parses it.
//!
//! The detector itself (file events in, verdicts out) is the `steward-detect` crate; the
//! agent's sensor, canaries and responses are `steward-agent::detection`.

pub mod alert;
pub mod drill;
pub mod limits;
pub mod policy;
pub mod record;
pub mod server_side;
pub mod types;

pub use limits::{MAX_DETECTIONS_PER_REPORT, MAX_FILES, MAX_SIGNALS, check_detections};
pub use policy::{DetectionPolicy, PolicyError};
pub use record::{Decision, DecisionError, Status};
pub use types::{
    Detected, DetectionKind, FileOp, FileTouch, ProcessFacts, ResponseAction, ResponseStep,
    SignalValue,
};
