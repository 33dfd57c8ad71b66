//! Jobs at fleet scale: one job per device of a group, a tag or the whole fleet, sent as a
//! batch whose progress is followed across devices (queued, offline, running, succeeded,
//! failed, expired). Capabilities that send work to many devices (scripts, patching) build
//! each device's job and hand them here; this module finds the devices, skips those that
//! cannot take the job (saying why), stores everything in one transaction and wakes the
//! agents.

mod api;
pub mod service;

pub use api::routes;
pub use service::{BatchError, Eligibility, Fanout};
