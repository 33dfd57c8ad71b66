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

    /// Applies to a collection sorted by key; keeps it sorted. Linear in the size of the
    /// collection plus the delta (after sorting the delta): one merge of two sorted runs,
    /// never an insertion into the middle of a vector, so a hostile delta of any size costs
    /// no more than reading it. An element both removed and upserted ends up upserted; of
    /// several upserts with one key the last wins.
    fn apply(&self, items: &mut Vec<T>) {
        let mut upserts: Vec<(T::Key, &T)> = self.upsert.iter().map(|u| (u.key(), u)).collect();
        // Stable: among equal keys the delta's order is kept, so the last is the one to keep.
        upserts.sort_by(|a, b| a.0.cmp(&b.0));
        upserts.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                std::mem::swap(later, earlier);
                true
            } else {
                false
            }
        });
        let removed: std::collections::BTreeSet<&T::Key> = self.remove.iter().collect();
        let old = std::mem::take(items);
        let mut merged = Vec::with_capacity(old.len() + upserts.len());
        let mut pending = upserts.into_iter().peekable();
        for item in old {
            let key = item.key();
            while let Some((_, up)) = pending.next_if(|(k, _)| *k < key) {
                merged.push(up.clone());
            }
            match pending.next_if(|(k, _)| *k == key) {
                Some((_, up)) => merged.push(up.clone()),
                None if removed.contains(&key) => {}
                None => merged.push(item),
            }
        }
        merged.extend(pending.map(|(_, up)| up.clone()));
        *items = merged;
    }

    /// The delta equal to applying `self` then `later`.
    fn then(mut self, later: KeyedDelta<T>) -> Self {
        let later_keys: std::collections::BTreeSet<T::Key> = later
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
        self.apply_to(current, &current.hash())
    }

    /// [`InventoryDelta::apply`] when the caller already knows `current`'s hash (the server
    /// stores it), saving one serialisation of the whole inventory. The result's hash is
    /// always computed and checked, and equals `self.result` on success.
    pub fn apply_to(
        &self,
        current: &Inventory,
        current_hash: &InventoryHash,
    ) -> Result<Inventory, ApplyError> {
        if *current_hash != self.base {
            return Err(ApplyError::BaseMismatch {
                expected: self.base.clone(),
                actual: current_hash.clone(),
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
    fn keyed_apply_merges_removals_upserts_and_duplicates() {
        let mut items = vec![pkg("a", "1"), pkg("c", "1"), pkg("e", "1")];
        let delta = KeyedDelta {
            upsert: vec![pkg("d", "1"), pkg("b", "1"), pkg("c", "2"), pkg("b", "2")],
            remove: vec![
                ("e".into(), "amd64".into(), PackageSource::Dpkg),
                ("c".into(), "amd64".into(), PackageSource::Dpkg),
            ],
        };
        delta.apply(&mut items);
        assert_eq!(
            items,
            vec![pkg("a", "1"), pkg("b", "2"), pkg("c", "2"), pkg("d", "1")]
        );
    }

    /// 500,000 upserts in reverse key order into a collection of 500,000: the former
    /// insert-into-the-middle loop moved the vector's tail for every element (about 10^11
    /// element moves, hours); a merge takes well under the generous bound below even in a
    /// debug build.
    #[test]
    fn keyed_apply_is_linear_for_huge_deltas() {
        const N: usize = 500_000;
        let name = |i: usize| format!("p{i:07}");
        let mut items: Vec<Package> = (0..N).map(|i| pkg(&name(2 * i), "1")).collect();
        let delta = KeyedDelta {
            upsert: (0..N).rev().map(|i| pkg(&name(2 * i + 1), "1")).collect(),
            remove: Vec::new(),
        };
        let started = std::time::Instant::now();
        delta.apply(&mut items);
        assert_eq!(items.len(), 2 * N);
        assert!(items.windows(2).all(|w| w[0].key() < w[1].key()));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
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
