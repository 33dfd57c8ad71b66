//! Security posture's rules: what an agent's posture report may hold ([`report`]), when an
//! accepted exception applies ([`exception`]), how a manual checklist item stands
//! ([`manual`]), and when a device's posture raises an alert ([`verdict`]).
//!
//! The checks themselves, the frameworks catalogue and the tallies are in the
//! `steward-posture` crate (pure as well, shared with the agent); this module holds what the
//! server decides about them, without knowing any particular check.

pub mod exception;
pub mod manual;
pub mod report;
pub mod verdict;

pub use report::{PostureReport, PostureResult, PostureState};
