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

use serde::{Deserialize, Serialize};
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
    /// How many reports the agent merged into this one because its queue was full.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub summarised: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
}

/// A job handed to the agent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobAssignment {
    pub id: String,
    pub kind: JobKind,
    #[serde(default)]
    pub params: serde_json::Value,
}

/// Progress or the result of a job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobUpdate {
    /// `running`, `succeeded` or `failed`.
    pub state: JobState,
    #[serde(default)]
    pub message: String,
    /// Captured output, if the job produces any.
    #[serde(default)]
    pub output: String,
}
