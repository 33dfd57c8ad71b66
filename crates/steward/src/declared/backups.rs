//! `[[backups]]`: backup policies declared in the config file, read into what the server
//! stores at start (`steward_server::backup::declared`). Each entry is checked here by the
//! same rules as a policy made through the API (`policies::definition`), so a bad one is
//! reported with its line; its group or device, by name, is looked up at start.
//!
//! ```toml
//! [[backups]]
//! name = "documents"
//! devices = "all"          # or "group:NAME", "tag:NAME", "device:NAME"
//! paths = ["/srv/share"]
//! schedule = "daily 01:00"
//! keep = { daily = 7, weekly = 4, monthly = 12 }
//! # optional: preset, excludes = [...], bandwidth_kib = 2048, protection_days = 30
//! ```

use serde::Deserialize;
use steward_core::backup::retention::Keep;
use steward_core::checks::Target;
use steward_proto::backup::SaveBackupPolicy;
use steward_server::backup::declared::DeclaredPolicy;
use steward_server::backup::policies::definition;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupEntry {
    name: String,
    devices: Option<String>,
    preset: Option<String>,
    paths: Option<Vec<String>>,
    excludes: Option<Vec<String>>,
    schedule: Option<String>,
    keep: Option<KeepEntry>,
    protection_days: Option<u32>,
    bandwidth_kib: Option<u64>,
    enabled: Option<bool>,
}

/// `keep = { daily = 7, … }`: a kind left out keeps none of it; a misspelt kind is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KeepEntry {
    last: u32,
    hourly: u32,
    daily: u32,
    weekly: u32,
    monthly: u32,
    yearly: u32,
}

/// Reads one `[[backups]]` entry; `origin` says where it is ("line 12").
pub fn policy(table: &toml::Table, origin: String) -> Result<DeclaredPolicy, String> {
    let e: BackupEntry = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())?;
    let input = SaveBackupPolicy {
        name: e.name,
        target: Some(devices(e.devices.as_deref())?),
        preset: e.preset,
        paths: e.paths,
        excludes: e.excludes,
        schedule: e.schedule,
        keep: e.keep.map(|k| Keep {
            last: k.last,
            hourly: k.hourly,
            daily: k.daily,
            weekly: k.weekly,
            monthly: k.monthly,
            yearly: k.yearly,
        }),
        protection_days: e.protection_days,
        bandwidth_kib: e.bandwidth_kib,
        enabled: e.enabled,
    };
    let policy = definition(&input).map_err(|e| e.to_string())?;
    Ok(DeclaredPolicy { policy, origin })
}

/// `devices`: `all` (also when left out), `group:NAME`, `tag:NAME` or `device:NAME`.
fn devices(text: Option<&str>) -> Result<String, String> {
    let Some(text) = text.map(str::trim) else {
        return Ok(Target::All.as_string());
    };
    Target::parse(text).map(|t| t.as_string()).map_err(|_| {
        format!(
            "devices is \"all\", \"group:NAME\", \"tag:NAME\" or \"device:NAME\", not {:?}",
            text.chars().take(80).collect::<String>()
        )
    })
}
