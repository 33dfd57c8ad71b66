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

/// A key's failures since a time: count, oldest, newest.
const WINDOW_SQL: &str = "SELECT COUNT(*) AS n, MIN(at) AS oldest, MAX(at) AS newest \
                          FROM login_failures WHERE key = $1 AND at >= $2";

fn window(row: &sqlx::any::AnyRow) -> Result<FailureWindow> {
    Ok(FailureWindow {
        count: crate::rows::int(row, "n")?.clamp(0, i64::from(u32::MAX)) as u32,
        oldest: opt_int(row, "oldest")?.map(Timestamp),
        newest: opt_int(row, "newest")?.map(Timestamp),
    })
}

impl Store {
    pub async fn login_failures(&self, key: &str, since: Timestamp) -> Result<FailureWindow> {
        let row = sqlx::query(WINDOW_SQL)
            .bind(key)
            .bind(since.0)
            .fetch_one(&self.read)
            .await?;
        window(&row)
    }

    /// Records an attempt about to be checked as a failure of each key *before* it is
    /// checked, and returns, per key, the failures recorded before it. Attempts made in
    /// parallel therefore see each other and cannot all slip under the throttle: on SQLite
    /// the single writer serialises them; on PostgreSQL a transaction-scoped advisory lock per
    /// key does. The caller releases the rows if the attempt succeeds or is refused.
    pub async fn reserve_login_attempt(
        &self,
        keys: &[String],
        at: Timestamp,
        since: Timestamp,
    ) -> Result<(Vec<i64>, Vec<FailureWindow>)> {
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::new();
        let mut windows = Vec::new();
        for key in keys {
            if self.backend == crate::Backend::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM login_failures WHERE key = $1 AND at < $2")
                .bind(key)
                .bind(since.0)
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(WINDOW_SQL)
                .bind(key)
                .bind(since.0)
                .fetch_one(&mut *tx)
                .await?;
            windows.push(window(&row)?);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id",
            )
            .bind(key)
            .bind(at.0)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok((ids, windows))
    }

    /// Removes the rows of a reserved attempt that succeeded or was refused unchecked.
    pub async fn release_login_attempt(&self, ids: &[i64]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for id in ids {
            sqlx::query("DELETE FROM login_failures WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
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

/// A browser that signed in to an account (`known_devices`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
}

impl Store {
    /// Remembers that the browser holding the token (by its hash) signed in to `user_id`, or
    /// that it did again (`last_used_at` moves on).
    pub async fn remember_known_device(
        &self,
        token_hash: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO known_devices (token_hash, user_id, created_at, last_used_at) \
             VALUES ($1, $2, $3, $3) \
             ON CONFLICT (token_hash) DO UPDATE SET last_used_at = excluded.last_used_at \
             WHERE known_devices.user_id = excluded.user_id",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The known device with this token hash, if any (whether it is still valid, and for
    /// whom, is the caller's decision).
    pub async fn known_device(&self, token_hash: &str) -> Result<Option<KnownDevice>> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, created_at, last_used_at FROM known_devices WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(KnownDevice {
                token_hash: crate::rows::text(&r, "token_hash")?,
                user_id: crate::rows::text(&r, "user_id")?,
                created_at: Timestamp(crate::rows::int(&r, "created_at")?),
                last_used_at: Timestamp(crate::rows::int(&r, "last_used_at")?),
            })
        })
        .transpose()
    }

    /// Forgets known devices not used since `before`.
    pub async fn forget_known_devices_before(&self, before: Timestamp) -> Result<u64> {
        let res = sqlx::query("DELETE FROM known_devices WHERE last_used_at < $1")
            .bind(before.0)
            .execute(&self.write)
            .await?;
        Ok(res.rows_affected())
    }
}
