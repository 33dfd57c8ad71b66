//! The posture capability's wire types: the report (the same document the console renders,
//! `steward report --format json` prints and the PDF is written from), manual answers and
//! accepted exceptions.

use serde::{Deserialize, Serialize};
use steward_core::Timestamp;
use steward_core::posture::manual::Answer;
use utoipa::ToSchema;

/// Counts of results by state, and the pass ratio: passed / (passed + failed + excepted);
/// `None` when nothing was judged. Not applicable and unknown results are counted, never
/// scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Score {
    pub pass: u32,
    pub fail: u32,
    pub excepted: u32,
    pub unknown: u32,
    pub not_applicable: u32,
    pub ratio: Option<f64>,
}

/// How many devices a control covers (insurers ask whether it is at least 98 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Coverage {
    /// Devices on which it passes.
    pub covered: u32,
    /// Devices on which it was judged (passed, failed or excepted).
    pub judged: u32,
    pub ratio: Option<f64>,
}

/// One device's result for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceResult {
    pub device_id: String,
    pub device_name: String,
    /// pass, fail, excepted, not_applicable or unknown.
    pub status: String,
    pub evidence: String,
    pub reason: String,
    /// Since when it has been in this state.
    pub since: Timestamp,
    pub evaluated_at: Timestamp,
}

/// One line of the report: a check, a manual item, a CIS Safeguard or a Cyber Essentials
/// requirement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Item {
    pub id: String,
    pub title: String,
    /// check (read on the devices), server (judged from what the server knows), manual (a
    /// person's answer), safeguard or requirement.
    pub kind: String,
    /// pass, fail, excepted, not_applicable or unknown.
    pub status: String,
    /// low, medium, high or critical (checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// For safeguards and requirements: automatic, partial or attested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidenced: Option<String>,
    /// Fails a whole framework on its own (a Cyber Essentials auto-fail).
    #[serde(default)]
    pub blocker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// What was seen, in a line.
    pub evidence: String,
    /// Why the item stands as it does.
    pub reason: String,
    /// When it was last judged or answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Timestamp>,
    /// What to do about a failure.
    #[serde(default)]
    pub remediation: String,
    /// CIS Safeguards and the Cyber Essentials requirement it evidences; for a Safeguard or
    /// requirement, the checks and manual items that evidence it.
    #[serde(default)]
    pub references: Vec<String>,
    /// Per device, for checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceResult>,
    /// Manual items: who answers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Manual items: the name of the file kept as evidence, served at
    /// `/api/v1/posture/manual/{id}/attachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
}

/// One section of the chosen framework (a checklist section, a CIS Control, a Cyber
/// Essentials theme), with its score and items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub score: Score,
    pub items: Vec<Item>,
}

/// The organisation's standing in one framework.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Standing {
    /// checklist, cis-ig1 or cyber-essentials.
    pub framework: String,
    /// The framework's name and pinned version.
    pub title: String,
    /// Items (checks and manual items; Safeguards; requirements) by status.
    pub score: Score,
    /// Items failing that fail the framework on their own.
    pub blockers: Vec<String>,
}

/// A device's own score over its checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceScore {
    pub device_id: String,
    pub device_name: String,
    pub score: Score,
    pub evaluated_at: Option<Timestamp>,
}

/// A remediation worth doing first: its rank is the failing item's severity weighted by
/// the devices it fails on (doubled when it fails a framework on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Remediation {
    pub item_id: String,
    pub title: String,
    pub rank: u32,
    pub devices_failing: u32,
    pub remediation: String,
}

/// An accepted risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Exception {
    pub id: String,
    pub check_id: String,
    /// `device:ID`, `group:ID`, `tag:NAME` or `all`.
    pub target: String,
    pub reason: String,
    pub owner: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub created_by: String,
    /// active, expired or revoked.
    pub status: String,
}

/// The posture report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub generated_at: Timestamp,
    /// The framework the sections follow: checklist, cis-ig1 or cyber-essentials.
    pub framework: String,
    pub devices: u32,
    /// Devices that have reported their posture.
    pub devices_evaluated: u32,
    /// The organisation: every device's results and every manual item.
    pub organisation: Score,
    pub standings: Vec<Standing>,
    pub sections: Vec<Section>,
    pub device_scores: Vec<DeviceScore>,
    pub exceptions: Vec<Exception>,
    /// The ten remediations that remove the most risk.
    pub remediations: Vec<Remediation>,
}

/// A person's answer to a manual item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SaveAnswer {
    pub answer: Answer,
    /// Who answers it and is reminded when the answer is due for review.
    pub owner: String,
    #[serde(default)]
    pub note: String,
    /// When the answer must be confirmed again; the item's own interval from now when
    /// omitted.
    #[serde(default)]
    pub review_by: Option<Timestamp>,
}

/// A new accepted risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewException {
    pub check_id: String,
    /// `device:ID`, `group:ID`, `tag:NAME` or `all`.
    pub target: String,
    pub reason: String,
    pub owner: String,
    pub expires_at: Timestamp,
}

/// A day's organisation score, for the trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScorePoint {
    /// Unix day number.
    pub day: i64,
    pub score: Score,
}
