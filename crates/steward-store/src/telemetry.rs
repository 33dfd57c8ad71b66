//! What Steward's own metrics (`/metrics`) sample from the database: how much work waits.

use steward_core::Timestamp;

use crate::rows::int;
use crate::{Result, Store};

/// How much work waits, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepths {
    /// Notifications not yet delivered (due now or backing off after a failure).
    pub notifications_pending: i64,
    /// Runs of enabled checks that are due (their time has come) and not yet recorded.
    pub checks_due: i64,
    /// Of those, the ones due for longer than the grace asked for: the scheduler is behind.
    pub checks_overdue: i64,
    /// Jobs queued for devices and not yet taken.
    pub jobs_queued: i64,
}

impl Store {
    /// The queue depths at `now`; a check is overdue once it has been due for longer than
    /// `overdue_after_ms`. One round trip of indexed counts (`notifications_due`,
    /// `check_state_due`, `jobs_state_updated`), cheap enough for every scrape.
    pub async fn queue_depths(&self, now: Timestamp, overdue_after_ms: i64) -> Result<QueueDepths> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM notifications WHERE delivered_at IS NULL) AS notifications_pending, \
             (SELECT COUNT(*) FROM check_state s JOIN checks c ON c.id = s.check_id \
              WHERE s.next_run_at <= $1 AND c.enabled = 1 AND c.runner = 'server') AS checks_due, \
             (SELECT COUNT(*) FROM check_state s JOIN checks c ON c.id = s.check_id \
              WHERE s.next_run_at <= $2 AND c.enabled = 1 AND c.runner = 'server') AS checks_overdue, \
             (SELECT COUNT(*) FROM jobs WHERE state = 'queued') AS jobs_queued",
        )
        .bind(now.0)
        .bind(now.0.saturating_sub(overdue_after_ms.max(0)))
        .fetch_one(&self.read)
        .await?;
        Ok(QueueDepths {
            notifications_pending: int(&row, "notifications_pending")?,
            checks_due: int(&row, "checks_due")?,
            checks_overdue: int(&row, "checks_overdue")?,
            jobs_queued: int(&row, "jobs_queued")?,
        })
    }
}
