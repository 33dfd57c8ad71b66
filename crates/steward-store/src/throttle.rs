//! Failed sign-ins, counted per key (`user:NAME`, `ip:ADDR`) over the last hour.

use steward_core::Timestamp;

use crate::rows::opt_int;
use crate::{Result, Store};

/// Failures of one key since some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureWindow {
    pub count: u32,
    pub oldest: Option<Timestamp>,
    pub newest: Option<Timestamp>,
}

impl Store {
    /// Records one failed sign-in under each key, and forgets failures older than `forget_before`.
    pub async fn record_login_failure(
        &self,
        keys: &[String],
        at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for key in keys {
            sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                .bind(key)
                .bind(at.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM login_failures WHERE key = $1 AND at < $2")
                .bind(key)
                .bind(forget_before.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn login_failures(&self, key: &str, since: Timestamp) -> Result<FailureWindow> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest, MAX(at) AS newest FROM login_failures WHERE key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(since.0)
        .fetch_one(&self.read)
        .await?;
        Ok(FailureWindow {
            count: crate::rows::int(&row, "n")?.clamp(0, i64::from(u32::MAX)) as u32,
            oldest: opt_int(&row, "oldest")?.map(Timestamp),
            newest: opt_int(&row, "newest")?.map(Timestamp),
        })
    }

    /// Forgets a key's failures (an account after a successful sign-in).
    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}
