//! Detections, their files and their response steps.

use sqlx::any::AnyRow;
use steward_core::Timestamp;
use steward_core::detection::record::Status;
use steward_core::detection::{
    Detected, DetectionKind, FileOp, FileTouch, ProcessFacts, ResponseAction, ResponseStep,
    SignalValue,
};

use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store, StoreError};

/// One detection to record, with where its responses left the device (the server reads
/// that from the detection's steps).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionWrite {
    pub detected: Detected,
    /// The process tree is stopped now.
    pub stopped: bool,
    /// The device is isolated now.
    pub isolated: bool,
}

/// A stored detection, without its files and responses.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionRecord {
    pub id: String,
    pub device_id: String,
    pub device_name: String,
    pub local_id: String,
    pub kind: DetectionKind,
    pub status: Status,
    pub detected_at: Timestamp,
    pub recorded_at: Timestamp,
    pub summary: String,
    pub process: Option<ProcessFacts>,
    pub ancestors: Vec<ProcessFacts>,
    pub signals: Vec<SignalValue>,
    pub drill_job_id: Option<String>,
    pub stopped: bool,
    pub isolated: bool,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
}

/// A detection with its files and response steps, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionFull {
    pub record: DetectionRecord,
    pub files: Vec<FileTouch>,
    pub responses: Vec<ResponseStep>,
}

/// Which detections to list. The open ones come first, then the newest.
#[derive(Debug, Clone, Default)]
pub struct DetectionFilter {
    pub device_id: Option<String>,
    pub status: Option<Status>,
    /// At most this many (0: 500).
    pub limit: u32,
}

const COLS: &str = "d.id, d.device_id, v.name AS device_name, d.local_id, d.kind, d.status, \
     d.detected_at, d.recorded_at, d.summary, d.process, d.ancestors, d.signals, d.drill_job_id, \
     d.stopped, d.isolated, d.decided_by, d.decided_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn detection(row: &AnyRow) -> Result<DetectionRecord> {
    let kind = text(row, "kind")?;
    let status = text(row, "status")?;
    let process = opt_text(row, "process")?
        .map(|p| serde_json::from_str(&p).map_err(|e| corrupt("detections.process", e)))
        .transpose()?;
    Ok(DetectionRecord {
        id: text(row, "id")?,
        device_id: text(row, "device_id")?,
        device_name: text(row, "device_name")?,
        local_id: text(row, "local_id")?,
        kind: DetectionKind::parse(&kind).ok_or_else(|| corrupt("detections.kind", &kind))?,
        status: Status::parse(&status).ok_or_else(|| corrupt("detections.status", &status))?,
        detected_at: Timestamp(int(row, "detected_at")?),
        recorded_at: Timestamp(int(row, "recorded_at")?),
        summary: text(row, "summary")?,
        process,
        ancestors: crate::rows::json(row, "ancestors")?,
        signals: crate::rows::json(row, "signals")?,
        drill_job_id: opt_text(row, "drill_job_id")?,
        stopped: int(row, "stopped")? != 0,
        isolated: int(row, "isolated")? != 0,
        decided_by: opt_text(row, "decided_by")?,
        decided_at: opt_int(row, "decided_at")?.map(Timestamp),
    })
}

/// Records detections of `device_id` inside the caller's transaction: a new one is stored
/// whole (open); one already stored (the same `local_id`) keeps its status and files, takes
/// the response steps after those stored, and the stopped and isolated flags given.
/// Returns the ids of the detections that were new.
pub(crate) async fn record_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    writes: &[DetectionWrite],
    now: Timestamp,
) -> Result<Vec<String>> {
    let mut new = Vec::new();
    for w in writes {
        let d = &w.detected;
        let existing =
            sqlx::query("SELECT id FROM detections WHERE device_id = $1 AND local_id = $2")
                .bind(device_id)
                .bind(&d.local_id)
                .fetch_optional(&mut **tx)
                .await?;
        let (id, stored_steps) = match existing {
            Some(row) => {
                let id = text(&row, "id")?;
                sqlx::query("UPDATE detections SET stopped = $2, isolated = $3 WHERE id = $1")
                    .bind(&id)
                    .bind(i64::from(w.stopped))
                    .bind(i64::from(w.isolated))
                    .execute(&mut **tx)
                    .await?;
                let count = int(
                    &sqlx::query(
                        "SELECT COUNT(*) AS n FROM detection_responses WHERE detection_id = $1",
                    )
                    .bind(&id)
                    .fetch_one(&mut **tx)
                    .await?,
                    "n",
                )?;
                (id, usize::try_from(count).unwrap_or(0))
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                insert_detection(tx, &id, device_id, w, now).await?;
                new.push(id.clone());
                (id, 0)
            }
        };
        for (seq, r) in d.responses.iter().enumerate().skip(stored_steps) {
            sqlx::query(
                "INSERT INTO detection_responses (detection_id, seq, action, at, ok, message, job_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(seq as i64)
            .bind(r.action.as_str())
            .bind(r.at.0)
            .bind(i64::from(r.ok))
            .bind(&r.message)
            .bind(r.job.clone())
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(new)
}

async fn insert_detection(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    device_id: &str,
    w: &DetectionWrite,
    now: Timestamp,
) -> Result<()> {
    let d = &w.detected;
    sqlx::query(
        "INSERT INTO detections (id, device_id, local_id, kind, status, detected_at, recorded_at, \
         summary, process, ancestors, signals, drill_job_id, stopped, isolated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(device_id)
    .bind(&d.local_id)
    .bind(d.kind.as_str())
    .bind(Status::Open.as_str())
    .bind(d.detected_at.0)
    .bind(now.0)
    .bind(&d.summary)
    .bind(d.process.as_ref().map(json).transpose()?)
    .bind(json(&d.ancestors)?)
    .bind(json(&d.signals)?)
    .bind(d.drill.clone())
    .bind(i64::from(w.stopped))
    .bind(i64::from(w.isolated))
    .execute(&mut **tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => e.into(),
    })?;
    for (seq, f) in d.files.iter().enumerate() {
        sqlx::query(
            "INSERT INTO detection_files (detection_id, seq, at, op, path, to_path, damaged) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(seq as i64)
        .bind(f.at.0)
        .bind(<&'static str>::from(f.op))
        .bind(&f.path)
        .bind(f.to.clone())
        .bind(i64::from(f.damaged))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt("a JSON column", e))
}

impl Store {
    /// Records detections of a device outside an ingest (the server's own detections); see
    /// [`record_in`]. Returns the ids of the new ones; `NotFound` for an unknown device.
    pub async fn record_detections(
        &self,
        device_id: &str,
        writes: &[DetectionWrite],
        now: Timestamp,
    ) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let new = record_in(&mut tx, device_id, writes, now).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Detections, the open ones first, then the newest.
    pub async fn detections(&self, filter: &DetectionFilter) -> Result<Vec<DetectionRecord>> {
        let limit = if filter.limit == 0 { 500 } else { filter.limit };
        let rows = sqlx::query(safe_sql!(
            "SELECT {COLS} FROM detections d JOIN devices v ON v.id = d.device_id \
             WHERE ($1 IS NULL OR d.device_id = $1) AND ($2 IS NULL OR d.status = $2) \
             ORDER BY CASE WHEN d.status = 'open' THEN 0 ELSE 1 END, d.detected_at DESC, d.id \
             LIMIT $3"
        ))
        .bind(filter.device_id.clone())
        .bind(filter.status.map(|s| s.as_str().to_owned()))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(detection).collect()
    }

    /// One detection with its files and responses, in order.
    pub async fn detection(&self, id: &str) -> Result<Option<DetectionFull>> {
        let Some(row) = sqlx::query(safe_sql!(
            "SELECT {COLS} FROM detections d JOIN devices v ON v.id = d.device_id WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let record = detection(&row)?;
        let files = sqlx::query(
            "SELECT at, op, path, to_path, damaged FROM detection_files \
             WHERE detection_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let op = text(r, "op")?;
            Ok(FileTouch {
                at: Timestamp(int(r, "at")?),
                op: op
                    .parse::<FileOp>()
                    .ok()
                    .ok_or_else(|| corrupt("detection_files.op", &op))?,
                path: text(r, "path")?,
                to: opt_text(r, "to_path")?,
                damaged: int(r, "damaged")? != 0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let responses = sqlx::query(
            "SELECT action, at, ok, message, job_id FROM detection_responses \
             WHERE detection_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| {
            let action = text(r, "action")?;
            Ok(ResponseStep {
                action: ResponseAction::parse(&action)
                    .ok_or_else(|| corrupt("detection_responses.action", &action))?,
                at: Timestamp(int(r, "at")?),
                ok: int(r, "ok")? != 0,
                message: text(r, "message")?,
                job: opt_text(r, "job_id")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(DetectionFull {
            record,
            files,
            responses,
        }))
    }

    /// The id of the detection `device_id`'s agent calls `local_id`, if it is stored.
    pub async fn detection_id_of(&self, device_id: &str, local_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM detections WHERE device_id = $1 AND local_id = $2")
            .bind(device_id)
            .bind(local_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| text(&r, "id")).transpose()
    }

    /// Adds a response step after a detection's stored ones (what a response job did on the
    /// device, a drill's end), with where the steps now leave the device. `NotFound` when
    /// there is no such detection.
    pub async fn add_detection_step(
        &self,
        id: &str,
        step: &ResponseStep,
        stopped: bool,
        isolated: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let updated =
            sqlx::query("UPDATE detections SET stopped = $2, isolated = $3 WHERE id = $1")
                .bind(id)
                .bind(i64::from(stopped))
                .bind(i64::from(isolated))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        let next = int(
            &sqlx::query(
                "SELECT COALESCE(MAX(seq) + 1, CAST(0 AS BIGINT)) AS n FROM detection_responses \
                 WHERE detection_id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?,
            "n",
        )?;
        sqlx::query(
            "INSERT INTO detection_responses (detection_id, seq, action, at, ok, message, job_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(next)
        .bind(step.action.as_str())
        .bind(step.at.0)
        .bind(i64::from(step.ok))
        .bind(&step.message)
        .bind(step.job.clone())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a detection from `from` to `to` (left as it is when they are the same),
    /// decided by `by` at `at`, and queues `job` (the response the decision orders) in the
    /// same transaction: a decision is never recorded without its job, nor the job without
    /// the decision. `Conflict` when its status is no longer `from` (another decision came
    /// first); `NotFound` when there is no such detection.
    pub async fn decide_detection(
        &self,
        id: &str,
        from: Status,
        to: Status,
        by: &str,
        at: Timestamp,
        job: Option<&crate::JobRecord>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = if from == to {
            sqlx::query("SELECT 1 AS one FROM detections WHERE id = $1 AND status = $2")
                .bind(id)
                .bind(from.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map_or(0, |_| 1)
        } else {
            sqlx::query(
                "UPDATE detections SET status = $3, decided_by = $4, decided_at = $5 \
                 WHERE id = $1 AND status = $2",
            )
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(by)
            .bind(at.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if res == 1 {
            if let Some(job) = job {
                crate::jobs::insert_job(&mut *tx, job).await?;
            }
            tx.commit().await?;
            return Ok(());
        }
        let exists = sqlx::query("SELECT 1 AS one FROM detections WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        Err(if exists {
            StoreError::Conflict(format!("detection {id} was decided meanwhile"))
        } else {
            StoreError::NotFound
        })
    }

    /// The devices whose last report said their agent was stopping on purpose, by id, with
    /// when each last reported and its check-in interval in seconds.
    pub async fn agents_stopping(&self) -> Result<Vec<(String, Option<Timestamp>, i64)>> {
        let rows = sqlx::query(
            "SELECT id, last_seen_at, checkin_interval_secs FROM devices \
             WHERE agent_stopping = 1 AND revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    text(r, "id")?,
                    opt_int(r, "last_seen_at")?.map(Timestamp),
                    int(r, "checkin_interval_secs")?,
                ))
            })
            .collect()
    }
}
