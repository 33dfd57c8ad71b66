//! The updates each device lists as pending, replaced as a whole by every listing, and each
//! device's last listing (its package manager, when, reboot needed, why it failed).

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use steward_core::Timestamp;
use steward_core::patching::PendingUpdate;

use super::device_missing;
use crate::rows::{ROWS_PER_STATEMENT, int, json, opt_int, opt_text, text, values_placeholders};
use crate::{Result, Store, StoreError};

/// An update pending on a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpdateRecord {
    pub device_id: String,
    pub update: PendingUpdate,
    /// When the device was first listed as behind on this package and architecture (kept
    /// while newer candidates replace older ones).
    pub first_seen: Timestamp,
}

/// A device's last listing of its updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateStatusRecord {
    pub device_id: String,
    /// `apt` or `dnf`; empty while no listing has succeeded.
    pub manager: String,
    /// When the device last listed its updates; `Timestamp(0)` while no listing has
    /// succeeded.
    pub listed_at: Timestamp,
    pub reboot_required: bool,
    /// Why the last listing failed; `None` when it did not.
    pub error: Option<String>,
}

/// The fleet's patch state, worked out by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Devices with at least one security update pending.
    pub devices_missing_security: i64,
    /// When the longest-pending security update was first seen, if any is pending.
    pub oldest_security_first_seen: Option<Timestamp>,
    /// Devices that need a reboot to finish installed updates.
    pub reboot_required: i64,
    /// Devices that have listed their updates successfully at least once.
    pub devices_listed: i64,
}

const UPDATE_COLS: &str = "device_id, package, arch, installed, candidate, source, security, \
     advisories, first_seen";

/// Values per row of the pending updates' multi-row upsert.
const UPDATE_WIDTH: usize = 9;

fn pending(row: &AnyRow) -> Result<PendingUpdateRecord> {
    Ok(PendingUpdateRecord {
        device_id: text(row, "device_id")?,
        update: PendingUpdate {
            package: text(row, "package")?,
            arch: text(row, "arch")?,
            installed: text(row, "installed")?,
            candidate: text(row, "candidate")?,
            source: text(row, "source")?,
            security: int(row, "security")? != 0,
            advisories: json(row, "advisories")?,
        },
        first_seen: Timestamp(int(row, "first_seen")?),
    })
}

fn status(row: &AnyRow) -> Result<UpdateStatusRecord> {
    Ok(UpdateStatusRecord {
        device_id: text(row, "device_id")?,
        manager: text(row, "manager")?,
        listed_at: Timestamp(int(row, "listed_at")?),
        reboot_required: int(row, "reboot_required")? != 0,
        error: opt_text(row, "error")?,
    })
}

/// The listing's updates, each (package, arch) once (the last wins if one is repeated: a
/// multi-row upsert may not touch a row twice), in the order given.
fn distinct_by_key(updates: &[PendingUpdate]) -> Vec<&PendingUpdate> {
    let last: HashMap<(&str, &str), usize> = updates
        .iter()
        .enumerate()
        .map(|(i, u)| ((u.package.as_str(), u.arch.as_str()), i))
        .collect();
    updates
        .iter()
        .enumerate()
        .filter(|(i, u)| last.get(&(u.package.as_str(), u.arch.as_str())) == Some(i))
        .map(|(_, u)| u)
        .collect()
}

impl Store {
    /// Replaces the device's pending updates with `updates`, listed at `listed_at` by
    /// `manager`, in one short transaction: an update of a (package, arch) already stored
    /// keeps its `first_seen` (a newer candidate too: the device has been behind since
    /// then), a new one gets `listed_at`, one no longer listed is deleted. Records the
    /// listing in the device's status and clears its error. A listing older than the stored
    /// one is ignored (reports can arrive late). A (package, arch) repeated in `updates`
    /// counts once, its last occurrence. `NotFound` when the device does not exist.
    pub async fn replace_pending_updates(
        &self,
        device_id: &str,
        manager: &str,
        listed_at: Timestamp,
        reboot_required: bool,
        updates: &[PendingUpdate],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The status first, in one statement that also refuses a late listing: a missing
        // device fails here before anything else is written, and on PostgreSQL moving the
        // row on takes its lock, so two listings of one device are written one after the
        // other. An older listing matches no row and changes nothing.
        let moved = sqlx::query(
            "INSERT INTO update_status (device_id, manager, listed_at, reboot_required, error) \
             VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (device_id) DO UPDATE SET \
             manager = excluded.manager, listed_at = excluded.listed_at, \
             reboot_required = excluded.reboot_required, error = NULL \
             WHERE update_status.listed_at <= excluded.listed_at",
        )
        .bind(device_id)
        .bind(manager)
        .bind(listed_at.0)
        .bind(i64::from(reboot_required))
        .execute(&mut *tx)
        .await
        .map_err(device_missing)?;
        if moved.rows_affected() == 0 {
            return Ok(());
        }
        let stored = sqlx::query("SELECT package, arch FROM pending_updates WHERE device_id = $1")
            .bind(device_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut gone: HashSet<(String, String)> = stored
            .iter()
            .map(|r| Ok((text(r, "package")?, text(r, "arch")?)))
            .collect::<Result<_>>()?;

        let rows = distinct_by_key(updates);
        for u in &rows {
            gone.remove(&(u.package.clone(), u.arch.clone()));
        }
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            upsert_updates(&mut tx, device_id, listed_at, chunk).await?;
        }
        let gone: Vec<(String, String)> = gone.into_iter().collect();
        for chunk in gone.chunks(ROWS_PER_STATEMENT) {
            let keys = (0..chunk.len())
                .map(|i| format!("(package = ${} AND arch = ${})", 2 * i + 2, 2 * i + 3))
                .collect::<Vec<_>>()
                .join(" OR ");
            let mut q = sqlx::query(safe_sql!(
                "DELETE FROM pending_updates WHERE device_id = $1 AND ({keys})"
            ))
            .bind(device_id);
            for (package, arch) in chunk {
                q = q.bind(package).bind(arch);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records that the device's listing at `at` failed, and why, leaving its pending
    /// updates as the last successful listing left them (they are still the best known).
    /// Creates the status (no manager, never listed) for a device that never listed. An
    /// error older than the last successful listing is ignored: that listing supersedes it.
    /// `NotFound` when the device does not exist.
    pub async fn record_update_listing_error(
        &self,
        device_id: &str,
        at: Timestamp,
        error: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO update_status (device_id, manager, listed_at, reboot_required, error) \
             VALUES ($1, '', 0, 0, $3) ON CONFLICT (device_id) DO UPDATE SET \
             error = excluded.error WHERE update_status.listed_at <= $2",
        )
        .bind(device_id)
        .bind(at.0)
        .bind(error)
        .execute(&self.write)
        .await
        .map_err(device_missing)?;
        Ok(())
    }

    /// The pending updates of one device (`Some`) or of every device, by device, security
    /// updates first, then by package and architecture.
    pub async fn pending_updates(
        &self,
        device_id: Option<&str>,
    ) -> Result<Vec<PendingUpdateRecord>> {
        const ORDER: &str = "ORDER BY device_id, security DESC, package, arch";
        let rows = match device_id {
            Some(id) => {
                sqlx::query(safe_sql!(
                    "SELECT {UPDATE_COLS} FROM pending_updates WHERE device_id = $1 {ORDER}"
                ))
                .bind(id)
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query(safe_sql!(
                    "SELECT {UPDATE_COLS} FROM pending_updates {ORDER}"
                ))
                .fetch_all(&self.read)
                .await?
            }
        };
        rows.iter().map(pending).collect()
    }

    /// Every device's last listing, by device id.
    pub async fn update_statuses(&self) -> Result<Vec<UpdateStatusRecord>> {
        let rows = sqlx::query(
            "SELECT device_id, manager, listed_at, reboot_required, error FROM update_status \
             ORDER BY device_id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(status).collect()
    }

    /// The fleet's patch state in one aggregate query (the security figures read the
    /// `(security, first_seen)` index).
    pub async fn update_summary(&self) -> Result<UpdateSummary> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(DISTINCT device_id) FROM pending_updates WHERE security = 1) \
               AS devices_missing_security, \
             (SELECT MIN(first_seen) FROM pending_updates WHERE security = 1) AS oldest, \
             (SELECT COUNT(*) FROM update_status WHERE reboot_required = 1) AS reboot_required, \
             (SELECT COUNT(*) FROM update_status WHERE listed_at > 0) AS devices_listed",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(UpdateSummary {
            devices_missing_security: int(&row, "devices_missing_security")?,
            oldest_security_first_seen: opt_int(&row, "oldest")?.map(Timestamp),
            reboot_required: int(&row, "reboot_required")?,
            devices_listed: int(&row, "devices_listed")?,
        })
    }
}

/// Writes one statement's worth of a device's pending updates inside the caller's
/// transaction. A row already stored keeps its `first_seen` (the upsert leaves it alone).
async fn upsert_updates(
    conn: &mut sqlx::AnyConnection,
    device_id: &str,
    listed_at: Timestamp,
    rows: &[&PendingUpdate],
) -> Result<()> {
    let values = values_placeholders(rows.len(), UPDATE_WIDTH);
    let mut q = sqlx::query(safe_sql!(
        "INSERT INTO pending_updates ({UPDATE_COLS}) VALUES {values} \
         ON CONFLICT (device_id, package, arch) DO UPDATE SET \
         installed = excluded.installed, candidate = excluded.candidate, \
         source = excluded.source, security = excluded.security, \
         advisories = excluded.advisories"
    ));
    for u in rows {
        let advisories = serde_json::to_string(&u.advisories)
            .map_err(|e| StoreError::Corrupt(format!("advisories: {e}")))?;
        q = q
            .bind(device_id)
            .bind(&u.package)
            .bind(&u.arch)
            .bind(&u.installed)
            .bind(&u.candidate)
            .bind(&u.source)
            .bind(i64::from(u.security))
            .bind(advisories)
            .bind(listed_at.0);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}
