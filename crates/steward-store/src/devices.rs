//! Devices: listing with filters, detail, revocation, tags, fleet statistics, and the
//! per-device software and change lists the console and API page through.

use sqlx::any::AnyRow;
use steward_core::device::ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC;
use steward_core::{Inventory, InventoryHash, Metrics, Scope, Timestamp};

use crate::ingest::{ChangeRecord, change};
use crate::rows::{contains_pattern, int, json, opt_int, opt_text, text, touched};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: String,
    pub name: String,
    pub enrolled_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub os_name: String,
    pub os_version: String,
    pub checkin_interval_secs: i64,
    pub tags: Vec<String>,
    /// The device's group (site), if it is in one.
    pub group_id: Option<String>,
    pub group_name: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeviceSortKey {
    #[default]
    Name,
    LastSeen,
    Os,
    Enrolled,
}

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Case-insensitive substring of "os_name os_version".
    pub os: Option<String>,
    pub tag: Option<String>,
    /// Only devices in this group.
    pub group: Option<String>,
    /// Only devices the asking user may see.
    pub scope: Scope,
    pub sort: DeviceSortKey,
    pub desc: bool,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetStats {
    pub total: u64,
    pub online: u64,
    pub revoked: u64,
    pub never_seen: u64,
    /// (os name and version, devices), most common first.
    pub os_breakdown: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwareRecord {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub source: String,
}

const DEVICE_COLS: &str = "d.id, d.name, d.enrolled_at, d.last_seen_at, d.revoked_at, d.os_name, d.os_version, d.checkin_interval_secs, d.group_id, g.name AS group_name";
/// Devices with their group's name.
const DEVICES_FROM: &str = "devices d LEFT JOIN device_groups g ON g.id = d.group_id";

fn device(row: &AnyRow) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        enrolled_at: Timestamp(int(row, "enrolled_at")?),
        last_seen_at: opt_int(row, "last_seen_at")?.map(Timestamp),
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp),
        os_name: text(row, "os_name")?,
        os_version: text(row, "os_version")?,
        checkin_interval_secs: int(row, "checkin_interval_secs")?,
        tags: Vec::new(),
        group_id: opt_text(row, "group_id")?,
        group_name: opt_text(row, "group_name")?,
    })
}

/// The condition limiting `alias`'s devices to a scope, with its arguments; placeholders
/// are numbered after `bound` arguments already in the query.
pub(crate) fn scope_condition(scope: &Scope, alias: &str, bound: usize) -> (String, Vec<String>) {
    match scope {
        Scope::Everything => ("1 = 1".to_string(), Vec::new()),
        Scope::Groups(groups) if groups.is_empty() => ("1 = 0".to_string(), Vec::new()),
        Scope::Groups(groups) => {
            let placeholders: Vec<String> = (1..=groups.len())
                .map(|i| format!("${}", bound + i))
                .collect();
            (
                format!("{alias}.group_id IN ({})", placeholders.join(", ")),
                groups.clone(),
            )
        }
    }
}

/// Builds `WHERE …` for a filter; placeholders are numbered from `$1`.
fn where_clause(filter: &DeviceFilter) -> (String, Vec<String>) {
    let mut conds = Vec::new();
    let mut args = Vec::new();
    if let Some(name) = filter.name.as_deref().filter(|s| !s.is_empty()) {
        args.push(contains_pattern(name));
        conds.push(format!("LOWER(d.name) LIKE ${} ESCAPE '\\'", args.len()));
    }
    if let Some(os) = filter.os.as_deref().filter(|s| !s.is_empty()) {
        args.push(contains_pattern(os));
        conds.push(format!(
            "LOWER(d.os_name || ' ' || d.os_version) LIKE ${} ESCAPE '\\'",
            args.len()
        ));
    }
    if let Some(tag) = filter.tag.as_deref().filter(|s| !s.is_empty()) {
        args.push(tag.to_string());
        conds.push(format!(
            "EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag = ${})",
            args.len()
        ));
    }
    if let Some(group) = filter.group.as_deref().filter(|s| !s.is_empty()) {
        args.push(group.to_string());
        conds.push(format!("d.group_id = ${}", args.len()));
    }
    if filter.scope != Scope::Everything {
        let (cond, scope_args) = scope_condition(&filter.scope, "d", args.len());
        conds.push(cond);
        args.extend(scope_args);
    }
    let clause = if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
    };
    (clause, args)
}

impl Store {
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {DEVICE_COLS} FROM {DEVICES_FROM} WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut d = device(&row)?;
        d.tags = self.device_tags(&d.id).await?;
        Ok(Some(d))
    }

    /// Devices with exactly this name (names need not be unique).
    pub async fn devices_named(&self, name: &str) -> Result<Vec<DeviceRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {DEVICE_COLS} FROM {DEVICES_FROM} WHERE d.name = $1 ORDER BY d.enrolled_at, d.id"
        ))
        .bind(name)
        .fetch_all(&self.read)
        .await?;
        let mut devices: Vec<DeviceRecord> = rows.iter().map(device).collect::<Result<_>>()?;
        self.attach_tags(&mut devices).await?;
        Ok(devices)
    }

    /// One page of devices and the total number matching the filter.
    pub async fn list_devices(&self, filter: &DeviceFilter) -> Result<(Vec<DeviceRecord>, u64)> {
        let (clause, args) = where_clause(filter);
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
        let total = count.fetch_one(&self.read).await? as u64;
        let list_sql = format!(
            "SELECT {DEVICE_COLS} FROM {DEVICES_FROM} {clause} ORDER BY {order} LIMIT {} OFFSET {}",
            filter.limit.min(10_000),
            filter.offset
        );
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for a in &args {
            list = list.bind(a.clone());
        }
        let rows = list.fetch_all(&self.read).await?;
        let mut devices: Vec<DeviceRecord> = rows.iter().map(device).collect::<Result<_>>()?;
        self.attach_tags(&mut devices).await?;
        Ok((devices, total))
    }

    async fn attach_tags(&self, devices: &mut [DeviceRecord]) -> Result<()> {
        if devices.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=devices.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT device_id, tag FROM device_tags WHERE device_id IN ({}) ORDER BY tag",
            placeholders.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in devices.iter() {
            q = q.bind(d.id.clone());
        }
        for row in q.fetch_all(&self.read).await? {
            let id = text(&row, "device_id")?;
            if let Some(d) = devices.iter_mut().find(|d| d.id == id) {
                d.tags.push(text(&row, "tag")?);
            }
        }
        Ok(())
    }

    pub async fn device_tags(&self, id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT tag FROM device_tags WHERE device_id = $1 ORDER BY tag")
            .bind(id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| text(r, "tag")).collect()
    }

    /// Replaces the device's tags.
    pub async fn set_device_tags(&self, id: &str, tags: &[String]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM device_tags WHERE device_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let mut unique: Vec<&String> = tags.iter().collect();
        unique.sort();
        unique.dedup();
        for tag in unique {
            sqlx::query("INSERT INTO device_tags (device_id, tag) VALUES ($1, $2)")
                .bind(id)
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Cuts a device off: its credential stops working at once.
    pub async fn revoke_device(&self, id: &str, now: Timestamp) -> Result<()> {
        let res =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.0)
                .bind(id)
                .execute(&self.write)
                .await?;
        touched(&res)
    }

    /// The device's current inventory, if it has reported one.
    pub async fn inventory(&self, id: &str) -> Result<Option<Inventory>> {
        let row = sqlx::query("SELECT doc FROM device_inventory WHERE device_id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(|r| json(r, "doc")).transpose()
    }

    /// The stored inventory document, not yet parsed: a large one takes milliseconds to
    /// parse, which the caller does off the async workers ([`InventoryDoc::parse`]).
    pub async fn inventory_doc(&self, id: &str) -> Result<Option<InventoryDoc>> {
        let row = sqlx::query("SELECT hash, doc FROM device_inventory WHERE device_id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| {
            Ok(InventoryDoc {
                hash: InventoryHash(text(&r, "hash")?),
                doc: text(&r, "doc")?,
            })
        })
        .transpose()
    }

    /// The device's latest metrics and when they were collected.
    pub async fn metrics(&self, id: &str) -> Result<Option<(Timestamp, Metrics)>> {
        let row = sqlx::query("SELECT collected_at, doc FROM device_metrics WHERE device_id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref()
            .map(|r| Ok((Timestamp(int(r, "collected_at")?), json(r, "doc")?)))
            .transpose()
    }

    pub async fn software(
        &self,
        id: &str,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SoftwareRecord>, u64)> {
        let search = search.filter(|s| !s.is_empty()).map(contains_pattern);
        let cond = if search.is_some() {
            "AND LOWER(name) LIKE $2 ESCAPE '\\'"
        } else {
            ""
        };
        let mut count = sqlx::query_scalar::<_, i64>(safe_sql!(
            "SELECT COUNT(*) FROM device_software WHERE device_id = $1 {cond}"
        ))
        .bind(id);
        if let Some(s) = &search {
            count = count.bind(s.clone());
        }
        let total = count.fetch_one(&self.read).await? as u64;
        let mut q = sqlx::query(safe_sql!(
            "SELECT name, version, arch, source FROM device_software WHERE device_id = $1 {cond} \
             ORDER BY name, arch, source LIMIT {} OFFSET {offset}",
            limit.min(10_000)
        ))
        .bind(id);
        if let Some(s) = &search {
            q = q.bind(s.clone());
        }
        let rows = q.fetch_all(&self.read).await?;
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

    /// A device's timeline, newest first.
    pub async fn changes(
        &self,
        id: &str,
        kind: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let cond = if kind.is_some() { "AND kind = $2" } else { "" };
        let mut count = sqlx::query_scalar::<_, i64>(safe_sql!(
            "SELECT COUNT(*) FROM device_changes WHERE device_id = $1 {cond}"
        ))
        .bind(id);
        if let Some(k) = kind {
            count = count.bind(k.to_string());
        }
        let total = count.fetch_one(&self.read).await? as u64;
        let mut q = sqlx::query(safe_sql!(
            "SELECT c.id, c.device_id, d.name AS device_name, c.at, c.kind, c.subject, c.from_value, c.to_value \
             FROM device_changes c JOIN devices d ON d.id = c.device_id \
             WHERE c.device_id = $1 {} ORDER BY c.id DESC LIMIT {} OFFSET {offset}",
            cond.replace("kind", "c.kind"),
            limit.min(10_000)
        ))
        .bind(id);
        if let Some(k) = kind {
            q = q.bind(k.to_string());
        }
        let rows = q.fetch_all(&self.read).await?;
        let items = rows.iter().map(change).collect::<Result<_>>()?;
        Ok((items, total))
    }

    /// The latest changes across the devices in `scope`, newest first.
    pub async fn recent_changes(&self, limit: u64, scope: &Scope) -> Result<Vec<ChangeRecord>> {
        let (cond, args) = scope_condition(scope, "d", 0);
        let mut q = sqlx::query(safe_sql!(
            "SELECT c.id, c.device_id, d.name AS device_name, c.at, c.kind, c.subject, c.from_value, c.to_value \
             FROM device_changes c JOIN devices d ON d.id = c.device_id WHERE {cond} \
             ORDER BY c.id DESC LIMIT {}",
            limit.min(1000)
        ));
        for a in args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.read).await?;
        rows.iter().map(change).collect()
    }

    /// Counts for the dashboard at time `now`.
    pub async fn fleet_stats(&self, now: Timestamp, scope: &Scope) -> Result<FleetStats> {
        let (cond, args) = scope_condition(scope, "devices", 2);
        let mut q = sqlx::query(safe_sql!(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN revoked_at IS NULL AND last_seen_at IS NOT NULL \
                 AND last_seen_at >= $1 - checkin_interval_secs * $2 THEN 1 ELSE 0 END), 0) AS online, \
             COALESCE(SUM(CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS revoked, \
             COALESCE(SUM(CASE WHEN last_seen_at IS NULL AND revoked_at IS NULL THEN 1 ELSE 0 END), 0) AS never_seen \
             FROM devices WHERE {cond}"
        ))
        .bind(now.0)
        .bind(ONLINE_GRACE_MILLIS_PER_INTERVAL_SEC);
        for a in &args {
            q = q.bind(a.clone());
        }
        let row = q.fetch_one(&self.read).await?;
        let (cond, args) = scope_condition(scope, "devices", 0);
        let mut q = sqlx::query(safe_sql!(
            "SELECT os_name, os_version, COUNT(*) AS n FROM devices WHERE revoked_at IS NULL AND {cond} \
             GROUP BY os_name, os_version ORDER BY n DESC, os_name, os_version LIMIT 20"
        ));
        for a in args {
            q = q.bind(a);
        }
        let os_rows = q.fetch_all(&self.read).await?;
        let os_breakdown = os_rows
            .iter()
            .map(|r| {
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

/// A device's stored inventory as it is kept, with the hash it was stored under.
#[derive(Debug, Clone)]
pub struct InventoryDoc {
    pub hash: InventoryHash,
    doc: String,
}

impl InventoryDoc {
    /// CPU work in proportion to the inventory's size: call it off the async workers.
    pub fn parse(&self) -> Result<Inventory> {
        serde_json::from_str(&self.doc).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}
