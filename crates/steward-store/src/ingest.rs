//! Storing what agents report. The server decides (in `steward-core`) what a batch of reports
//! means — the new inventory, its software changes, the timeline events — and hands the
//! result here as one [`IngestCommit`], written in one transaction guarded by the device's
//! last sequence number: two concurrent deliveries of the same reports cannot both land.
//!
//! The device's software list (`device_software`, a projection of the inventory's packages
//! for search and paging) is the one exception to "one transaction": a large change to it —
//! more than [`STEP_ROWS`] rows, up to 20,000 — is written after the commit in steps of that
//! many rows, each its own short transaction, so that no delivery holds the database writer
//! for long. `devices.software_hash` names the inventory the list reflects; while a stepped
//! write is under way (or was cut off by a crash) it differs from `inventory_hash`, and the
//! next commit rewrites the list in full. The inventory document stays the truth.

use sqlx::any::AnyRow;
use steward_core::{
    ChangeEvent, ChangeKind, Inventory, InventoryHash, Metrics, Package, PackageSource, Timestamp,
};

use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store, StoreError};

/// What the server needs to authenticate a device and apply its reports.
#[derive(Debug, Clone)]
pub struct DeviceIngestState {
    pub device_id: String,
    /// The device's name and group, for judging its checks without reading it again.
    pub name: String,
    pub group_id: Option<String>,
    /// Counts the changes to the device's check states (migration 0016): equal counts, the
    /// same states.
    pub checks_version: i64,
    pub credential_hash: String,
    /// A credential issued by a rotation and not yet used (see `Store::set_pending_credential`).
    pub pending_credential_hash: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub last_seq: u64,
    /// Empty until the first inventory arrives.
    pub inventory_hash: String,
    /// The inventory the software list reflects: `inventory_hash` unless a stepped software
    /// write is under way or was cut off.
    pub software_hash: String,
    /// The job kinds the agent listed at its last check-in (`None`: it lists nothing).
    pub agent_job_kinds: Option<Vec<String>>,
    /// The report sections it listed (`None`: it lists nothing).
    pub agent_report_sections: Option<Vec<String>>,
    /// Whether it said the device's own configuration allows scripts.
    pub agent_scripts_allowed: bool,
}

#[derive(Debug, Clone)]
pub enum SoftwareWrite {
    /// Replace the device's software list with the inventory's packages.
    Replace,
    /// Apply these changes.
    Delta {
        upsert: Vec<Package>,
        remove: Vec<(String, String, PackageSource)>,
    },
}

#[derive(Debug, Clone)]
pub struct InventoryWrite {
    pub inventory: Inventory,
    /// `inventory.hash()`, computed by the caller (outside the transaction).
    pub hash: InventoryHash,
    pub software: SoftwareWrite,
}

impl InventoryWrite {
    /// A write of `inventory` (its hash computed here).
    pub fn new(inventory: Inventory, software: SoftwareWrite) -> Self {
        Self {
            hash: inventory.hash(),
            inventory,
            software,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IngestCommit {
    pub device_id: String,
    /// The `last_seq` the decision was made against.
    pub expected_last_seq: u64,
    pub new_last_seq: u64,
    pub seen_at: Timestamp,
    pub inventory: Option<InventoryWrite>,
    /// The latest metrics, kept as the device's current state.
    pub metrics: Option<(Timestamp, Metrics)>,
    /// Every sample of the delivery, kept as history.
    pub history: crate::history::MetricHistoryWrite,
    pub changes: Vec<(Timestamp, ChangeEvent)>,
    /// Whether the software list was in step with the inventory when the decision was made
    /// (`DeviceIngestState`: `software_hash == inventory_hash`). Read outside the writer:
    /// the list only falls out of step through a commit, which moves `last_seq`, so with
    /// `expected_last_seq` it cannot be stale in the unsafe direction.
    pub software_in_step: bool,
    /// The delivery's detections (new ones, and response steps added to stored ones),
    /// written with the rest so a report is stored whole or not at all.
    pub detections: Vec<crate::DetectionWrite>,
    /// Whether the delivery's last new report said the agent is stopping on purpose
    /// (`None`: no new report, the stored flag stands).
    pub agent_stopping: Option<bool>,
}

/// A stored timeline line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub id: i64,
    pub device_id: String,
    pub device_name: String,
    pub at: Timestamp,
    pub event: ChangeEvent,
}

pub(crate) fn change(row: &AnyRow) -> Result<ChangeRecord> {
    let kind = text(row, "kind")?;
    Ok(ChangeRecord {
        id: int(row, "id")?,
        device_id: text(row, "device_id")?,
        device_name: text(row, "device_name")?,
        at: Timestamp(int(row, "at")?),
        event: ChangeEvent {
            kind: ChangeKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown change kind {kind}")))?,
            subject: text(row, "subject")?,
            from: opt_text(row, "from_value")?,
            to: opt_text(row, "to_value")?,
        },
    })
}

/// Rows per multi-row statement: at most 6 parameters a row stays far below both backends'
/// limits (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Software rows written in one transaction: a software change up to this size is written
/// with the ingest commit, a larger one in steps of this size (a few milliseconds each).
pub const STEP_ROWS: usize = 200;

/// How a commit brings the software list in step with the inventory.
enum SoftwarePlan<'a> {
    /// Nothing changes.
    Nothing,
    /// Small: inside the commit's transaction.
    InCommit(&'a SoftwareWrite),
    /// Large, or the list was not in step: after the commit, in steps.
    Steps(&'a SoftwareWrite),
    /// No inventory in this commit, but the list is out of step (a stepped write was cut
    /// off): rewrite it from the stored inventory.
    Repair,
}

impl SoftwareWrite {
    fn rows(&self, inventory: &Inventory) -> usize {
        match self {
            SoftwareWrite::Replace => inventory.packages.len(),
            SoftwareWrite::Delta { upsert, remove } => upsert.len() + remove.len(),
        }
    }
}

impl Store {
    pub async fn device_ingest_state(&self, device_id: &str) -> Result<Option<DeviceIngestState>> {
        let row = sqlx::query(
            "SELECT id, name, group_id, checks_version, credential_hash, pending_credential_hash, revoked_at, last_seq, \
             inventory_hash, software_hash, agent_job_kinds, agent_report_sections, agent_scripts_allowed FROM devices WHERE id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(DeviceIngestState {
                device_id: text(&r, "id")?,
                name: text(&r, "name")?,
                group_id: opt_text(&r, "group_id")?,
                checks_version: int(&r, "checks_version")?,
                credential_hash: text(&r, "credential_hash")?,
                pending_credential_hash: opt_text(&r, "pending_credential_hash")?,
                revoked_at: opt_int(&r, "revoked_at")?.map(Timestamp),
                last_seq: int(&r, "last_seq")?.max(0) as u64,
                inventory_hash: text(&r, "inventory_hash")?,
                software_hash: text(&r, "software_hash")?,
                agent_job_kinds: crate::jobs::names(&r, "agent_job_kinds")?,
                agent_report_sections: crate::jobs::names(&r, "agent_report_sections")?,
                agent_scripts_allowed: int(&r, "agent_scripts_allowed")? != 0,
            })
        })
        .transpose()
    }

    /// Writes one decided batch. `Conflict` when another delivery moved the device's
    /// sequence number first (nothing is written; the caller re-reads and decides again).
    ///
    /// Everything that costs CPU (serialising the inventory document) happens before the
    /// transaction; inside it, rows go in multi-row statements, so even the largest delivery
    /// the limits allow holds the writer briefly.
    pub async fn commit_ingest(&self, c: &IngestCommit) -> Result<()> {
        let inventory_doc = c
            .inventory
            .as_ref()
            .map(|w| serde_json::to_string(&w.inventory))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let metrics_doc = c
            .metrics
            .as_ref()
            .map(|(_, m)| serde_json::to_string(m))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inv = c.inventory.as_ref().map(|w| &w.inventory);
        let mut tx = self.begin_write().await?;
        let in_step = c.software_in_step;
        let software = match &c.inventory {
            None if in_step => SoftwarePlan::Nothing,
            None => SoftwarePlan::Repair,
            Some(w) if in_step && w.software.rows(&w.inventory) <= STEP_ROWS => {
                SoftwarePlan::InCommit(&w.software)
            }
            Some(w) if in_step => SoftwarePlan::Steps(&w.software),
            // Out of step: only a full rewrite brings the list to the new inventory.
            Some(_) => SoftwarePlan::Steps(&SoftwareWrite::Replace),
        };
        let software_now = match (&software, &c.inventory) {
            (SoftwarePlan::InCommit(_), Some(w)) => Some(w.hash.0.clone()),
            _ => None,
        };
        // A stepped write starts a new generation: any older one still running stops.
        let stepped = matches!(software, SoftwarePlan::Steps(_) | SoftwarePlan::Repair);
        let updated = sqlx::query(
            "UPDATE devices SET last_seq = $1, last_seen_at = $2, \
             inventory_hash = COALESCE($3, inventory_hash), \
             os_name = COALESCE($4, os_name), os_version = COALESCE($5, os_version), \
             software_hash = COALESCE($6, software_hash), software_gen = software_gen + $9, \
             agent_stopping = COALESCE($10, agent_stopping) \
             WHERE id = $7 AND last_seq = $8 AND revoked_at IS NULL",
        )
        .bind(c.new_last_seq as i64)
        .bind(c.seen_at.0)
        .bind(c.inventory.as_ref().map(|w| w.hash.0.clone()))
        .bind(inv.map(|i| i.os.name.clone()))
        .bind(inv.map(|i| i.os.version.clone()))
        .bind(software_now)
        .bind(&c.device_id)
        .bind(c.expected_last_seq as i64)
        .bind(i64::from(stepped))
        .bind(c.agent_stopping.map(i64::from))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "device {} moved past sequence {}",
                c.device_id, c.expected_last_seq
            )));
        }
        let generation = if stepped {
            int(
                &sqlx::query("SELECT software_gen FROM devices WHERE id = $1")
                    .bind(&c.device_id)
                    .fetch_one(&mut *tx)
                    .await?,
                "software_gen",
            )?
        } else {
            0
        };
        if let (Some(write), Some(doc)) = (&c.inventory, inventory_doc) {
            sqlx::query(
                "INSERT INTO device_inventory (device_id, hash, doc, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (device_id) DO UPDATE SET hash = excluded.hash, doc = excluded.doc, updated_at = excluded.updated_at",
            )
            .bind(&c.device_id)
            .bind(&write.hash.0)
            .bind(doc)
            .bind(c.seen_at.0)
            .execute(&mut *tx)
            .await?;
            if let SoftwarePlan::InCommit(software) = software {
                write_software(&mut tx, &c.device_id, software, &write.inventory.packages).await?;
            }
        }
        let latest = c.metrics.as_ref().map(|(at, _)| *at).zip(metrics_doc);
        let series = self
            .write_checkin_metrics(&mut tx, &c.device_id, latest, &c.history)
            .await?;
        insert_changes(&mut tx, &c.device_id, &c.changes).await?;
        crate::detection::record_in(&mut tx, &c.device_id, &c.detections, c.seen_at).await?;
        tx.commit().await?;
        if let Some(series) = series {
            self.series_cache.put(&c.device_id, series);
        }
        // What is committed stands: a failed step leaves the list out of step, and the next
        // commit rewrites it (`Repair`), so the delivery is still acknowledged.
        let stepped = match (software, &c.inventory) {
            (SoftwarePlan::Steps(software), Some(w)) => {
                self.write_software_in_steps(
                    &c.device_id,
                    &w.hash,
                    generation,
                    software,
                    &w.inventory.packages,
                )
                .await
            }
            (SoftwarePlan::Repair, _) => self.repair_software(&c.device_id, generation).await,
            _ => Ok(true),
        };
        if let Err(e) = stepped {
            tracing::warn!(device = %c.device_id, error = %e, "software list not brought up to date; the next report retries");
        }
        Ok(())
    }

    /// Rewrites a software list that is out of step from the stored inventory (parsed in
    /// the blocking pool: this runs on a check-in's own task).
    async fn repair_software(&self, device_id: &str, generation: i64) -> Result<bool> {
        let Some(stored) = self.inventory_doc(device_id).await? else {
            return Ok(false);
        };
        let hash = stored.hash.clone();
        let inventory = tokio::task::spawn_blocking(move || stored.parse())
            .await
            .map_err(|e| StoreError::Corrupt(format!("parsing the stored inventory: {e}")))??;
        self.write_software_in_steps(
            device_id,
            &hash,
            generation,
            &SoftwareWrite::Replace,
            &inventory.packages,
        )
        .await
    }

    /// Brings the software list to the inventory `target` in steps of [`STEP_ROWS`] rows,
    /// each its own transaction that first checks the device still holds `target` and that
    /// no newer stepped write has begun (`generation`; a newer delivery takes over, and this
    /// one stops). The last step marks the list in step. Returns whether it got there.
    pub async fn write_software_in_steps(
        &self,
        device_id: &str,
        target: &InventoryHash,
        generation: i64,
        software: &SoftwareWrite,
        packages: &[Package],
    ) -> Result<bool> {
        let mut steps: Vec<SoftwareStep<'_>> = Vec::new();
        match software {
            SoftwareWrite::Replace => {
                steps.push(SoftwareStep::Clear);
                steps.extend(packages.chunks(STEP_ROWS).map(SoftwareStep::Upsert));
            }
            SoftwareWrite::Delta { upsert, remove } => {
                steps.extend(remove.chunks(STEP_ROWS).map(SoftwareStep::Remove));
                steps.extend(upsert.chunks(STEP_ROWS).map(SoftwareStep::Upsert));
            }
        }
        steps.push(SoftwareStep::Done);
        for step in steps {
            let mut tx = self.begin_write().await?;
            let lock = match self.backend {
                crate::Backend::Postgres => " FOR UPDATE",
                crate::Backend::Sqlite => "",
            };
            let holds = sqlx::query(safe_sql!(
                "SELECT 1 AS one FROM devices \
                 WHERE id = $1 AND inventory_hash = $2 AND software_gen = $3{lock}"
            ))
            .bind(device_id)
            .bind(&target.0)
            .bind(generation)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if !holds {
                tx.rollback().await?;
                return Ok(false);
            }
            match step {
                SoftwareStep::Clear => {
                    sqlx::query("DELETE FROM device_software WHERE device_id = $1")
                        .bind(device_id)
                        .execute(&mut *tx)
                        .await?;
                }
                SoftwareStep::Remove(keys) => delete_software(&mut tx, device_id, keys).await?,
                SoftwareStep::Upsert(rows) => insert_software(&mut tx, device_id, rows).await?,
                SoftwareStep::Done => {
                    sqlx::query("UPDATE devices SET software_hash = inventory_hash WHERE id = $1")
                        .bind(device_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        }
        Ok(true)
    }

    /// Deletes change history older than `before`, at most `limit` rows (oldest first), and
    /// says how many went. The caller repeats until fewer than `limit` go, so the writer is
    /// never held for long by a large backlog.
    pub async fn prune_changes(&self, before: Timestamp, limit: u32) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(
            "DELETE FROM device_changes WHERE id IN \
             (SELECT id FROM device_changes WHERE at < $1 LIMIT $2)",
        )
        .bind(before.0)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }
}

/// `($1, $2, …, $n), (…)`: numbered placeholders for `rows` rows of `columns` values.
pub(crate) fn placeholders(rows: usize, columns: usize) -> String {
    placeholders_from(1, rows, columns)
}

/// [`placeholders`] numbered from `first` (for a statement sent together with others).
pub(crate) fn placeholders_from(first: usize, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..columns)
                .map(|c| format!("${}", first + r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One short transaction of a stepped software write.
enum SoftwareStep<'a> {
    Clear,
    Remove(&'a [(String, String, PackageSource)]),
    Upsert(&'a [Package]),
    Done,
}

/// A small software change, inside the caller's transaction.
async fn write_software(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    software: &SoftwareWrite,
    packages: &[Package],
) -> Result<()> {
    match software {
        SoftwareWrite::Replace => {
            sqlx::query("DELETE FROM device_software WHERE device_id = $1")
                .bind(device_id)
                .execute(&mut **tx)
                .await?;
            insert_software(tx, device_id, packages).await
        }
        SoftwareWrite::Delta { upsert, remove } => {
            delete_software(tx, device_id, remove).await?;
            insert_software(tx, device_id, upsert).await
        }
    }
}

/// Upserts packages, many rows a statement (an upsert also serves a fresh insert).
async fn insert_software(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    packages: &[Package],
) -> Result<()> {
    for chunk in packages.chunks(ROWS_PER_STATEMENT) {
        let sql = safe_sql!(
            "INSERT INTO device_software (device_id, name, arch, source, version) VALUES {} \
             ON CONFLICT (device_id, name, arch, source) DO UPDATE SET version = excluded.version",
            placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(sql);
        for p in chunk {
            q = q
                .bind(device_id.to_string())
                .bind(p.name.clone())
                .bind(p.arch.clone())
                .bind(p.source.as_str())
                .bind(p.version.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes packages by key, many a statement.
async fn delete_software(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    keys: &[(String, String, PackageSource)],
) -> Result<()> {
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        // Row values compare in both dialects (SQLite ≥ 3.15): (a, b, c) IN ((…), (…)).
        let keys: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = safe_sql!(
            "DELETE FROM device_software WHERE device_id = $1 AND (name, arch, source) IN ({})",
            keys.join(", ")
        );
        let mut q = sqlx::query(sql).bind(device_id.to_string());
        for (name, arch, source) in chunk {
            q = q
                .bind(name.clone())
                .bind(arch.clone())
                .bind(source.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Appends timeline events, many rows a statement.
async fn insert_changes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    device_id: &str,
    changes: &[(Timestamp, ChangeEvent)],
) -> Result<()> {
    for chunk in changes.chunks(ROWS_PER_STATEMENT) {
        let sql = safe_sql!(
            "INSERT INTO device_changes (device_id, at, kind, subject, from_value, to_value) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(sql);
        for (at, ev) in chunk {
            q = q
                .bind(device_id.to_string())
                .bind(at.0)
                .bind(ev.kind.as_str())
                .bind(ev.subject.clone())
                .bind(ev.from.clone())
                .bind(ev.to.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
