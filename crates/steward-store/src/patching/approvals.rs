//! Approvals: versions of packages a person cleared for policies that install only approved
//! updates.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, text};
use crate::{Result, Store};

/// One approved version of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchApprovalRecord {
    pub package: String,
    pub version: String,
    pub approved_at: Timestamp,
    pub approved_by: String,
}

fn approval(row: &AnyRow) -> Result<PatchApprovalRecord> {
    Ok(PatchApprovalRecord {
        package: text(row, "package")?,
        version: text(row, "version")?,
        approved_at: Timestamp(int(row, "approved_at")?),
        approved_by: text(row, "approved_by")?,
    })
}

impl Store {
    /// Approves `version` of `package`, at `at` by `by`. Approving it again changes nothing:
    /// the first approval stays on record.
    pub async fn approve_update(
        &self,
        package: &str,
        version: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO patch_approvals (package, version, approved_at, approved_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (package, version) DO NOTHING",
        )
        .bind(package)
        .bind(version)
        .bind(at.0)
        .bind(by)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Withdraws the approval; `false` when there was none.
    pub async fn revoke_approval(&self, package: &str, version: &str) -> Result<bool> {
        let res = sqlx::query("DELETE FROM patch_approvals WHERE package = $1 AND version = $2")
            .bind(package)
            .bind(version)
            .execute(&self.write)
            .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Every approval, by package and version.
    pub async fn patch_approvals(&self) -> Result<Vec<PatchApprovalRecord>> {
        let rows = sqlx::query(
            "SELECT package, version, approved_at, approved_by FROM patch_approvals \
             ORDER BY package, version",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(approval).collect()
    }
}
