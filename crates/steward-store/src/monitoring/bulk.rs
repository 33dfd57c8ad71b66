//! Many checks at once: a configuration file declaring thousands is stored at start in a
//! few transactions rather than two per check (minutes on PostgreSQL, where each commit
//! waits for the disk).

use steward_core::Timestamp;

use super::{CheckRecord, bump_revision, upsert_check};
use crate::{Result, Store};

/// Rows written per transaction: large enough that commits are few, small enough that the
/// writer (SQLite's only one) is never held for long.
const CHUNK: usize = 500;

/// A check to start tracking for a subject (see [`Store::track_check`]).
#[derive(Debug, Clone)]
pub struct TrackWrite {
    pub check_id: String,
    pub subject: String,
    pub initial_state: String,
    pub now: Timestamp,
    pub first_run_at: Timestamp,
}

impl Store {
    /// [`Store::save_check`] for many checks: `CHUNK` to a transaction, each raising the
    /// monitoring revision once. A refused check (a name taken: `Conflict`) stops there; the
    /// chunks before it are stored.
    pub async fn save_checks(&self, checks: &[CheckRecord]) -> Result<()> {
        for chunk in checks.chunks(CHUNK) {
            let mut tx = self.begin_write().await?;
            for c in chunk {
                upsert_check(&mut tx, c).await?;
            }
            bump_revision(&mut tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// [`Store::track_check`] for many: each starts being tracked unless it is already.
    pub async fn track_checks(&self, tracks: &[TrackWrite]) -> Result<()> {
        for chunk in tracks.chunks(CHUNK) {
            let mut tx = self.begin_write().await?;
            for t in chunk {
                sqlx::query(
                    "INSERT INTO check_state (check_id, subject, state, status, since, summary, next_run_at) \
                     VALUES ($1, $2, $3, 'ok', $4, '', $5) ON CONFLICT (check_id, subject) DO NOTHING",
                )
                .bind(&t.check_id)
                .bind(&t.subject)
                .bind(&t.initial_state)
                .bind(t.now.0)
                .bind(t.first_run_at.0)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
