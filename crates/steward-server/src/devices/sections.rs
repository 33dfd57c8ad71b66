//! The device page's inventory sections as display rows: overview and hardware facts, disks
//! with their fill level, listening sockets, accounts (people first). Pure functions of the
//! stored inventory and latest metrics, so they are tested without a server.

use std::collections::HashMap;

use steward_core::{Account, Filesystem, FilesystemUsage, Inventory, Listener, Metrics, Timestamp};

use crate::console::format::{bytes, duration_secs, percent, relative, utc};

pub struct Fact {
    pub label: &'static str,
    pub value: String,
    /// Shown on hover (an exact time behind a relative one).
    pub title: String,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    let value = value.into();
    Fact {
        label,
        value: if value.trim().is_empty() {
            "—".into()
        } else {
            value
        },
        title: String::new(),
    }
}

pub fn overview(inv: &Inventory, metrics: Option<&Metrics>, now: Timestamp) -> Vec<Fact> {
    let booted = (inv.boot_time > 0).then(|| Timestamp::from_secs(inv.boot_time));
    let uptime = match (metrics, booted) {
        (Some(m), _) if m.uptime_secs > 0 => duration_secs(m.uptime_secs),
        (_, Some(b)) => duration_secs(now.since(b).max(0) as u64 / 1000),
        _ => String::new(),
    };
    vec![
        fact("Hostname", inv.hostname.clone()),
        fact(
            "Operating system",
            format!("{} {}", inv.os.name, inv.os.version),
        ),
        fact("Kernel", inv.os.kernel.clone()),
        fact("Architecture", inv.os.arch.clone()),
        Fact {
            title: booted.map(utc).unwrap_or_default(),
            ..fact(
                "Booted",
                booted.map(|b| relative(b, now)).unwrap_or_default(),
            )
        },
        fact("Uptime", uptime),
    ]
}

pub fn hardware(inv: &Inventory, metrics: Option<&Metrics>) -> Vec<Fact> {
    let hw = &inv.hardware;
    let in_use = metrics
        .filter(|m| m.memory_used_bytes > 0)
        .map(|m| format!(" · {} in use", bytes(m.memory_used_bytes)))
        .unwrap_or_default();
    vec![
        fact(
            "Processor",
            match (hw.cpu_cores, hw.cpu_model.trim()) {
                (0, model) => model.to_string(),
                (cores, "") => format!("{cores} cores"),
                (cores, model) => format!("{model} × {cores} cores"),
            },
        ),
        fact(
            "Memory",
            if hw.memory_bytes > 0 {
                format!("{}{in_use}", bytes(hw.memory_bytes))
            } else {
                String::new()
            },
        ),
        fact("Vendor", hw.vendor.clone()),
        fact("Model", hw.model.clone()),
        fact("Serial number", hw.serial.clone()),
    ]
}

pub struct DiskRow {
    pub mount: String,
    pub device: String,
    pub fs_type: String,
    pub size: String,
    pub used: String,
    pub percent: u8,
    /// `ok`, `warning` (over 80 %), `critical` (over 90 %) or `unknown` (no usage reported).
    pub level: &'static str,
}

/// The bar's colour for a fill level.
pub fn disk_level(percent: u8) -> &'static str {
    match percent {
        91.. => "critical",
        81..=90 => "warning",
        _ => "ok",
    }
}

/// Filesystems (a page of the inventory's), with usage from the latest metrics matched by
/// mount point through an index, so the cost is linear in both lists.
pub fn disks(filesystems: &[Filesystem], metrics: Option<&Metrics>) -> Vec<DiskRow> {
    let usage: HashMap<&str, &FilesystemUsage> = metrics
        .map(|m| m.filesystems.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|u| (u.mount_point.as_str(), u))
        .collect();
    filesystems
        .iter()
        .map(|f| {
            let used = usage.get(f.mount_point.as_str()).copied();
            let pct = used.map_or(0, |u| percent(u.used_bytes, u.total_bytes));
            DiskRow {
                mount: f.mount_point.clone(),
                device: f.device.clone(),
                fs_type: f.fs_type.clone(),
                size: bytes(f.total_bytes),
                used: used.map_or("—".into(), |u| bytes(u.used_bytes)),
                percent: pct,
                level: if used.is_some() {
                    disk_level(pct)
                } else {
                    "unknown"
                },
            }
        })
        .collect()
}

pub struct ListenerRow {
    pub protocol: &'static str,
    pub address: String,
    pub port: u16,
    pub process: String,
    /// Bound beyond loopback: reachable from the network.
    pub exposed: bool,
}

pub fn listeners(listeners: &[Listener]) -> Vec<ListenerRow> {
    listeners
        .iter()
        .map(|l| ListenerRow {
            protocol: l.protocol.as_str(),
            address: l.address.clone(),
            port: l.port,
            process: match l.pid {
                Some(pid) if !l.process.is_empty() => format!("{} ({pid})", l.process),
                _ => l.process.clone(),
            },
            exposed: !(l.address.starts_with("127.")
                || l.address == "::1"
                || l.address == "localhost"),
        })
        .collect()
}

/// People first: administrators, then other accounts that can log in (by uid), then system
/// accounts (in the inventory's order), so a page of the list splits into the two tables.
pub fn accounts_people_first(inv: &Inventory) -> Vec<Account> {
    let mut all = inv.accounts.clone();
    all.sort_by_key(|a| {
        let person = a.is_admin || a.can_login;
        (!person, !a.is_admin, if person { a.uid } else { 0 })
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks_turn_amber_over_80_and_red_over_90_percent() {
        assert_eq!(disk_level(0), "ok");
        assert_eq!(disk_level(80), "ok");
        assert_eq!(disk_level(81), "warning");
        assert_eq!(disk_level(90), "warning");
        assert_eq!(disk_level(91), "critical");
        let inv = Inventory {
            filesystems: vec![
                Filesystem {
                    mount_point: "/".into(),
                    total_bytes: 100 << 30,
                    ..Default::default()
                },
                Filesystem {
                    mount_point: "/data".into(),
                    total_bytes: 1 << 40,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let metrics = Metrics {
            filesystems: vec![FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 100 << 30,
                used_bytes: 93 << 30,
            }],
            ..Default::default()
        };
        let rows = disks(&inv.filesystems, Some(&metrics));
        assert_eq!(
            (rows[0].percent, rows[0].level, rows[0].used.as_str()),
            (93, "critical", "93.0 GiB")
        );
        assert_eq!((rows[1].level, rows[1].used.as_str()), ("unknown", "—"));
    }

    #[test]
    fn loopback_listeners_are_not_exposed() {
        let inv = Inventory {
            listeners: ["0.0.0.0", "::", "127.0.0.53", "::1", "192.0.2.4"]
                .iter()
                .map(|a| steward_core::Listener {
                    address: a.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let exposed: Vec<bool> = listeners(&inv.listeners)
            .iter()
            .map(|l| l.exposed)
            .collect();
        assert_eq!(exposed, [true, true, false, false, true]);
    }
}
