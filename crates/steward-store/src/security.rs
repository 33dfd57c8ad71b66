//! Two-factor sign-in state (TOTP enrolment, replay guard, recovery codes), sign-ins waiting
//! for their second factor, and installation-wide settings. Secrets arrive sealed or hashed:
//! the store never sees a TOTP secret or a recovery code in the clear.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, text, touched};
use crate::{Result, Store, StoreError};

/// A password accepted, the second factor still to come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub source: String,
    /// Where to go after signing in (already checked to be a local path).
    pub next: String,
    pub failures: i64,
}

fn pending(row: &AnyRow) -> Result<PendingSignIn> {
    Ok(PendingSignIn {
        token_hash: text(row, "token_hash")?,
        user_id: text(row, "user_id")?,
        created_at: Timestamp(int(row, "created_at")?),
        expires_at: Timestamp(int(row, "expires_at")?),
        source: text(row, "source")?,
        next: text(row, "next")?,
        failures: int(row, "failures")?,
    })
}

impl Store {
    /// Stores a new, unconfirmed TOTP secret for the user. `Conflict` if two-factor sign-in
    /// is already on (it must be turned off first).
    pub async fn begin_totp_enrolment(&self, user_id: &str, sealed_secret: &str) -> Result<()> {
        let res = sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_last_step = 0 WHERE id = $2 AND totp_enabled_at IS NULL",
        )
        .bind(sealed_secret)
        .bind(user_id)
        .execute(&self.write)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "two-factor sign-in is already on for this user".into(),
            ));
        }
        Ok(())
    }

    /// Confirms the enrolment with the step of the first valid code and replaces the
    /// recovery codes, in one transaction. `NotFound` if no enrolment was waiting.
    pub async fn enable_totp(
        &self,
        user_id: &str,
        step: i64,
        recovery_code_hashes: &[String],
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE users SET totp_enabled_at = $1, totp_last_step = $2 \
             WHERE id = $3 AND totp_enabled_at IS NULL AND totp_secret IS NOT NULL",
        )
        .bind(now.0)
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        touched(&res)?;
        replace_codes(&mut tx, user_id, recovery_code_hashes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Accepts a TOTP time step if it is later than the last one accepted; `false` means the
    /// code was already used (or an older one was): a replay. Atomic across replicas.
    pub async fn accept_totp_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Turns two-factor sign-in off: the secret and every recovery code are deleted.
    pub async fn disable_totp(&self, user_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0 WHERE id = $1",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        touched(&res)?;
        replace_codes(&mut tx, user_id, &[]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the user's recovery codes (old ones stop working).
    pub async fn replace_recovery_codes(&self, user_id: &str, hashes: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        replace_codes(&mut tx, user_id, hashes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Spends a recovery code; `false` if it is unknown or already used.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.0)
        .bind(user_id)
        .bind(code_hash)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Unused recovery codes of the user.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.read)
        .await?;
        Ok(n as u64)
    }

    pub async fn create_pending_sign_in(&self, p: &PendingSignIn) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_sign_ins (token_hash, user_id, created_at, expires_at, source, next, failures) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.token_hash)
        .bind(&p.user_id)
        .bind(p.created_at.0)
        .bind(p.expires_at.0)
        .bind(&p.source)
        .bind(&p.next)
        .bind(p.failures)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn pending_sign_in(&self, token_hash: &str) -> Result<Option<PendingSignIn>> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, created_at, expires_at, source, next, failures \
             FROM pending_sign_ins WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(pending).transpose()
    }

    /// Counts a try of a second factor before it is checked; `None` once `max` tries were
    /// made (or the pending sign-in is gone). Atomic, so parallel tries cannot exceed `max`.
    pub async fn reserve_pending_attempt(&self, token_hash: &str, max: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE pending_sign_ins SET failures = failures + 1 \
             WHERE token_hash = $1 AND failures < $2 RETURNING failures",
        )
        .bind(token_hash)
        .bind(max)
        .fetch_optional(&self.write)
        .await?)
    }

    /// Ends a pending sign-in; `false` if it was already gone (used by a concurrent request).
    pub async fn delete_pending_sign_in(&self, token_hash: &str) -> Result<bool> {
        let res = sqlx::query("DELETE FROM pending_sign_ins WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(res.rows_affected() == 1)
    }

    pub async fn delete_pending_sign_ins_before(&self, now: Timestamp) -> Result<u64> {
        let res = sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&self.write)
            .await?;
        Ok(res.rows_affected())
    }

    /// A setting's stored value, if it was ever set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.read)
                .await?,
        )
    }

    /// The setting's stored value, storing `value` first when there is none: of two
    /// servers that make a value at once (a key, say), both end with the one stored first.
    pub async fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
        now: Timestamp,
    ) -> Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        // Read from the writer: a reader replica might not have the row yet.
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&self.write)
                .await?,
        )
    }

    pub async fn set_setting(&self, key: &str, value: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

async fn replace_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    hashes: &[String],
) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for h in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(h)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
