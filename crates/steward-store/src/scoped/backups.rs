//! Backups as people (and the backup service, with `Scope::AllDevices`) read them: a
//! device's snapshots and drills, and the fleet's overview. A device outside the scope has
//! none.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use super::ScopedStore;
use crate::Result;
use crate::StoreError;
use crate::backups::{
    BackupDrillRecord, BackupSnapshotRecord, DRILL_COLS, DrillOutcome, SNAPSHOT_COLS, drill,
    snapshot,
};
use crate::rows::{int, opt_int, opt_text, text};

/// One device's backups at a glance (the fleet page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOverviewRecord {
    pub device_id: String,
    pub device_name: String,
    /// The repository's storage (`local`, `s3`); `None` when the device has none (yet).
    pub storage: Option<String>,
    pub repository_created_at: Option<Timestamp>,
    /// The newest snapshot not forgotten: when it was received and its numbers.
    pub last_received_at: Option<Timestamp>,
    pub last_files: Option<i64>,
    pub last_bytes: Option<i64>,
    pub last_added_bytes: Option<i64>,
    pub last_stored_bytes: Option<i64>,
    /// Snapshots not forgotten, and the sums of their new data (as added and as stored):
    /// roughly what the repository holds.
    pub live_snapshots: i64,
    pub live_added_bytes: i64,
    pub live_stored_bytes: i64,
    /// The next scheduled run of an enabled policy on the device.
    pub next_due_at: Option<Timestamp>,
    /// The latest drill started: how it went (or `Running`) and when it finished.
    pub last_drill_outcome: Option<DrillOutcome>,
    pub last_drill_finished_at: Option<Timestamp>,
}

const OVERVIEW_SQL: &str = "SELECT d.id AS device_id, d.name AS device_name, r.storage, \
     r.created_at AS repository_created_at, ls.received_at AS last_received_at, \
     ls.files AS last_files, ls.bytes AS last_bytes, ls.added_bytes AS last_added_bytes, \
     ls.stored_bytes AS last_stored_bytes, COALESCE(a.live, 0) AS live_snapshots, \
     COALESCE(a.added, 0) AS live_added_bytes, COALESCE(a.stored, 0) AS live_stored_bytes, \
     (SELECT MIN(b.due_at) FROM backup_schedule b JOIN backup_policies p ON p.id = b.policy_id \
      WHERE b.device_id = d.id AND p.enabled = 1) AS next_due_at, \
     dr.outcome AS last_drill_outcome, dr.finished_at AS last_drill_finished_at \
     FROM devices d \
     LEFT JOIN backup_repositories r ON r.device_id = d.id \
     LEFT JOIN (SELECT device_id, COUNT(*) AS live, \
      CAST(SUM(COALESCE(added_bytes, 0)) AS BIGINT) AS added, \
      CAST(SUM(COALESCE(stored_bytes, 0)) AS BIGINT) AS stored \
      FROM backup_snapshots WHERE forgotten_at IS NULL GROUP BY device_id) a ON a.device_id = d.id \
     LEFT JOIN backup_snapshots ls ON ls.device_id = d.id AND ls.snapshot_id = ( \
      SELECT x.snapshot_id FROM backup_snapshots x WHERE x.device_id = d.id \
      AND x.forgotten_at IS NULL ORDER BY x.received_at DESC, x.snapshot_id DESC LIMIT 1) \
     LEFT JOIN backup_drills dr ON dr.id = ( \
      SELECT y.id FROM backup_drills y WHERE y.device_id = d.id \
      ORDER BY y.started_at DESC, y.id DESC LIMIT 1) \
     WHERE (r.device_id IS NOT NULL \
      OR EXISTS (SELECT 1 FROM backup_snapshots z WHERE z.device_id = d.id))";

fn overview(row: &AnyRow) -> Result<BackupOverviewRecord> {
    let outcome = opt_text(row, "last_drill_outcome")?
        .map(|o| {
            o.parse::<DrillOutcome>()
                .map_err(|_| StoreError::Corrupt(format!("unknown drill outcome {o}")))
        })
        .transpose()?;
    Ok(BackupOverviewRecord {
        device_id: text(row, "device_id")?,
        device_name: text(row, "device_name")?,
        storage: opt_text(row, "storage")?,
        repository_created_at: opt_int(row, "repository_created_at")?.map(Timestamp),
        last_received_at: opt_int(row, "last_received_at")?.map(Timestamp),
        last_files: opt_int(row, "last_files")?,
        last_bytes: opt_int(row, "last_bytes")?,
        last_added_bytes: opt_int(row, "last_added_bytes")?,
        last_stored_bytes: opt_int(row, "last_stored_bytes")?,
        live_snapshots: int(row, "live_snapshots")?,
        live_added_bytes: int(row, "live_added_bytes")?,
        live_stored_bytes: int(row, "live_stored_bytes")?,
        next_due_at: opt_int(row, "next_due_at")?.map(Timestamp),
        last_drill_outcome: outcome,
        last_drill_finished_at: opt_int(row, "last_drill_finished_at")?.map(Timestamp),
    })
}

impl ScopedStore<'_> {
    /// The device's snapshots, newest received first; forgotten ones only if asked.
    pub async fn backup_snapshots(
        &self,
        device_id: &str,
        include_forgotten: bool,
    ) -> Result<Vec<BackupSnapshotRecord>> {
        let live = if include_forgotten {
            ""
        } else {
            "AND s.forgotten_at IS NULL"
        };
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT {SNAPSHOT_COLS} FROM backup_snapshots s JOIN devices d ON d.id = s.device_id \
             WHERE s.device_id = $1 {live} AND {cond} \
             ORDER BY s.received_at DESC, s.snapshot_id DESC"
        ))
        .bind(device_id);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(snapshot).collect()
    }

    /// The device's latest `limit` drills, newest started first.
    pub async fn backup_drills(
        &self,
        device_id: &str,
        limit: u32,
    ) -> Result<Vec<BackupDrillRecord>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT {DRILL_COLS} FROM backup_drills r JOIN devices d ON d.id = r.device_id \
             WHERE r.device_id = $1 AND {cond} ORDER BY r.started_at DESC, r.id DESC LIMIT {limit}"
        ))
        .bind(device_id);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(drill).collect()
    }

    /// Every device within the scope that has a repository or a snapshot, by name, with
    /// its backups summed up: one query.
    pub async fn backup_overview(&self) -> Result<Vec<BackupOverviewRecord>> {
        let (cond, args) = self.condition("d", 0);
        let q = sqlx::query(safe_sql!(
            "{OVERVIEW_SQL} AND {cond} ORDER BY LOWER(d.name), d.id"
        ));
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(overview).collect()
    }

    /// [`Self::backup_overview`] of one device (for its page): `None` when it is out of
    /// scope or has neither a repository nor a snapshot.
    pub async fn backup_overview_of(
        &self,
        device_id: &str,
    ) -> Result<Option<BackupOverviewRecord>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!("{OVERVIEW_SQL} AND d.id = $1 AND {cond}")).bind(device_id);
        let row = Self::bind_all(q, args)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(overview).transpose()
    }
}
