//! The remote-scripts capability's wire types: the script library (with its version
//! history), a run sent to devices, and a batch — one job per device — with its progress.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use steward_core::Timestamp;
use steward_core::scripts::{Interpreter, ParamSpec, Platform};
use utoipa::ToSchema;

/// A library script as an administrator writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub platform: Platform,
    pub interpreter: Interpreter,
    #[serde(default)]
    pub params: Vec<ParamSpec>,
    /// The script's text (at most 256 KiB).
    pub content: String,
}

/// A change to a library script: a new version, refused when someone else saved one since
/// `expected_version` (read the script again and redo the change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScript {
    pub expected_version: i64,
    pub script: ScriptInput,
}

/// A library script's current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Script {
    pub id: String,
    pub name: String,
    pub description: String,
    pub platform: Platform,
    pub interpreter: Interpreter,
    pub params: Vec<ParamSpec>,
    pub version: i64,
    /// SHA-256 of the current content, lowercase hex: what every run is audited with.
    pub content_sha256: String,
    pub content: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// One saved version of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScriptVersion {
    pub version: i64,
    pub content_sha256: String,
    pub interpreter: Interpreter,
    pub params: Vec<ParamSpec>,
    pub content: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// A run of a library script on a device, a group or a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunScript {
    /// `device:ID`, `group:ID`, `tag:NAME` or `all`: the devices within the caller's
    /// scope that it names.
    pub target: String,
    /// Parameter values by name; a missing optional one takes its default.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// How long the script may run on each device (default 300 s, at most a day).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// How long a device that is offline now may still start it when it returns (default
    /// 24 h, at most 7 days); past it the job expires and the signed order with it.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// A job sent to several devices: one job per device, and how far they got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    pub id: String,
    /// The job kind (`run_script`, `install_updates`).
    pub kind: String,
    /// What was chosen (`group:ID`, `tag:NAME`, `device:ID`, `all`).
    pub target: String,
    /// What it does, for people (`restart-nginx v3`).
    pub label: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub progress: BatchProgress,
    /// The devices the target named that were not sent the job, and why.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

/// How many of a batch's jobs are in each state. `offline` counts the queued jobs whose
/// device has not checked in recently: they start when it returns, unless they expire first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchProgress {
    pub total: u32,
    pub queued: u32,
    pub offline: u32,
    pub running: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub expired: u32,
}

/// A device a batch did not reach, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    pub device_id: String,
    pub device_name: String,
    pub reason: String,
}

/// One device's job in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchJob {
    pub job_id: String,
    pub device_id: String,
    pub device_name: String,
    /// queued, offline, dispatched, running, succeeded, failed, expired or unsupported.
    pub state: String,
    pub message: String,
    pub updated_at: Timestamp,
}

/// A batch with each device's job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchDetail {
    pub batch: Batch,
    pub jobs: Vec<BatchJob>,
}
