//! Backups (migration 0017): policies, each device's repository, the snapshots the server
//! received, the schedule of policy runs, restore drills and forget/prune bookkeeping.
//!
//! The store keeps what the backup service decided and what the repository endpoint saw; it
//! interprets none of it: a policy's target and schedule are text the service parses
//! (`steward_core::checks::Target`, `steward_core::backup::schedule::Schedule`), a
//! repository's password arrives sealed. Two guarantees live here:
//! - a device has one repository, whoever makes it first ([`Store::create_backup_repository`]
//!   answers the stored one), so two racing first backups end with one password;
//! - a scheduled run is claimed with a lease and queued once: the claim picks and leases due
//!   runs in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and the job is queued in
//!   the transaction that moves the schedule on, only if that run is still due
//!   ([`Store::record_backup_queued`]).
//!
//! People's per-device reads (a device's snapshots and drills, the fleet overview) are
//! `ScopedStore` methods (`scoped::backups`).

mod drills;
mod schedule;
mod snapshots;

pub use drills::{BackupDrillRecord, DrillFinish, DrillOutcome};
pub(crate) use drills::{DRILL_COLS, drill};
pub use schedule::{BackupDue, BackupMaintenanceRecord, BackupScheduleRecord};
pub use snapshots::{BackupSnapshotRecord, SnapshotSummary};
pub(crate) use snapshots::{SNAPSHOT_COLS, snapshot};

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use steward_core::Timestamp;
use steward_core::backup::retention::Keep;

use crate::rows::{int, json, opt_int, text, touched};
use crate::{Result, Store, StoreError};

/// Where a policy came from: made by a person (console, API, CLI) or declared in the
/// configuration file (replaced at every start by [`Store::sync_declared_backup_policies`]).
const FROM_CONSOLE: &str = "console";
const FROM_CONFIG: &str = "config";

/// A policy's definition, as a person or the configuration file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBackupPolicy {
    pub name: String,
    /// `all`, `device:ID`, `group:ID` or `tag:NAME` (`steward_core::checks::Target`).
    pub target: String,
    pub paths: Vec<String>,
    pub excludes: Vec<String>,
    /// `daily 01:00`, `hourly`, … (`steward_core::backup::schedule::Schedule`).
    pub schedule: String,
    pub keep: Keep,
    /// No snapshot younger than this is let go, whatever `keep` says.
    pub protection_ms: i64,
    /// Upload limit in KiB/s; `None`: none.
    pub bandwidth_kib: Option<i64>,
    pub enabled: bool,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPolicyRecord {
    pub id: String,
    pub name: String,
    pub target: String,
    pub paths: Vec<String>,
    pub excludes: Vec<String>,
    pub schedule: String,
    pub keep: Keep,
    pub protection_ms: i64,
    pub bandwidth_kib: Option<i64>,
    /// `console` (made by a person: console, API or CLI) or `config` (declared in the
    /// configuration file).
    pub source: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl BackupPolicyRecord {
    /// The policy's definition, without id, origin and times.
    pub fn definition(&self) -> NewBackupPolicy {
        NewBackupPolicy {
            name: self.name.clone(),
            target: self.target.clone(),
            paths: self.paths.clone(),
            excludes: self.excludes.clone(),
            schedule: self.schedule.clone(),
            keep: self.keep,
            protection_ms: self.protection_ms,
            bandwidth_kib: self.bandwidth_kib,
            enabled: self.enabled,
        }
    }
}

/// What [`Store::sync_declared_backup_policies`] changed, by policy id (a policy whose
/// schedule or target changed needs its schedule worked out again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredPolicies {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

/// A device's repository (see migration 0017).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRepositoryRecord {
    pub device_id: String,
    /// `local` or `s3`.
    pub storage: String,
    pub location: String,
    /// The repository's password, sealed by the server; opaque here.
    pub password_sealed: String,
    pub created_at: Timestamp,
}

const POLICY_COLS: &str = "id, name, target, paths, excludes, schedule, keep, protection_ms, \
     bandwidth_kib, source, enabled, created_at, updated_at";
const REPOSITORY_COLS: &str = "device_id, storage, location, password_sealed, created_at";

fn policy(row: &AnyRow) -> Result<BackupPolicyRecord> {
    Ok(BackupPolicyRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        target: text(row, "target")?,
        paths: json(row, "paths")?,
        excludes: json(row, "excludes")?,
        schedule: text(row, "schedule")?,
        keep: json(row, "keep")?,
        protection_ms: int(row, "protection_ms")?,
        bandwidth_kib: opt_int(row, "bandwidth_kib")?,
        source: text(row, "source")?,
        enabled: int(row, "enabled")? != 0,
        created_at: Timestamp(int(row, "created_at")?),
        updated_at: Timestamp(int(row, "updated_at")?),
    })
}

fn repository(row: &AnyRow) -> Result<BackupRepositoryRecord> {
    Ok(BackupRepositoryRecord {
        device_id: text(row, "device_id")?,
        storage: text(row, "storage")?,
        location: text(row, "location")?,
        password_sealed: text(row, "password_sealed")?,
        created_at: Timestamp(int(row, "created_at")?),
    })
}

/// A list of strings as stored (a JSON array).
pub(crate) fn json_list(items: &[String]) -> Result<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn keep_json(keep: &Keep) -> Result<String> {
    serde_json::to_string(keep).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A unique name taken is `Conflict`; the rest as usual.
fn name_taken(e: sqlx::Error, name: &str) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("a backup policy named {name} already exists"))
        }
        e => e.into(),
    }
}

/// Inserts a policy inside the caller's transaction.
async fn insert_policy(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    p: &NewBackupPolicy,
    source: &str,
    now: Timestamp,
) -> Result<BackupPolicyRecord> {
    let row = sqlx::query(safe_sql!(
        "INSERT INTO backup_policies ({POLICY_COLS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {POLICY_COLS}"
    ))
    .bind(id)
    .bind(&p.name)
    .bind(&p.target)
    .bind(json_list(&p.paths)?)
    .bind(json_list(&p.excludes)?)
    .bind(&p.schedule)
    .bind(keep_json(&p.keep)?)
    .bind(p.protection_ms)
    .bind(p.bandwidth_kib)
    .bind(source)
    .bind(i64::from(p.enabled))
    .bind(now.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| name_taken(e, &p.name))?;
    policy(&row)
}

/// Replaces a policy's definition inside the caller's transaction; `None` if there is none
/// with this id.
async fn update_policy(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    p: &NewBackupPolicy,
    now: Timestamp,
) -> Result<Option<BackupPolicyRecord>> {
    let row = sqlx::query(safe_sql!(
        "UPDATE backup_policies SET name = $2, target = $3, paths = $4, excludes = $5, \
         schedule = $6, keep = $7, protection_ms = $8, bandwidth_kib = $9, enabled = $10, \
         updated_at = $11 WHERE id = $1 RETURNING {POLICY_COLS}"
    ))
    .bind(id)
    .bind(&p.name)
    .bind(&p.target)
    .bind(json_list(&p.paths)?)
    .bind(json_list(&p.excludes)?)
    .bind(&p.schedule)
    .bind(keep_json(&p.keep)?)
    .bind(p.protection_ms)
    .bind(p.bandwidth_kib)
    .bind(i64::from(p.enabled))
    .bind(now.0)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| name_taken(e, &p.name))?;
    row.as_ref().map(policy).transpose()
}

impl Store {
    /// Stores a new policy made by a person (source `console`); `Conflict` when the name (or
    /// the id) is taken.
    pub async fn create_backup_policy(
        &self,
        id: &str,
        p: &NewBackupPolicy,
        now: Timestamp,
    ) -> Result<BackupPolicyRecord> {
        let mut tx = self.begin_write().await?;
        let created = insert_policy(&mut tx, id, p, FROM_CONSOLE, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Replaces a policy's definition (its id, origin and creation time stay). `NotFound`
    /// when there is none; `Conflict` when the new name is another policy's.
    pub async fn update_backup_policy(
        &self,
        id: &str,
        p: &NewBackupPolicy,
        now: Timestamp,
    ) -> Result<BackupPolicyRecord> {
        let mut tx = self.begin_write().await?;
        let updated = update_policy(&mut tx, id, p, now)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a policy with its schedule; its snapshots stay (they name it, nothing more).
    pub async fn delete_backup_policy(&self, id: &str) -> Result<()> {
        let res = sqlx::query("DELETE FROM backup_policies WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        touched(&res)
    }

    pub async fn backup_policy(&self, id: &str) -> Result<Option<BackupPolicyRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {POLICY_COLS} FROM backup_policies WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(policy).transpose()
    }

    pub async fn backup_policy_named(&self, name: &str) -> Result<Option<BackupPolicyRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {POLICY_COLS} FROM backup_policies WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(policy).transpose()
    }

    /// Every policy, by name.
    pub async fn backup_policies(&self) -> Result<Vec<BackupPolicyRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {POLICY_COLS} FROM backup_policies ORDER BY name, id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(policy).collect()
    }

    /// Makes the configuration file's policies (source `config`) these, in one transaction:
    /// a name already declared keeps its id (and so its schedule) and is rewritten only if
    /// its definition changed; a new name is stored as `config:NAME`; a declared policy no
    /// longer in the list is deleted. Policies made by people are never touched: a declared
    /// name that one of them holds is `Conflict`, as is a name declared twice, and then
    /// nothing changes.
    pub async fn sync_declared_backup_policies(
        &self,
        declared: &[NewBackupPolicy],
        now: Timestamp,
    ) -> Result<DeclaredPolicies> {
        let mut names = HashSet::new();
        if let Some(twice) = declared.iter().find(|p| !names.insert(p.name.as_str())) {
            return Err(StoreError::Conflict(format!(
                "the backup policy {} is declared twice",
                twice.name
            )));
        }
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(safe_sql!(
            "SELECT {POLICY_COLS} FROM backup_policies WHERE source = $1"
        ))
        .bind(FROM_CONFIG)
        .fetch_all(&mut *tx)
        .await?;
        let mut stored: HashMap<String, BackupPolicyRecord> = rows
            .iter()
            .map(|r| policy(r).map(|p| (p.name.clone(), p)))
            .collect::<Result<_>>()?;
        let mut outcome = DeclaredPolicies::default();
        for p in declared {
            match stored.remove(&p.name) {
                Some(old) if old.definition() == *p => {}
                Some(old) => {
                    update_policy(&mut tx, &old.id, p, now).await?;
                    outcome.changed.push(old.id);
                }
                None => {
                    let id = format!("{FROM_CONFIG}:{}", p.name);
                    insert_policy(&mut tx, &id, p, FROM_CONFIG, now).await?;
                    outcome.added.push(id);
                }
            }
        }
        // What is left was declared before and is no longer.
        for old in stored.into_values() {
            sqlx::query("DELETE FROM backup_policies WHERE id = $1")
                .bind(&old.id)
                .execute(&mut *tx)
                .await?;
            outcome.removed.push(old.id);
        }
        tx.commit().await?;
        outcome.removed.sort();
        Ok(outcome)
    }

    /// The device's repository, if it has one.
    pub async fn backup_repository(
        &self,
        device_id: &str,
    ) -> Result<Option<BackupRepositoryRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {REPOSITORY_COLS} FROM backup_repositories WHERE device_id = $1"
        ))
        .bind(device_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(repository).transpose()
    }

    /// Every repository, by device id (for forget and prune, which the server runs).
    pub async fn backup_repositories(&self) -> Result<Vec<BackupRepositoryRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {REPOSITORY_COLS} FROM backup_repositories ORDER BY device_id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(repository).collect()
    }

    /// Stores the device's repository unless it has one, and answers the one stored: `r`
    /// if it was first, otherwise the existing one (whose password the caller must use,
    /// not its own). `NotFound` when the device does not exist.
    pub async fn create_backup_repository(
        &self,
        r: &BackupRepositoryRecord,
    ) -> Result<BackupRepositoryRecord> {
        // One transaction on the writer: on PostgreSQL a racing insert waits for the first
        // to commit, does nothing, and the read after it sees the winner.
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(safe_sql!(
            "INSERT INTO backup_repositories ({REPOSITORY_COLS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (device_id) DO NOTHING"
        ))
        .bind(&r.device_id)
        .bind(&r.storage)
        .bind(&r.location)
        .bind(&r.password_sealed)
        .bind(r.created_at.0)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                return Err(StoreError::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
        let row = sqlx::query(safe_sql!(
            "SELECT {REPOSITORY_COLS} FROM backup_repositories WHERE device_id = $1"
        ))
        .bind(&r.device_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        repository(&row)
    }
}
