//! The agent protocol.
//!
//! 1. `POST /agent/v1/enroll` with a one-time enrollment token → the device's identity and its
//!    own credential, shown once; the server keeps only a hash of it.
//! 2. `POST /agent/v1/reports` with a batch of queued reports, oldest first. Each report has a
//!    per-device sequence number; the server acknowledges the highest one it has stored, and
//!    ignores any it has seen already, so a batch delivered twice is stored once.
//! 3. `GET /agent/v1/jobs/next?wait=SECS` long-polls for work; `POST /agent/v1/jobs/{id}`
//!    reports progress and the result.
//! 4. `POST /agent/v1/credential` (on a `rotate_credential` job) issues a new credential,
//!    shown once. The old one keeps working until the first request made with the new one,
//!    so an agent that loses the answer or crashes before storing it is not locked out.
//!
//! Evolving within `/agent/v1`: fields are only ever added, with defaults, and both sides
//! ignore fields they do not know. Every delivery carries the agent's [`Capabilities`] (the
//! job kinds it runs, the report sections it sends); an agent that sends none is one from
//! before the field existed and is taken to run what such agents ran
//! (`steward_core::job::KINDS_OF_AGENTS_THAT_DO_NOT_SAY`). A job's kind travels as a plain
//! [`JobKindName`], so an agent handed a kind it does not know still reads the assignment
//! and answers it `unsupported`; a server too old to know that state refuses the answer, and
//! the agent then reports the job `failed` with the same message.

use serde::{Deserialize, Serialize};
use steward_core::checks::{Observations, Watch};
use steward_core::detection::{Detected, DetectionPolicy};
use steward_core::patching::PendingUpdate;
use steward_core::posture::PostureReport;
use steward_core::scripts::RunOrder;
use steward_core::{
    Inventory, InventoryDelta, InventoryHash, JobKind, JobState, Metrics, Timestamp,
};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrollRequest {
    /// The enrollment token an administrator created.
    pub token: String,
    /// The device's hostname, used as its name.
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EnrollResponse {
    pub device_id: String,
    /// `<device-id>.<secret>`: sent as a bearer token on every later request.
    pub credential: String,
    /// How often the agent should check in, in seconds.
    pub checkin_interval_secs: u64,
    /// The server's script signing key (base64 of the Ed25519 public key), which the agent
    /// pins: it runs only scripts signed with it, and only where its own configuration
    /// allows scripts. Absent from servers that predate remote scripts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_key: Option<String>,
}

/// Asks for a new credential, on behalf of the `rotate_credential` job being run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CredentialRequest {
    pub job_id: String,
}

/// A new credential for the device, replacing the current one at its first use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CredentialResponse {
    /// `<device-id>.<secret>`, for every request from now on.
    pub credential: String,
}

/// What an agent has to say at one moment: its metrics, and perhaps an inventory update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// Per-device sequence number, strictly increasing from 1.
    pub seq: u64,
    /// When the agent collected it.
    pub collected_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryUpdate>,
    /// What the agent saw of the units and processes the server asked it to watch, and
    /// the failed systemd units ([`ReportAck::watch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observations: Option<Observations>,
    /// The device's security posture, when the agent evaluated its checks since the last
    /// report (every few hours: most reports carry none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posture: Option<PostureReport>,
    /// The updates pending for the device's packages, when the agent listed them since the
    /// last report (every few hours, and after an install).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<UpdatesReport>,
    /// Detections since the last report, and response steps added to earlier ones (the
    /// same `local_id` again, with its steps so far).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<Detected>,
    /// Set on the last report of an agent that is stopping on purpose (its service stopped
    /// or uninstalled; not when the machine itself shuts down): the server tells that
    /// silence from a machine that lost power or was switched off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopping: bool,
    /// How many reports the agent merged into this one because its queue was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub summarised: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One listing of the device's pending updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdatesReport {
    /// The package manager that listed them (`apt`, `dnf`).
    pub manager: String,
    pub listed_at: Timestamp,
    /// Every pending update (none: the device is current). Empty when `error` is set.
    #[serde(default)]
    pub pending: Vec<PendingUpdate>,
    /// Whether the device asks for a reboot (a new kernel or core library is installed).
    #[serde(default)]
    pub reboot_required: bool,
    /// Why the listing failed, when it did: the server keeps the last good listing and
    /// shows this beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The parameters of an `install_updates` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallUpdatesParams {
    /// Installed packages to upgrade (nothing new is installed).
    pub packages: Vec<String>,
    /// Reboot (in a minute, with a warning to logged-in users) when the install leaves
    /// the machine asking for one: a patch policy's `in_window` reboot rule.
    #[serde(default)]
    pub reboot: bool,
}

/// The parameters of a `run_script` job: the signed order, its signature (base64) and the
/// content whose SHA-256 the order names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunScriptParams {
    pub order: RunOrder,
    pub signature: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InventoryUpdate {
    /// The whole inventory: at enrollment, and whenever the server asks for it.
    Full { inventory: Box<Inventory> },
    /// Only what changed since the inventory with hash `delta.base`.
    Delta { delta: Box<InventoryDelta> },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportBatch {
    pub reports: Vec<Report>,
    /// What the agent supports, on every delivery (so an upgraded or downgraded agent is
    /// known at its next check-in). Absent from agents that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
}

/// What an agent supports, as it says at check-in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Capabilities {
    /// The job kinds it has an executor for (`collect_inventory`, …): the server hands it
    /// no others. May name kinds this server does not know.
    #[serde(default)]
    pub job_kinds: Vec<String>,
    /// The parts of a [`Report`] it fills in ([`report_section`]). Recorded, so the server
    /// can tell an agent that sends no inventory from one whose inventory is missing.
    #[serde(default)]
    pub report_sections: Vec<String>,
    /// Whether the device's own configuration allows scripts (`allow_scripts` in its
    /// `agent.toml`). Shown in the console; the agent decides again at every run.
    #[serde(default)]
    pub scripts_allowed: bool,
}

/// Names of the parts of a [`Report`], as advertised in [`Capabilities::report_sections`].
pub mod report_section {
    pub const METRICS: &str = "metrics";
    pub const INVENTORY: &str = "inventory";
    pub const OBSERVATIONS: &str = "observations";
    pub const POSTURE: &str = "posture";
    pub const UPDATES: &str = "updates";
    pub const DETECTIONS: &str = "detections";
    /// What agents that advertise nothing send.
    pub const OF_AGENTS_THAT_DO_NOT_SAY: &[&str] = &[METRICS, INVENTORY];
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportAck {
    /// Every report with a sequence number up to this one is stored; the agent may drop them.
    pub acked_seq: u64,
    /// Set when the server could not apply a delta (it holds another inventory than the
    /// agent thinks): the agent must send a full inventory next. Reports after the one
    /// refused were not stored and must be sent again.
    #[serde(default)]
    pub need_full_inventory: bool,
    /// The inventory the server holds now, if any.
    #[serde(default)]
    pub server_inventory_hash: Option<InventoryHash>,
    /// What to watch from now on, when it differs from what the agent's observations said
    /// it watches (only to agents that report observations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
    /// The detection policy the device is to apply (protected folders, canaries, automatic
    /// responses); sent to agents that report detections, on every acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionPolicy>,
}

/// A job handed to the agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobAssignment {
    pub id: String,
    pub kind: JobKindName,
    #[serde(default)]
    pub params: serde_json::Value,
}

/// A job kind's name on the wire (`collect_inventory`). A string rather than
/// `steward_core::JobKind`: a newer server may name a kind this build does not know, and the
/// agent must still read the assignment to answer it `unsupported`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "collect_inventory")]
pub struct JobKindName(pub String);

impl JobKindName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The kind, if this build knows it.
    pub fn known(&self) -> Option<JobKind> {
        JobKind::parse(&self.0)
    }
}

impl From<JobKind> for JobKindName {
    fn from(kind: JobKind) -> Self {
        JobKindName(kind.as_str().to_string())
    }
}

impl std::fmt::Display for JobKindName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Progress or the result of a job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobUpdate {
    /// `running`, `succeeded`, `failed`, or `unsupported` (the agent cannot run this kind).
    pub state: JobState,
    #[serde(default)]
    pub message: String,
    /// Captured output, if the job produces any.
    #[serde(default)]
    pub output: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_job_kind_still_reads() {
        let job: JobAssignment =
            serde_json::from_str(r#"{"id":"j1","kind":"defragment_the_moon","params":{"x":1}}"#)
                .unwrap();
        assert_eq!(job.kind.as_str(), "defragment_the_moon");
        assert_eq!(job.kind.known(), None);
        let known: JobAssignment =
            serde_json::from_str(r#"{"id":"j2","kind":"collect_inventory"}"#).unwrap();
        assert_eq!(known.kind.known(), Some(JobKind::CollectInventory));
        assert_eq!(
            serde_json::to_value(JobKindName::from(JobKind::RotateCredential)).unwrap(),
            serde_json::json!("rotate_credential")
        );
    }

    #[test]
    fn capabilities_are_optional_both_ways() {
        // An old agent's delivery: no capabilities.
        let old: ReportBatch = serde_json::from_str(r#"{"reports":[]}"#).unwrap();
        assert_eq!(old.capabilities, None);
        // A new agent's delivery, with a field a later version might add.
        let new: ReportBatch = serde_json::from_str(
            r#"{"reports":[],"capabilities":{"job_kinds":["collect_inventory"],"report_sections":["metrics"],"later":1}}"#,
        )
        .unwrap();
        let caps = new.capabilities.unwrap();
        assert_eq!(caps.job_kinds, ["collect_inventory"]);
        assert_eq!(caps.report_sections, [report_section::METRICS]);
        // Without capabilities nothing new is on the wire.
        let plain = ReportBatch {
            reports: vec![],
            capabilities: None,
        };
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"reports":[]}"#);
    }
}
