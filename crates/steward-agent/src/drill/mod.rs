//! The ransomware fire drill: the agent runs the built-in, harmless attack simulator
//! (`steward_detect::simulate`) on a scratch folder of its own, as a child process, and
//! measures how fast its detector caught it and how many files were lost.
//!
//! The simulator runs as `steward agent simulate-attack` (this same binary): a separate
//! process, as a real attack is, so the detector scores it, the response stops it, and
//! the agent itself is never the one frozen.

#[cfg(target_os = "linux")]
pub mod executor;
pub mod simulator;
