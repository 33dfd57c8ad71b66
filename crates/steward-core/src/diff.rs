//! The difference between two inventories, as the agent sends it after the first full
//! inventory, and how the server applies it.
//!
//! A delta names the hash of the inventory it was computed against (`base`) and of the result
//! (`result`). The server applies it only to exactly that base and checks the result, so a
//! delta can never silently corrupt what the server holds: on any mismatch the agent is asked
//! for a full inventory instead.

use serde::{Deserialize, Serialize};

use crate::inventory::{
    Account, Filesystem, Hardware, Inventory, InventoryHash, Keyed, Listener, NetInterface, OsInfo,
    Package, Step, walk,
};

/// Changes to one keyed collection: elements added or changed (whole, new state) and the keys
/// of removed elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(bound(deserialize = "T: Keyed + Deserialize<'de>"))]
pub struct KeyedDelta<T: Keyed> {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upsert: Vec<T>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub remove: Vec<T::Key>,
}

impl<T: Keyed> Default for KeyedDelta<T> {
    fn default() -> Self {
        Self {
            upsert: Vec::new(),
            remove: Vec::new(),
        }
    }
}

impl<T: Keyed + Clone + PartialEq> KeyedDelta<T> {
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty() && self.remove.is_empty()
    }

    /// Both inputs sorted by key (see [`Inventory::normalize`]).
    fn between(old: &[T], new: &[T]) -> Self {
        let mut delta = Self::default();
        walk(old, new, |step| match step {
            Step::Added(n) | Step::Changed(_, n) => delta.upsert.push(n.clone()),
            Step::Removed(o) => delta.remove.push(o.key()),
        });
        delta
    }

    /// Applies to a collection sorted by key; keeps it sorted.
    fn apply(&self, items: &mut Vec<T>) {
        if !self.remove.is_empty() {
            let mut removed: Vec<&T::Key> = self.remove.iter().collect();
            removed.sort();
            items.retain(|item| removed.binary_search(&&item.key()).is_err());
        }
        for up in &self.upsert {
            let key = up.key();
            match items.binary_search_by(|probe| probe.key().cmp(&key)) {
                Ok(pos) => items[pos] = up.clone(),
                Err(pos) => items.insert(pos, up.clone()),
            }
        }
    }

    /// The delta equal to applying `self` then `later`.
    fn then(mut self, later: KeyedDelta<T>) -> Self {
        let later_keys: Vec<T::Key> = later
            .upsert
            .iter()
            .map(Keyed::key)
            .chain(later.remove.iter().cloned())
            .collect();
        self.upsert.retain(|u| !later_keys.contains(&u.key()));
        self.remove.retain(|r| !later_keys.contains(r));
        self.upsert.extend(later.upsert);
        self.remove.extend(later.remove);
        self
    }
}

/// What changed between two inventories. Scalar sections are sent whole when they changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryDelta {
    /// Hash of the inventory this delta applies to.
    pub base: InventoryHash,
    /// Hash of the inventory after applying it.
    pub result: InventoryHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
    #[serde(default)]
    pub filesystems: KeyedDelta<Filesystem>,
    #[serde(default)]
    pub interfaces: KeyedDelta<NetInterface>,
    #[serde(default)]
    pub packages: KeyedDelta<Package>,
    #[serde(default)]
    pub accounts: KeyedDelta<Account>,
    #[serde(default)]
    pub listeners: KeyedDelta<Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("delta was computed against inventory {expected}, but the current one is {actual}")]
    BaseMismatch {
        expected: InventoryHash,
        actual: InventoryHash,
    },
    #[error("applying the delta gave inventory {actual}, but the agent expected {expected}")]
    ResultMismatch {
        expected: InventoryHash,
        actual: InventoryHash,
    },
}

fn changed<T: Clone + PartialEq>(old: &T, new: &T) -> Option<T> {
    (old != new).then(|| new.clone())
}

impl InventoryDelta {
    /// The delta that turns `old` into `new`. Both must be normalised.
    pub fn between(old: &Inventory, new: &Inventory) -> Self {
        Self {
            base: old.hash(),
            result: new.hash(),
            hostname: changed(&old.hostname, &new.hostname),
            os: changed(&old.os, &new.os),
            boot_time: changed(&old.boot_time, &new.boot_time),
            hardware: changed(&old.hardware, &new.hardware),
            filesystems: KeyedDelta::between(&old.filesystems, &new.filesystems),
            interfaces: KeyedDelta::between(&old.interfaces, &new.interfaces),
            packages: KeyedDelta::between(&old.packages, &new.packages),
            accounts: KeyedDelta::between(&old.accounts, &new.accounts),
            listeners: KeyedDelta::between(&old.listeners, &new.listeners),
        }
    }

    /// True when the delta changes nothing.
    pub fn is_empty(&self) -> bool {
        self.hostname.is_none()
            && self.os.is_none()
            && self.boot_time.is_none()
            && self.hardware.is_none()
            && self.filesystems.is_empty()
            && self.interfaces.is_empty()
            && self.packages.is_empty()
            && self.accounts.is_empty()
            && self.listeners.is_empty()
    }

    /// Applies the delta to `current` (normalised), checking both hashes. On error `current`
    /// is returned untouched.
    pub fn apply(&self, current: &Inventory) -> Result<Inventory, ApplyError> {
        let actual = current.hash();
        if actual != self.base {
            return Err(ApplyError::BaseMismatch {
                expected: self.base.clone(),
                actual,
            });
        }
        let mut next = current.clone();
        if let Some(h) = &self.hostname {
            next.hostname = h.clone();
        }
        if let Some(os) = &self.os {
            next.os = os.clone();
        }
        if let Some(b) = self.boot_time {
            next.boot_time = b;
        }
        if let Some(hw) = &self.hardware {
            next.hardware = hw.clone();
        }
        self.filesystems.apply(&mut next.filesystems);
        self.interfaces.apply(&mut next.interfaces);
        self.packages.apply(&mut next.packages);
        self.accounts.apply(&mut next.accounts);
        self.listeners.apply(&mut next.listeners);
        let actual = next.hash();
        if actual != self.result {
            return Err(ApplyError::ResultMismatch {
                expected: self.result.clone(),
                actual,
            });
        }
        Ok(next)
    }

    /// One delta with the effect of `self` followed by `later` (which must start where `self`
    /// ends). The agent uses it to summarise its queue when the queue is full: the end state
    /// is exact, the intermediate steps are lost.
    pub fn then(self, later: InventoryDelta) -> InventoryDelta {
        InventoryDelta {
            base: self.base,
            result: later.result,
            hostname: later.hostname.or(self.hostname),
            os: later.os.or(self.os),
            boot_time: later.boot_time.or(self.boot_time),
            hardware: later.hardware.or(self.hardware),
            filesystems: self.filesystems.then(later.filesystems),
            interfaces: self.interfaces.then(later.interfaces),
            packages: self.packages.then(later.packages),
            accounts: self.accounts.then(later.accounts),
            listeners: self.listeners.then(later.listeners),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{PackageSource, Protocol};

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        }
    }

    fn inv(packages: &[(&str, &str)], memory: u64, ports: &[u16]) -> Inventory {
        let mut inv = Inventory {
            hostname: "h".into(),
            packages: packages.iter().map(|(n, v)| pkg(n, v)).collect(),
            hardware: Hardware {
                memory_bytes: memory,
                ..Default::default()
            },
            listeners: ports
                .iter()
                .map(|p| Listener {
                    protocol: Protocol::Tcp,
                    address: "0.0.0.0".into(),
                    port: *p,
                    process: "x".into(),
                    pid: None,
                })
                .collect(),
            ..Default::default()
        };
        inv.normalize();
        inv
    }

    #[test]
    fn delta_round_trips() {
        let a = inv(&[("a", "1"), ("b", "1"), ("c", "1")], 8, &[22]);
        let b = inv(&[("a", "2"), ("c", "1"), ("d", "1")], 16, &[22, 80]);
        let d = InventoryDelta::between(&a, &b);
        assert_eq!(d.packages.upsert.len(), 2);
        assert_eq!(d.packages.remove.len(), 1);
        assert!(d.hardware.is_some());
        assert_eq!(d.apply(&a), Ok(b.clone()));
        assert!(InventoryDelta::between(&b, &b).is_empty());
    }

    #[test]
    fn delta_refuses_wrong_base() {
        let a = inv(&[("a", "1")], 8, &[]);
        let b = inv(&[("a", "2")], 8, &[]);
        let other = inv(&[("z", "1")], 8, &[]);
        let d = InventoryDelta::between(&a, &b);
        assert!(matches!(
            d.apply(&other),
            Err(ApplyError::BaseMismatch { .. })
        ));
    }

    #[test]
    fn composed_deltas_equal_direct_delta() {
        let a = inv(&[("a", "1"), ("b", "1")], 8, &[22]);
        let b = inv(&[("a", "2"), ("c", "1")], 8, &[22, 80]);
        let c = inv(&[("a", "2"), ("b", "3")], 16, &[80]);
        let composed = InventoryDelta::between(&a, &b).then(InventoryDelta::between(&b, &c));
        assert_eq!(composed.apply(&a), Ok(c));
    }

    #[test]
    fn delta_survives_json() {
        let a = inv(&[("a", "1")], 8, &[22]);
        let b = inv(&[("b", "1")], 8, &[]);
        let d = InventoryDelta::between(&a, &b);
        let json = serde_json::to_string(&d).unwrap_or_default();
        let back: InventoryDelta = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, d);
    }
}
