//! Each device's current check results, replaced as a whole by every evaluation, and when
//! each device was first and last evaluated.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use super::{ROWS_PER_STATEMENT, values_placeholders};
use crate::rows::{int, text};
use crate::{Result, Store, StoreError};

/// One check's result in an evaluation, as the posture service validated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureResultWrite {
    pub check_id: String,
    /// `pass`, `fail`, `not_applicable` or `unknown`.
    pub state: String,
    pub evidence: String,
    pub reason: String,
}

/// A device's current result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureResultRecord {
    pub device_id: String,
    pub check_id: String,
    pub state: String,
    pub evidence: String,
    pub reason: String,
    /// When the check entered this state on this device.
    pub since: Timestamp,
    /// The evaluation that last reported it.
    pub evaluated_at: Timestamp,
}

/// A check whose state an evaluation set for the first time (`from: None`) or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureTransition {
    pub check_id: String,
    pub from: Option<String>,
    pub to: String,
}

/// When a device was first evaluated (its baseline) and last evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureDeviceRecord {
    pub device_id: String,
    pub first_evaluated_at: Timestamp,
    pub last_evaluated_at: Timestamp,
}

/// The columns a result is read from, of `posture_results r`.
pub(crate) const RESULT_COLS: &str =
    "r.device_id, r.check_id, r.state, r.evidence, r.reason, r.since, r.evaluated_at";

/// Values per row of the results' multi-row upsert.
const RESULT_WIDTH: usize = 7;

pub(crate) fn result(row: &AnyRow) -> Result<PostureResultRecord> {
    Ok(PostureResultRecord {
        device_id: text(row, "device_id")?,
        check_id: text(row, "check_id")?,
        state: text(row, "state")?,
        evidence: text(row, "evidence")?,
        reason: text(row, "reason")?,
        since: Timestamp(int(row, "since")?),
        evaluated_at: Timestamp(int(row, "evaluated_at")?),
    })
}

fn posture_device(row: &AnyRow) -> Result<PostureDeviceRecord> {
    Ok(PostureDeviceRecord {
        device_id: text(row, "device_id")?,
        first_evaluated_at: Timestamp(int(row, "first_evaluated_at")?),
        last_evaluated_at: Timestamp(int(row, "last_evaluated_at")?),
    })
}

/// A result as it will be written: its state's `since` worked out.
struct Row<'a> {
    write: &'a PostureResultWrite,
    since: Timestamp,
}

/// The evaluation's results, each check once (the last wins if one is repeated: a
/// multi-row upsert may not touch a row twice), in the order given.
fn distinct_by_check(results: &[PostureResultWrite]) -> Vec<&PostureResultWrite> {
    let last: HashMap<&str, usize> = results
        .iter()
        .enumerate()
        .map(|(i, r)| (r.check_id.as_str(), i))
        .collect();
    results
        .iter()
        .enumerate()
        .filter(|(i, r)| last.get(r.check_id.as_str()) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// A missing device is `NotFound`; the rest as usual.
fn device_missing(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        e => e.into(),
    }
}

impl Store {
    /// Replaces the device's current results with `results`, evaluated at `at`, in one short
    /// transaction: a check whose state is unchanged keeps its `since`; a new or changed one
    /// gets `since = at`; a check no longer reported is deleted. Records the device's first
    /// and last evaluation. An `at` older than the stored last evaluation is ignored
    /// (answers no transitions, changes nothing): reports can arrive late. A check repeated
    /// in `results` counts once, its last occurrence. Answers the transitions (new or
    /// changed states) in the order of `results`; `NotFound` when the device does not exist.
    pub async fn record_posture(
        &self,
        device_id: &str,
        at: Timestamp,
        results: &[PostureResultWrite],
    ) -> Result<Vec<PostureTransition>> {
        let mut tx = self.begin_write().await?;
        // The device's row first: a missing device fails here, before anything is written.
        sqlx::query(
            "INSERT INTO posture_devices (device_id, first_evaluated_at, last_evaluated_at) \
             VALUES ($1, $2, $2) ON CONFLICT (device_id) DO NOTHING",
        )
        .bind(device_id)
        .bind(at.0)
        .execute(&mut *tx)
        .await
        .map_err(device_missing)?;
        // Moving the last evaluation on takes the row's lock on PostgreSQL, so two reports of
        // one device are written one after the other, and the second sees the first's
        // results; an older report matches no row and changes nothing.
        let moved = sqlx::query(
            "UPDATE posture_devices SET last_evaluated_at = $2 \
             WHERE device_id = $1 AND last_evaluated_at <= $2",
        )
        .bind(device_id)
        .bind(at.0)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let stored =
            sqlx::query("SELECT check_id, state, since FROM posture_results WHERE device_id = $1")
                .bind(device_id)
                .fetch_all(&mut *tx)
                .await?;
        let mut current: HashMap<String, (String, Timestamp)> = stored
            .iter()
            .map(|r| {
                Ok((
                    text(r, "check_id")?,
                    (text(r, "state")?, Timestamp(int(r, "since")?)),
                ))
            })
            .collect::<Result<_>>()?;

        let mut rows = Vec::new();
        let mut transitions = Vec::new();
        for write in distinct_by_check(results) {
            let since = match current.remove(&write.check_id) {
                Some((state, since)) if state == write.state => since,
                before => {
                    transitions.push(PostureTransition {
                        check_id: write.check_id.clone(),
                        from: before.map(|(state, _)| state),
                        to: write.state.clone(),
                    });
                    at
                }
            };
            rows.push(Row { write, since });
        }

        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            upsert_results(&mut tx, device_id, at, chunk).await?;
        }
        // What is left in `current` was stored before and is no longer reported.
        let gone: Vec<String> = current.into_keys().collect();
        for chunk in gone.chunks(ROWS_PER_STATEMENT) {
            let list = (2..chunk.len() + 2)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut q = sqlx::query(safe_sql!(
                "DELETE FROM posture_results WHERE device_id = $1 AND check_id IN ({list})"
            ))
            .bind(device_id);
            for check_id in chunk {
                q = q.bind(check_id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(transitions)
    }

    /// When each evaluated device was first and last evaluated, by device id.
    pub async fn posture_devices(&self) -> Result<Vec<PostureDeviceRecord>> {
        let rows = sqlx::query(
            "SELECT device_id, first_evaluated_at, last_evaluated_at FROM posture_devices \
             ORDER BY device_id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(posture_device).collect()
    }
}

/// Writes one statement's worth of a device's results inside the caller's transaction.
async fn upsert_results(
    conn: &mut sqlx::AnyConnection,
    device_id: &str,
    at: Timestamp,
    rows: &[Row<'_>],
) -> Result<()> {
    let values = values_placeholders(rows.len(), RESULT_WIDTH);
    let mut q = sqlx::query(safe_sql!(
        "INSERT INTO posture_results \
         (device_id, check_id, state, evidence, reason, since, evaluated_at) VALUES {values} \
         ON CONFLICT (device_id, check_id) DO UPDATE SET state = excluded.state, \
         evidence = excluded.evidence, reason = excluded.reason, since = excluded.since, \
         evaluated_at = excluded.evaluated_at"
    ));
    for row in rows {
        q = q
            .bind(device_id)
            .bind(&row.write.check_id)
            .bind(&row.write.state)
            .bind(&row.write.evidence)
            .bind(&row.write.reason)
            .bind(row.since.0)
            .bind(at.0);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}
