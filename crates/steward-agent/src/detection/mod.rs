//! Detection on the device: the sensor's file events fed to the detector, verdicts made
//! into records for the server, and the responses.

pub mod engine;
pub mod feed;
pub mod record;

pub use engine::{Device, EventSource};
pub use feed::{DetectionFeed, DrillWatch};
