//! Detection on the device: the sensor's file events fed to the detector, verdicts made
//! into records for the server, and the responses.
//!
//! - [`sensor`]: fanotify (with pids) or inotify (without) on the protected folders,
//!   turning the kernel's events into the detector's; blocking, for a thread of its own.
//! - [`canaries`]: decoy documents sorting first and last in each protected folder.
//! - [`respond`]: stop a process tree, kill or continue it, isolate the device and lift it.
//! - [`executor`]: the `detection_response` job (a person's kill, continue, isolate, lift).
//! - [`device`]: the engine's [`Device`] on this machine (the parts above together).
//! - [`logins`]: failed SSH logins per source, from the journal or the auth log.
//! - [`engine`], [`feed`], [`record`]: the thread that runs sensor → detector → response,
//!   and what it hands the agent for the server.
//! - [`recorder`]: what the sensor sees, written as a trace to replay against the detector.
//! - [`rehearsal`]: the verdict and stop path run on a made-up attack, to keep it in memory
//!   when the agent's idle code is paged out.

pub mod canaries;
pub mod device;
pub mod engine;
pub mod executor;
pub mod feed;
pub mod logins;
mod realtime;
pub mod record;
pub mod recorder;
pub mod rehearsal;
pub mod respond;
pub mod sensor;

pub use device::SystemDevice;
pub use engine::{Device, EventSource};
pub use feed::{DetectionFeed, DrillWatch};
