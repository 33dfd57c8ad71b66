//! The check definitions and channels the scheduler runs with, kept in memory and read
//! again only when the store's monitoring revision moves (`Store::monitoring_revision`):
//! one small read per look instead of every check and channel per batch. A change made by
//! this server's console, its configuration or another server on the same PostgreSQL raises
//! the revision in the same transaction, so it is seen at the next look (well within a
//! second while checks are due).

use std::collections::HashMap;
use std::sync::Arc;

use steward_core::alerting::AlertRules;
use steward_store::{ChannelRecord, CheckRecord, Store, StoreError};

use crate::monitoring::Spec;

/// A check's definition with its settings read once.
#[derive(Debug)]
pub struct Definition {
    pub record: CheckRecord,
    /// What to probe; an error names what is wrong with the stored settings.
    pub spec: Result<Spec, String>,
    pub rules: AlertRules,
}

impl Definition {
    fn new(record: CheckRecord) -> Self {
        let spec = serde_json::from_str::<Spec>(&record.spec)
            .map_err(|e| format!("unreadable check settings: {e}"));
        // Rules that do not parse fall back to the defaults (as before this cache).
        let rules = serde_json::from_str(&record.rules).unwrap_or_default();
        Self {
            record,
            spec,
            rules,
        }
    }
}

/// The definitions as of one revision.
#[derive(Debug)]
pub struct Definitions {
    /// `None` until the first read.
    revision: Option<i64>,
    checks: HashMap<String, Arc<Definition>>,
    channels: Arc<[ChannelRecord]>,
}

impl Default for Definitions {
    fn default() -> Self {
        Self {
            revision: None,
            checks: HashMap::new(),
            channels: Arc::from(Vec::new()),
        }
    }
}

impl Definitions {
    /// Reads the definitions again if the store's revision differs from the one held (or
    /// `force`). Says whether it read them.
    pub async fn refresh(&mut self, store: &Store, force: bool) -> Result<bool, StoreError> {
        // The revision first: a change committed between the two reads is read now and seen
        // again at the next look, never missed.
        let revision = store.monitoring_revision().await?;
        if !force && self.revision == Some(revision) {
            return Ok(false);
        }
        let checks = store.checks().await?;
        let channels = store.channels().await?;
        self.checks = checks
            .into_iter()
            .map(|c| (c.id.clone(), Arc::new(Definition::new(c))))
            .collect();
        self.channels = Arc::from(channels);
        self.revision = Some(revision);
        Ok(true)
    }

    pub fn check(&self, id: &str) -> Option<Arc<Definition>> {
        self.checks.get(id).cloned()
    }

    pub fn channels(&self) -> Arc<[ChannelRecord]> {
        self.channels.clone()
    }
}
