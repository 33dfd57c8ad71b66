//! The audit log: appended to, read, never updated or deleted by this crate. The chain
//! hashes are computed by `steward_core::audit`; this module only stores them.

use sqlx::any::AnyRow;
use steward_core::Timestamp;
use steward_core::audit::{AuditFacts, GENESIS, entry_hash};

use crate::rows::{int, text};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub facts: AuditFacts,
    pub prev_hash: String,
    pub hash: String,
}

fn record(row: &AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: int(row, "seq")?,
        facts: AuditFacts {
            at: Timestamp(int(row, "at")?),
            actor: text(row, "actor")?,
            action: text(row, "action")?,
            target: text(row, "target")?,
            detail: text(row, "detail")?,
            source: text(row, "source")?,
        },
        prev_hash: text(row, "prev_hash")?,
        hash: text(row, "hash")?,
    })
}

const COLS: &str = "seq, at, actor, action, target, detail, source, prev_hash, hash";

impl Store {
    /// Appends an entry at the end of the chain. Concurrent appenders on PostgreSQL collide
    /// on the sequence number; the loser re-reads the end of the chain and tries again.
    pub async fn append_audit(&self, facts: &AuditFacts) -> Result<AuditRecord> {
        for _ in 0..20 {
            let mut tx = self.begin_write().await?;
            let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            let (seq, prev_hash) = match &last {
                Some(row) => (int(row, "seq")? + 1, text(row, "hash")?),
                None => (1, GENESIS.to_string()),
            };
            let hash = entry_hash(&prev_hash, seq, facts);
            let inserted = sqlx::query(safe_sql!(
                "INSERT INTO audit_log ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(seq)
            .bind(facts.at.0)
            .bind(&facts.actor)
            .bind(&facts.action)
            .bind(&facts.target)
            .bind(&facts.detail)
            .bind(&facts.source)
            .bind(&prev_hash)
            .bind(&hash)
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(AuditRecord {
                        seq,
                        facts: facts.clone(),
                        prev_hash,
                        hash,
                    });
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(
            "the audit log is too busy; try again".into(),
        ))
    }

    /// Entries with `seq` greater than `after`, oldest first (for verification and export).
    pub async fn audit_after(&self, after: i64, limit: u64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT {}",
            limit.min(10_000)
        ))
        .bind(after)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(record).collect()
    }

    /// The newest entries first, optionally only one action or one actor, and how many
    /// entries match in all.
    pub async fn audit_page(
        &self,
        action: Option<&str>,
        actor: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<AuditRecord>, u64)> {
        let mut conds = Vec::new();
        if action.is_some() {
            conds.push(format!("action = ${}", conds.len() + 1));
        }
        if actor.is_some() {
            conds.push(format!("actor = ${}", conds.len() + 1));
        }
        let clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let mut count =
            sqlx::query_scalar::<_, i64>(safe_sql!("SELECT COUNT(*) FROM audit_log {clause}"));
        let mut q = sqlx::query(safe_sql!(
            "SELECT {COLS} FROM audit_log {clause} ORDER BY seq DESC LIMIT {} OFFSET {offset}",
            limit.min(10_000)
        ));
        for v in [action, actor].into_iter().flatten() {
            q = q.bind(v.to_string());
            count = count.bind(v.to_string());
        }
        let total = count.fetch_one(&self.read).await?.max(0) as u64;
        let rows = q.fetch_all(&self.read).await?;
        Ok((rows.iter().map(record).collect::<Result<_>>()?, total))
    }
}
