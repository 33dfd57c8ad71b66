//! Monitoring: check definitions, each check's alert state per subject, the history of
//! confirmed changes, notification channels, and the notification outbox.
//!
//! The store persists what `steward_core::alerting` decides. Two guarantees live here:
//! - a check's new state, its history line and the notifications it causes are written in
//!   one transaction ([`Store::record_check_result`]), so a server killed between deciding
//!   and delivering still delivers after restart, and a notice is queued once per channel
//!   (`notifications` is unique on notice and channel);
//! - work is claimed with a lease ([`Store::claim_due_checks`],
//!   [`Store::claim_notifications`]): on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several
//!   servers share it and a dead server's claims lapse to the others when the lease ends. A
//!   lease names its holder, who renews it while the work is in hand (`leases.rs`); a
//!   result answers the run it was claimed for and is refused once another answered it.
//!
//! Every change to a check's definition or to a channel bumps the monitoring revision
//! ([`Store::monitoring_revision`]) in the same transaction, so a scheduler can keep the
//! definitions in memory and re-read them only when another writer (this server's console,
//! another server on the same PostgreSQL) changed them.

mod bulk;
mod results;

pub use bulk::TrackWrite;
pub use results::Recorded;

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, opt_int, opt_text, text, touched};
use crate::{Backend, Result, Store, StoreError};
pub(crate) use results::{bump_revision, device_states_changed};

/// A check's definition (see migration 0012 for the columns' meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub target: String,
    /// Kind-specific settings, JSON.
    pub spec: String,
    pub interval_ms: i64,
    /// `steward_core::alerting::AlertRules`, JSON.
    pub rules: String,
    pub runner: String,
    pub parent_id: Option<String>,
    pub runbook: String,
    /// `console` or `config` (declared in the TOML configuration).
    pub source: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A check's state for one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckStateRecord {
    pub check_id: String,
    /// A device id, or empty for a network monitor.
    pub subject: String,
    /// `steward_core::alerting::AlertState`, JSON.
    pub state: String,
    pub status: String,
    pub since: Timestamp,
    pub summary: String,
    pub next_run_at: Timestamp,
}

/// A confirmed change, as history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckHistoryRecord {
    pub id: i64,
    pub check_id: String,
    pub subject: String,
    pub at: Timestamp,
    pub from_status: String,
    pub to_status: String,
    pub summary: String,
    /// `change` (a confirmed change of status) or `acknowledged`.
    pub event: String,
    /// Who acknowledged (empty for a change).
    pub actor: String,
}

/// A notification channel; `settings` is sealed by the server before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRecord {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub settings: String,
    pub source: String,
    pub created_at: Timestamp,
}

/// A notice queued for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    pub id: i64,
    pub notice_key: String,
    pub channel_id: String,
    pub payload: String,
    pub created_at: Timestamp,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: String,
    pub delivered_at: Option<Timestamp>,
}

/// What one evaluation of a check decided, to be stored together.
#[derive(Debug, Clone)]
pub struct CheckResultWrite {
    /// When the result was judged (notices are due from then).
    pub decided_at: Timestamp,
    /// The run this result answers: the `next_run_at` the check was claimed with. A result
    /// for a run already answered (a server whose lease lapsed while it probed, and another
    /// that probed too) is refused, so each run is recorded — and alerts — once.
    pub due_at: Timestamp,
    pub check_id: String,
    pub subject: String,
    pub state: String,
    pub status: String,
    pub since: Timestamp,
    pub summary: String,
    pub next_run_at: Timestamp,
    /// A confirmed change: (from, to, at).
    pub transition: Option<(String, String, Timestamp)>,
    /// Notices to queue: the key names the notice; `{history}` in it is replaced by the id of
    /// the history line written in the same transaction (a transition's notice is keyed by
    /// the transition).
    pub notices: Vec<NoticeWrite>,
}

#[derive(Debug, Clone)]
pub struct NoticeWrite {
    pub key: String,
    pub channel_id: String,
    pub payload: String,
}

const CHECK_COLS: &str = "id, name, kind, target, spec, interval_ms, rules, runner, parent_id, \
     runbook, source, enabled, created_at, updated_at";
pub(crate) const STATE_COLS: &str = "check_id, subject, state, status, since, summary, next_run_at";
const NOTIFICATION_COLS: &str = "id, notice_key, channel_id, payload, created_at, attempts, \
     next_attempt_at, last_error, delivered_at";

fn check(row: &AnyRow) -> Result<CheckRecord> {
    Ok(CheckRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        kind: text(row, "kind")?,
        target: text(row, "target")?,
        spec: text(row, "spec")?,
        interval_ms: int(row, "interval_ms")?,
        rules: text(row, "rules")?,
        runner: text(row, "runner")?,
        parent_id: opt_text(row, "parent_id")?,
        runbook: text(row, "runbook")?,
        source: text(row, "source")?,
        enabled: int(row, "enabled")? != 0,
        created_at: Timestamp(int(row, "created_at")?),
        updated_at: Timestamp(int(row, "updated_at")?),
    })
}

pub(crate) fn check_state(row: &AnyRow) -> Result<CheckStateRecord> {
    Ok(CheckStateRecord {
        check_id: text(row, "check_id")?,
        subject: text(row, "subject")?,
        state: text(row, "state")?,
        status: text(row, "status")?,
        since: Timestamp(int(row, "since")?),
        summary: text(row, "summary")?,
        next_run_at: Timestamp(int(row, "next_run_at")?),
    })
}

pub(crate) fn history(r: &AnyRow) -> Result<CheckHistoryRecord> {
    Ok(CheckHistoryRecord {
        id: int(r, "id")?,
        check_id: text(r, "check_id")?,
        subject: text(r, "subject")?,
        at: Timestamp(int(r, "at")?),
        from_status: text(r, "from_status")?,
        to_status: text(r, "to_status")?,
        summary: text(r, "summary")?,
        event: text(r, "event")?,
        actor: text(r, "actor")?,
    })
}

fn notification(row: &AnyRow) -> Result<NotificationRecord> {
    Ok(NotificationRecord {
        id: int(row, "id")?,
        notice_key: text(row, "notice_key")?,
        channel_id: text(row, "channel_id")?,
        payload: text(row, "payload")?,
        created_at: Timestamp(int(row, "created_at")?),
        attempts: int(row, "attempts")?,
        next_attempt_at: Timestamp(int(row, "next_attempt_at")?),
        last_error: text(row, "last_error")?,
        delivered_at: opt_int(row, "delivered_at")?.map(Timestamp),
    })
}

/// Creates or replaces one check inside the caller's transaction.
async fn upsert_check(tx: &mut sqlx::AnyConnection, c: &CheckRecord) -> Result<()> {
    let res = sqlx::query(safe_sql!(
        "INSERT INTO checks ({CHECK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
         target = excluded.target, spec = excluded.spec, interval_ms = excluded.interval_ms, \
         rules = excluded.rules, runner = excluded.runner, parent_id = excluded.parent_id, \
         runbook = excluded.runbook, source = excluded.source, enabled = excluded.enabled, \
         updated_at = excluded.updated_at"
    ))
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.kind)
    .bind(&c.target)
    .bind(&c.spec)
    .bind(c.interval_ms)
    .bind(&c.rules)
    .bind(&c.runner)
    .bind(&c.parent_id)
    .bind(&c.runbook)
    .bind(&c.source)
    .bind(i64::from(c.enabled))
    .bind(c.created_at.0)
    .bind(c.updated_at.0)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
            format!("a check named {} already exists", c.name),
        )),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(StoreError::NotFound),
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// Creates or replaces a check by id (the name must stay unique: `Conflict` otherwise).
    pub async fn save_check(&self, c: &CheckRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        upsert_check(&mut tx, c).await?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every check, by name.
    pub async fn checks(&self) -> Result<Vec<CheckRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {CHECK_COLS} FROM checks ORDER BY name, id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(check).collect()
    }

    /// Deletes a check with its states and history.
    pub async fn delete_check(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query("DELETE FROM checks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        touched(&res)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts tracking a check for a subject (a new device under an "all devices" check),
    /// unless it is tracked already: the first run is due at `first_run_at`.
    pub async fn track_check(
        &self,
        check_id: &str,
        subject: &str,
        initial_state: &str,
        now: Timestamp,
        first_run_at: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO check_state (check_id, subject, state, status, since, summary, next_run_at) \
             VALUES ($1, $2, $3, 'ok', $4, '', $5) ON CONFLICT (check_id, subject) DO NOTHING",
        )
        .bind(check_id)
        .bind(subject)
        .bind(initial_state)
        .bind(now.0)
        .bind(first_run_at.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// A check's state for a subject.
    pub async fn check_state(
        &self,
        check_id: &str,
        subject: &str,
    ) -> Result<Option<CheckStateRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {STATE_COLS} FROM check_state WHERE check_id = $1 AND subject = $2"
        ))
        .bind(check_id)
        .bind(subject)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(check_state).transpose()
    }

    /// A check's history for a subject, newest first.
    pub async fn check_history(
        &self,
        check_id: &str,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<CheckHistoryRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT id, check_id, subject, at, from_status, to_status, summary, event, actor \
             FROM check_history WHERE check_id = $1 AND subject = $2 ORDER BY id DESC LIMIT {limit}"
        ))
        .bind(check_id)
        .bind(subject)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(history).collect()
    }

    /// Creates or replaces a channel by id (`Conflict` when the name is taken).
    pub async fn save_channel(&self, c: &ChannelRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO channels (id, name, kind, settings, source, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             settings = excluded.settings, source = excluded.source",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.kind)
        .bind(&c.settings)
        .bind(&c.source)
        .bind(c.created_at.0)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {
                bump_revision(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a channel named {} already exists", c.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every channel, by name.
    pub async fn channels(&self) -> Result<Vec<ChannelRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, kind, settings, source, created_at FROM channels ORDER BY name, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChannelRecord {
                    id: text(r, "id")?,
                    name: text(r, "name")?,
                    kind: text(r, "kind")?,
                    settings: text(r, "settings")?,
                    source: text(r, "source")?,
                    created_at: Timestamp(int(r, "created_at")?),
                })
            })
            .collect()
    }

    /// Claims up to `limit` undelivered notifications due at `now` for `holder` for
    /// `lease_ms`, oldest first. Before sending one the holder takes it again
    /// ([`Store::take_notification`]): it may have lapsed to another server meanwhile.
    pub async fn claim_notifications(
        &self,
        holder: &str,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<NotificationRecord>> {
        self.claim_notification_groups(holder, now, 0, limit, lease_ms)
            .await
    }

    /// [`Store::claim_notifications`] a channel at a time: a channel's due notifications
    /// are claimed together once the oldest of them has been due for `group_window_ms`, so
    /// notices decided close together (a switch down and the checks behind it) can go out
    /// as one message. Grouping delays a notice by at most the window.
    pub async fn claim_notification_groups(
        &self,
        holder: &str,
        now: Timestamp,
        group_window_ms: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<NotificationRecord>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(safe_sql!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE delivered_at IS NULL \
             AND next_attempt_at <= $1 AND lease_until <= $1 \
             AND channel_id IN (SELECT channel_id FROM notifications WHERE delivered_at IS NULL \
             AND next_attempt_at <= $2 AND lease_until <= $1) \
             ORDER BY id LIMIT {limit} {lock}"
        ))
        .bind(now.0)
        .bind(now.0.saturating_sub(group_window_ms.max(0)))
        .fetch_all(&mut *tx)
        .await?;
        let claimed: Vec<NotificationRecord> =
            rows.iter().map(notification).collect::<Result<_>>()?;
        for n in &claimed {
            sqlx::query(
                "UPDATE notifications SET lease_until = $1, lease_holder = $2, claimed_at = $3 \
                 WHERE id = $4",
            )
            .bind(now.plus_millis(lease_ms).0)
            .bind(holder)
            .bind(now.0)
            .bind(n.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Marks a notification delivered (it is never sent again).
    pub async fn notification_delivered(&self, id: i64, at: Timestamp) -> Result<()> {
        let res = sqlx::query(
            "UPDATE notifications SET delivered_at = $1, attempts = attempts + 1, lease_until = 0, \
             lease_holder = '', last_error = '' WHERE id = $2 AND delivered_at IS NULL",
        )
        .bind(at.0)
        .bind(id)
        .execute(&self.write)
        .await?;
        touched(&res)
    }

    /// Records `holder`'s failed attempt; the next is due at `retry_at`. `NotFound` when the
    /// notification was delivered or is no longer `holder`'s (its lease lapsed to another
    /// server, whose claim is left alone).
    pub async fn notification_failed(
        &self,
        holder: &str,
        id: i64,
        error: &str,
        retry_at: Timestamp,
    ) -> Result<()> {
        let res = sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, \
             lease_until = 0, lease_holder = '' WHERE id = $3 AND lease_holder = $4 \
             AND delivered_at IS NULL",
        )
        .bind(error)
        .bind(retry_at.0)
        .bind(id)
        .bind(holder)
        .execute(&self.write)
        .await?;
        touched(&res)
    }

    /// Notifications, newest first (for the console's delivery view).
    pub async fn notifications(&self, limit: u32) -> Result<Vec<NotificationRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {NOTIFICATION_COLS} FROM notifications ORDER BY id DESC LIMIT {limit}"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(notification).collect()
    }
}
