//! Detection (migration 0021): what was detected on each device, the files it touched and
//! what the responses did; the detection policies; the ransomware fire drills.
//!
//! The store keeps what the server decided and interprets none of it. What lives here are
//! the guarantees: a detection is recorded once per (device, agent's own id) however often a
//! report is delivered, and a later record adds only the response steps after those stored
//! ([`Store::record_detections`], also inside an ingest commit); a person's decision moves a
//! detection only from the status it was read in ([`Store::decide_detection`]); a drill and
//! its job are queued together ([`Store::queue_drill`]).

mod drills;
mod policies;
mod records;

pub use drills::{DrillFinishWrite, DrillRecord};
pub use policies::DetectionPolicyRecord;
pub use records::{DetectionFilter, DetectionFull, DetectionRecord, DetectionWrite};

pub(crate) use records::record_in;
