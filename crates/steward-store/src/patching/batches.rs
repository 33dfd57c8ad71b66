//! Job batches: the jobs one request queued on many devices, queued together with the batch
//! in one transaction, and read back with their progress.

use sqlx::any::AnyRow;
use steward_core::{JobState, Timestamp};

use crate::jobs::{JOB_COLS, JobRecord, insert_jobs, job};
use crate::rows::{ROWS_PER_STATEMENT, int, text, values_placeholders};
use crate::{Result, Store, StoreError};

/// A batch: what one request asked of many devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    pub id: String,
    /// What was asked (e.g. `run_script`, `install_updates`).
    pub kind: String,
    /// What the person chose (`all`, `group:ID`, `device:ID`…).
    pub target: String,
    /// What to show for it (e.g. the script's name and version).
    pub label: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    /// How many devices it covers, as the caller counted them.
    pub total: i64,
    /// The devices the target named that were not sent the job, and why (JSON, as the
    /// service wrote it).
    pub skipped: String,
}

const BATCH_COLS: &str = "id, kind, target, label, requested_by, created_at, total, skipped";

fn batch(row: &AnyRow) -> Result<BatchRecord> {
    Ok(BatchRecord {
        id: text(row, "id")?,
        kind: text(row, "kind")?,
        target: text(row, "target")?,
        label: text(row, "label")?,
        requested_by: text(row, "requested_by")?,
        created_at: Timestamp(int(row, "created_at")?),
        total: int(row, "total")?,
        skipped: text(row, "skipped")?,
    })
}

impl Store {
    /// Queues the batch and every one of its jobs in one transaction, in multi-row
    /// statements: the request is queued whole or not at all (a device never runs part of a
    /// batch nobody can see). A job id or batch id already taken fails the whole call.
    pub async fn create_batch(&self, b: &BatchRecord, jobs: &[JobRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(safe_sql!(
            "INSERT INTO job_batches ({BATCH_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&b.id)
        .bind(&b.kind)
        .bind(&b.target)
        .bind(&b.label)
        .bind(&b.requested_by)
        .bind(b.created_at.0)
        .bind(b.total)
        .bind(&b.skipped)
        .execute(&mut *tx)
        .await?;
        for chunk in jobs.chunks(ROWS_PER_STATEMENT) {
            insert_jobs(&mut *tx, chunk).await?;
            let values = values_placeholders(chunk.len(), 2);
            let mut q = sqlx::query(safe_sql!(
                "INSERT INTO batch_jobs (batch_id, job_id) VALUES {values}"
            ));
            for j in chunk {
                q = q.bind(&b.id).bind(&j.id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` batches, newest first.
    pub async fn batches(&self, limit: i64) -> Result<Vec<BatchRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {BATCH_COLS} FROM job_batches ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(batch).collect()
    }

    pub async fn batch(&self, id: &str) -> Result<Option<BatchRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {BATCH_COLS} FROM job_batches WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(batch).transpose()
    }

    /// How many of each batch's jobs are in each state, as (batch, state, count), by batch
    /// and state; a state no job is in is left out. One grouped query per
    /// [`ROWS_PER_STATEMENT`] batches.
    pub async fn batch_progress(&self, ids: &[String]) -> Result<Vec<(String, JobState, i64)>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let list = (1..=chunk.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut q = sqlx::query(safe_sql!(
                "SELECT bj.batch_id, j.state, COUNT(*) AS n FROM batch_jobs bj \
                 JOIN jobs j ON j.id = bj.job_id WHERE bj.batch_id IN ({list}) \
                 GROUP BY bj.batch_id, j.state ORDER BY bj.batch_id, j.state"
            ));
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(&self.read).await? {
                let state = text(&row, "state")?;
                out.push((
                    text(&row, "batch_id")?,
                    JobState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {state}")))?,
                    int(&row, "n")?,
                ));
            }
        }
        Ok(out)
    }

    /// The batch's jobs as they are now, oldest first.
    pub async fn batch_jobs(&self, id: &str) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {JOB_COLS} FROM jobs \
             WHERE id IN (SELECT job_id FROM batch_jobs WHERE batch_id = $1) \
             ORDER BY created_at, id"
        ))
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(job).collect()
    }
}
