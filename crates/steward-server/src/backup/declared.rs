//! Backup policies declared in the configuration file (`[[backups]]`): checked when the file
//! is read (by `policies::definition`, so a bad entry is reported with its line), stored at
//! start with their groups and devices looked up, replaced when changed, removed when no
//! longer declared, and read-only elsewhere.

use steward_core::Scope;
use steward_store::{NewBackupPolicy, StoreError};

use super::policies::{FROM_CONFIG, PolicyError, resolve_target};
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
/// group or device does not exist, or whose name a person's policy holds, is left out (and
/// so removed if it was stored), with a problem returned for the log; the rest are stored. A policy whose schedule changed starts
/// afresh.
pub async fn sync(
    state: &AppState,
    declared: &[DeclaredPolicy],
) -> std::result::Result<Vec<String>, StoreError> {
    let before = state.store.backup_policies().await?;
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    for d in declared {
        // A name a person gave a policy stays theirs (the store would refuse the whole
        // file's policies, and the server would not start, over one name).
        if before
            .iter()
            .any(|p| p.name == d.policy.name && p.source != FROM_CONFIG)
        {
            problems.push(format!(
                "{}: backup policy {:?}: a policy made in the console, API or CLI has this \
                 name; rename one of them",
                d.origin, d.policy.name
            ));
            continue;
        }
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
