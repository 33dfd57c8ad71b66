//! The definitions every evaluation needs — checks, channels, routes, maintenance windows —
//! parsed once and cached, so that judging a report or a probe result reads no definitions
//! from the database. The cache is reloaded when this server changes a definition
//! ([`CatalogCache::invalidate`]) and when the store's monitoring revision moved, which
//! every change to a definition raises in its own transaction: that is how a change made
//! through another server (several servers on one PostgreSQL) is seen. The revision is
//! looked at most every [`RECHECK_MS`], so thousands of checks are not read again and again
//! while nothing changes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use steward_core::Timestamp;
use steward_core::alerting::AlertRules;
use steward_core::alerting::routing::Route;
use steward_core::alerting::window::Window;
use steward_core::checks::{Membership, Target};
use steward_store::{ChannelRecord, CheckRecord, Store, StoreError};

use super::spec::Spec;

/// How often the cache asks the store whether the definitions changed: how stale a change
/// made through another server may be seen.
pub const RECHECK_MS: i64 = 1_000;

/// A check, parsed.
#[derive(Debug, Clone)]
pub struct CheckDef {
    pub record: CheckRecord,
    pub spec: Spec,
    pub rules: AlertRules,
    /// Which devices a device check covers (`None` for a network monitor).
    pub target: Option<Target>,
}

/// What a maintenance window covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Covered {
    Check(String),
    Devices(Target),
}

#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub name: String,
    pub covers: Covered,
    pub schedule: Window,
}

/// Every definition, parsed.
#[derive(Debug, Default)]
pub struct Catalog {
    pub checks: Vec<Arc<CheckDef>>,
    pub(super) by_id: HashMap<String, usize>,
    pub channels: Vec<ChannelRecord>,
    pub channel_ids: Vec<String>,
    pub routes: Vec<Route>,
    pub windows: Vec<MaintenanceWindow>,
    /// Tells catalogs apart: each load takes the next number (what a cache of things judged
    /// under one catalog keys on).
    pub generation: u64,
    /// Whether any device check targets a tag (then a report needs the device's tags read;
    /// otherwise not).
    pub needs_tags: bool,
}

impl Catalog {
    pub async fn load(store: &Store) -> Result<Catalog, StoreError> {
        let (checks, channels, routes, windows) = tokio::try_join!(
            store.checks(),
            store.channels(),
            store.routes(),
            store.windows()
        )?;
        static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let mut catalog = Catalog {
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..Catalog::default()
        };
        for record in checks {
            let Ok(spec) = serde_json::from_str::<Spec>(&record.spec) else {
                tracing::error!(check = %record.name, "monitoring: unreadable check settings; the check is skipped");
                continue;
            };
            let rules = serde_json::from_str(&record.rules).unwrap_or_default();
            let target = match &spec {
                Spec::Device { .. } => Target::parse(&record.target).ok(),
                Spec::Probe { .. } => None,
            };
            if matches!(target, Some(Target::Tag(_))) && record.enabled {
                catalog.needs_tags = true;
            }
            catalog
                .by_id
                .insert(record.id.clone(), catalog.checks.len());
            catalog.checks.push(Arc::new(CheckDef {
                record,
                spec,
                rules,
                target,
            }));
        }
        catalog.channel_ids = channels.iter().map(|c| c.id.clone()).collect();
        catalog.channels = channels;
        catalog.routes = routes
            .into_iter()
            .filter_map(|r| {
                Some(Route {
                    min_status: steward_core::alerting::CheckStatus::parse(&r.min_status)?,
                    devices: Target::parse(&r.devices).ok()?,
                    channel_id: r.channel_id,
                })
            })
            .collect();
        catalog.windows = windows
            .into_iter()
            .filter_map(|w| {
                let covers = match w.target.strip_prefix("check:") {
                    Some(id) => Covered::Check(id.to_string()),
                    None => Covered::Devices(Target::parse(&w.target).ok()?),
                };
                Some(MaintenanceWindow {
                    name: w.name,
                    covers,
                    schedule: serde_json::from_str(&w.schedule).ok()?,
                })
            })
            .collect();
        Ok(catalog)
    }

    pub fn check(&self, id: &str) -> Option<&Arc<CheckDef>> {
        self.by_id.get(id).map(|&i| &self.checks[i])
    }

    /// The enabled device checks covering `device`.
    pub fn device_checks<'a>(
        &'a self,
        device: &'a Membership<'a>,
    ) -> impl Iterator<Item = &'a Arc<CheckDef>> + 'a {
        self.checks.iter().filter(move |c| {
            c.record.enabled && c.target.as_ref().is_some_and(|t| t.covers(device))
        })
    }

    /// The enabled network monitors `device`'s agent runs for the server.
    pub fn agent_probes<'a>(
        &'a self,
        device_id: &'a str,
    ) -> impl Iterator<Item = &'a Arc<CheckDef>> + 'a {
        self.checks.iter().filter(move |c| {
            c.record.enabled
                && matches!(c.spec, Spec::Probe { .. })
                && c.record.runner.strip_prefix("device:") == Some(device_id)
        })
    }

    /// Whether a maintenance window open at `at` covers this check (for `device`).
    pub fn in_maintenance(
        &self,
        check_id: &str,
        device: Option<&Membership<'_>>,
        at: Timestamp,
    ) -> bool {
        self.windows.iter().any(|w| {
            let covers = match &w.covers {
                Covered::Check(id) => id == check_id,
                Covered::Devices(Target::All) => true,
                Covered::Devices(target) => device.is_some_and(|d| target.covers(d)),
            };
            covers && w.schedule.covers(at)
        })
    }
}

/// The cached catalog, shared by the scheduler, report judging and the sweeps.
#[derive(Debug, Default)]
pub struct CatalogCache {
    current: RwLock<Option<Cached>>,
    /// Raised by every [`CatalogCache::invalidate`]: a catalog read while it moved may
    /// predate the change, so it is used once but not kept.
    invalidations: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Cached {
    /// When the revision was last compared with the store's.
    checked_at: Timestamp,
    revision: i64,
    catalog: Arc<Catalog>,
}

impl CatalogCache {
    /// The catalog: the cached one while the store's revision has not moved (compared at
    /// most every [`RECHECK_MS`]), otherwise read again.
    pub async fn get(&self, store: &Store, now: Timestamp) -> Result<Arc<Catalog>, StoreError> {
        let held = match self.current.read() {
            Ok(guard) => guard
                .as_ref()
                .map(|c| (c.checked_at, c.revision, c.catalog.clone())),
            Err(_) => None,
        };
        if let Some((checked_at, _, catalog)) = &held
            && (0..RECHECK_MS).contains(&now.since(*checked_at))
        {
            return Ok(catalog.clone());
        }
        let invalidations = self.invalidations.load(std::sync::atomic::Ordering::SeqCst);
        // The revision before the definitions: a change committed between the two reads is
        // read now and seen again at the next look, never missed.
        let revision = store.monitoring_revision().await?;
        let catalog = match held {
            Some((_, held_revision, catalog)) if held_revision == revision => catalog,
            _ => Arc::new(Catalog::load(store).await?),
        };
        // Invalidated meanwhile (this server changed a definition while it was read): kept,
        // this catalog would hide the change until the next look at the revision.
        if self.invalidations.load(std::sync::atomic::Ordering::SeqCst) != invalidations {
            return Ok(catalog);
        }
        if let Ok(mut guard) = self.current.write() {
            *guard = Some(Cached {
                checked_at: now,
                revision,
                catalog: catalog.clone(),
            });
        }
        Ok(catalog)
    }

    /// Forgets the cached catalog: the next [`CatalogCache::get`] reads the definitions.
    pub fn invalidate(&self) {
        self.invalidations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut guard) = self.current.write() {
            *guard = None;
        }
    }
}
