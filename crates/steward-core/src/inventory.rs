//! The facts an agent collects about a device. Only stable facts live here (what is installed,
//! what the hardware is, who can log in, what listens); values that change every minute (CPU
//! load, bytes used) are [`crate::Metrics`], so that an inventory diff means something happened.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Everything Steward knows about one device from its agent. Collections are kept sorted by
/// their key ([`Inventory::normalize`]) so that equal inventories serialise, and hash, equally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inventory {
    pub hostname: String,
    pub os: OsInfo,
    /// Last boot, in seconds since the Unix epoch.
    pub boot_time: i64,
    pub hardware: Hardware,
    #[serde(default)]
    pub filesystems: Vec<Filesystem>,
    #[serde(default)]
    pub interfaces: Vec<NetInterface>,
    #[serde(default)]
    pub packages: Vec<Package>,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub listeners: Vec<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OsInfo {
    /// Operating system family: `linux`, `windows`, `macos`.
    pub family: String,
    /// Distribution or product name, e.g. `Debian GNU/Linux`.
    pub name: String,
    /// Version, e.g. `12`.
    pub version: String,
    pub kernel: String,
    pub arch: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hardware {
    pub cpu_model: String,
    /// Logical cores.
    pub cpu_cores: u32,
    pub memory_bytes: u64,
    /// From DMI where readable; empty when unknown.
    pub vendor: String,
    pub model: String,
    pub serial: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Filesystem {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetInterface {
    pub name: String,
    /// `aa:bb:cc:dd:ee:ff`, lower case; empty for interfaces without one.
    pub mac: String,
    /// Addresses in CIDR notation, sorted.
    pub addresses: Vec<String>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum PackageSource {
    #[default]
    Dpkg,
    Rpm,
}

impl PackageSource {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<PackageSource> {
        s.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub source: PackageSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    /// UID 0, or a member of an administrators group (sudo, wheel, admin).
    pub is_admin: bool,
    /// Has a usable login shell (not nologin/false).
    pub can_login: bool,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        s.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listener {
    pub protocol: Protocol,
    /// Local address the socket is bound to (`0.0.0.0`, `::`, `127.0.0.1`, …).
    pub address: String,
    pub port: u16,
    /// Owning process name; empty when the agent may not see it.
    pub process: String,
    pub pid: Option<u32>,
}

/// The SHA-256 of an inventory's canonical JSON, hex-encoded. Agent and server compute it the
/// same way, so a delta can name the exact inventory it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct InventoryHash(pub String);

impl std::fmt::Display for InventoryHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Inventory {
    /// Sorts every collection by its key and drops duplicate keys (the last one wins), so that
    /// two inventories with the same facts are equal, whatever order a collector found them in.
    pub fn normalize(&mut self) {
        normalize_by_key(&mut self.filesystems, Keyed::key);
        normalize_by_key(&mut self.interfaces, Keyed::key);
        for iface in &mut self.interfaces {
            iface.addresses.sort();
            iface.addresses.dedup();
        }
        normalize_by_key(&mut self.packages, Keyed::key);
        normalize_by_key(&mut self.accounts, Keyed::key);
        normalize_by_key(&mut self.listeners, Keyed::key);
    }

    /// Hash of the normalised inventory. Call on a normalised value (the agent normalises on
    /// collection, the server after applying a delta).
    pub fn hash(&self) -> InventoryHash {
        // Serialising plain structs, strings and integers cannot fail; an empty hash would
        // only make the next delta be refused and a full inventory be sent.
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        InventoryHash(hex::encode(Sha256::digest(&bytes)))
    }

    /// Accounts that hold administrator rights.
    pub fn admins(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().filter(|a| a.is_admin)
    }
}

fn normalize_by_key<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    // A stable sort keeps collection order among equal keys; keep the last of each run.
    items.sort_by_key(&key);
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        if out.last().is_some_and(|last| key(last) == key(&item)) {
            out.pop();
        }
        out.push(item);
    }
    *items = out;
}

/// The identity of an element within its collection: two elements with the same key are the
/// same thing, perhaps in another state (a package at another version).
pub trait Keyed {
    type Key: Ord + Clone + Serialize + for<'de> Deserialize<'de> + std::fmt::Debug + Eq;
    fn key(&self) -> Self::Key;
}

impl Keyed for Filesystem {
    type Key = String;
    fn key(&self) -> String {
        self.mount_point.clone()
    }
}
impl Keyed for NetInterface {
    type Key = String;
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl Keyed for Package {
    /// (name, arch, source): multi-arch systems install one name for several architectures.
    type Key = (String, String, PackageSource);
    fn key(&self) -> Self::Key {
        (self.name.clone(), self.arch.clone(), self.source)
    }
}
impl Keyed for Account {
    type Key = String;
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl Keyed for Listener {
    type Key = (Protocol, String, u16);
    fn key(&self) -> Self::Key {
        (self.protocol, self.address.clone(), self.port)
    }
}

pub(crate) enum Step<'a, T> {
    Added(&'a T),
    Removed(&'a T),
    Changed(&'a T, &'a T),
}

/// Walks two key-sorted collections and reports added, removed and changed elements.
pub(crate) fn walk<'a, T: Keyed + PartialEq>(
    old: &'a [T],
    new: &'a [T],
    mut step: impl FnMut(Step<'a, T>),
) {
    let (mut i, mut j) = (0, 0);
    loop {
        match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) => match o.key().cmp(&n.key()) {
                std::cmp::Ordering::Less => {
                    step(Step::Removed(o));
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    step(Step::Added(n));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    if o != n {
                        step(Step::Changed(o, n));
                    }
                    i += 1;
                    j += 1;
                }
            },
            (Some(o), None) => {
                step(Step::Removed(o));
                i += 1;
            }
            (None, Some(n)) => {
                step(Step::Added(n));
                j += 1;
            }
            (None, None) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn sources_and_protocols_round_trip_through_their_strings() {
        let sources = [(PackageSource::Dpkg, "dpkg"), (PackageSource::Rpm, "rpm")];
        assert_eq!(PackageSource::VARIANTS.len(), sources.len());
        for (source, text) in sources {
            assert_eq!(source.as_str(), text);
            assert_eq!(PackageSource::parse(text), Some(source));
            assert_eq!(
                serde_json::to_string(&source).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for source in PackageSource::VARIANTS {
            assert_eq!(PackageSource::parse(source.as_str()), Some(*source));
        }
        let protocols = [(Protocol::Tcp, "tcp"), (Protocol::Udp, "udp")];
        assert_eq!(Protocol::VARIANTS.len(), protocols.len());
        for (protocol, text) in protocols {
            assert_eq!(protocol.as_str(), text);
            assert_eq!(Protocol::parse(text), Some(protocol));
            assert_eq!(
                serde_json::to_string(&protocol).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for protocol in Protocol::VARIANTS {
            assert_eq!(Protocol::parse(protocol.as_str()), Some(*protocol));
        }
        assert_eq!(Protocol::parse("TCP"), None);
    }

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        }
    }

    #[test]
    fn normalize_makes_order_irrelevant_to_hash() {
        let mut a = Inventory {
            packages: vec![pkg("b", "1"), pkg("a", "1")],
            ..Default::default()
        };
        let mut b = Inventory {
            packages: vec![pkg("a", "1"), pkg("b", "1")],
            ..Default::default()
        };
        a.normalize();
        b.normalize();
        assert_eq!(a.hash(), b.hash());
        b.packages[0].version = "2".into();
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn normalize_keeps_last_of_duplicate_keys() {
        let mut inv = Inventory {
            packages: vec![pkg("a", "1"), pkg("a", "2")],
            ..Default::default()
        };
        inv.normalize();
        assert_eq!(inv.packages, vec![pkg("a", "2")]);
    }
}
