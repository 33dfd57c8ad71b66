//! Which differences between two inventories become lines in a device's timeline, and how
//! each is described. This is where "a new admin account" or "a new listening port" is
//! recognised, so later capabilities (alerts, posture) read these events instead of diffing.

use serde::{Deserialize, Serialize};
use strum::VariantArray;

use crate::inventory::{Inventory, Step, walk};

/// What kind of change happened. The string form (snake_case) is stored and filtered on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ChangeKind {
    Enrolled,
    HostnameChanged,
    OsChanged,
    KernelChanged,
    Rebooted,
    CpuChanged,
    MemoryChanged,
    HardwareChanged,
    FilesystemAdded,
    FilesystemRemoved,
    FilesystemResized,
    InterfaceAdded,
    InterfaceRemoved,
    InterfaceChanged,
    PackageInstalled,
    PackageRemoved,
    PackageUpgraded,
    PackageDowngraded,
    AccountAdded,
    AccountRemoved,
    AccountChanged,
    AdminAdded,
    AdminRemoved,
    ListenerOpened,
    ListenerClosed,
    /// Stands for changes of one kind beyond what one delivery may itemise
    /// (`limits::MAX_CHANGES_PER_BATCH`): the subject is that kind, `to` how many.
    ChangesSummarised,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; ChangeKind::VARIANTS.len()] =
        crate::variants::array(ChangeKind::VARIANTS);

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<ChangeKind> {
        s.parse().ok()
    }

    /// Changes that matter for security: a person should look at them.
    pub fn is_security_relevant(self) -> bool {
        matches!(
            self,
            ChangeKind::AdminAdded
                | ChangeKind::AccountAdded
                | ChangeKind::ListenerOpened
                | ChangeKind::PackageDowngraded
        )
    }
}

/// One line of a device's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeEvent {
    pub kind: ChangeKind,
    /// What changed: a package name, a mount point, an account, `tcp/0.0.0.0:22`.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl ChangeEvent {
    fn new(kind: ChangeKind, subject: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
            from: None,
            to: None,
        }
    }
    fn from_to(kind: ChangeKind, subject: impl Into<String>, from: String, to: String) -> Self {
        Self {
            kind,
            subject: subject.into(),
            from: Some(from),
            to: Some(to),
        }
    }

    /// A one-line description for people.
    pub fn describe(&self) -> String {
        let s = &self.subject;
        match (self.kind, &self.from, &self.to) {
            (ChangeKind::Enrolled, _, _) => format!("Device enrolled as {s}"),
            (ChangeKind::PackageInstalled, _, Some(to)) => format!("Installed {s} {to}"),
            (ChangeKind::PackageRemoved, Some(from), _) => format!("Removed {s} {from}"),
            (ChangeKind::PackageUpgraded, Some(f), Some(t)) => format!("Upgraded {s} {f} → {t}"),
            (ChangeKind::PackageDowngraded, Some(f), Some(t)) => {
                format!("Downgraded {s} {f} → {t}")
            }
            (ChangeKind::AdminAdded, _, _) => format!("New administrator account {s}"),
            (ChangeKind::AdminRemoved, _, _) => format!("{s} is no longer an administrator"),
            (ChangeKind::AccountAdded, _, _) => format!("New account {s}"),
            (ChangeKind::AccountRemoved, _, _) => format!("Account {s} removed"),
            (ChangeKind::ListenerOpened, _, Some(p)) if !p.is_empty() => {
                format!("New listening port {s} ({p})")
            }
            (ChangeKind::ListenerOpened, _, _) => format!("New listening port {s}"),
            (ChangeKind::ListenerClosed, _, _) => format!("Port {s} no longer listening"),
            (ChangeKind::Rebooted, _, _) => "Rebooted".to_string(),
            (ChangeKind::ChangesSummarised, _, Some(n)) => {
                let what = ChangeKind::parse(s).map_or_else(|| s.clone(), human);
                format!("{n} more changes not listed one by one ({what})")
            }
            (kind, Some(f), Some(t)) => format!("{}: {s} {f} → {t}", human(kind)),
            (kind, _, _) => format!("{}: {s}", human(kind)),
        }
    }
}

fn human(kind: ChangeKind) -> String {
    let s = kind.as_str().replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// At most `max` timeline events itemised, plus one summary line per kind for the rest, so a
/// delivery that changed a hundred thousand packages costs a bounded number of rows.
/// Security-relevant events are itemised first: a flood of package changes cannot hide a
/// new administrator. Each summary line carries the time of the last event it stands for.
pub fn summarise<T: Copy>(events: Vec<(T, ChangeEvent)>, max: usize) -> Vec<(T, ChangeEvent)> {
    if events.len() <= max {
        return events;
    }
    let (mut kept, rest): (Vec<_>, Vec<_>) = events
        .into_iter()
        .partition(|(_, e)| e.kind.is_security_relevant());
    let mut rest = rest.into_iter();
    let room = max.saturating_sub(kept.len());
    kept.extend(rest.by_ref().take(room));
    let overflow: Vec<(T, ChangeEvent)> = kept.drain(kept.len().min(max)..).chain(rest).collect();
    let mut counts: Vec<(ChangeKind, usize, T)> = Vec::new();
    for (at, e) in overflow {
        match counts.iter_mut().find(|(k, _, _)| *k == e.kind) {
            Some((_, n, last)) => {
                *n += 1;
                *last = at;
            }
            None => counts.push((e.kind, 1, at)),
        }
    }
    kept.extend(counts.into_iter().map(|(kind, n, at)| {
        let mut line = ChangeEvent::new(ChangeKind::ChangesSummarised, kind.as_str());
        line.to = Some(n.to_string());
        (at, line)
    }));
    kept
}

/// The timeline events that lead from `old` to `new` (both normalised).
pub fn changes_between(old: &Inventory, new: &Inventory) -> Vec<ChangeEvent> {
    use ChangeKind as K;
    let mut ev = Vec::new();
    if old.hostname != new.hostname {
        ev.push(ChangeEvent::from_to(
            K::HostnameChanged,
            "hostname",
            old.hostname.clone(),
            new.hostname.clone(),
        ));
    }
    let os_label = |o: &crate::OsInfo| format!("{} {}", o.name, o.version).trim().to_string();
    if (old.os.name != new.os.name) || (old.os.version != new.os.version) {
        ev.push(ChangeEvent::from_to(
            K::OsChanged,
            "os",
            os_label(&old.os),
            os_label(&new.os),
        ));
    }
    if old.os.kernel != new.os.kernel {
        ev.push(ChangeEvent::from_to(
            K::KernelChanged,
            "kernel",
            old.os.kernel.clone(),
            new.os.kernel.clone(),
        ));
    }
    // Boot time is derived from uptime and may wobble by a second between collections.
    if (new.boot_time - old.boot_time).abs() > 5 {
        ev.push(ChangeEvent::new(K::Rebooted, "boot"));
    }
    let (oh, nh) = (&old.hardware, &new.hardware);
    if oh.cpu_model != nh.cpu_model || oh.cpu_cores != nh.cpu_cores {
        ev.push(ChangeEvent::from_to(
            K::CpuChanged,
            "cpu",
            format!("{} × {}", oh.cpu_cores, oh.cpu_model),
            format!("{} × {}", nh.cpu_cores, nh.cpu_model),
        ));
    }
    if oh.memory_bytes != nh.memory_bytes {
        ev.push(ChangeEvent::from_to(
            K::MemoryChanged,
            "memory",
            bytes(oh.memory_bytes),
            bytes(nh.memory_bytes),
        ));
    }
    if (&oh.vendor, &oh.model, &oh.serial) != (&nh.vendor, &nh.model, &nh.serial) {
        ev.push(ChangeEvent::from_to(
            K::HardwareChanged,
            "system",
            format!("{} {} ({})", oh.vendor, oh.model, oh.serial),
            format!("{} {} ({})", nh.vendor, nh.model, nh.serial),
        ));
    }
    walk(&old.filesystems, &new.filesystems, |step| match step {
        Step::Added(n) => {
            let mut e = ChangeEvent::new(K::FilesystemAdded, &n.mount_point);
            e.to = Some(bytes(n.total_bytes));
            ev.push(e)
        }
        Step::Removed(o) => ev.push(ChangeEvent::new(K::FilesystemRemoved, &o.mount_point)),
        Step::Changed(o, n) => {
            if o.total_bytes != n.total_bytes {
                ev.push(ChangeEvent::from_to(
                    K::FilesystemResized,
                    &n.mount_point,
                    bytes(o.total_bytes),
                    bytes(n.total_bytes),
                ))
            }
        }
    });
    walk(&old.interfaces, &new.interfaces, |step| match step {
        Step::Added(n) => ev.push(ChangeEvent::new(K::InterfaceAdded, &n.name)),
        Step::Removed(o) => ev.push(ChangeEvent::new(K::InterfaceRemoved, &o.name)),
        Step::Changed(o, n) => ev.push(ChangeEvent::from_to(
            K::InterfaceChanged,
            &n.name,
            format!("{} {}", o.mac, o.addresses.join(", ")),
            format!("{} {}", n.mac, n.addresses.join(", ")),
        )),
    });
    walk(&old.packages, &new.packages, |step| match step {
        Step::Added(n) => {
            let mut e = ChangeEvent::new(K::PackageInstalled, &n.name);
            e.to = Some(n.version.clone());
            ev.push(e)
        }
        Step::Removed(o) => {
            let mut e = ChangeEvent::new(K::PackageRemoved, &o.name);
            e.from = Some(o.version.clone());
            ev.push(e)
        }
        Step::Changed(o, n) => {
            if o.version != n.version {
                let kind = if crate::version::compare(&n.version, &o.version).is_lt() {
                    K::PackageDowngraded
                } else {
                    K::PackageUpgraded
                };
                ev.push(ChangeEvent::from_to(
                    kind,
                    &n.name,
                    o.version.clone(),
                    n.version.clone(),
                ))
            }
        }
    });
    walk(&old.accounts, &new.accounts, |step| match step {
        Step::Added(n) => {
            ev.push(ChangeEvent::new(K::AccountAdded, &n.name));
            if n.is_admin {
                ev.push(ChangeEvent::new(K::AdminAdded, &n.name));
            }
        }
        Step::Removed(o) => {
            ev.push(ChangeEvent::new(K::AccountRemoved, &o.name));
            if o.is_admin {
                ev.push(ChangeEvent::new(K::AdminRemoved, &o.name));
            }
        }
        Step::Changed(o, n) => match (o.is_admin, n.is_admin) {
            (false, true) => ev.push(ChangeEvent::new(K::AdminAdded, &n.name)),
            (true, false) => ev.push(ChangeEvent::new(K::AdminRemoved, &n.name)),
            _ => {
                if (o.uid, &o.shell, &o.home) != (n.uid, &n.shell, &n.home) {
                    ev.push(ChangeEvent::new(K::AccountChanged, &n.name))
                }
            }
        },
    });
    let listener =
        |l: &crate::Listener| format!("{}/{}:{}", l.protocol.as_str(), l.address, l.port);
    walk(&old.listeners, &new.listeners, |step| match step {
        Step::Added(n) => {
            let mut e = ChangeEvent::new(K::ListenerOpened, listener(n));
            e.to = Some(n.process.clone());
            ev.push(e)
        }
        Step::Removed(o) => {
            let mut e = ChangeEvent::new(K::ListenerClosed, listener(o));
            e.from = Some(o.process.clone());
            ev.push(e)
        }
        // The owning process of a port changing (a restart gives a new pid) is not news.
        Step::Changed(_, _) => {}
    });
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarise_bounds_rows_and_keeps_security_events() {
        let mut events: Vec<(i64, ChangeEvent)> = (0..10_000)
            .map(|i| {
                (
                    i,
                    ChangeEvent::new(ChangeKind::PackageUpgraded, format!("p{i}")),
                )
            })
            .collect();
        events.push((10_000, ChangeEvent::new(ChangeKind::AdminAdded, "mallory")));
        let out = summarise(events, 100);
        assert_eq!(out.len(), 101);
        assert_eq!(out[0].1.kind, ChangeKind::AdminAdded);
        let last = &out[100].1;
        assert_eq!(last.kind, ChangeKind::ChangesSummarised);
        assert_eq!(last.subject, "package_upgraded");
        assert_eq!(last.to.as_deref(), Some("9901"));
        assert_eq!(
            last.describe(),
            "9901 more changes not listed one by one (Package upgraded)"
        );
        let few = vec![(1, ChangeEvent::new(ChangeKind::Rebooted, "boot"))];
        assert_eq!(summarise(few.clone(), 100), few);
    }
    use crate::inventory::*;

    fn base() -> Inventory {
        let mut inv = Inventory {
            hostname: "pc1".into(),
            boot_time: 1000,
            hardware: Hardware {
                memory_bytes: 8 << 30,
                ..Default::default()
            },
            packages: vec![
                Package {
                    name: "openssl".into(),
                    version: "3.0.1-1".into(),
                    arch: "amd64".into(),
                    source: PackageSource::Dpkg,
                },
                Package {
                    name: "vim".into(),
                    version: "9.0".into(),
                    arch: "amd64".into(),
                    source: PackageSource::Dpkg,
                },
            ],
            accounts: vec![Account {
                name: "bob".into(),
                uid: 1000,
                ..Default::default()
            }],
            ..Default::default()
        };
        inv.normalize();
        inv
    }

    #[test]
    fn recognises_upgrades_new_admins_ports_and_memory() {
        let old = base();
        let mut new = base();
        new.packages[0].version = "3.0.2-1".into();
        new.packages.remove(1);
        new.accounts[0].is_admin = true;
        new.accounts.push(Account {
            name: "mallory".into(),
            uid: 0,
            is_admin: true,
            ..Default::default()
        });
        new.listeners.push(Listener {
            protocol: Protocol::Tcp,
            address: "0.0.0.0".into(),
            port: 4444,
            process: "nc".into(),
            pid: Some(7),
        });
        new.hardware.memory_bytes = 16 << 30;
        new.boot_time = 5000;
        new.normalize();
        let kinds: Vec<(ChangeKind, String)> = changes_between(&old, &new)
            .into_iter()
            .map(|e| (e.kind, e.subject))
            .collect();
        use ChangeKind as K;
        for expected in [
            (K::PackageUpgraded, "openssl"),
            (K::PackageRemoved, "vim"),
            (K::AdminAdded, "bob"),
            (K::AccountAdded, "mallory"),
            (K::AdminAdded, "mallory"),
            (K::ListenerOpened, "tcp/0.0.0.0:4444"),
            (K::MemoryChanged, "memory"),
            (K::Rebooted, "boot"),
        ] {
            assert!(
                kinds.contains(&(expected.0, expected.1.to_string())),
                "missing {expected:?} in {kinds:?}"
            );
        }
        assert_eq!(kinds.len(), 8, "{kinds:?}");
    }

    #[test]
    fn no_changes_between_equal_inventories() {
        assert!(changes_between(&base(), &base()).is_empty());
    }

    #[test]
    fn downgrade_is_recognised() {
        let old = base();
        let mut new = base();
        new.packages[0].version = "3.0.0-9".into();
        let ev = changes_between(&old, &new);
        assert_eq!(ev[0].kind, ChangeKind::PackageDowngraded);
        assert_eq!(ev[0].describe(), "Downgraded openssl 3.0.1-1 → 3.0.0-9");
    }

    #[test]
    fn kinds_round_trip_through_strings() {
        // The stored strings, as they were written before the derive: none may change.
        let stored = [
            (ChangeKind::Enrolled, "enrolled"),
            (ChangeKind::HostnameChanged, "hostname_changed"),
            (ChangeKind::OsChanged, "os_changed"),
            (ChangeKind::KernelChanged, "kernel_changed"),
            (ChangeKind::Rebooted, "rebooted"),
            (ChangeKind::CpuChanged, "cpu_changed"),
            (ChangeKind::MemoryChanged, "memory_changed"),
            (ChangeKind::HardwareChanged, "hardware_changed"),
            (ChangeKind::FilesystemAdded, "filesystem_added"),
            (ChangeKind::FilesystemRemoved, "filesystem_removed"),
            (ChangeKind::FilesystemResized, "filesystem_resized"),
            (ChangeKind::InterfaceAdded, "interface_added"),
            (ChangeKind::InterfaceRemoved, "interface_removed"),
            (ChangeKind::InterfaceChanged, "interface_changed"),
            (ChangeKind::PackageInstalled, "package_installed"),
            (ChangeKind::PackageRemoved, "package_removed"),
            (ChangeKind::PackageUpgraded, "package_upgraded"),
            (ChangeKind::PackageDowngraded, "package_downgraded"),
            (ChangeKind::AccountAdded, "account_added"),
            (ChangeKind::AccountRemoved, "account_removed"),
            (ChangeKind::AccountChanged, "account_changed"),
            (ChangeKind::AdminAdded, "admin_added"),
            (ChangeKind::AdminRemoved, "admin_removed"),
            (ChangeKind::ListenerOpened, "listener_opened"),
            (ChangeKind::ListenerClosed, "listener_closed"),
            (ChangeKind::ChangesSummarised, "changes_summarised"),
        ];
        assert_eq!(ChangeKind::ALL.len(), stored.len());
        for (kind, text) in stored {
            assert_eq!(kind.as_str(), text);
            assert_eq!(ChangeKind::parse(text), Some(kind));
        }
        for k in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(ChangeKind::parse("Enrolled"), None);
    }
}
