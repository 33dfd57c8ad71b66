//! Per-device reads, always through a scope.
//!
//! Every read of a device or of something that belongs to one (its inventory, metrics,
//! software, changes, jobs — and every per-device list to come: alerts, snapshots, posture
//! results, patches, detections) is a method of [`ScopedStore`], which exists only as
//! [`Store::scoped`] with a [`Scope`] the caller must choose. Each query joins `devices` and
//! applies the scope's condition in SQL, so a device outside the scope is simply absent: not
//! found, never an empty shell, and a list never counts it. There is no unscoped variant to
//! reach for; code acting for the system (the CLI, the agent's own ingest) says so by passing
//! [`Scope::AllDevices`].
//!
//! Adding a per-device list: write it here, with `self.condition("d", bound)` in its `WHERE`.

pub(crate) mod alerts;
pub(crate) mod backups;
pub(crate) mod posture;

use sqlx::any::AnyRow;
use steward_core::device::ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC;
use steward_core::{Inventory, Metrics, Scope, Timestamp};

use steward_core::history::{Point, Resolution, SeriesName};

use crate::devices::{
    DEVICE_COLS, DEVICES_FROM, DeviceFilter, DeviceRecord, DeviceSortKey, FleetStats,
    SoftwareRecord, device, scope_condition, where_clause,
};
use crate::history::{MAX_ROWS_PER_READ, SeriesCatalog, SeriesList, points_from_rows};
use crate::ingest::{ChangeRecord, change};
use crate::jobs::{JOB_COLS, JobRecord, job};
use crate::rows::{contains_pattern, int, json, text};
use crate::{Result, Store};

/// The store as a principal with `scope` sees it. Cheap: borrow one per request.
#[derive(Debug, Clone, Copy)]
pub struct ScopedStore<'a> {
    store: &'a Store,
    scope: &'a Scope,
}

impl Store {
    /// Reads of devices and their data limited to `scope`: the only way to them.
    pub fn scoped<'a>(&'a self, scope: &'a Scope) -> ScopedStore<'a> {
        ScopedStore { store: self, scope }
    }
}

impl<'a> ScopedStore<'a> {
    pub fn scope(&self) -> &'a Scope {
        self.scope
    }

    /// The scope's condition on `alias.group_id` and its arguments, numbered after `bound`.
    fn condition(&self, alias: &str, bound: usize) -> (String, Vec<String>) {
        scope_condition(self.scope, alias, bound)
    }

    fn bind_all<'q>(
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
        args: Vec<String>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for a in args {
            q = q.bind(a);
        }
        q
    }

    /// The device, if it exists within the scope.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRecord>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT {DEVICE_COLS} FROM {DEVICES_FROM} WHERE d.id = $1 AND {cond}"
        ))
        .bind(id);
        let row = Self::bind_all(q, args)
            .fetch_optional(&self.store.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut d = device(&row)?;
        d.tags = self.store.device_tags(&d.id).await?;
        Ok(Some(d))
    }

    /// Devices within the scope with exactly this name (names need not be unique).
    pub async fn devices_named(&self, name: &str) -> Result<Vec<DeviceRecord>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT {DEVICE_COLS} FROM {DEVICES_FROM} WHERE d.name = $1 AND {cond} ORDER BY d.enrolled_at, d.id"
        ))
        .bind(name);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        let mut devices: Vec<DeviceRecord> = rows.iter().map(device).collect::<Result<_>>()?;
        self.store.attach_tags(&mut devices).await?;
        Ok(devices)
    }

    /// One page of the devices within the scope matching the filter, and how many match.
    pub async fn list_devices(&self, filter: &DeviceFilter) -> Result<(Vec<DeviceRecord>, u64)> {
        let (clause, args) = where_clause(filter, self.scope);
        let dir = if filter.desc { "DESC" } else { "ASC" };
        let order = match filter.sort {
            DeviceSortKey::Name => format!("LOWER(d.name) {dir}, d.id"),
            DeviceSortKey::LastSeen => format!("COALESCE(d.last_seen_at, 0) {dir}, d.id"),
            DeviceSortKey::Os => {
                format!("d.os_name {dir}, d.os_version {dir}, LOWER(d.name), d.id")
            }
            DeviceSortKey::Enrolled => format!("d.enrolled_at {dir}, d.id"),
        };
        let count_sql = format!("SELECT COUNT(*) FROM devices d {clause}");
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        for a in &args {
            count = count.bind(a.clone());
        }
        let total = count.fetch_one(&self.store.read).await? as u64;
        let list_sql = format!(
            "SELECT {DEVICE_COLS} FROM {DEVICES_FROM} {clause} ORDER BY {order} LIMIT {} OFFSET {}",
            filter.limit.min(10_000),
            filter.offset
        );
        let q = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        let mut devices: Vec<DeviceRecord> = rows.iter().map(device).collect::<Result<_>>()?;
        self.store.attach_tags(&mut devices).await?;
        Ok((devices, total))
    }

    /// The device's current inventory, if it is within the scope and has reported one.
    pub async fn inventory(&self, id: &str) -> Result<Option<Inventory>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT i.doc FROM device_inventory i JOIN devices d ON d.id = i.device_id \
             WHERE i.device_id = $1 AND {cond}"
        ))
        .bind(id);
        let row = Self::bind_all(q, args)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(|r| json(r, "doc")).transpose()
    }

    /// The device's latest metrics and when they were collected.
    pub async fn metrics(&self, id: &str) -> Result<Option<(Timestamp, Metrics)>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT m.collected_at, m.doc FROM device_metrics m JOIN devices d ON d.id = m.device_id \
             WHERE m.device_id = $1 AND {cond}"
        ))
        .bind(id);
        let row = Self::bind_all(q, args)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref()
            .map(|r| Ok((Timestamp(int(r, "collected_at")?), json(r, "doc")?)))
            .transpose()
    }

    /// The device's metric series and how far its roll-ups have come; `None` when it has
    /// kept no history (or is not within the scope).
    pub async fn metric_catalog(&self, id: &str) -> Result<Option<SeriesCatalog>> {
        let (cond, args) = self.condition("d", 1);
        let q = sqlx::query(safe_sql!(
            "SELECT m.device, m.names, m.rolled_until FROM metric_series m \
             JOIN devices d ON d.id = m.device_id WHERE m.device_id = $1 AND {cond}"
        ))
        .bind(id);
        let row = Self::bind_all(q, args)
            .fetch_optional(&self.store.read)
            .await?;
        row.map(|r| {
            Ok(SeriesCatalog {
                list: SeriesList::parse(int(&r, "device")?, &text(&r, "names")?)?,
                rolled_until: Timestamp(int(&r, "rolled_until")?),
            })
        })
        .transpose()
    }

    /// Points of the device's `series` (one list each, in that order; empty for a series it
    /// does not have) with times in `[from, to)`, as kept at `resolution`: samples at full
    /// resolution, or the roll-up buckets starting in the span. `catalog` is the device's,
    /// from [`Self::metric_catalog`].
    pub async fn metric_points(
        &self,
        id: &str,
        catalog: &SeriesCatalog,
        series: &[SeriesName],
        resolution: Resolution,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Vec<Point>>> {
        let wanted: Vec<Option<u32>> = series.iter().map(|s| catalog.list.number(s)).collect();
        if wanted.iter().all(Option::is_none) || from >= to {
            return Ok(vec![Vec::new(); series.len()]);
        }
        let (table, width) = match resolution {
            Resolution::Raw => ("metric_samples", String::new()),
            other => (
                "metric_rollups",
                format!("AND v.width = {}", other.width_ms()),
            ),
        };
        let (cond, args) = self.condition("d", 4);
        let q = sqlx::query(safe_sql!(
            "SELECT v.at, v.vals FROM {table} v JOIN metric_series m ON m.device = v.device \
             JOIN devices d ON d.id = m.device_id \
             WHERE m.device_id = $1 AND m.device = $2 {width} AND v.at >= $3 AND v.at < $4 AND {cond} \
             ORDER BY v.at LIMIT {MAX_ROWS_PER_READ}"
        ))
        .bind(id)
        .bind(catalog.list.device)
        .bind(from.0)
        .bind(to.0);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        let rows: Vec<(i64, Vec<u8>)> = rows
            .iter()
            .map(|r| Ok((int(r, "at")?, sqlx::Row::try_get(r, "vals")?)))
            .collect::<Result<_>>()?;
        points_from_rows(&catalog.list, &wanted, &rows, resolution == Resolution::Raw)
    }

    /// One page of the device's software (optionally names containing `search`), and how
    /// many packages match.
    pub async fn software(
        &self,
        id: &str,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SoftwareRecord>, u64)> {
        let search = search.filter(|s| !s.is_empty()).map(contains_pattern);
        let (name_cond, bound) = if search.is_some() {
            ("AND LOWER(s.name) LIKE $2 ESCAPE '\\'", 2)
        } else {
            ("", 1)
        };
        let (cond, args) = self.condition("d", bound);
        let from = "device_software s JOIN devices d ON d.id = s.device_id";
        let mut count = sqlx::query_scalar::<_, i64>(safe_sql!(
            "SELECT COUNT(*) FROM {from} WHERE s.device_id = $1 {name_cond} AND {cond}"
        ))
        .bind(id);
        if let Some(s) = &search {
            count = count.bind(s.clone());
        }
        for a in &args {
            count = count.bind(a.clone());
        }
        let total = count.fetch_one(&self.store.read).await? as u64;
        let mut q = sqlx::query(safe_sql!(
            "SELECT s.name, s.version, s.arch, s.source FROM {from} \
             WHERE s.device_id = $1 {name_cond} AND {cond} \
             ORDER BY s.name, s.arch, s.source LIMIT {} OFFSET {offset}",
            limit.min(10_000)
        ))
        .bind(id);
        if let Some(s) = &search {
            q = q.bind(s.clone());
        }
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(SoftwareRecord {
                    name: text(r, "name")?,
                    version: text(r, "version")?,
                    arch: text(r, "arch")?,
                    source: text(r, "source")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok((items, total))
    }

    /// A device's timeline, newest first, optionally of one kind of change.
    pub async fn changes(
        &self,
        id: &str,
        kind: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let (kind_cond, bound) = if kind.is_some() {
            ("AND c.kind = $2", 2)
        } else {
            ("", 1)
        };
        let (cond, args) = self.condition("d", bound);
        let from = "device_changes c JOIN devices d ON d.id = c.device_id";
        let mut count = sqlx::query_scalar::<_, i64>(safe_sql!(
            "SELECT COUNT(*) FROM {from} WHERE c.device_id = $1 {kind_cond} AND {cond}"
        ))
        .bind(id);
        if let Some(k) = kind {
            count = count.bind(k.to_string());
        }
        for a in &args {
            count = count.bind(a.clone());
        }
        let total = count.fetch_one(&self.store.read).await? as u64;
        let mut q = sqlx::query(safe_sql!(
            "SELECT c.id, c.device_id, d.name AS device_name, c.at, c.kind, c.subject, c.from_value, c.to_value \
             FROM {from} WHERE c.device_id = $1 {kind_cond} AND {cond} \
             ORDER BY c.id DESC LIMIT {} OFFSET {offset}",
            limit.min(10_000)
        ))
        .bind(id);
        if let Some(k) = kind {
            q = q.bind(k.to_string());
        }
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        let items = rows.iter().map(change).collect::<Result<_>>()?;
        Ok((items, total))
    }

    /// The device's jobs, newest first.
    pub async fn jobs(&self, device_id: &str, limit: u64) -> Result<Vec<JobRecord>> {
        let (cond, args) = self.condition("d", 1);
        let cols = JOB_COLS
            .split(", ")
            .map(|c| format!("j.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let q = sqlx::query(safe_sql!(
            "SELECT {cols} FROM jobs j JOIN devices d ON d.id = j.device_id \
             WHERE j.device_id = $1 AND {cond} ORDER BY j.created_at DESC, j.id DESC LIMIT {}",
            limit.min(1000)
        ))
        .bind(device_id);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(job).collect()
    }

    /// The latest changes across the devices in the scope, newest first.
    pub async fn recent_changes(&self, limit: u64) -> Result<Vec<ChangeRecord>> {
        let (cond, args) = self.condition("d", 0);
        let q = sqlx::query(safe_sql!(
            "SELECT c.id, c.device_id, d.name AS device_name, c.at, c.kind, c.subject, c.from_value, c.to_value \
             FROM device_changes c JOIN devices d ON d.id = c.device_id WHERE {cond} \
             ORDER BY c.id DESC LIMIT {}",
            limit.min(1000)
        ));
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(change).collect()
    }

    /// Counts of the devices in the scope for the dashboard at time `now`.
    pub async fn fleet_stats(&self, now: Timestamp) -> Result<FleetStats> {
        let (cond, args) = self.condition("devices", 2);
        let q = sqlx::query(safe_sql!(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN revoked_at IS NULL AND last_seen_at IS NOT NULL \
                 AND last_seen_at >= $1 - checkin_interval_secs * $2 THEN 1 ELSE 0 END), 0) AS online, \
             COALESCE(SUM(CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS revoked, \
             COALESCE(SUM(CASE WHEN last_seen_at IS NULL AND revoked_at IS NULL THEN 1 ELSE 0 END), 0) AS never_seen \
             FROM devices WHERE {cond}"
        ))
        .bind(now.0)
        .bind(ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC);
        let row = Self::bind_all(q, args).fetch_one(&self.store.read).await?;
        let (cond, args) = self.condition("devices", 0);
        let q = sqlx::query(safe_sql!(
            "SELECT os_name, os_version, COUNT(*) AS n FROM devices WHERE revoked_at IS NULL AND {cond} \
             GROUP BY os_name, os_version ORDER BY n DESC, os_name, os_version LIMIT 20"
        ));
        let os_rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        let os_breakdown = os_rows
            .iter()
            .map(|r: &AnyRow| {
                let name = format!("{} {}", text(r, "os_name")?, text(r, "os_version")?);
                let name = match name.trim() {
                    "" => "Unknown".to_string(),
                    n => n.to_string(),
                };
                Ok((name, int(r, "n")? as u64))
            })
            .collect::<Result<_>>()?;
        Ok(FleetStats {
            total: int(&row, "total")? as u64,
            online: int(&row, "online")? as u64,
            revoked: int(&row, "revoked")? as u64,
            never_seen: int(&row, "never_seen")? as u64,
            os_breakdown,
        })
    }
}
