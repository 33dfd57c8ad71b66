//! Jobs: work queued for a device, claimed by its agent, and the history of each.
//! A device only ever sees and changes its own jobs: every agent-side query is keyed by the
//! authenticated device id as well as the job id.

use sqlx::any::AnyRow;
use steward_core::job as job_rules;
use steward_core::{JobKind, JobState, Timestamp};

use crate::rows::{int, opt_text, text};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub device_id: String,
    pub kind: JobKind,
    pub params: serde_json::Value,
    pub state: JobState,
    pub message: String,
    pub output: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the job must have finished; past it, it expires in any unfinished state.
    pub deadline_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobUpdateOutcome {
    Updated(JobRecord),
    /// No such job for this device.
    NotFound,
    /// The job is already in `current`, which may not become the requested state.
    InvalidTransition {
        current: JobState,
    },
}

pub(crate) const JOB_COLS: &str = "id, device_id, kind, params, state, message, output, requested_by, \
     created_at, updated_at, deadline_at";

pub(crate) fn job(row: &AnyRow) -> Result<JobRecord> {
    let kind = text(row, "kind")?;
    let state = text(row, "state")?;
    Ok(JobRecord {
        id: text(row, "id")?,
        device_id: text(row, "device_id")?,
        kind: JobKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job kind {kind}")))?,
        params: crate::rows::json(row, "params")?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {state}")))?,
        message: text(row, "message")?,
        output: text(row, "output")?,
        requested_by: text(row, "requested_by")?,
        created_at: Timestamp(int(row, "created_at")?),
        updated_at: Timestamp(int(row, "updated_at")?),
        deadline_at: Timestamp(int(row, "deadline_at")?),
    })
}

/// A JSON array of names in `col`; `None` when the column is NULL.
pub(crate) fn names(row: &AnyRow, col: &str) -> Result<Option<Vec<String>>> {
    opt_text(row, col)?
        .map(|doc| {
            serde_json::from_str(&doc)
                .map_err(|e| StoreError::Corrupt(format!("{col} is not a list of names: {e}")))
        })
        .transpose()
}

/// Values per job row: the columns of [`JOB_COLS`].
const JOB_WIDTH: usize = 11;

/// Queues a job inside the caller's transaction (a job queued with the change that asks
/// for it, e.g. a scheduled backup with its schedule moved on).
pub(crate) async fn insert_job<'c, E>(db: E, j: &JobRecord) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    insert_jobs(db, std::slice::from_ref(j)).await
}

/// Queues several jobs in one multi-row statement, inside the caller's transaction: keep
/// `jobs` to [`crate::rows::ROWS_PER_STATEMENT`] rows (a batch's thousand jobs are ten
/// statements, not a thousand round trips). Nothing to do for no jobs.
pub(crate) async fn insert_jobs<'c, E>(db: E, jobs: &[JobRecord]) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if jobs.is_empty() {
        return Ok(());
    }
    let values = crate::rows::values_placeholders(jobs.len(), JOB_WIDTH);
    let mut q = sqlx::query(safe_sql!("INSERT INTO jobs ({JOB_COLS}) VALUES {values}"));
    for j in jobs {
        q = q
            .bind(&j.id)
            .bind(&j.device_id)
            .bind(j.kind.as_str())
            .bind(j.params.to_string())
            .bind(j.state.as_str())
            .bind(&j.message)
            .bind(&j.output)
            .bind(&j.requested_by)
            .bind(j.created_at.0)
            .bind(j.updated_at.0)
            .bind(j.deadline_at.0);
    }
    q.execute(db).await.map_err(|e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(
            "an update install is already waiting or running on the device".into(),
        ),
        e => e.into(),
    })?;
    Ok(())
}

impl Store {
    pub async fn create_job(&self, j: &JobRecord) -> Result<()> {
        insert_job(&self.write, j).await
    }

    /// The device's jobs of `kind` that its agent holds now (dispatched or running), oldest
    /// first: what the repository endpoint asks before letting a device read another's
    /// repository for a restore.
    pub async fn active_jobs_of_kind(
        &self,
        device_id: &str,
        kind: JobKind,
    ) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {JOB_COLS} FROM jobs WHERE device_id = $1 AND kind = $2 \
             AND state IN ('dispatched', 'running') ORDER BY created_at"
        ))
        .bind(device_id)
        .bind(kind.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(job).collect()
    }

    /// The devices with a job of `kind` not finished yet (queued, dispatched or running):
    /// one query for the whole fleet.
    pub async fn devices_with_unfinished_jobs_of_kind(
        &self,
        kind: JobKind,
    ) -> Result<std::collections::HashSet<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT device_id FROM jobs WHERE kind = $1 \
             AND state IN ('queued', 'dispatched', 'running')",
        )
        .bind(kind.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| crate::rows::text(r, "device_id"))
            .collect()
    }

    /// Each device's newest finished job of `kind` (one query for the whole fleet): whether
    /// a device's last backup failed, for its alert.
    pub async fn newest_finished_jobs_of_kind(&self, kind: JobKind) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {JOB_COLS} FROM jobs j WHERE kind = $1 \
             AND state IN ('succeeded', 'failed', 'expired', 'unsupported') \
             AND NOT EXISTS (SELECT 1 FROM jobs n WHERE n.device_id = j.device_id AND n.kind = $1 \
               AND n.state IN ('succeeded', 'failed', 'expired', 'unsupported') \
               AND (n.updated_at > j.updated_at OR (n.updated_at = j.updated_at AND n.id > j.id)))"
        ))
        .bind(kind.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(job).collect()
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>> {
        let row = sqlx::query(safe_sql!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(job).transpose()
    }

    /// Hands the oldest queued job of the device to its agent (state `dispatched`). Safe to
    /// call concurrently: a job is claimed once.
    ///
    /// Queued jobs that must not go to the agent are settled on the way, oldest first, so the
    /// agent never holds one: a job past its deadline expires, and a job of a kind the agent
    /// does not run (`steward_core::job::agent_runs` with what it advertised at its last
    /// check-in) becomes `unsupported`. Read here rather than by the caller, so a check-in
    /// during a long-poll counts for the jobs that poll hands out.
    pub async fn claim_next_job(
        &self,
        device_id: &str,
        now: Timestamp,
    ) -> Result<Option<JobRecord>> {
        let advertised = sqlx::query("SELECT agent_job_kinds FROM devices WHERE id = $1")
            .bind(device_id)
            .fetch_optional(&self.write)
            .await?
            .map(|row| names(&row, "agent_job_kinds"))
            .transpose()?
            .flatten();
        loop {
            let Some(row) = sqlx::query(safe_sql!(
                "SELECT {JOB_COLS} FROM jobs WHERE device_id = $1 AND state = 'queued' \
                 ORDER BY created_at, id LIMIT 1"
            ))
            .bind(device_id)
            .fetch_optional(&self.write)
            .await?
            else {
                return Ok(None);
            };
            let mut j = job(&row)?;
            let (state, message) = if j.deadline_at < now {
                (
                    JobState::Expired,
                    job_rules::EXPIRED_NEVER_PICKED_UP.to_string(),
                )
            } else if !job_rules::agent_runs(j.kind, advertised.as_deref()) {
                (
                    JobState::Unsupported,
                    job_rules::unsupported_by_agent(j.kind),
                )
            } else {
                (JobState::Dispatched, String::new())
            };
            let claimed = sqlx::query(
                "UPDATE jobs SET state = $1, message = $2, updated_at = $3 \
                 WHERE id = $4 AND state = 'queued'",
            )
            .bind(state.as_str())
            .bind(&message)
            .bind(now.0)
            .bind(&j.id)
            .execute(&self.write)
            .await?;
            if claimed.rows_affected() == 1 && state == JobState::Dispatched {
                j.state = JobState::Dispatched;
                j.updated_at = now;
                return Ok(Some(j));
            }
            // Settled without dispatching, or another server replica claimed it first: look
            // again.
        }
    }

    /// Records what the device's agent said it supports at check-in (`None`: it said
    /// nothing), as given: the caller puts the names in order and calls this only when they
    /// differ from what `DeviceIngestState` holds, so a check-in normally writes nothing.
    /// `scripts_allowed`: whether the device's own configuration allows scripts.
    pub async fn set_agent_capabilities(
        &self,
        device_id: &str,
        job_kinds: Option<&[String]>,
        report_sections: Option<&[String]>,
        scripts_allowed: bool,
    ) -> Result<()> {
        let doc = |names: Option<&[String]>| names.map(|n| serde_json::json!(n).to_string());
        sqlx::query(
            "UPDATE devices SET agent_job_kinds = $1, agent_report_sections = $2, \
             agent_scripts_allowed = $3 WHERE id = $4",
        )
        .bind(doc(job_kinds))
        .bind(doc(report_sections))
        .bind(i64::from(scripts_allowed))
        .bind(device_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Every unrevoked device's advertised job kinds (`None`: its agent lists none) and
    /// whether it allows scripts, by device id: what a run sent to many devices checks.
    pub async fn agent_capabilities(
        &self,
    ) -> Result<std::collections::HashMap<String, (Option<Vec<String>>, bool)>> {
        let rows = sqlx::query(
            "SELECT id, agent_job_kinds, agent_scripts_allowed FROM devices \
             WHERE revoked_at IS NULL",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    crate::rows::text(r, "id")?,
                    (
                        names(r, "agent_job_kinds")?,
                        crate::rows::int(r, "agent_scripts_allowed")? != 0,
                    ),
                ))
            })
            .collect()
    }

    /// Records an agent's report on its own job.
    pub async fn update_job(
        &self,
        device_id: &str,
        job_id: &str,
        state: JobState,
        message: &str,
        output: &str,
        now: Timestamp,
    ) -> Result<JobUpdateOutcome> {
        let Some(row) = sqlx::query(safe_sql!(
            "SELECT {JOB_COLS} FROM jobs WHERE id = $1 AND device_id = $2"
        ))
        .bind(job_id)
        .bind(device_id)
        .fetch_optional(&self.write)
        .await?
        else {
            return Ok(JobUpdateOutcome::NotFound);
        };
        let mut j = job(&row)?;
        if !j.state.may_become(state) {
            return Ok(JobUpdateOutcome::InvalidTransition { current: j.state });
        }
        let res = sqlx::query(
            "UPDATE jobs SET state = $1, message = $2, output = $3, updated_at = $4 \
             WHERE id = $5 AND device_id = $6 AND state = $7",
        )
        .bind(state.as_str())
        .bind(message)
        .bind(output)
        .bind(now.0)
        .bind(job_id)
        .bind(device_id)
        .bind(j.state.as_str())
        .execute(&self.write)
        .await?;
        if res.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "job {job_id} changed meanwhile"
            )));
        }
        j.state = state;
        j.message = message.to_string();
        j.output = output.to_string();
        j.updated_at = now;
        Ok(JobUpdateOutcome::Updated(j))
    }

    /// Expires jobs that can no longer finish: those `dispatched` before `dispatched_before`
    /// with no report since (their agent vanished holding them), every unfinished job of a
    /// revoked device (its agent can never report again), and every unfinished job past its
    /// deadline at `now`. One transaction; safe to run from several server replicas at once
    /// (each row changes state once). Returns how many jobs expired.
    pub async fn expire_jobs(&self, dispatched_before: Timestamp, now: Timestamp) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let unanswered = sqlx::query(
            "UPDATE jobs SET state = 'expired', message = $1, updated_at = $2 \
             WHERE state = 'dispatched' AND updated_at < $3",
        )
        .bind(steward_core::job::EXPIRED_UNANSWERED)
        .bind(now.0)
        .bind(dispatched_before.0)
        .execute(&mut *tx)
        .await?;
        let revoked = sqlx::query(
            "UPDATE jobs SET state = 'expired', message = $1, updated_at = $2 \
             WHERE state IN ('queued', 'dispatched', 'running') \
             AND device_id IN (SELECT id FROM devices WHERE revoked_at IS NOT NULL)",
        )
        .bind(steward_core::job::EXPIRED_DEVICE_REVOKED)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        let never_picked_up = sqlx::query(
            "UPDATE jobs SET state = 'expired', message = $1, updated_at = $2 \
             WHERE state = 'queued' AND deadline_at < $2",
        )
        .bind(steward_core::job::EXPIRED_NEVER_PICKED_UP)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        let unfinished = sqlx::query(
            "UPDATE jobs SET state = 'expired', message = $1, updated_at = $2 \
             WHERE state IN ('dispatched', 'running') AND deadline_at < $2",
        )
        .bind(steward_core::job::EXPIRED_PAST_DEADLINE)
        .bind(now.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(unanswered.rows_affected()
            + revoked.rows_affected()
            + never_picked_up.rows_affected()
            + unfinished.rows_affected())
    }

    /// Devices with jobs queued at or after `since`: the dispatcher polls this to wake agents
    /// waiting on another server replica, or for jobs queued from the CLI.
    pub async fn devices_with_jobs_queued_since(&self, since: Timestamp) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT device_id FROM jobs WHERE state = 'queued' AND created_at >= $1",
        )
        .bind(since.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| text(r, "device_id")).collect()
    }
}
