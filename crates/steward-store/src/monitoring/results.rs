//! The scheduler's side of the store: claiming due checks, storing what their runs decided
//! (one at a time, or many in one transaction), and the revision that says when check
//! definitions or channels changed.

use sqlx::AnyConnection;
use steward_core::Timestamp;

use super::{CheckResultWrite, CheckStateRecord, STATE_COLS, check_state};
use crate::rows::touched;
use crate::{Backend, Result, Store, StoreError};

/// The `settings` key holding the monitoring revision (a decimal count).
const REVISION_KEY: &str = "monitoring.revision";

/// What became of one result of [`Store::record_check_results`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored, with the id of its history line when it confirmed a change.
    Stored { history: Option<i64> },
    /// Nothing stored: the check is no longer tracked for that subject (it was deleted while
    /// it ran).
    Untracked,
}

impl Store {
    /// Claims up to `limit` checks due at `now` for `lease_ms`: nobody else claims them
    /// until the lease ends or their result is recorded. Oldest due first.
    pub async fn claim_due_checks(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<CheckStateRecord>> {
        self.claim_checks_due_by(now, now, limit, lease_ms).await
    }

    /// [`Store::claim_due_checks`] for the checks due by `due_by` (at or after `now`): a
    /// scheduler that claims a little ahead can start each check at its time rather than at
    /// its next look. Leases are judged at `now`. One statement: the due rows are picked
    /// (on PostgreSQL skipping rows another server is claiming) and leased together.
    pub async fn claim_checks_due_by(
        &self,
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
            "UPDATE check_state SET lease_until = $1 WHERE (check_id, subject) IN ( \
             SELECT check_id, subject FROM check_state s \
             WHERE next_run_at <= $2 AND lease_until <= $3 \
             AND EXISTS (SELECT 1 FROM checks c WHERE c.id = s.check_id AND c.enabled = 1) \
             ORDER BY next_run_at, check_id, subject LIMIT {limit} {lock}) \
             RETURNING {STATE_COLS}"
        ))
        .bind(now.plus_millis(lease_ms).0)
        .bind(due_by.0.max(now.0))
        .bind(now.0)
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
    /// `NotFound` (and nothing stored) when the check is not tracked for the subject.
    pub async fn record_check_result(&self, r: &CheckResultWrite) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        match write_result(&mut tx, r).await? {
            Recorded::Stored { history } => {
                tx.commit().await?;
                Ok(history)
            }
            Recorded::Untracked => Err(StoreError::NotFound),
        }
    }

    /// Stores many evaluations in one transaction (one commit instead of one each: what
    /// lets one server keep up with thousands of checks). Each result keeps the guarantee of
    /// [`Store::record_check_result`] — its state, history and notices are stored together —
    /// since the whole batch commits or none of it does. A result whose check is no longer
    /// tracked is skipped ([`Recorded::Untracked`]) without failing the others. One outcome
    /// per result, in order.
    pub async fn record_check_results(&self, batch: &[CheckResultWrite]) -> Result<Vec<Recorded>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for r in batch {
            outcomes.push(write_result(&mut tx, r).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The monitoring revision: a count that every change to a check definition or a
    /// channel raises, in the transaction that makes the change. Equal revisions mean the
    /// same definitions; read it before reading them, so a change made in between is seen
    /// at the next look (at worst read twice, never missed).
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

/// Raises the monitoring revision inside the transaction changing definitions or channels.
pub(super) async fn bump_revision(tx: &mut AnyConnection) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, '1', 0) \
         ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)",
    )
    .bind(REVISION_KEY)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One evaluation, inside the caller's transaction.
async fn write_result(tx: &mut AnyConnection, r: &CheckResultWrite) -> Result<Recorded> {
    let res = sqlx::query(
        "UPDATE check_state SET state = $1, status = $2, since = $3, summary = $4, \
         next_run_at = $5, lease_until = 0 WHERE check_id = $6 AND subject = $7",
    )
    .bind(&r.state)
    .bind(&r.status)
    .bind(r.since.0)
    .bind(&r.summary)
    .bind(r.next_run_at.0)
    .bind(&r.check_id)
    .bind(&r.subject)
    .execute(&mut *tx)
    .await?;
    if touched(&res).is_err() {
        return Ok(Recorded::Untracked);
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
            .fetch_one(&mut *tx)
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
        .execute(&mut *tx)
        .await?;
    }
    Ok(Recorded::Stored { history })
}
