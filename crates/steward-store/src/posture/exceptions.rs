//! Accepted-risk exceptions: added, listed (all of them, expired and revoked included: the
//! record of who accepted what) and revoked once. Whether one applies to a result is the
//! posture service's decision.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store};

/// An exception as a person grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPostureException {
    pub check_id: String,
    /// `device:ID`, `group:ID` or `all`.
    pub target: String,
    pub reason: String,
    /// Who answers for the accepted risk.
    pub owner: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// A stored exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureExceptionRecord {
    pub id: String,
    pub check_id: String,
    pub target: String,
    pub reason: String,
    pub owner: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub created_by: String,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
}

const EXCEPTION_COLS: &str = "id, check_id, target, reason, owner, expires_at, created_at, \
     created_by, revoked_at, revoked_by";

fn exception(row: &AnyRow) -> Result<PostureExceptionRecord> {
    Ok(PostureExceptionRecord {
        id: text(row, "id")?,
        check_id: text(row, "check_id")?,
        target: text(row, "target")?,
        reason: text(row, "reason")?,
        owner: text(row, "owner")?,
        expires_at: Timestamp(int(row, "expires_at")?),
        created_at: Timestamp(int(row, "created_at")?),
        created_by: text(row, "created_by")?,
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp),
        revoked_by: opt_text(row, "revoked_by")?,
    })
}

impl Store {
    /// Stores a new exception under a new id (a random UUID, as the server's other ids) and
    /// answers it.
    pub async fn add_posture_exception(
        &self,
        e: &NewPostureException,
    ) -> Result<PostureExceptionRecord> {
        let id = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(safe_sql!(
            "INSERT INTO posture_exceptions \
             (id, check_id, target, reason, owner, expires_at, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {EXCEPTION_COLS}"
        ))
        .bind(&id)
        .bind(&e.check_id)
        .bind(&e.target)
        .bind(&e.reason)
        .bind(&e.owner)
        .bind(e.expires_at.0)
        .bind(e.created_at.0)
        .bind(&e.created_by)
        .fetch_one(&self.write)
        .await?;
        exception(&row)
    }

    /// Every exception, expired and revoked ones included, newest first.
    pub async fn posture_exceptions(&self) -> Result<Vec<PostureExceptionRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {EXCEPTION_COLS} FROM posture_exceptions ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(exception).collect()
    }

    /// Revokes the exception as of `at`, by `by`. `false` when there is no such exception
    /// or it was revoked already (its first revocation stays on record).
    pub async fn revoke_posture_exception(
        &self,
        id: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE posture_exceptions SET revoked_at = $2, revoked_by = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(at.0)
        .bind(by)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() > 0)
    }
}
