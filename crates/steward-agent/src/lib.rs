//! Steward's agent: collects facts and metrics about the machine it runs on, queues them on
//! disk, delivers them to the server, and runs the jobs the server sends.
//!
//! Architecture invariant: everything platform-specific sits behind [`collect::Collector`];
//! the rest of the agent (outbox, client, runner) is the same on every operating system.
//! The agent only ever speaks the agent protocol (`steward_proto::agent`) with its own
//! credential, and never needs more than its own state directory.

pub mod backup;
pub mod client;
pub mod collect;
#[cfg(target_os = "linux")]
pub mod detection;
#[cfg(unix)]
pub mod drill;
pub mod outbox;
pub mod posture;
#[cfg(unix)]
pub mod process_group;
#[cfg(target_os = "linux")]
pub mod residency;
pub mod runner;
#[cfg(unix)]
pub mod scripts;
pub mod shutdown;
pub mod state;
pub mod tls;
pub mod updates;
