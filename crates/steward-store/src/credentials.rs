//! Rotating a device's credential in two steps, so that no crash can lock an agent out: a
//! new credential's hash is stored as *pending* beside the current one (both work), and the
//! first request made with the pending one promotes it (the old one stops working).

use crate::rows::touched;
use crate::{Result, Store};

impl Store {
    /// Stores the hash of a credential issued for the rotation job `job_id` as the device's
    /// pending one, replacing any earlier pending one. One credential per job: `NotFound`
    /// for an unknown or revoked device, or a job that already had its credential.
    pub async fn set_pending_credential(
        &self,
        device_id: &str,
        hash: &str,
        job_id: &str,
    ) -> Result<()> {
        let res = sqlx::query(
            "UPDATE devices SET pending_credential_hash = $1, credential_job_id = $3 \
             WHERE id = $2 AND revoked_at IS NULL \
             AND (credential_job_id IS NULL OR credential_job_id <> $3)",
        )
        .bind(hash)
        .bind(device_id)
        .bind(job_id)
        .execute(&self.write)
        .await?;
        touched(&res)
    }

    /// Makes the pending credential `hash` the device's credential and forgets the old one.
    /// Returns false when `hash` is no longer pending (another request promoted it first, or
    /// a newer rotation replaced it), so exactly one caller sees `true` per rotation.
    pub async fn promote_pending_credential(&self, device_id: &str, hash: &str) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE devices SET credential_hash = pending_credential_hash, \
             pending_credential_hash = NULL \
             WHERE id = $1 AND pending_credential_hash = $2 AND revoked_at IS NULL",
        )
        .bind(device_id)
        .bind(hash)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() == 1)
    }
}
