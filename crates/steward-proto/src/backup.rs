//! The backup capability's wire types: the parameters and results of `backup` and
//! `restore` jobs, and what an agent is told about the repository a job uses. The
//! repository's objects themselves travel in restic's REST protocol under
//! [`BACKUP_PREFIX`]`/{device-id}/`.

use serde::{Deserialize, Serialize};
use steward_core::Timestamp;
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
    /// Set for a restore drill (its id): the agent restores into a scratch folder of its
    /// own instead of `target`, reports each file's size and SHA-256, and removes the
    /// folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<String>,
}

/// What a finished restore reports as its job output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoreResult {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    /// For a drill: each restored file as it came out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checked: Vec<RestoredFile>,
}

/// A file a drill restored: its path inside the snapshot, size and SHA-256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestoredFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
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

/// `POST /api/v1/devices/{id}/backups`: back up now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunBackup {
    /// Paths to back up. Empty: those of the backup policies that cover the device.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub excludes: Vec<String>,
}

/// `POST /api/v1/devices/{id}/restores`: restore files of one of this device's snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartRestore {
    pub snapshot: String,
    /// Paths inside the snapshot (as `files` lists them); empty restores all of it.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The device to restore on; this one when absent.
    #[serde(default)]
    pub target_device: Option<String>,
    /// An absolute folder on the target device; "/" puts files back where they were.
    pub target_path: String,
}

/// A snapshot of a device's repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Snapshot {
    pub id: String,
    /// When the server received it: what retention judges by.
    pub received_at: Timestamp,
    /// The time written inside it by the device, once the backup reported.
    pub written_at: Option<Timestamp>,
    pub paths: Vec<String>,
    pub files: Option<i64>,
    pub bytes: Option<i64>,
    pub added_bytes: Option<i64>,
    pub stored_bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    pub job_id: Option<String>,
}

/// One entry of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotEntry {
    pub path: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: String,
    pub size: u64,
    pub mode: Option<u32>,
    pub mtime: Option<Timestamp>,
    pub link: Option<String>,
}

/// A repository's password, shown once to an administrator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepositoryPassword {
    pub device_id: String,
    /// Where the repository is on the server (`restic -r <location>`).
    pub location: String,
    pub password: String,
}

impl std::fmt::Debug for RepositoryPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepositoryPassword")
            .field("device_id", &self.device_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `POST /api/v1/devices/{id}/drills`: prove the device's backups restore now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StartDrill {
    /// The device whose agent restores the sample; the device itself when absent.
    #[serde(default)]
    pub runner: Option<String>,
}

/// A restore drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Drill {
    pub id: String,
    pub device_id: String,
    pub runner_device_id: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// `running`, `passed` or `failed`.
    pub outcome: String,
    pub files_checked: i64,
    pub bytes_checked: i64,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

/// `POST /api/v1/backup-policies` and `PUT /api/v1/backup-policies/{id}`: a policy as given.
/// What is left out takes its default (or the preset's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SaveBackupPolicy {
    /// 1 to 100 characters, unique.
    pub name: String,
    /// `all` (the default), `device:ID`, `group:ID` or `tag:NAME`; a device or group may be
    /// named by its name too.
    #[serde(default)]
    pub target: Option<String>,
    /// `linux-server` or `workstation` (see `GET /api/v1/backup-presets`): its paths and
    /// excludes, unless `paths` or `excludes` are given.
    #[serde(default)]
    pub preset: Option<String>,
    /// Absolute paths to back up; required unless a preset gives them.
    #[serde(default)]
    pub paths: Option<Vec<String>>,
    /// restic-style globs to leave out. Absent: the usual Linux ones (`/proc`, `/sys`,
    /// `/dev`, `/run`, `/tmp`, `*.tmp`, `/home/*/.cache`, …); `[]`: none.
    #[serde(default)]
    pub excludes: Option<Vec<String>>,
    /// `daily HH:MM` (the default: `daily 01:00`), `hourly`, `hourly :MM`,
    /// `weekly DAY HH:MM` or `every 6h`; UTC.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Which snapshots to keep, judged by when the server received them. Absent:
    /// `{daily 7, weekly 4, monthly 12}`; all zero: keep every snapshot.
    #[serde(default)]
    pub keep: Option<steward_core::backup::retention::Keep>,
    /// No snapshot received less than this many days ago is ever forgotten, whatever `keep`
    /// says (default 30, at least 1).
    #[serde(default)]
    pub protection_days: Option<u32>,
    /// Upload limit in KiB/s; absent: none.
    #[serde(default)]
    pub bandwidth_kib: Option<u64>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A backup policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupPolicy {
    pub id: String,
    pub name: String,
    /// `all`, `device:ID`, `group:ID` or `tag:NAME`.
    pub target: String,
    pub paths: Vec<String>,
    pub excludes: Vec<String>,
    pub schedule: String,
    /// All zero: every snapshot is kept.
    pub keep: steward_core::backup::retention::Keep,
    pub protection_days: u32,
    pub bandwidth_kib: Option<u64>,
    /// `console` (made in the console, API or CLI) or `config` (declared in the
    /// configuration file: change it there).
    pub source: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A named set of paths and excludes a policy can start from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupPreset {
    pub name: String,
    pub description: String,
    pub paths: Vec<String>,
    pub excludes: Vec<String>,
}

/// Where the server keeps backups, as last seen (`GET /api/v1/backups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupStorage {
    /// `local`, `s3`, or `none` (this server keeps no backups).
    pub kind: String,
    /// The directory, or `s3:ENDPOINT/BUCKET/PREFIX`.
    pub location: Option<String>,
    /// Why the bucket could not be used when it was last looked at.
    pub error: Option<String>,
    /// The bucket's Object Lock, for people (`compliance, 30 days`, `off`, …).
    pub object_lock: Option<String>,
    /// Every object written is locked against deletion for a while (Object Lock with a
    /// default retention).
    pub locked: bool,
}

/// One device's backups at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceBackups {
    pub device_id: String,
    pub device_name: String,
    /// When the newest kept snapshot was received.
    pub last_backup_at: Option<Timestamp>,
    pub last_files: Option<i64>,
    pub last_bytes: Option<i64>,
    /// Snapshots kept, and the bytes their backups added to the repository.
    pub snapshots: i64,
    pub stored_bytes: i64,
    /// When a policy next backs it up.
    pub next_run_at: Option<Timestamp>,
    /// The last restore drill: `running`, `passed` or `failed`, and when it ended.
    pub last_drill: Option<String>,
    pub last_drill_at: Option<Timestamp>,
}

/// The backups of every device the caller may see, and where they are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BackupsOverview {
    pub storage: BackupStorage,
    pub devices: Vec<DeviceBackups>,
}
