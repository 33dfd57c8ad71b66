//! The daily score history: one row per day and scope, upserted as the day's scores are
//! worked out again, kept for [`SCORE_DAYS_KEPT`] days.

use sqlx::any::AnyRow;

use super::{ROWS_PER_STATEMENT, values_placeholders};
use crate::rows::{int, text};
use crate::{Result, Store};

/// How many days of scores are kept before the day being recorded: a year, with a month to
/// spare so a year-on-year comparison always finds its day.
pub const SCORE_DAYS_KEPT: i64 = 400;

/// Rows written per transaction: the day's scores of a large fleet (one scope per device)
/// are written in a few short transactions rather than holding the writer for all of them.
const ROWS_PER_TRANSACTION: usize = 1_000;

/// Values per row of the scores' multi-row upsert.
const SCORE_WIDTH: usize = 7;

/// One scope's counts for a day (the day is [`Store::record_posture_scores`]'s argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureScoreWrite {
    /// `organisation`, `section:NAME`, `framework:cis-ig1`, `framework:cyber-essentials`
    /// or `device:ID`.
    pub scope: String,
    pub pass: i64,
    pub fail: i64,
    pub excepted: i64,
    pub unknown: i64,
    pub not_applicable: i64,
}

/// One scope's counts on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureScoreRecord {
    pub scope: String,
    /// The unix day number (days since 1970-01-01, UTC).
    pub day: i64,
    pub pass: i64,
    pub fail: i64,
    pub excepted: i64,
    pub unknown: i64,
    pub not_applicable: i64,
}

fn score(row: &AnyRow) -> Result<PostureScoreRecord> {
    Ok(PostureScoreRecord {
        scope: text(row, "scope")?,
        day: int(row, "day")?,
        pass: int(row, "pass")?,
        fail: int(row, "fail")?,
        excepted: int(row, "excepted")?,
        unknown: int(row, "unknown")?,
        not_applicable: int(row, "not_applicable")?,
    })
}

impl Store {
    /// Stores `day`'s scores, replacing that day's row of each scope given (other scopes'
    /// rows for the day stay), and deletes every row older than `day - SCORE_DAYS_KEPT`.
    /// Written `ROWS_PER_TRANSACTION` scopes to a transaction; the trim runs with the
    /// first. A scope repeated in `scores` counts once, its last occurrence.
    pub async fn record_posture_scores(
        &self,
        day: i64,
        scores: &[PostureScoreWrite],
    ) -> Result<()> {
        let scores = distinct_by_scope(scores);
        let mut transactions = scores.chunks(ROWS_PER_TRANSACTION);
        let first = transactions.next().unwrap_or_default();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM posture_scores WHERE day < $1")
            .bind(day - SCORE_DAYS_KEPT)
            .execute(&mut *tx)
            .await?;
        upsert_scores(&mut tx, day, first).await?;
        tx.commit().await?;
        for chunk in transactions {
            let mut tx = self.begin_write().await?;
            upsert_scores(&mut tx, day, chunk).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The scope's scores from `since_day` on, oldest first.
    pub async fn posture_score_history(
        &self,
        scope: &str,
        since_day: i64,
    ) -> Result<Vec<PostureScoreRecord>> {
        let rows = sqlx::query(
            "SELECT scope, day, pass, fail, excepted, unknown, not_applicable \
             FROM posture_scores WHERE scope = $1 AND day >= $2 ORDER BY day",
        )
        .bind(scope)
        .bind(since_day)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(score).collect()
    }
}

/// Each scope once, the last occurrence winning (a multi-row upsert may not touch a row
/// twice), in the order of its last occurrence.
fn distinct_by_scope(scores: &[PostureScoreWrite]) -> Vec<&PostureScoreWrite> {
    let mut seen = std::collections::HashSet::new();
    let mut distinct: Vec<&PostureScoreWrite> = scores
        .iter()
        .rev()
        .filter(|s| seen.insert(s.scope.as_str()))
        .collect();
    distinct.reverse();
    distinct
}

/// Upserts `scores` for `day` inside the caller's transaction, a statement per
/// [`ROWS_PER_STATEMENT`] rows.
async fn upsert_scores(
    conn: &mut sqlx::AnyConnection,
    day: i64,
    scores: &[&PostureScoreWrite],
) -> Result<()> {
    for chunk in scores.chunks(ROWS_PER_STATEMENT) {
        let values = values_placeholders(chunk.len(), SCORE_WIDTH);
        let mut q = sqlx::query(safe_sql!(
            "INSERT INTO posture_scores (day, scope, pass, fail, excepted, unknown, not_applicable) \
             VALUES {values} ON CONFLICT (day, scope) DO UPDATE SET pass = excluded.pass, \
             fail = excluded.fail, excepted = excluded.excepted, unknown = excluded.unknown, \
             not_applicable = excluded.not_applicable"
        ));
        for s in chunk {
            q = q
                .bind(day)
                .bind(&s.scope)
                .bind(s.pass)
                .bind(s.fail)
                .bind(s.excepted)
                .bind(s.unknown)
                .bind(s.not_applicable);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
