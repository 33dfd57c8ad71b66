//! The scheduler's side of the store: claiming due checks (a little ahead, in one
//! statement), storing what their runs decided (one at a time, or many in one transaction),
//! the device checks judged at reports, and the revision that says when definitions changed.

use steward_core::Timestamp;

use super::{CheckResultWrite, CheckStateRecord, STATE_COLS, check_state};
use crate::{Backend, Result, Store, StoreError};

/// The `settings` key holding the monitoring revision (a decimal count).
const REVISION_KEY: &str = "monitoring.revision";

/// What became of one result of [`Store::record_check_results`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored, with the id of its history line when it confirmed a change.
    Stored { history: Option<i64> },
    /// Nothing stored: the run was answered already (by a server whose lease lapsed
    /// meanwhile), or the check is no longer tracked for that subject (deleted while it ran).
    Skipped,
}

impl Store {
    /// Claims up to `limit` checks due at `now` for `holder` (a server process) for
    /// `lease_ms`: nobody else claims them until the lease ends or their result is recorded.
    /// Oldest due first.
    pub async fn claim_due_checks(
        &self,
        holder: &str,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<CheckStateRecord>> {
        self.claim_checks_due_by(holder, now, now, limit, lease_ms)
            .await
    }

    /// [`Store::claim_due_checks`] for the checks due by `due_by` (at or after `now`): a
    /// scheduler that claims a little ahead can start each check at its time rather than at
    /// its next look. Leases are judged at `now`. One statement: the due rows are picked
    /// (on PostgreSQL skipping rows another server is claiming) and leased together. Only
    /// checks the server runs are claimed: a probe run by an agent (`runner` `device:ID`)
    /// is judged from that agent's reports.
    pub async fn claim_checks_due_by(
        &self,
        holder: &str,
        now: Timestamp,
        due_by: Timestamp,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<CheckStateRecord>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(safe_sql!(
            "UPDATE check_state SET lease_until = $1, lease_holder = $2, claimed_at = $3 \
             WHERE (check_id, subject) IN ( \
             SELECT check_id, subject FROM check_state s \
             WHERE next_run_at <= $4 AND lease_until <= $3 \
             AND EXISTS (SELECT 1 FROM checks c WHERE c.id = s.check_id AND c.enabled = 1 \
             AND c.runner = 'server') \
             ORDER BY next_run_at, check_id, subject LIMIT {limit} {lock}) \
             RETURNING {STATE_COLS}"
        ))
        .bind(now.plus_millis(lease_ms).0)
        .bind(holder)
        .bind(now.0)
        .bind(due_by.0.max(now.0))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut claimed: Vec<CheckStateRecord> =
            rows.iter().map(check_state).collect::<Result<_>>()?;
        // RETURNING keeps no order.
        claimed.sort_by(|a, b| {
            (a.next_run_at.0, &a.check_id, &a.subject).cmp(&(
                b.next_run_at.0,
                &b.check_id,
                &b.subject,
            ))
        });
        Ok(claimed)
    }

    /// Stores one evaluation: the new state (releasing the claim), the history line of a
    /// confirmed change, and the notices it causes — all or nothing. A notice already queued
    /// for a channel (the same key) is not queued again. Returns the history line's id;
    /// `Conflict` when the run (`due_at`) was answered already, `NotFound` when the check is
    /// not tracked for the subject.
    pub async fn record_check_result(&self, r: &CheckResultWrite) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let history = match write_result(&mut tx, r, Guard::Run(r.due_at)).await? {
            Some(history) => history,
            None => {
                let tracked =
                    sqlx::query("SELECT 1 FROM check_state WHERE check_id = $1 AND subject = $2")
                        .bind(&r.check_id)
                        .bind(&r.subject)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                return Err(if tracked {
                    StoreError::Conflict(format!(
                        "the run of check {} due at {} was recorded already",
                        r.check_id, r.due_at.0
                    ))
                } else {
                    StoreError::NotFound
                });
            }
        };
        tx.commit().await?;
        Ok(history)
    }

    /// Stores many evaluations of device checks (judged from a report or a heartbeat
    /// sweep) in one transaction, each as [`Store::record_check_result`] but guarded by
    /// compare-and-set instead of a lease: a result is written only if the stored state is
    /// still `expected_state` (`None`: not tracked yet, and it is created). A result whose
    /// state moved on meanwhile — another server judged the same device — is skipped with
    /// its history and notices, so a transition is recorded once. Returns how many were
    /// written.
    pub async fn record_device_results(
        &self,
        results: &[(Option<String>, CheckResultWrite)],
    ) -> Result<usize> {
        if results.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut written = 0;
        for (expected, r) in results {
            if write_result(&mut tx, r, Guard::Unchanged(expected.as_deref()))
                .await?
                .is_some()
            {
                written += 1;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Stores many evaluations of claimed runs in one transaction (one commit instead of
    /// one each: what lets one server keep up with thousands of checks). Each result keeps
    /// the guarantee of [`Store::record_check_result`] — its state, history and notices are
    /// stored together, and only if its run was not answered already — since the whole batch
    /// commits or none of it does. A result that cannot be written is skipped
    /// ([`Recorded::Skipped`]) without failing the others. One outcome per result, in order.
    pub async fn record_check_results(&self, batch: &[CheckResultWrite]) -> Result<Vec<Recorded>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for r in batch {
            outcomes.push(
                match write_result(&mut tx, r, Guard::Run(r.due_at)).await? {
                    Some(history) => Recorded::Stored { history },
                    None => Recorded::Skipped,
                },
            );
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Brings the query planner's statistics of the monitoring tables up to date after a
    /// large change (the configuration's checks stored at start). On PostgreSQL a table
    /// filled since its last `ANALYZE` is planned as if nearly empty, and the claim of due
    /// checks then walks every check for each one (seconds instead of milliseconds at 10,000
    /// checks) until autovacuum catches up. SQLite plans these queries by their indexes.
    pub async fn refresh_monitoring_statistics(&self) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("ANALYZE checks, check_state")
                .execute(&self.write)
                .await?;
        }
        Ok(())
    }

    /// The monitoring revision: a count that every change to a definition (checks,
    /// channels, routes, maintenance windows) raises, in the transaction that makes the
    /// change. Equal revisions mean the same definitions; read it before reading them, so a
    /// change made in between is seen at the next look (at worst read twice, never missed).
    pub async fn monitoring_revision(&self) -> Result<i64> {
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(REVISION_KEY)
            .fetch_optional(&self.read)
            .await?;
        match value {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("{REVISION_KEY}: {v:?}"))),
        }
    }
}

/// Counts a change to a device's check states (`devices.checks_version`, migration 0016),
/// inside the transaction making it; nothing for a network monitor (no device).
pub(crate) async fn device_states_changed(
    tx: &mut sqlx::AnyConnection,
    subject: &str,
) -> Result<()> {
    if subject.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE devices SET checks_version = checks_version + 1 WHERE id = $1")
        .bind(subject)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Raises the monitoring revision inside the transaction changing a definition.
pub(crate) async fn bump_revision(tx: &mut sqlx::AnyConnection) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, '1', 0) \
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)",
    )
    .bind(REVISION_KEY)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What makes a result's write safe from a concurrent one.
enum Guard<'a> {
    /// The answer to the run due at this time (the scheduler's claim): written only if
    /// that run was not answered already (by a server whose lease lapsed meanwhile).
    Run(Timestamp),
    /// Written only if the stored state is still this (`None`: absent, then created).
    Unchanged(Option<&'a str>),
}

/// Writes one evaluation inside `tx` (see [`Store::record_check_result`]). `None` when the
/// guard did not hold and nothing was written; otherwise the history line's id, if any.
async fn write_result(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    r: &CheckResultWrite,
    guard: Guard<'_>,
) -> Result<Option<Option<i64>>> {
    let query = match guard {
        Guard::Unchanged(None) => sqlx::query(
            "INSERT INTO check_state (check_id, subject, state, status, since, summary, next_run_at, lease_until) \
             VALUES ($6, $7, $1, $2, $3, $4, $5, 0) ON CONFLICT (check_id, subject) DO NOTHING",
        ),
        Guard::Unchanged(Some(_)) => sqlx::query(
            "UPDATE check_state SET state = $1, status = $2, since = $3, summary = $4, \
             next_run_at = $5, lease_until = 0 WHERE check_id = $6 AND subject = $7 AND state = $8",
        ),
        Guard::Run(_) => sqlx::query(
            "UPDATE check_state SET state = $1, status = $2, since = $3, summary = $4, \
             next_run_at = $5, lease_until = 0, lease_holder = '', claimed_at = 0 \
             WHERE check_id = $6 AND subject = $7 AND next_run_at = $8",
        ),
    };
    let mut query = query
        .bind(&r.state)
        .bind(&r.status)
        .bind(r.since.0)
        .bind(&r.summary)
        .bind(r.next_run_at.0)
        .bind(&r.check_id)
        .bind(&r.subject);
    match guard {
        Guard::Unchanged(Some(expected)) => query = query.bind(expected),
        Guard::Run(due_at) => query = query.bind(due_at.0),
        Guard::Unchanged(None) => {}
    }
    match query.execute(&mut **tx).await {
        Ok(done) if done.rows_affected() == 0 => return Ok(None),
        Ok(_) => {}
        // The check was deleted while it was judged: nothing to record.
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(StoreError::NotFound);
        }
        Err(e) => return Err(e.into()),
    }
    let history = match &r.transition {
        Some((from, to, at)) => Some(
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO check_history (check_id, subject, at, from_status, to_status, summary) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&r.check_id)
            .bind(&r.subject)
            .bind(at.0)
            .bind(from)
            .bind(to)
            .bind(&r.summary)
            .fetch_one(&mut **tx)
            .await?,
        ),
        None => None,
    };
    for n in &r.notices {
        let key = match history {
            Some(id) => n.key.replace("{history}", &id.to_string()),
            None => n.key.clone(),
        };
        sqlx::query(
            "INSERT INTO notifications (notice_key, channel_id, payload, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (notice_key, channel_id) DO NOTHING",
        )
        .bind(key)
        .bind(&n.channel_id)
        .bind(&n.payload)
        .bind(r.decided_at.0)
        .execute(&mut **tx)
        .await?;
    }
    device_states_changed(&mut *tx, &r.subject).await?;
    Ok(Some(history))
}
