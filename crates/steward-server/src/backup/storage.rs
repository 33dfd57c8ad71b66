//! Where devices' repositories are kept: one directory each under `<data-dir>/backups/`, or
//! one folder each in an S3-compatible bucket (`[backup_storage]` in the config file). The
//! one place the choice is made ([`storage_for`]), and what the server knows of the bucket
//! ([`status`]: reachable, and whether its Object Lock locks what is written).

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use steward_backup::storage::{LocalDir, ObjectLock, S3Bucket, Storage};

use crate::state::AppState;

/// Why a device's repository cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum NoStorage {
    #[error("this server keeps no backups: it has no backup storage configured")]
    NotConfigured,
    #[error("{0:?} cannot name a backup repository")]
    BadDevice(String),
}

/// Whether this server stores backups at all.
pub fn configured(state: &AppState) -> bool {
    state.backup_bucket.is_some() || state.config.backups_dir.is_some()
}

/// Where `device_id`'s repository is stored: the folder `PREFIX/<device-id>/` of the bucket
/// when one is configured, else the directory `<backups_dir>/<device-id>/`. Both are laid
/// out as restic's, so `restic -r` opens either.
///
/// A server that moves from a directory to a bucket starts each device's repository anew in
/// the bucket, with the same password; the directory's repositories stay where they are.
pub fn storage_for(state: &AppState, device_id: &str) -> Result<Arc<dyn Storage>, NoStorage> {
    // Device ids are UUIDs made by the server; anything else must not become a path.
    let plain = !device_id.is_empty()
        && device_id.len() <= 64
        && device_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if let Some(bucket) = &state.backup_bucket {
        if !plain {
            return Err(NoStorage::BadDevice(device_id.chars().take(80).collect()));
        }
        return Ok(Arc::new(bucket.repository(device_id)));
    }
    let Some(root) = &state.config.backups_dir else {
        return Err(NoStorage::NotConfigured);
    };
    if !plain {
        return Err(NoStorage::BadDevice(device_id.chars().take(80).collect()));
    }
    Ok(Arc::new(LocalDir::new(Path::new(root).join(device_id))))
}

/// What the server last saw of its backup storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageStatus {
    /// `local`, `s3`, or `none` (this server keeps no backups).
    pub kind: String,
    /// The directory, or `s3:ENDPOINT/BUCKET/PREFIX`.
    pub location: Option<String>,
    /// Why the bucket could not be reached, when it could not.
    pub error: Option<String>,
    /// The bucket's Object Lock, for people: `compliance, 30 days`, `off`, … (`None` for a
    /// directory, or before the bucket has answered).
    pub object_lock: Option<String>,
    /// Whether every object written is locked against deletion for a while.
    pub locked: bool,
}

/// Shared by the handlers: what [`watch`] last found.
pub type SharedStatus = Arc<RwLock<Option<StorageStatus>>>;

impl StorageStatus {
    /// Storage of `kind` at `location`, nothing known about it yet.
    fn at(kind: &str, location: Option<String>) -> Self {
        Self {
            kind: kind.into(),
            location,
            error: None,
            object_lock: None,
            locked: false,
        }
    }
}

/// The backup storage as last seen (for a bucket: at start and every hour since).
pub fn status(state: &AppState) -> StorageStatus {
    if let Some(bucket) = &state.backup_bucket {
        let seen = state
            .backup_storage
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        return seen.unwrap_or_else(|| StorageStatus::at("s3", Some(bucket.location())));
    }
    match &state.config.backups_dir {
        Some(dir) => StorageStatus::at("local", Some(dir.display().to_string())),
        None => StorageStatus::at("none", None),
    }
}

/// Looks at the bucket: whether it answers, and its Object Lock rule.
pub async fn look(bucket: &S3Bucket) -> StorageStatus {
    let mut status = StorageStatus::at("s3", Some(bucket.location()));
    let probe = bucket.clone();
    match tokio::task::spawn_blocking(move || probe.reachable()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => status.error = Some(e.to_string()),
        Err(e) => status.error = Some(format!("looking at the bucket: {e}")),
    }
    if status.error.is_none() {
        match bucket.object_lock().await {
            Ok(lock) => {
                status.locked = matches!(lock, ObjectLock::Locked { .. });
                status.object_lock = Some(lock.describe());
            }
            // The bucket works; only its rule is unknown (a store without Object Lock's API,
            // or a key without s3:GetBucketObjectLockConfiguration): not locked, as far as
            // anyone can tell, which is what the warning then says.
            Err(e) => status.object_lock = Some(format!("unknown ({e})")),
        }
    }
    status
}

/// How often the bucket is looked at again.
const LOOK_EVERY: Duration = Duration::from_secs(3600);

/// Looks at the bucket at start and every hour, says in the log what is wrong (unreachable,
/// or backups that are not locked), and keeps the result for the API and the console.
pub fn watch(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(bucket) = state.backup_bucket.clone() else {
            return;
        };
        let mut said = None;
        loop {
            let seen = look(&bucket).await;
            if said.as_ref() != Some(&seen) {
                match (&seen.error, seen.locked) {
                    (Some(error), _) => tracing::error!(
                        bucket = %bucket.location(),
                        "the backup bucket cannot be used: {error}"
                    ),
                    (None, false) => tracing::warn!(
                        bucket = %bucket.location(),
                        object_lock = seen.object_lock.as_deref().unwrap_or("unknown"),
                        "backups in this bucket are not locked: whoever holds the server's \
                         S3 key can delete them (create the bucket with Object Lock and a \
                         default retention; see docs/CONFIGURATION.md)"
                    ),
                    (None, true) => tracing::info!(
                        bucket = %bucket.location(),
                        object_lock = seen.object_lock.as_deref().unwrap_or(""),
                        "backups are stored in the bucket, locked"
                    ),
                }
            }
            *state
                .backup_storage
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(seen.clone());
            said = Some(seen);
            tokio::time::sleep(LOOK_EVERY).await;
        }
    })
}

/// The settings of a bucket, for the binary that reads them from its config file.
pub use steward_backup::storage::S3Config;
