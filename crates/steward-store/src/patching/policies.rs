//! Patch policies: what to install where and when, as the patching service validated it.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use super::name_taken;
use crate::rows::{int, text, touched};
use crate::{Result, Store, StoreError};

/// A policy's definition, as a person writes it (created or changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPolicyWrite {
    /// Unique among policies.
    pub name: String,
    /// `all`, `group:ID` or `tag:NAME`.
    pub target: String,
    /// The JSON of a `steward_core::patching::PatchPolicy` (the server (de)serialises it).
    pub policy: String,
    /// A recurring window in monitoring's syntax; empty for any time.
    pub window: String,
    pub enabled: bool,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPolicyRecord {
    pub id: String,
    pub name: String,
    pub target: String,
    pub policy: String,
    pub window: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// `window` is quoted: it is a reserved word in PostgreSQL.
const POLICY_COLS: &str = "id, name, target, policy, \"window\", enabled, created_at, \
     created_by, updated_at, updated_by";

fn policy(row: &AnyRow) -> Result<PatchPolicyRecord> {
    Ok(PatchPolicyRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        target: text(row, "target")?,
        policy: text(row, "policy")?,
        window: text(row, "window")?,
        enabled: int(row, "enabled")? != 0,
        created_at: Timestamp(int(row, "created_at")?),
        created_by: text(row, "created_by")?,
        updated_at: Timestamp(int(row, "updated_at")?),
        updated_by: text(row, "updated_by")?,
    })
}

impl Store {
    /// Stores a new policy under a new id (a random UUID, as the server's other ids), created
    /// (and last changed) at `at` by `by`. A name already taken is `Conflict`.
    pub async fn create_patch_policy(
        &self,
        p: &PatchPolicyWrite,
        at: Timestamp,
        by: &str,
    ) -> Result<PatchPolicyRecord> {
        let id = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(safe_sql!(
            "INSERT INTO patch_policies ({POLICY_COLS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8) RETURNING {POLICY_COLS}"
        ))
        .bind(&id)
        .bind(&p.name)
        .bind(&p.target)
        .bind(&p.policy)
        .bind(&p.window)
        .bind(i64::from(p.enabled))
        .bind(at.0)
        .bind(by)
        .fetch_one(&self.write)
        .await
        .map_err(|e| name_taken(e, "patch policy", &p.name))?;
        policy(&row)
    }

    /// Replaces the policy's definition, changed at `updated_at` by `updated_by`.
    /// `NotFound` when there is no such policy; a name another policy has is `Conflict`.
    pub async fn update_patch_policy(
        &self,
        id: &str,
        p: &PatchPolicyWrite,
        updated_at: Timestamp,
        updated_by: &str,
    ) -> Result<PatchPolicyRecord> {
        let row = sqlx::query(safe_sql!(
            "UPDATE patch_policies SET name = $2, target = $3, policy = $4, \"window\" = $5, \
             enabled = $6, updated_at = $7, updated_by = $8 WHERE id = $1 \
             RETURNING {POLICY_COLS}"
        ))
        .bind(id)
        .bind(&p.name)
        .bind(&p.target)
        .bind(&p.policy)
        .bind(&p.window)
        .bind(i64::from(p.enabled))
        .bind(updated_at.0)
        .bind(updated_by)
        .fetch_optional(&self.write)
        .await
        .map_err(|e| name_taken(e, "patch policy", &p.name))?;
        row.as_ref()
            .map(policy)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    /// Deletes the policy; `NotFound` when there is none.
    pub async fn delete_patch_policy(&self, id: &str) -> Result<()> {
        let res = sqlx::query("DELETE FROM patch_policies WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        touched(&res)
    }

    /// Every policy, by name.
    pub async fn patch_policies(&self) -> Result<Vec<PatchPolicyRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {POLICY_COLS} FROM patch_policies ORDER BY name"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(policy).collect()
    }
}
