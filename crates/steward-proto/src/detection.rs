//! The detection capability's wire types: the parameters of its two job kinds (a response
//! to a detection, and the ransomware fire drill). What the agent reports of a detection is
//! `steward_core::detection::Detected`, in the report's `detections` section; the policy the
//! agent applies is `steward_core::detection::DetectionPolicy`, in the report
//! acknowledgement.

use serde::{Deserialize, Serialize};
use steward_core::detection::ResponseAction;
use utoipa::ToSchema;

/// The parameters of a `detection_response` job: what to do about one detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionResponseParams {
    /// The agent's own id of the detection (`Detected::local_id`).
    pub detection: String,
    /// Kill or continue the stopped process tree, isolate the device, or lift the isolation.
    pub action: ResponseAction,
    /// The processes the detection stopped (kill and continue act on these only, and only
    /// while each is still the same process: its start time is checked).
    #[serde(default)]
    pub pids: Vec<u32>,
}

/// The parameters of a `ransomware_drill` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillParams {
    /// How many files the simulation creates and then encrypts in its scratch folder.
    #[serde(default = "default_drill_files")]
    pub files: u32,
    /// How the simulated attack works (`in-place`, `encrypt-then-rename`,
    /// `copy-then-delete`, `intermittent`, `note-first`, `slow`, `workers`,
    /// `keep-extension`).
    #[serde(default = "default_drill_mode")]
    pub mode: String,
}

fn default_drill_files() -> u32 {
    200
}

fn default_drill_mode() -> String {
    "in-place".into()
}

/// The most files a drill may ask for.
pub const MAX_DRILL_FILES: u32 = 2_000;
