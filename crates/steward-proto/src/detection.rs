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

/// The files a drill creates when the request does not say.
pub const DEFAULT_DRILL_FILES: u32 = 200;

/// The most files a drill may ask for.
pub const MAX_DRILL_FILES: u32 = 2_000;
/// The fewest: enough that files lost before the stop can be counted.
pub const MIN_DRILL_FILES: u32 = 10;

// The API's detection types.

use steward_core::Timestamp;
use steward_core::detection::record::{Decision, Status};
use steward_core::detection::{
    DetectionKind, DetectionPolicy, FileTouch, ProcessFacts, ResponseStep, SignalValue,
};

/// One line of the detections list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DetectionSummary {
    pub id: String,
    pub device_id: String,
    pub device_name: String,
    pub kind: DetectionKind,
    /// The kind, for people (`Ransomware behaviour`).
    pub title: String,
    pub status: Status,
    pub detected_at: Timestamp,
    pub summary: String,
    /// The offending executable, when there is a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Whether the process tree is stopped now, and the device isolated now.
    pub stopped: bool,
    pub isolated: bool,
    /// The drill it belongs to, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<String>,
}

/// A detection with everything known of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DetectionDetail {
    #[serde(flatten)]
    pub summary: DetectionSummary,
    /// The agent's own id of it.
    pub local_id: String,
    pub recorded_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessFacts>,
    /// Nearest first.
    pub ancestors: Vec<ProcessFacts>,
    pub signals: Vec<SignalValue>,
    /// In the order they were touched.
    pub files: Vec<FileTouch>,
    /// What the responses did, in order.
    pub responses: Vec<ResponseStep>,
    /// When the newest backup holding the first touched file was received, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<Timestamp>,
    /// That backup's snapshot id: what a restore of exactly the touched files reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
}

/// A person's decision on a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub decision: Decision,
}

/// What a decision did: the detection's status now, and the response job it queued (none
/// when nothing on the device changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionOut {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// A detection policy and the devices it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DetectionPolicyIo {
    /// `all`, `group:ID`, `tag:NAME` or `device:ID`.
    pub target: String,
    pub policy: DetectionPolicy,
}

/// A stored detection policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DetectionPolicyOut {
    pub target: String,
    pub policy: DetectionPolicy,
    /// The automatic responses, in words.
    pub responses: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// Asking for a ransomware fire drill on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillRequest {
    /// Files the simulation creates and encrypts (default 200, at most 2,000).
    #[serde(default)]
    pub files: Option<u32>,
}

/// A fire drill, queued or finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DrillOut {
    pub job_id: String,
    pub device_id: String,
    pub device_name: String,
    pub requested_by: String,
    pub queued_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_lost: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_detect_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_id: Option<String>,
    /// (channel, delivered) for each channel of the alert's route.
    #[serde(default)]
    pub channels: Vec<(String, bool)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    #[serde(default)]
    pub failures: Vec<String>,
}

/// A restore of exactly a detection's files, queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FilesRestoreQueued {
    /// The `restore` job.
    pub job_id: String,
    pub snapshot: String,
    /// The files it puts back where they were, in the order they were touched.
    pub paths: Vec<String>,
}
