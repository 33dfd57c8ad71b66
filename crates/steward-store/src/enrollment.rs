//! Enrollment tokens and the enrollment of a device: the token is checked and spent and the
//! device created in one transaction, so a refused token creates nothing and a token with one
//! use left enrolls exactly one device, however many agents race for it.

use steward_core::enroll::{TokenProblem, check_token};
use steward_core::{ChangeKind, Timestamp};

use crate::devices::DeviceRecord;
use crate::rows::int;
use crate::{Result, Store};

#[derive(Debug, Clone)]
pub struct EnrollTokenRecord {
    pub id: String,
    pub token_hash: String,
    pub uses_left: i64,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: String,
    pub name: String,
    pub credential_hash: String,
    pub checkin_interval_secs: i64,
}

impl Store {
    pub async fn create_enroll_token(&self, t: &EnrollTokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO enroll_tokens (id, token_hash, uses_left, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.id)
        .bind(&t.token_hash)
        .bind(t.uses_left)
        .bind(t.expires_at.0)
        .bind(t.created_at.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Spends one use of the token with this hash and creates the device. The outer `Result`
    /// is a database failure; the inner one the token's problem (nothing was written).
    pub async fn enroll_device(
        &self,
        token_hash: &str,
        device: &NewDevice,
        now: Timestamp,
    ) -> Result<std::result::Result<DeviceRecord, TokenProblem>> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query(
            "SELECT id, uses_left, expires_at FROM enroll_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Err(TokenProblem::Unknown));
        };
        let token_id: String = crate::rows::text(&row, "id")?;
        if let Err(problem) = check_token(
            int(&row, "uses_left")?,
            Timestamp(int(&row, "expires_at")?),
            now,
        ) {
            return Ok(Err(problem));
        }
        // The guard repeats the check so that two concurrent enrollments on PostgreSQL
        // cannot both spend the last use.
        let spent = sqlx::query(
            "UPDATE enroll_tokens SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left > 0",
        )
        .bind(&token_id)
        .execute(&mut *tx)
        .await?;
        if spent.rows_affected() != 1 {
            return Ok(Err(TokenProblem::UsedUp));
        }
        sqlx::query(
            "INSERT INTO devices (id, name, credential_hash, enrolled_at, enroll_token_id, checkin_interval_secs) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&device.id)
        .bind(&device.name)
        .bind(&device.credential_hash)
        .bind(now.0)
        .bind(&token_id)
        .bind(device.checkin_interval_secs)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO device_changes (device_id, at, kind, subject) VALUES ($1, $2, $3, $4)",
        )
        .bind(&device.id)
        .bind(now.0)
        .bind(ChangeKind::Enrolled.as_str())
        .bind(&device.name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let record = self
            .scoped(&steward_core::Scope::AllDevices)
            .device(&device.id)
            .await?
            .ok_or(crate::StoreError::NotFound)?;
        Ok(Ok(record))
    }
}
