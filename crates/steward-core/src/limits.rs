//! How much one agent may say. Every report is checked against these bounds when the server
//! parses it, before any of it is stored or compared, so a hostile or broken agent cannot
//! make the server sort, hash, store or render without end. The agent applies the same
//! bounds to what it collects ([`Inventory::clamp_to_limits`]), so an honest agent never sends a report
//! the server refuses — a refused report would otherwise be retried for ever.
//!
//! The numbers are generous for real machines (a Debian desktop has 2,000–4,000 packages, a
//! busy server a few hundred listeners) and small enough that the largest report the limits
//! allow is parsed, applied and stored in well under a second.

use crate::diff::{InventoryDelta, KeyedDelta};
use crate::inventory::{
    Account, Filesystem, Hardware, Inventory, Keyed, Listener, NetInterface, OsInfo, Package,
};
use crate::metrics::{DiskIo, FilesystemUsage, Metrics, NetThroughput};

/// Longest text field, in characters (a serial number, a package version, a mount point).
pub const MAX_TEXT_CHARS: usize = 1024;
/// Most packages in an inventory, or upserts/removals of packages in one delta.
pub const MAX_PACKAGES: usize = 20_000;
/// Most accounts, listeners (each) in an inventory or a delta.
pub const MAX_ACCOUNTS: usize = 5_000;
pub const MAX_LISTENERS: usize = 5_000;
/// Most filesystems and network interfaces (each), and filesystems in a metrics sample.
pub const MAX_FILESYSTEMS: usize = 1_000;
pub const MAX_INTERFACES: usize = 1_000;
/// Most disks, and most network interfaces, in one metrics sample: each is two series of
/// the device's history (read and write, received and sent).
pub const MAX_METRIC_DISKS: usize = 128;
pub const MAX_METRIC_INTERFACES: usize = 128;
/// Most addresses on one interface.
pub const MAX_ADDRESSES: usize = 256;
/// Most reports in one delivery (the agent sends at most 100 at a time).
pub const MAX_REPORTS_PER_BATCH: usize = 100;
/// Most timeline events stored for one delivery; beyond it, one summary line per kind.
pub const MAX_CHANGES_PER_BATCH: usize = 2_000;
/// Largest report sequence number: it is stored as a signed 64-bit integer.
pub const MAX_SEQ: u64 = i64::MAX as u64;
/// Largest delivery the server reads (its request body limit for reports). A real full
/// inventory is well under a megabyte (2,000–4,000 packages of short names: 300–600 KiB),
/// so this leaves room while bounding what one delivery can make the server parse, keep in memory and
/// write while holding the database writer.
pub const MAX_DELIVERY_BYTES: usize = 4 * 1024 * 1024;
/// Largest inventory as JSON that the agent queues: below [`MAX_DELIVERY_BYTES`] with room
/// for the rest of a delivery, so a delivery of one report always fits.
pub const MAX_INVENTORY_JSON_BYTES: usize = 3 * 1024 * 1024;

/// Most names in each list an agent advertises at check-in (job kinds, report sections).
pub const MAX_ADVERTISED_NAMES: usize = 64;
/// Longest advertised name, in bytes: names are lowercase ASCII words (`collect_inventory`).
pub const MAX_ADVERTISED_NAME_BYTES: usize = 64;

/// Checks a list of advertised names: bounded in count and length, each of `a-z`, `0-9`
/// and `_` only (they end up in the database, logs and pages).
pub fn check_advertised(field: &'static str, names: &[String]) -> Result<(), LimitError> {
    if names.len() > MAX_ADVERTISED_NAMES {
        return Err(LimitError::TooMany {
            what: field,
            count: names.len(),
            max: MAX_ADVERTISED_NAMES,
        });
    }
    let bad = names.iter().any(|n| {
        n.is_empty()
            || n.len() > MAX_ADVERTISED_NAME_BYTES
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
    if bad {
        return Err(LimitError::BadName { field });
    }
    Ok(())
}

/// Why a report was refused. The message names the field, so whoever reads the agent's log
/// or the server's answer knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("{what}: {count} items, at most {max} allowed")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{field}: {chars} characters, at most {max} allowed", max = MAX_TEXT_CHARS)]
    TooLong { field: &'static str, chars: usize },
    #[error("{field}: control characters (such as NUL, escape or newline) are not allowed")]
    ControlCharacter { field: &'static str },
    #[error("{field}: names are 1 to {MAX_ADVERTISED_NAME_BYTES} characters of a-z, 0-9 and _")]
    BadName { field: &'static str },
    #[error("{what}: not a finite number")]
    NotFinite { what: &'static str },
}

/// Checks one text field: bounded, and free of control characters (C0, DEL, C1), which could
/// forge lines in logs and terminals and which PostgreSQL refuses (NUL).
pub fn check_text(field: &'static str, value: &str) -> Result<(), LimitError> {
    // Bytes bound characters from above: skip counting for the common short case.
    if value.len() > MAX_TEXT_CHARS {
        let chars = value.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(LimitError::TooLong { field, chars });
        }
    }
    if value.chars().any(char::is_control) {
        return Err(LimitError::ControlCharacter { field });
    }
    Ok(())
}

/// `value` made acceptable to [`check_text`]: control characters become U+FFFD and the text
/// is cut to [`MAX_TEXT_CHARS`]. What the agent applies to everything it collects.
pub fn clean_text(value: &mut String) {
    let needs_work = value.len() > MAX_TEXT_CHARS || value.chars().any(char::is_control);
    if needs_work {
        *value = value
            .chars()
            .take(MAX_TEXT_CHARS)
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
    }
}

fn check_count(what: &'static str, count: usize, max: usize) -> Result<(), LimitError> {
    if count > max {
        return Err(LimitError::TooMany { what, count, max });
    }
    Ok(())
}

/// The text fields of a value, rewritten (cleaned) by the agent. Generated with its
/// read-only twin [`TextFieldsRef`] (checked by the server) from one field list by
/// `text_fields!`, so cleaning and checking can never disagree on which fields count.
trait TextFields {
    fn texts(&mut self, visit: &mut dyn FnMut(&'static str, &mut String));
}

fn check_fields(value: &impl TextFieldsRef) -> Result<(), LimitError> {
    let mut result = Ok(());
    value.texts_ref(&mut |field, text| {
        if result.is_ok() {
            result = check_text(field, text);
        }
    });
    result
}

/// Read-only twin of [`TextFields`].
trait TextFieldsRef {
    fn texts_ref(&self, visit: &mut dyn FnMut(&'static str, &str));
}

macro_rules! text_fields {
    ($ty:ty, $prefix:literal, [$($field:ident),*] $(, lists [$($list:ident),*])?) => {
        impl TextFields for $ty {
            fn texts(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
                $(visit(concat!($prefix, ".", stringify!($field)), &mut self.$field);)*
                $($(for item in &mut self.$list {
                    visit(concat!($prefix, ".", stringify!($list)), item);
                })*)?
            }
        }
        impl TextFieldsRef for $ty {
            fn texts_ref(&self, visit: &mut dyn FnMut(&'static str, &str)) {
                $(visit(concat!($prefix, ".", stringify!($field)), &self.$field);)*
                $($(for item in &self.$list {
                    visit(concat!($prefix, ".", stringify!($list)), item);
                })*)?
            }
        }
    };
}

text_fields!(OsInfo, "os", [family, name, version, kernel, arch]);
text_fields!(Hardware, "hardware", [cpu_model, vendor, model, serial]);
text_fields!(Filesystem, "filesystems", [mount_point, device, fs_type]);
text_fields!(NetInterface, "interfaces", [name, mac], lists[addresses]);
text_fields!(Package, "packages", [name, version, arch]);
text_fields!(Account, "accounts", [name, home, shell]);
text_fields!(Listener, "listeners", [address, process]);
text_fields!(FilesystemUsage, "metrics.filesystems", [mount_point]);
text_fields!(DiskIo, "metrics.disks", [device]);
text_fields!(NetThroughput, "metrics.networks", [interface]);

fn check_all<T: TextFieldsRef>(items: &[T]) -> Result<(), LimitError> {
    items.iter().try_for_each(check_fields)
}

fn check_interfaces(items: &[NetInterface]) -> Result<(), LimitError> {
    for iface in items {
        check_count("interfaces.addresses", iface.addresses.len(), MAX_ADDRESSES)?;
    }
    check_all(items)
}

fn check_keyed<T: Keyed + TextFieldsRef>(
    what: &'static str,
    delta: &KeyedDelta<T>,
    max: usize,
) -> Result<(), LimitError> {
    check_count(what, delta.upsert.len(), max)?;
    check_count(what, delta.remove.len(), max)?;
    check_all(&delta.upsert)
}

impl Inventory {
    /// Refuses an inventory beyond the limits or with control characters in any text.
    pub fn check_limits(&self) -> Result<(), LimitError> {
        check_text("hostname", &self.hostname)?;
        check_fields(&self.os)?;
        check_fields(&self.hardware)?;
        check_count("filesystems", self.filesystems.len(), MAX_FILESYSTEMS)?;
        check_count("interfaces", self.interfaces.len(), MAX_INTERFACES)?;
        check_count("packages", self.packages.len(), MAX_PACKAGES)?;
        check_count("accounts", self.accounts.len(), MAX_ACCOUNTS)?;
        check_count("listeners", self.listeners.len(), MAX_LISTENERS)?;
        check_all(&self.filesystems)?;
        check_interfaces(&self.interfaces)?;
        check_all(&self.packages)?;
        check_all(&self.accounts)?;
        check_all(&self.listeners)
    }

    /// Brings a collected inventory within the limits: texts cleaned, collections cut (the
    /// first elements in key order are kept; call before [`Inventory::normalize`] is not
    /// required, the result is normalised again). Returns what had to be cut, for a warning.
    pub fn clamp_to_limits(&mut self) -> Vec<String> {
        let mut cut = Vec::new();
        clean_text(&mut self.hostname);
        self.os.texts(&mut |_, t| clean_text(t));
        self.hardware.texts(&mut |_, t| clean_text(t));
        for iface in &mut self.interfaces {
            truncate(
                "interface addresses",
                &mut iface.addresses,
                MAX_ADDRESSES,
                &mut cut,
            );
        }
        clean_all(&mut self.filesystems);
        clean_all(&mut self.interfaces);
        clean_all(&mut self.packages);
        clean_all(&mut self.accounts);
        clean_all(&mut self.listeners);
        // Cleaning can make two keys equal; normalising drops the duplicates.
        self.normalize();
        truncate(
            "filesystems",
            &mut self.filesystems,
            MAX_FILESYSTEMS,
            &mut cut,
        );
        truncate("interfaces", &mut self.interfaces, MAX_INTERFACES, &mut cut);
        truncate("packages", &mut self.packages, MAX_PACKAGES, &mut cut);
        truncate("accounts", &mut self.accounts, MAX_ACCOUNTS, &mut cut);
        truncate("listeners", &mut self.listeners, MAX_LISTENERS, &mut cut);
        self.fit_json_size(&mut cut);
        cut
    }

    /// Cuts the largest collections (in proportion to the excess) until the inventory's JSON fits
    /// [`MAX_INVENTORY_JSON_BYTES`]. Only an inventory with very many very long texts ever
    /// gets here; what is cut is said in `cut`.
    fn fit_json_size(&mut self, cut: &mut Vec<String>) {
        let size = |inv: &Inventory| serde_json::to_vec(inv).map_or(0, |v| v.len());
        let mut bytes = size(self);
        if bytes <= MAX_INVENTORY_JSON_BYTES {
            return;
        }
        let before = self.collection_sizes();
        while bytes > MAX_INVENTORY_JSON_BYTES {
            let sizes = self.collection_sizes();
            let Some((largest, &len)) = sizes.iter().enumerate().max_by_key(|(_, n)| **n) else {
                break;
            };
            if len == 0 {
                break;
            }
            // In proportion to the excess, a little more, so that one or two rounds do.
            let share = MAX_INVENTORY_JSON_BYTES as f64 / bytes as f64 * 0.95;
            let keep = ((len as f64 * share) as usize).min(len - 1);
            match largest {
                0 => self.packages.truncate(keep),
                1 => self.accounts.truncate(keep),
                2 => self.listeners.truncate(keep),
                3 => self.filesystems.truncate(keep),
                _ => self.interfaces.truncate(keep),
            }
            bytes = size(self);
        }
        for ((name, b), a) in COLLECTIONS.iter().zip(before).zip(self.collection_sizes()) {
            if a < b {
                cut.push(format!(
                    "{name}: kept {a} of {b} to fit {MAX_INVENTORY_JSON_BYTES} bytes"
                ));
            }
        }
    }

    /// The sizes of the collections, in the order of [`COLLECTIONS`].
    fn collection_sizes(&self) -> [usize; 5] {
        [
            self.packages.len(),
            self.accounts.len(),
            self.listeners.len(),
            self.filesystems.len(),
            self.interfaces.len(),
        ]
    }
}

/// The collections [`Inventory::fit_json_size`] may cut, by name.
const COLLECTIONS: [&str; 5] = [
    "packages",
    "accounts",
    "listeners",
    "filesystems",
    "interfaces",
];

fn clean_all<T: TextFields>(items: &mut [T]) {
    for item in items {
        item.texts(&mut |_, t| clean_text(t));
    }
}

fn truncate<T>(what: &str, items: &mut Vec<T>, max: usize, cut: &mut Vec<String>) {
    if items.len() > max {
        cut.push(format!("{what}: kept {max} of {}", items.len()));
        items.truncate(max);
    }
}

impl InventoryDelta {
    /// Refuses a delta beyond the limits or with control characters in any text. (The
    /// inventory it produces is checked again after it is applied: many small deltas must
    /// not grow a collection past its limit either.)
    pub fn check_limits(&self) -> Result<(), LimitError> {
        if let Some(h) = &self.hostname {
            check_text("hostname", h)?;
        }
        if let Some(os) = &self.os {
            check_fields(os)?;
        }
        if let Some(hw) = &self.hardware {
            check_fields(hw)?;
        }
        check_keyed("filesystems", &self.filesystems, MAX_FILESYSTEMS)?;
        check_keyed("interfaces", &self.interfaces, MAX_INTERFACES)?;
        check_interfaces(&self.interfaces.upsert)?;
        check_keyed("packages", &self.packages, MAX_PACKAGES)?;
        check_keyed("accounts", &self.accounts, MAX_ACCOUNTS)?;
        check_keyed("listeners", &self.listeners, MAX_LISTENERS)?;
        // Removal keys carry text too (names, addresses).
        let removed_texts = self
            .filesystems
            .remove
            .iter()
            .chain(&self.interfaces.remove)
            .chain(&self.accounts.remove)
            .map(|k| ("removed key", k.as_str()))
            .chain(self.packages.remove.iter().flat_map(|(n, a, _)| {
                [
                    ("packages.remove", n.as_str()),
                    ("packages.remove", a.as_str()),
                ]
            }))
            .chain(
                self.listeners
                    .remove
                    .iter()
                    .map(|(_, addr, _)| ("listeners.remove", addr.as_str())),
            );
        for (field, text) in removed_texts {
            check_text(field, text)?;
        }
        Ok(())
    }
}

impl Metrics {
    pub fn check_limits(&self) -> Result<(), LimitError> {
        check_count(
            "metrics.filesystems",
            self.filesystems.len(),
            MAX_FILESYSTEMS,
        )?;
        check_count("metrics.disks", self.disks.len(), MAX_METRIC_DISKS)?;
        check_count(
            "metrics.networks",
            self.networks.len(),
            MAX_METRIC_INTERFACES,
        )?;
        check_all(&self.filesystems)?;
        check_all(&self.disks)?;
        check_all(&self.networks)
    }

    /// Brings a sample within the limits (see [`Inventory::clamp_to_limits`]).
    pub fn clamp_to_limits(&mut self) {
        self.filesystems.truncate(MAX_FILESYSTEMS);
        self.disks.truncate(MAX_METRIC_DISKS);
        self.networks.truncate(MAX_METRIC_INTERFACES);
        clean_all(&mut self.filesystems);
        clean_all(&mut self.disks);
        clean_all(&mut self.networks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::PackageSource;

    fn pkg(name: &str) -> Package {
        Package {
            name: name.into(),
            version: "1".into(),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        }
    }

    #[test]
    fn advertised_names_are_short_plain_words() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_advertised("k", &names(&["collect_inventory", "backup2"])),
            Ok(())
        );
        for bad in ["", "Backup", "a b", "a\nb", "ü", &"a".repeat(65)] {
            assert_eq!(
                check_advertised("k", &names(&[bad])),
                Err(LimitError::BadName { field: "k" }),
                "{bad:?}"
            );
        }
        let many = names(&["a"; 65]);
        assert!(matches!(
            check_advertised("k", &many),
            Err(LimitError::TooMany { .. })
        ));
    }

    #[test]
    fn text_rules() {
        assert_eq!(
            check_text("f", "Debian GNU/Linux 12 (bookworm) – ü"),
            Ok(())
        );
        for bad in ["a\0b", "a\nb", "\x1b[31m", "a\u{7f}", "a\u{9b}b"] {
            assert_eq!(
                check_text("f", bad),
                Err(LimitError::ControlCharacter { field: "f" }),
                "{bad:?}"
            );
        }
        let long = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(check_text("f", &long), Ok(()));
        assert_eq!(
            check_text("f", &format!("{long}x")),
            Err(LimitError::TooLong {
                field: "f",
                chars: MAX_TEXT_CHARS + 1
            })
        );
    }

    #[test]
    fn clean_text_makes_any_text_acceptable() {
        let mut s = format!("a\0b\x1b[31m{}", "x".repeat(5000));
        clean_text(&mut s);
        assert_eq!(check_text("f", &s), Ok(()));
        assert!(s.starts_with("a\u{FFFD}b\u{FFFD}[31m"));
    }

    #[test]
    fn inventory_limits_refuse_and_clamp_agrees() {
        let mut inv = Inventory {
            hostname: "host\u{1b}]0;owned\u{7}".into(),
            packages: (0..MAX_PACKAGES + 5)
                .map(|i| pkg(&format!("p{i}")))
                .collect(),
            ..Default::default()
        };
        inv.hardware.serial = "s".repeat(MAX_TEXT_CHARS * 2);
        inv.normalize();
        assert!(inv.check_limits().is_err());
        let cut = inv.clamp_to_limits();
        assert_eq!(
            cut,
            vec![format!(
                "packages: kept {MAX_PACKAGES} of {}",
                MAX_PACKAGES + 5
            )]
        );
        assert_eq!(inv.check_limits(), Ok(()));
        assert_eq!(inv.hardware.serial.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn clamp_fits_the_inventory_into_one_delivery() {
        let long = "x".repeat(MAX_TEXT_CHARS);
        let mut inv = Inventory {
            packages: (0..MAX_PACKAGES)
                .map(|i| Package {
                    name: format!("{i:05}{long}"),
                    version: long.clone(),
                    arch: long.clone(),
                    source: PackageSource::Dpkg,
                })
                .collect(),
            ..Default::default()
        };
        let cut = inv.clamp_to_limits();
        let bytes = serde_json::to_vec(&inv).map_or(usize::MAX, |v| v.len());
        assert!(bytes <= MAX_INVENTORY_JSON_BYTES, "{bytes}");
        assert!(inv.packages.len() > 500, "{}", inv.packages.len());
        assert!(cut.iter().any(|c| c.contains("to fit")), "{cut:?}");
        assert_eq!(inv.check_limits(), Ok(()));
    }

    #[test]
    fn inventory_names_the_offending_field() {
        let mut inv = Inventory::default();
        inv.accounts.push(Account {
            name: "evil\nuser".into(),
            ..Default::default()
        });
        assert_eq!(
            inv.check_limits(),
            Err(LimitError::ControlCharacter {
                field: "accounts.name"
            })
        );
    }

    #[test]
    fn metrics_limits_refuse_and_clamp_agrees() {
        let mut m = Metrics {
            disks: (0..MAX_METRIC_DISKS + 3)
                .map(|i| DiskIo {
                    device: format!("sd{i}"),
                    ..Default::default()
                })
                .collect(),
            networks: vec![NetThroughput {
                interface: "eth0\u{1b}[2J".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            m.check_limits(),
            Err(LimitError::TooMany {
                what: "metrics.disks",
                count: MAX_METRIC_DISKS + 3,
                max: MAX_METRIC_DISKS
            })
        );
        m.disks.truncate(1);
        assert_eq!(
            m.check_limits(),
            Err(LimitError::ControlCharacter {
                field: "metrics.networks.interface"
            })
        );
        m.disks = vec![
            DiskIo {
                device: "d".repeat(MAX_TEXT_CHARS + 1),
                ..Default::default()
            };
            MAX_METRIC_DISKS + 1
        ];
        m.clamp_to_limits();
        assert_eq!(m.check_limits(), Ok(()));
        assert_eq!(m.disks.len(), MAX_METRIC_DISKS);
        assert_eq!(m.networks[0].interface, "eth0\u{FFFD}[2J");
    }

    #[test]
    fn delta_limits_cover_upserts_and_removals() {
        let big = KeyedDelta {
            upsert: (0..MAX_PACKAGES + 1)
                .map(|i| pkg(&format!("p{i}")))
                .collect(),
            remove: Vec::new(),
        };
        let delta = InventoryDelta {
            base: Default::default(),
            result: Default::default(),
            hostname: None,
            os: None,
            boot_time: None,
            hardware: None,
            filesystems: KeyedDelta::default(),
            interfaces: KeyedDelta::default(),
            packages: big,
            accounts: KeyedDelta::default(),
            listeners: KeyedDelta::default(),
        };
        assert!(matches!(
            delta.check_limits(),
            Err(LimitError::TooMany {
                what: "packages",
                ..
            })
        ));
        let mut removal = delta.clone();
        removal.packages = KeyedDelta {
            upsert: Vec::new(),
            remove: vec![("a\0".into(), "amd64".into(), PackageSource::Dpkg)],
        };
        assert!(matches!(
            removal.check_limits(),
            Err(LimitError::ControlCharacter { .. })
        ));
    }
}
