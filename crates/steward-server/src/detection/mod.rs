//! Detection: ransomware and intrusions seen on the endpoint, and those the server sees in
//! facts it already has. Each detection is a record a person decides (confirm, release,
//! false alarm, isolate, lift the isolation) and raises the `detection` device check.
//!
//! - [`ingest`]: an agent report's `detections` section into the ingest commit, and the
//!   check judged at once when one arrives;
//! - [`policies`]: the detection policy of each device (device, group, tag, all), sent to
//!   the agent in every report acknowledgement;
//! - [`alerts`]: the `detection` device check, through monitoring's pipeline;
//! - [`service`]: the rules (who may read, decide, define policies, run drills; audit);
//! - [`drills`]: the ransomware fire drill's result, recorded and scored;
//! - [`server_side`]: the detections the server makes itself (protection turned off, the
//!   agent stopped; a new administrator and listening port come with the ingest commit);
//! - [`steps`]: what response jobs and drills did, added to the detection's steps;
//! - [`trend`]: the drills' trend drawn for the Detections page;
//! - `api`, `console`: thin adapters over the service.

pub mod alerts;
mod api;
pub(crate) mod console;
pub mod drills;
pub mod ingest;
pub mod policies;
pub mod server_side;
pub mod service;
pub mod steps;
pub mod trend;

pub fn routes() -> crate::web::routes::Routes {
    api::routes().merge(console::routes())
}
