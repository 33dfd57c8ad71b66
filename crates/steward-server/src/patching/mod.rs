//! Patching: each device's pending updates as its agent lists them, the fleet's standing
//! (devices missing security updates, the oldest in days, reboots required), patch policies
//! that install by rule inside maintenance windows, approvals, installs on demand, and the
//! `patching` alert.
//!
//! - [`ingest`]: an agent report's `updates` section into the store;
//! - [`service`]: the rules (who may approve, install, define policies; audit) and reads;
//! - [`scheduler`]: opens each policy's window and queues the installs its plan allows;
//! - [`alerts`]: the `patching` device check, through monitoring's pipeline;
//! - `api`, `console`: thin adapters over the service.

pub mod alerts;
mod api;
pub(crate) mod console;
pub mod ingest;
pub mod scheduler;
pub mod service;

pub fn routes() -> crate::web::routes::Routes {
    api::routes().merge(console::routes())
}
