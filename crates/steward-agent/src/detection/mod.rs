//! Detection on the endpoint: the sensor that feeds `steward-detect`'s detector, the canary
//! files it watches, the responses (stop, kill, continue, isolate, lift), the
//! `detection_response` job, and failed logins read from the journal or auth logs.
//!
//! The runner wires these together on a thread of their own (sensor → detector →
//! response); each part here is usable alone and blocking.

pub mod canaries;
pub mod executor;
pub mod logins;
pub mod respond;
pub mod sensor;
