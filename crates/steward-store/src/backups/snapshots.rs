//! Snapshots: recorded when the repository endpoint stores a snapshot object (the time
//! retention trusts), summarised once the backup's numbers are known, marked forgotten when
//! retention lets them go. People read them through `ScopedStore::backup_snapshots`.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use super::json_list;
use crate::jobs::names;
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store, StoreError};

/// Snapshot ids per statement when marking many forgotten (well under either database's
/// limit of bound values).
const IDS_PER_STATEMENT: usize = 500;

/// A snapshot in a device's repository (see migration 0017 for the columns' meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSnapshotRecord {
    pub device_id: String,
    /// restic's id of the snapshot (64 hex digits).
    pub snapshot_id: String,
    /// When the server stored the snapshot object: the only time retention trusts.
    pub received_at: Timestamp,
    /// The time written inside the snapshot by the device: shown, never trusted.
    pub written_at: Option<Timestamp>,
    pub policy_id: Option<String>,
    pub job_id: Option<String>,
    pub files: Option<i64>,
    /// Bytes processed.
    pub bytes: Option<i64>,
    /// New data after deduplication, before compression.
    pub added_bytes: Option<i64>,
    /// New data as stored (compressed).
    pub stored_bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    pub paths: Option<Vec<String>>,
    pub forgotten_at: Option<Timestamp>,
}

/// What is known of a snapshot once its backup reported (each `None` leaves the stored
/// value as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub written_at: Option<Timestamp>,
    pub policy_id: Option<String>,
    pub job_id: Option<String>,
    pub files: Option<i64>,
    pub bytes: Option<i64>,
    pub added_bytes: Option<i64>,
    pub stored_bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    pub paths: Option<Vec<String>>,
}

pub(crate) const SNAPSHOT_COLS: &str = "s.device_id, s.snapshot_id, s.received_at, s.written_at, \
     s.policy_id, s.job_id, s.files, s.bytes, s.added_bytes, s.stored_bytes, s.duration_ms, \
     s.paths, s.forgotten_at";

pub(crate) fn snapshot(row: &AnyRow) -> Result<BackupSnapshotRecord> {
    Ok(BackupSnapshotRecord {
        device_id: text(row, "device_id")?,
        snapshot_id: text(row, "snapshot_id")?,
        received_at: Timestamp(int(row, "received_at")?),
        written_at: opt_int(row, "written_at")?.map(Timestamp),
        policy_id: opt_text(row, "policy_id")?,
        job_id: opt_text(row, "job_id")?,
        files: opt_int(row, "files")?,
        bytes: opt_int(row, "bytes")?,
        added_bytes: opt_int(row, "added_bytes")?,
        stored_bytes: opt_int(row, "stored_bytes")?,
        duration_ms: opt_int(row, "duration_ms")?,
        paths: names(row, "paths")?,
        forgotten_at: opt_int(row, "forgotten_at")?.map(Timestamp),
    })
}

impl Store {
    /// Records that the server stored snapshot `snapshot_id` of the device at
    /// `received_at`. `true` when it is new; recording it again changes nothing (the first
    /// time received stands). `NotFound` when the device does not exist.
    pub async fn record_snapshot_received(
        &self,
        device_id: &str,
        snapshot_id: &str,
        received_at: Timestamp,
    ) -> Result<bool> {
        let res = sqlx::query(
            "INSERT INTO backup_snapshots (device_id, snapshot_id, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id, snapshot_id) DO NOTHING",
        )
        .bind(device_id)
        .bind(snapshot_id)
        .bind(received_at.0)
        .execute(&self.write)
        .await;
        match res {
            Ok(done) => Ok(done.rows_affected() == 1),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Fills in a received snapshot's summary. `false`, and nothing written, when the
    /// server never received that snapshot: a summary alone does not make one.
    pub async fn record_snapshot_summary(
        &self,
        device_id: &str,
        snapshot_id: &str,
        s: &SnapshotSummary,
    ) -> Result<bool> {
        let paths = s.paths.as_deref().map(json_list).transpose()?;
        let res = sqlx::query(
            "UPDATE backup_snapshots SET written_at = COALESCE($3, written_at), \
             policy_id = COALESCE($4, policy_id), job_id = COALESCE($5, job_id), \
             files = COALESCE($6, files), bytes = COALESCE($7, bytes), \
             added_bytes = COALESCE($8, added_bytes), stored_bytes = COALESCE($9, stored_bytes), \
             duration_ms = COALESCE($10, duration_ms), paths = COALESCE($11, paths) \
             WHERE device_id = $1 AND snapshot_id = $2",
        )
        .bind(device_id)
        .bind(snapshot_id)
        .bind(s.written_at.map(|t| t.0))
        .bind(&s.policy_id)
        .bind(&s.job_id)
        .bind(s.files)
        .bind(s.bytes)
        .bind(s.added_bytes)
        .bind(s.stored_bytes)
        .bind(s.duration_ms)
        .bind(paths)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Marks the device's snapshots `ids` forgotten at `at` (retention let them go), in one
    /// transaction. Returns how many were marked: ids unknown or forgotten already count
    /// for nothing, so marking again is harmless.
    pub async fn mark_snapshots_forgotten(
        &self,
        device_id: &str,
        ids: &[String],
        at: Timestamp,
    ) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut marked = 0;
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let placeholders: Vec<String> = (3..chunk.len() + 3).map(|i| format!("${i}")).collect();
            let mut q = sqlx::query(safe_sql!(
                "UPDATE backup_snapshots SET forgotten_at = $1 WHERE device_id = $2 \
                 AND forgotten_at IS NULL AND snapshot_id IN ({})",
                placeholders.join(", ")
            ))
            .bind(at.0)
            .bind(device_id);
            for id in chunk {
                q = q.bind(id);
            }
            marked += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(marked)
    }
}
