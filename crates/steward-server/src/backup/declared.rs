//! Backup policies declared in the configuration file (`[[backups]]`): checked when the file
//! is read (by `policies::definition`, so a bad entry is reported with its line), stored at
//! start with their groups and devices looked up, replaced when changed, removed when no
//! longer declared, and read-only elsewhere.

use steward_core::Scope;
use steward_store::{NewBackupPolicy, StoreError};

use super::policies::{PolicyError, resolve_target};
use crate::state::AppState;

/// A policy declared in the configuration file (`[[backups]]`), checked by `policies::definition`
/// when the file was read; its target may name a group or device by name, looked up at
/// start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPolicy {
    pub policy: NewBackupPolicy,
    /// Where it was declared, for messages ("/etc/steward.toml line 12").
    pub origin: String,
}

/// Makes the store's declared policies those of the configuration file. A policy whose
/// group or device does not exist is left out (and so removed if it was stored), with a
/// problem returned for the log; the rest are stored. A policy whose schedule changed starts
/// afresh.
pub async fn sync(
    state: &AppState,
    declared: &[DeclaredPolicy],
) -> std::result::Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    for d in declared {
        match resolve_target(state, &Scope::AllDevices, &d.policy.target).await {
            Ok(target) => resolved.push(NewBackupPolicy {
                target,
                ..d.policy.clone()
            }),
            Err(PolicyError::Store(e)) => return Err(e),
            Err(e) => problems.push(format!(
                "{}: backup policy {:?}: {e}",
                d.origin, d.policy.name
            )),
        }
    }
    let before = state.store.backup_policies().await?;
    let outcome = state
        .store
        .sync_declared_backup_policies(&resolved, state.now())
        .await?;
    for id in &outcome.changed {
        let old = before.iter().find(|p| p.id == *id);
        let new = state.store.backup_policy(id).await?;
        if let (Some(old), Some(new)) = (old, new)
            && (old.schedule != new.schedule || old.enabled != new.enabled)
        {
            state.store.retain_backup_schedule(id, &[]).await?;
        }
    }
    Ok(problems)
}
