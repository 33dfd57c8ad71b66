//! The backup capability's wire types: the parameters and results of `backup` and
//! `restore` jobs, and what an agent is told about the repository a job uses. The
//! repository's objects themselves travel in restic's REST protocol under
//! [`BACKUP_PREFIX`]`/{device-id}/`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Path prefix of the repository endpoint (restic's REST backend protocol).
pub const BACKUP_PREFIX: &str = "/backup/v1";

/// The parameters of a `backup` job: what a policy backs up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupJob {
    /// The policy's name, written into the snapshot as a tag.
    #[serde(default)]
    pub policy: Option<String>,
    pub paths: Vec<String>,
    /// restic-style exclude globs.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// Upload limit in KiB/s; none means as fast as the link allows.
    #[serde(default)]
    pub bandwidth_kib: Option<u64>,
}

/// What a finished backup reports as its job output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupResult {
    pub snapshot_id: String,
    /// The time written inside the snapshot (the device's clock), unix ms.
    pub written_at: i64,
    pub files: u64,
    pub bytes: u64,
    /// New data after deduplication, before and after compression.
    pub added_bytes: u64,
    pub stored_bytes: u64,
    pub duration_ms: u64,
}

/// The parameters of a `restore` job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoreJob {
    /// The device whose repository holds the snapshot (this device, or another for a
    /// restore to another device).
    pub source_device: String,
    pub snapshot: String,
    /// Paths inside the snapshot to restore; empty restores it whole.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The folder on this device to restore under ("/" puts files back where they were).
    pub target: String,
}

/// What a finished restore reports as its job output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoreResult {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    pub duration_ms: u64,
}

/// What the server tells an agent about the repository of a job it is running
/// (`GET /agent/v1/jobs/{id}/repository`): whose repository it is, and its password. The
/// password is never stored with the job.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepositoryAccess {
    pub device_id: String,
    pub password: String,
}

impl std::fmt::Debug for RepositoryAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepositoryAccess")
            .field("device_id", &self.device_id)
            .field("password", &"<redacted>")
            .finish()
    }
}
