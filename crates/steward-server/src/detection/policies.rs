//! Which detection policy governs a device: the most specific target wins (the device's
//! own, then its group's, then a tag's, then `all`); the core default when none does.

use std::sync::Arc;

use steward_core::checks::{Membership, Target};
use steward_core::detection::DetectionPolicy;
use steward_store::{DetectionPolicyRecord, StoreError};

use crate::state::AppState;

/// A stored policy, read.
#[derive(Debug, Clone)]
pub struct StoredPolicy {
    pub record: DetectionPolicyRecord,
    pub target: Target,
    pub policy: DetectionPolicy,
}

impl StoredPolicy {
    pub fn read(record: DetectionPolicyRecord) -> Option<StoredPolicy> {
        Some(StoredPolicy {
            target: Target::parse(&record.target).ok()?,
            policy: serde_json::from_str(&record.policy).ok()?,
            record,
        })
    }
}

/// Every stored policy that reads (one that does not is logged and left out).
pub async fn stored(state: &AppState) -> Result<Vec<StoredPolicy>, StoreError> {
    Ok(state
        .store
        .detection_policies()
        .await?
        .into_iter()
        .filter_map(|r| {
            let target = r.target.clone();
            let read = StoredPolicy::read(r);
            if read.is_none() {
                tracing::warn!(%target, "detection: a stored policy does not read; skipped");
            }
            read
        })
        .collect())
}

fn rank(t: &Target) -> u8 {
    match t {
        Target::Device(_) => 0,
        Target::Group(_) => 1,
        Target::Tag(_) => 2,
        Target::All => 3,
    }
}

/// The policy that governs a device; among tags, the first by name.
pub fn policy_for<'a>(
    policies: &'a [StoredPolicy],
    device: &Membership<'_>,
) -> Option<&'a StoredPolicy> {
    policies
        .iter()
        .filter(|p| p.target.covers(device))
        .min_by(|a, b| {
            (rank(&a.target), &a.record.target).cmp(&(rank(&b.target), &b.record.target))
        })
}

/// How long the stored policies are reused for check-ins before they are read again. A
/// change made through this server is seen at once ([`PolicyCache::invalidate`]); one made
/// by `steward admin` beside it, within this long (an agent applies its policy at its next
/// check-in anyway, a minute apart by default).
const CACHE_MS: i64 = 10_000;

/// The stored policies as last read, for the check-ins: a thousand devices reporting every
/// minute read the table a few times a minute, not every report.
#[derive(Debug, Default)]
pub struct PolicyCache {
    held: std::sync::RwLock<Option<(steward_core::Timestamp, Arc<Vec<StoredPolicy>>)>>,
}

impl PolicyCache {
    async fn get(&self, state: &AppState) -> Result<Arc<Vec<StoredPolicy>>, StoreError> {
        let now = state.now();
        if let Ok(guard) = self.held.read()
            && let Some((at, policies)) = guard.as_ref()
            && (0..CACHE_MS).contains(&now.since(*at))
        {
            return Ok(policies.clone());
        }
        let policies = Arc::new(stored(state).await?);
        if let Ok(mut guard) = self.held.write() {
            *guard = Some((now, policies.clone()));
        }
        Ok(policies)
    }

    /// Forgets the cached policies: the next check-in reads them.
    pub fn invalidate(&self) {
        if let Ok(mut guard) = self.held.write() {
            *guard = None;
        }
    }
}

/// The policy a device is to apply.
pub async fn for_device(
    state: &AppState,
    device_id: &str,
    group_id: Option<&str>,
) -> Result<DetectionPolicy, StoreError> {
    let policies = state.detection_policies.get(state).await?;
    if policies.is_empty() {
        return Ok(DetectionPolicy::default());
    }
    let tags = if policies.iter().any(|p| matches!(p.target, Target::Tag(_))) {
        state.store.device_tags(device_id).await?
    } else {
        Vec::new()
    };
    let groups: Vec<String> = group_id.map(str::to_owned).into_iter().collect();
    let membership = Membership {
        device_id,
        groups: &groups,
        tags: &tags,
    };
    Ok(policy_for(&policies, &membership)
        .map(|p| p.policy.clone())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(target: &str, folder: &str) -> StoredPolicy {
        StoredPolicy::read(DetectionPolicyRecord {
            target: target.into(),
            policy: format!(r#"{{"folders":["{folder}"]}}"#),
            updated_at: steward_core::Timestamp(0),
            updated_by: "anna".into(),
        })
        .unwrap_or_else(|| panic!("{target} reads"))
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let policies = vec![
            stored("all", "/all"),
            stored("tag:b", "/tag-b"),
            stored("tag:a", "/tag-a"),
            stored("group:g1", "/group"),
            stored("device:d1", "/device"),
        ];
        let folder = |id: &str, groups: &[String], tags: &[String]| {
            let m = Membership {
                device_id: id,
                groups,
                tags,
            };
            policy_for(&policies, &m).map(|p| p.policy.folders[0].clone())
        };
        let g1 = vec!["g1".to_string()];
        let tags = vec!["b".to_string(), "a".to_string()];
        assert_eq!(folder("d1", &g1, &tags).as_deref(), Some("/device"));
        assert_eq!(folder("d2", &g1, &tags).as_deref(), Some("/group"));
        assert_eq!(folder("d2", &[], &tags).as_deref(), Some("/tag-a"));
        assert_eq!(folder("d2", &[], &[]).as_deref(), Some("/all"));
        assert!(
            policy_for(
                &policies[1..3],
                &Membership {
                    device_id: "d3",
                    groups: &[],
                    tags: &[],
                }
            )
            .is_none()
        );
    }
}
