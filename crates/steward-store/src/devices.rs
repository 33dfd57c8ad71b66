//! Devices: their records, filters, tags and revocation. Reads of devices and their data go
//! through a scope: see [`crate::scoped`].

use sqlx::any::AnyRow;
use steward_core::{Inventory, InventoryHash, Scope, Timestamp};

use crate::rows::{contains_pattern, int, opt_int, opt_text, text, touched};
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

pub(crate) const DEVICE_COLS: &str = "d.id, d.name, d.enrolled_at, d.last_seen_at, d.revoked_at, d.os_name, d.os_version, d.checkin_interval_secs, d.group_id, g.name AS group_name";
/// Devices with their group's name.
pub(crate) const DEVICES_FROM: &str = "devices d LEFT JOIN device_groups g ON g.id = d.group_id";

pub(crate) fn device(row: &AnyRow) -> Result<DeviceRecord> {
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
        Scope::AllDevices => ("1 = 1".to_string(), Vec::new()),
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

/// Builds `WHERE …` for a filter within a scope; placeholders are numbered from `$1`.
pub(crate) fn where_clause(filter: &DeviceFilter, scope: &Scope) -> (String, Vec<String>) {
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
    if *scope != Scope::AllDevices {
        let (cond, scope_args) = scope_condition(scope, "d", args.len());
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
    pub(crate) async fn attach_tags(&self, devices: &mut [DeviceRecord]) -> Result<()> {
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
