//! Keeping the leases of work in hand: the checks and notifications a server claimed
//! ([`Store::claim_due_checks`], [`Store::claim_notifications`]) carry a short lease, which
//! the holder renews while it works, so a dead server's work lapses to the others soon
//! whatever the work's length. A notification is taken again just before it is sent, so a
//! server whose lease lapsed never sends what another server claimed since.

use steward_core::Timestamp;

use crate::{Result, Store};

impl Store {
    /// Extends to `now + lease_ms` every lease `holder` took after `claimed_since`, checks
    /// and notifications alike; leases taken earlier are left to lapse (work held that long
    /// was lost by its task, not slow). Returns how many leases were extended.
    pub async fn renew_leases(
        &self,
        holder: &str,
        now: Timestamp,
        lease_ms: i64,
        claimed_since: Timestamp,
    ) -> Result<u64> {
        let until = now.plus_millis(lease_ms).0;
        let mut tx = self.begin_write().await?;
        let checks = sqlx::query(
            "UPDATE check_state SET lease_until = $1 WHERE lease_holder = $2 AND claimed_at > $3",
        )
        .bind(until)
        .bind(holder)
        .bind(claimed_since.0)
        .execute(&mut *tx)
        .await?;
        let notifications = sqlx::query(
            "UPDATE notifications SET lease_until = $1 WHERE lease_holder = $2 AND claimed_at > $3 \
             AND delivered_at IS NULL",
        )
        .bind(until)
        .bind(holder)
        .bind(claimed_since.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(checks.rows_affected() + notifications.rows_affected())
    }

    /// Takes notification `id` to send it now: extends `holder`'s lease on it to
    /// `now + lease_ms` if it is still `holder`'s and undelivered. `false` when it is not
    /// (another server claimed it after `holder`'s lease lapsed, or it was delivered): then
    /// it must not be sent.
    pub async fn take_notification(
        &self,
        holder: &str,
        id: i64,
        now: Timestamp,
        lease_ms: i64,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE notifications SET lease_until = $1 WHERE id = $2 AND lease_holder = $3 \
             AND delivered_at IS NULL",
        )
        .bind(now.plus_millis(lease_ms).0)
        .bind(id)
        .bind(holder)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() == 1)
    }
}
