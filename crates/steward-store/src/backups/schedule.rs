//! When policies run: one row per policy and device it covers, claimed with a lease when
//! due and moved on in the transaction that queues the backup job. And the per-device
//! forget/prune bookkeeping, claimed the same way so one server at a time maintains a
//! repository.

use std::collections::HashSet;

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::jobs::{JobRecord, insert_job};
use crate::rows::{int, opt_int, opt_text, text, touched};
use crate::{Backend, Result, Store, StoreError};

/// Rows per statement when writing or deleting many schedule rows.
const ROWS_PER_STATEMENT: usize = 200;

/// A policy's run on a device, claimed because it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupDue {
    pub policy_id: String,
    pub device_id: String,
    /// The run claimed: the job is queued only if this is still the row's due time.
    pub due_at: Timestamp,
}

/// A policy's schedule on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupScheduleRecord {
    pub policy_id: String,
    pub device_id: String,
    pub due_at: Timestamp,
    pub last_queued_at: Option<Timestamp>,
    pub last_job_id: Option<String>,
}

/// When a repository was last maintained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupMaintenanceRecord {
    pub device_id: String,
    pub last_forget_at: Option<Timestamp>,
    pub last_prune_at: Option<Timestamp>,
}

fn schedule_row(row: &AnyRow) -> Result<BackupScheduleRecord> {
    Ok(BackupScheduleRecord {
        policy_id: text(row, "policy_id")?,
        device_id: text(row, "device_id")?,
        due_at: Timestamp(int(row, "due_at")?),
        last_queued_at: opt_int(row, "last_queued_at")?.map(Timestamp),
        last_job_id: opt_text(row, "last_job_id")?,
    })
}

/// A missing policy or device is `NotFound`; the rest as usual.
fn missing(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => e.into(),
    }
}

impl Store {
    /// Sets when the policy next runs on the device, tracking the pair if it was not.
    /// `NotFound` when the policy or the device does not exist.
    pub async fn set_backup_due(
        &self,
        policy_id: &str,
        device_id: &str,
        due_at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO backup_schedule (policy_id, device_id, due_at) VALUES ($1, $2, $3) \
             ON CONFLICT (policy_id, device_id) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(policy_id)
        .bind(device_id)
        .bind(due_at.0)
        .execute(&self.write)
        .await
        .map_err(missing)?;
        Ok(())
    }

    /// Starts tracking the policy on each of these devices, first due at the time given,
    /// unless it is tracked there already (its due time then stays). One transaction.
    /// `NotFound` (and nothing written) when the policy or a device does not exist.
    pub async fn track_backups(
        &self,
        policy_id: &str,
        first_due: &[(String, Timestamp)],
    ) -> Result<()> {
        if first_due.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in first_due.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
                .collect();
            let mut q = sqlx::query(safe_sql!(
                "INSERT INTO backup_schedule (policy_id, device_id, due_at) VALUES {} \
                 ON CONFLICT (policy_id, device_id) DO NOTHING",
                values.join(", ")
            ))
            .bind(policy_id);
            for (device_id, due_at) in chunk {
                q = q.bind(device_id).bind(due_at.0);
            }
            q.execute(&mut *tx).await.map_err(missing)?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stops tracking the policy on every device but these (devices it no longer covers).
    /// Returns how many were dropped.
    pub async fn retain_backup_schedule(&self, policy_id: &str, devices: &[String]) -> Result<u64> {
        let keep: HashSet<&str> = devices.iter().map(String::as_str).collect();
        let mut tx = self.begin_write().await?;
        let tracked: Vec<String> =
            sqlx::query_scalar("SELECT device_id FROM backup_schedule WHERE policy_id = $1")
                .bind(policy_id)
                .fetch_all(&mut *tx)
                .await?;
        let gone: Vec<&String> = tracked
            .iter()
            .filter(|d| !keep.contains(d.as_str()))
            .collect();
        let mut dropped = 0;
        for chunk in gone.chunks(ROWS_PER_STATEMENT) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let mut q = sqlx::query(safe_sql!(
                "DELETE FROM backup_schedule WHERE policy_id = $1 AND device_id IN ({})",
                placeholders.join(", ")
            ))
            .bind(policy_id);
            for device_id in chunk {
                q = q.bind(*device_id);
            }
            dropped += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(dropped)
    }

    /// The policy's schedule, by device id.
    pub async fn backup_schedule(&self, policy_id: &str) -> Result<Vec<BackupScheduleRecord>> {
        let rows = sqlx::query(
            "SELECT policy_id, device_id, due_at, last_queued_at, last_job_id \
             FROM backup_schedule WHERE policy_id = $1 ORDER BY device_id",
        )
        .bind(policy_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(schedule_row).collect()
    }

    /// Claims up to `limit` runs of enabled policies due at `now`, leased until
    /// `lease_until`: nobody claims them again until then or until they are queued
    /// ([`Store::record_backup_queued`]). Oldest due first. One statement: the due rows are
    /// picked (on PostgreSQL skipping rows another server is claiming) and leased together.
    pub async fn claim_backups_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<BackupDue>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(safe_sql!(
            "UPDATE backup_schedule SET lease_until = $1 WHERE (policy_id, device_id) IN ( \
             SELECT policy_id, device_id FROM backup_schedule b \
             WHERE due_at <= $2 AND lease_until <= $2 \
             AND EXISTS (SELECT 1 FROM backup_policies p WHERE p.id = b.policy_id AND p.enabled = 1) \
             ORDER BY due_at, policy_id, device_id LIMIT {limit} {lock}) \
             RETURNING policy_id, device_id, due_at"
        ))
        .bind(lease_until.0)
        .bind(now.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut claimed: Vec<BackupDue> = rows
            .iter()
            .map(|r| {
                Ok(BackupDue {
                    policy_id: text(r, "policy_id")?,
                    device_id: text(r, "device_id")?,
                    due_at: Timestamp(int(r, "due_at")?),
                })
            })
            .collect::<Result<_>>()?;
        // RETURNING keeps no order.
        claimed.sort_by(|a, b| {
            (a.due_at.0, &a.policy_id, &a.device_id).cmp(&(b.due_at.0, &b.policy_id, &b.device_id))
        });
        Ok(claimed)
    }

    /// Queues the claimed run's backup job and moves the schedule on to `next_due_at`
    /// (releasing the claim), all or nothing, and only if the run is still due as claimed.
    /// `false`, and nothing written, when it is not: another server queued it after this
    /// one's lease lapsed, its due time was changed, or the policy no longer covers the
    /// device. So a run is queued once however the claims overlap.
    pub async fn record_backup_queued(
        &self,
        run: &BackupDue,
        job: &JobRecord,
        next_due_at: Timestamp,
    ) -> Result<bool> {
        if job.device_id != run.device_id {
            return Err(StoreError::InvalidInput(format!(
                "a backup job for device {} queued for the schedule of device {}",
                job.device_id, run.device_id
            )));
        }
        let mut tx = self.begin_write().await?;
        // The update first: on PostgreSQL it locks the row, so a racing server waits here
        // and then finds the run moved on.
        let moved = sqlx::query(
            "UPDATE backup_schedule SET due_at = $1, lease_until = 0, last_queued_at = $2, \
             last_job_id = $3 WHERE policy_id = $4 AND device_id = $5 AND due_at = $6",
        )
        .bind(next_due_at.0)
        .bind(job.created_at.0)
        .bind(&job.id)
        .bind(&run.policy_id)
        .bind(&run.device_id)
        .bind(run.due_at.0)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        insert_job(&mut *tx, job).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes the device's repository maintenance (forget, prune) until `lease_until`,
    /// unless another server holds it at `now`. `NotFound` when the device does not exist.
    pub async fn claim_backup_maintenance(
        &self,
        device_id: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool> {
        let res = sqlx::query(
            "INSERT INTO backup_maintenance (device_id, lease_until) VALUES ($1, $2) \
             ON CONFLICT (device_id) DO UPDATE SET lease_until = excluded.lease_until \
             WHERE backup_maintenance.lease_until <= $3",
        )
        .bind(device_id)
        .bind(lease_until.0)
        .bind(now.0)
        .execute(&self.write)
        .await
        .map_err(missing)?;
        Ok(res.rows_affected() == 1)
    }

    /// Records the maintenance done (a `None` time leaves that one as it was) and releases
    /// the claim. `NotFound` when the device's maintenance was never claimed.
    pub async fn record_backup_maintenance(
        &self,
        device_id: &str,
        forget_at: Option<Timestamp>,
        prune_at: Option<Timestamp>,
    ) -> Result<()> {
        let res = sqlx::query(
            "UPDATE backup_maintenance SET last_forget_at = COALESCE($2, last_forget_at), \
             last_prune_at = COALESCE($3, last_prune_at), lease_until = 0 WHERE device_id = $1",
        )
        .bind(device_id)
        .bind(forget_at.map(|t| t.0))
        .bind(prune_at.map(|t| t.0))
        .execute(&self.write)
        .await?;
        touched(&res)
    }

    /// When the device's repository was last maintained (`None`: never claimed).
    pub async fn backup_maintenance(
        &self,
        device_id: &str,
    ) -> Result<Option<BackupMaintenanceRecord>> {
        let row = sqlx::query(
            "SELECT device_id, last_forget_at, last_prune_at FROM backup_maintenance \
             WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(BackupMaintenanceRecord {
                device_id: text(&r, "device_id")?,
                last_forget_at: opt_int(&r, "last_forget_at")?.map(Timestamp),
                last_prune_at: opt_int(&r, "last_prune_at")?.map(Timestamp),
            })
        })
        .transpose()
    }
}
