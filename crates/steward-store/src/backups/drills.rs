//! Restore drills: started as `running`, finished once as `passed` or `failed` with what
//! was checked. People read them through `ScopedStore::backup_drills`.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store, StoreError};

/// Where a drill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
pub enum DrillOutcome {
    Running,
    Passed,
    Failed,
}

impl DrillOutcome {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A drill of a device's repository (see migration 0017).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupDrillRecord {
    pub id: String,
    pub device_id: String,
    /// The device whose agent restored the sample (`None` before one is chosen, or once
    /// that device is gone).
    pub runner_device_id: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub outcome: DrillOutcome,
    pub files_checked: i64,
    pub bytes_checked: i64,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
}

/// How a drill ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillFinish {
    pub finished_at: Timestamp,
    pub passed: bool,
    pub files_checked: i64,
    pub bytes_checked: i64,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// The columns a drill is read from, of `backup_drills r`.
pub(crate) const DRILL_COLS: &str = "r.id, r.device_id, r.runner_device_id, r.started_at, \
     r.finished_at, r.outcome, r.files_checked, r.bytes_checked, r.duration_ms, r.error";
/// The same, unqualified (for `RETURNING`).
const RETURNED_COLS: &str = "id, device_id, runner_device_id, started_at, finished_at, outcome, \
     files_checked, bytes_checked, duration_ms, error";

pub(crate) fn drill(row: &AnyRow) -> Result<BackupDrillRecord> {
    let outcome = text(row, "outcome")?;
    Ok(BackupDrillRecord {
        id: text(row, "id")?,
        device_id: text(row, "device_id")?,
        runner_device_id: opt_text(row, "runner_device_id")?,
        started_at: Timestamp(int(row, "started_at")?),
        finished_at: opt_int(row, "finished_at")?.map(Timestamp),
        outcome: outcome
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unknown drill outcome {outcome}")))?,
        files_checked: int(row, "files_checked")?,
        bytes_checked: int(row, "bytes_checked")?,
        duration_ms: opt_int(row, "duration_ms")?,
        error: opt_text(row, "error")?,
    })
}

impl Store {
    /// Records a drill of the device's repository as running from `started_at`, its sample
    /// to be restored by `runner_device_id`'s agent. `NotFound` when either device does not
    /// exist; `Conflict` when the id is taken.
    pub async fn start_backup_drill(
        &self,
        id: &str,
        device_id: &str,
        runner_device_id: Option<&str>,
        started_at: Timestamp,
    ) -> Result<()> {
        let res = sqlx::query(
            "INSERT INTO backup_drills (id, device_id, runner_device_id, started_at, outcome) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(device_id)
        .bind(runner_device_id)
        .bind(started_at.0)
        .bind(DrillOutcome::Running.as_str())
        .execute(&self.write)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a backup drill {id} exists already"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Drills still running that started before `before`: ones whose restore never came
    /// back (its agent stayed away past the job's deadline), for the server to close.
    pub async fn backup_drills_running_since(
        &self,
        before: Timestamp,
    ) -> Result<Vec<BackupDrillRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {DRILL_COLS} FROM backup_drills r WHERE r.outcome = 'running' AND r.started_at < $1"
        ))
        .bind(before.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(drill).collect()
    }

    /// Records how a running drill ended and answers it. `NotFound` when there is no
    /// running drill with this id (none, or finished already: a drill ends once).
    pub async fn finish_backup_drill(
        &self,
        id: &str,
        f: &DrillFinish,
    ) -> Result<BackupDrillRecord> {
        let outcome = if f.passed {
            DrillOutcome::Passed
        } else {
            DrillOutcome::Failed
        };
        let row = sqlx::query(safe_sql!(
            "UPDATE backup_drills SET finished_at = $1, outcome = $2, files_checked = $3, \
             bytes_checked = $4, duration_ms = $5, error = $6 \
             WHERE id = $7 AND outcome = $8 RETURNING {RETURNED_COLS}"
        ))
        .bind(f.finished_at.0)
        .bind(outcome.as_str())
        .bind(f.files_checked)
        .bind(f.bytes_checked)
        .bind(f.duration_ms)
        .bind(&f.error)
        .bind(id)
        .bind(DrillOutcome::Running.as_str())
        .fetch_optional(&self.write)
        .await?;
        row.as_ref()
            .map(drill)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }
}
