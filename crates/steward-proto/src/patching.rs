//! The patching capability's wire types: each device's pending updates, the fleet's
//! standing, patch policies, approvals and installs.

use serde::{Deserialize, Serialize};
use steward_core::Timestamp;
use steward_core::patching::PatchPolicy;
use utoipa::ToSchema;

/// The fleet's patching at a glance, and each device's line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UpdatesOverview {
    /// Devices with at least one security update pending.
    pub devices_missing_security: u32,
    /// Days the oldest pending security update has waited (Cyber Essentials: at most 14).
    pub oldest_security_days: Option<i64>,
    /// Devices that ask for a reboot.
    pub reboot_required: u32,
    /// Devices that have listed their updates at least once.
    pub devices_listed: u32,
    pub devices: Vec<DeviceUpdates>,
}

/// One device's patching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceUpdates {
    pub device_id: String,
    pub device_name: String,
    /// `apt`, `dnf`; empty until the device lists.
    pub manager: String,
    pub listed_at: Option<Timestamp>,
    pub pending: u32,
    pub security: u32,
    pub oldest_security_days: Option<i64>,
    pub reboot_required: bool,
    /// Why the latest listing failed, when it did.
    pub error: Option<String>,
    /// Whether the device's own configuration allows scripts.
    pub scripts_allowed: bool,
}

/// One pending update of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingRow {
    pub package: String,
    pub arch: String,
    pub installed: String,
    pub candidate: String,
    pub source: String,
    pub security: bool,
    pub advisories: Vec<String>,
    pub first_seen: Timestamp,
    pub pending_days: i64,
    /// Whether this package's candidate version is approved.
    pub approved: bool,
    /// What the device's patch policy does with it: `installs in the next window`, `needs
    /// approval`, `held`, …; `no policy` when none covers the device.
    pub plan: String,
}

/// A patch policy as a person writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPolicyInput {
    pub name: String,
    /// `all`, `group:ID`, `tag:NAME` or `device:ID`.
    pub target: String,
    pub policy: PatchPolicy,
    /// When installs may run, in UTC: `sun 02:00 4h`, `mon-fri 22:00 90m`, `daily 03:00
    /// 1h`. Absent: at any time.
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A stored patch policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PatchPolicyOut {
    pub id: String,
    pub name: String,
    pub target: String,
    pub policy: PatchPolicy,
    pub window: Option<String>,
    pub enabled: bool,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// An approval of one version of a package, fleet-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub package: String,
    pub version: String,
}

/// A stored approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalOut {
    pub package: String,
    pub version: String,
    pub approved_at: Timestamp,
    pub approved_by: String,
}

/// Install updates now, outside any policy, on the devices a target names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallNow {
    /// `device:ID`, `group:ID`, `tag:NAME` or `all`.
    pub target: String,
    /// Only these packages (those of them pending on each device); empty: every pending
    /// update (or every security one, with `security_only`).
    #[serde(default)]
    pub packages: Vec<String>,
    #[serde(default)]
    pub security_only: bool,
}
