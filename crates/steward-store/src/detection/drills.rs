//! Ransomware fire drills: queued with their job, finished with the agent's measurement.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::jobs::{JobRecord, insert_job};
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store, StoreError};

/// A drill, finished or not (the measured fields are `None` until it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillRecord {
    pub job_id: String,
    pub device_id: String,
    pub device_name: String,
    pub requested_by: String,
    pub queued_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub files_total: Option<u32>,
    pub files_lost: Option<u32>,
    pub time_to_detect_ms: Option<u64>,
    pub detection_id: Option<String>,
    /// (channel name, delivered), as scored.
    pub channels: Option<Vec<(String, bool)>>,
    pub passed: Option<bool>,
    pub failures: Option<Vec<String>>,
}

/// A drill's result, as the detection service scored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillFinishWrite {
    pub files_total: u32,
    pub files_lost: u32,
    pub time_to_detect_ms: Option<u64>,
    pub detection_id: Option<String>,
    pub channels: Vec<(String, bool)>,
    pub passed: bool,
    pub failures: Vec<String>,
}

const COLS: &str = "r.job_id, r.device_id, v.name AS device_name, r.requested_by, r.queued_at, \
     r.finished_at, r.files_total, r.files_lost, r.time_to_detect_ms, r.detection_id, \
     r.channels, r.passed, r.failures";

fn json_opt<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<Option<T>> {
    opt_text(row, col)?
        .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

fn drill(row: &AnyRow) -> Result<DrillRecord> {
    let small = |v: Option<i64>| v.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
    Ok(DrillRecord {
        job_id: text(row, "job_id")?,
        device_id: text(row, "device_id")?,
        device_name: text(row, "device_name")?,
        requested_by: text(row, "requested_by")?,
        queued_at: Timestamp(int(row, "queued_at")?),
        finished_at: opt_int(row, "finished_at")?.map(Timestamp),
        files_total: small(opt_int(row, "files_total")?),
        files_lost: small(opt_int(row, "files_lost")?),
        time_to_detect_ms: opt_int(row, "time_to_detect_ms")?.map(|n| n.max(0) as u64),
        detection_id: opt_text(row, "detection_id")?,
        channels: json_opt(row, "channels")?,
        passed: opt_int(row, "passed")?.map(|p| p != 0),
        failures: json_opt(row, "failures")?,
    })
}

impl Store {
    /// Queues a drill's job and its drill together.
    pub async fn queue_drill(&self, job: &JobRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_job(&mut *tx, job).await?;
        sqlx::query(
            "INSERT INTO drills (job_id, device_id, requested_by, queued_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&job.id)
        .bind(&job.device_id)
        .bind(&job.requested_by)
        .bind(job.created_at.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a drill's result once; `NotFound` when there is no such drill or it has
    /// finished already.
    pub async fn finish_drill(
        &self,
        job_id: &str,
        w: &DrillFinishWrite,
        at: Timestamp,
    ) -> Result<()> {
        let res = sqlx::query(
            "UPDATE drills SET finished_at = $2, files_total = $3, files_lost = $4, \
             time_to_detect_ms = $5, detection_id = $6, channels = $7, passed = $8, failures = $9 \
             WHERE job_id = $1 AND finished_at IS NULL",
        )
        .bind(job_id)
        .bind(at.0)
        .bind(i64::from(w.files_total))
        .bind(i64::from(w.files_lost))
        .bind(
            w.time_to_detect_ms
                .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        )
        .bind(w.detection_id.clone())
        .bind(to_json(&w.channels)?)
        .bind(i64::from(w.passed))
        .bind(to_json(&w.failures)?)
        .execute(&self.write)
        .await?;
        crate::rows::touched(&res)
    }

    /// Drills, newest first (a device's alone when given), at most `limit`.
    pub async fn drills(&self, device_id: Option<&str>, limit: u32) -> Result<Vec<DrillRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {COLS} FROM drills r JOIN devices v ON v.id = r.device_id \
             WHERE ($1 IS NULL OR r.device_id = $1) ORDER BY r.queued_at DESC, r.job_id LIMIT $2"
        ))
        .bind(device_id.map(str::to_owned))
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(drill).collect()
    }

    /// One drill, by its job's id.
    pub async fn drill(&self, job_id: &str) -> Result<Option<DrillRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {COLS} FROM drills r JOIN devices v ON v.id = r.device_id WHERE r.job_id = $1"
        ))
        .bind(job_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(drill).transpose()
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}
