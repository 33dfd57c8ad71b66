//! Detection policies: one per target, as the detection service validated it.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, text, touched};
use crate::{Result, Store};

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionPolicyRecord {
    /// `all`, `group:ID`, `tag:NAME` or `device:ID`.
    pub target: String,
    /// The JSON of a `steward_core::detection::DetectionPolicy`.
    pub policy: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

fn policy(row: &AnyRow) -> Result<DetectionPolicyRecord> {
    Ok(DetectionPolicyRecord {
        target: text(row, "target")?,
        policy: text(row, "policy")?,
        updated_at: Timestamp(int(row, "updated_at")?),
        updated_by: text(row, "updated_by")?,
    })
}

impl Store {
    /// Sets the policy of `target` (replacing the one it had).
    pub async fn set_detection_policy(
        &self,
        target: &str,
        policy_json: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<DetectionPolicyRecord> {
        let row = sqlx::query(
            "INSERT INTO detection_policies (target, policy, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (target) DO UPDATE SET \
             policy = excluded.policy, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by \
             RETURNING target, policy, updated_at, updated_by",
        )
        .bind(target)
        .bind(policy_json)
        .bind(at.0)
        .bind(by)
        .fetch_one(&self.write)
        .await?;
        policy(&row)
    }

    /// Deletes the policy of `target`; `NotFound` when it has none.
    pub async fn delete_detection_policy(&self, target: &str) -> Result<()> {
        let res = sqlx::query("DELETE FROM detection_policies WHERE target = $1")
            .bind(target)
            .execute(&self.write)
            .await?;
        touched(&res)
    }

    /// Every policy, by target.
    pub async fn detection_policies(&self) -> Result<Vec<DetectionPolicyRecord>> {
        let rows = sqlx::query(
            "SELECT target, policy, updated_at, updated_by FROM detection_policies ORDER BY target",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(policy).collect()
    }
}
