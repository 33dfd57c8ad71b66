//! Retention, run by the server on each device's repository: the snapshots the policies'
//! `keep` lets go are forgotten, and the data no snapshot needs any more is pruned. Every
//! hour for every repository, and right after a backup succeeds for its device.
//!
//! Decisions:
//! - **Age is the time the server received a snapshot** (`backup_snapshots.received_at`),
//!   never the time written inside it, which the device chooses; and no snapshot received
//!   within the protection window is forgotten (`steward_core::backup::retention`).
//! - **Which rule judges a snapshot.** A device's snapshots are judged in groups: those a
//!   policy made (the snapshot names it), by that policy's `keep`, if the policy still covers
//!   the device; all the others (backups made now with given paths, snapshots of a policy
//!   deleted or no longer covering the device, snapshots that arrived without a backup job
//!   — which is what a forger's are) together, by the most generous `keep` of the covering
//!   policies (the largest count of each kind), or kept whole if one of them keeps
//!   everything. So one policy's snapshots never push out another's, and uploads outside
//!   any job can only crowd each other.
//! - **The protection window** is the longest of the covering policies' (at least a day).
//! - **A device no policy covers** (none enabled) loses nothing: its snapshots stay until a
//!   person decides.
//! - **Prune** runs at most once a day, and only once something was forgotten since the
//!   last. rustic's prune marks unused packs first and deletes them a day later, so a
//!   backup running meanwhile never loses a pack it is about to reference.
//! - **One server at a time** maintains a repository (`Store::claim_backup_maintenance`, a
//!   6-hour lease, released when done); everything is audited as `system`.
//! - **Spool files** a server stopped mid-upload left in a local repository are removed at
//!   each maintenance once last written an hour ago, or twice the upload body timeout if
//!   that is longer: an upload's body must arrive within that timeout of its head, after
//!   its spool file was made, so a file still in use was written more recently.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use steward_backup::{ProgressCounter, Repo};
use steward_core::backup::retention::{self, DEFAULT_PROTECTION_MS, Keep, Received};
use steward_core::{Scope, Timestamp};
use steward_store::{BackupPolicyRecord, BackupSnapshotRecord};

use super::repositories;
use super::service::{self, BackupError, Result};
use crate::state::AppState;

/// How often every repository is looked at.
const EVERY: Duration = Duration::from_secs(3_600);
/// The first look after start: nothing here is urgent, and a server restarted often (or a
/// test's) should not spend its first minutes pruning.
const FIRST_AFTER: Duration = Duration::from_secs(600);
/// How long a repository's maintenance is one server's: longer than a prune of a large
/// repository takes, so two never run on one repository.
const LEASE_MS: i64 = 6 * 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Prune at most this often.
const PRUNE_EVERY_MS: i64 = DAY_MS;

/// What one maintenance of a repository did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    /// The snapshots forgotten (their restic ids).
    pub forgotten: Vec<String>,
    pub pruned: bool,
}

/// Starts the hourly task; it runs until aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !super::storage::configured(&state) {
            return;
        }
        tokio::time::sleep(FIRST_AFTER).await;
        loop {
            maintain_all(&state).await;
            tokio::time::sleep(EVERY).await;
        }
    })
}

/// Maintains every repository in turn; failures are reported one by one.
pub async fn maintain_all(state: &AppState) {
    let repositories = match state.store.backup_repositories().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("backups: listing repositories to maintain: {e}");
            return;
        }
    };
    for r in repositories {
        if let Err(e) = maintain(state, &r.device_id).await {
            maintenance_failed(state, &r.device_id, &e);
        }
    }
}

/// After a backup of `device_id` succeeded: its maintenance, in the background.
pub(super) fn after_backup(state: &AppState, device_id: &str) {
    let (state, device_id) = (state.clone(), device_id.to_owned());
    tokio::spawn(async move {
        if let Err(e) = maintain(&state, &device_id).await {
            maintenance_failed(&state, &device_id, &e);
        }
    });
}

/// A repository's maintenance failed. Logged for now; this is where monitoring's alert on
/// it will be raised.
pub fn maintenance_failed(_state: &AppState, device_id: &str, error: &BackupError) {
    tracing::warn!(device = %device_id, "backups: maintaining the repository failed: {error}");
}

/// Forgets what retention lets go in the device's repository and prunes when due. `None`
/// when another server is maintaining it now.
pub async fn maintain(state: &AppState, device_id: &str) -> Result<Option<Maintained>> {
    let now = state.now();
    let claimed = state
        .store
        .claim_backup_maintenance(device_id, now, now.plus_millis(LEASE_MS))
        .await?;
    if !claimed {
        return Ok(None);
    }
    sweep_spool(state, device_id).await;
    let mut done = Done::default();
    let result = steps(state, device_id, now, &mut done).await;
    // Recorded (and the claim released) whatever happened: a forget that succeeded before
    // a prune failed is not done again, and the prune is tried at the next look.
    let recorded = state
        .store
        .record_backup_maintenance(device_id, done.forgot_at, done.pruned_at)
        .await;
    if !done.forgotten.is_empty() || done.pruned_at.is_some() {
        let short: Vec<&str> = done
            .forgotten
            .iter()
            .map(|id| &id[..id.len().min(8)])
            .collect();
        let mut detail = format!("forgot {} snapshots", short.len());
        if !short.is_empty() {
            detail.push_str(&format!(" ({})", short.join(", ")));
        }
        if done.pruned_at.is_some() {
            detail.push_str("; pruned the repository");
        }
        crate::audit::record(
            &state.store,
            now,
            "system",
            "backup_retention",
            device_id,
            &detail,
            "server",
        )
        .await;
    }
    result?;
    recorded?;
    Ok(Some(Maintained {
        forgotten: done.forgotten,
        pruned: done.pruned_at.is_some(),
    }))
}

/// Spool files at least this old are left behind (see the module's decisions).
fn stale_spool_after(state: &AppState) -> Duration {
    (2 * state.config.net.backup_body_timeout).max(Duration::from_secs(3_600))
}

/// Removes the device's repository's stale spool files; a failure is only logged (it
/// costs disk space, not backups).
async fn sweep_spool(state: &AppState, device_id: &str) {
    let older_than = stale_spool_after(state);
    let swept = match super::storage_for(state, device_id) {
        Ok(storage) => tokio::task::spawn_blocking(move || {
            storage
                .remove_stale_spool(older_than)
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string())),
        Err(e) => Err(e.to_string()),
    };
    match swept {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(device = %device_id, "backups: removed {n} spool file(s) left by an upload cut off")
        }
        Err(e) => tracing::warn!(device = %device_id, "backups: removing stale spool files: {e}"),
    }
}

#[derive(Default)]
struct Done {
    forgotten: Vec<String>,
    forgot_at: Option<Timestamp>,
    pruned_at: Option<Timestamp>,
}

async fn steps(state: &AppState, device_id: &str, now: Timestamp, done: &mut Done) -> Result<()> {
    let forget = plan(state, device_id, now).await?;
    let last = state.store.backup_maintenance(device_id).await?;
    let last_prune = last.as_ref().and_then(|m| m.last_prune_at);
    let forgot_since_prune = !forget.is_empty()
        || last
            .as_ref()
            .and_then(|m| m.last_forget_at)
            .is_some_and(|f| last_prune.is_none_or(|p| f.0 > p.0));
    let prune = forgot_since_prune && last_prune.is_none_or(|p| now.since(p) >= PRUNE_EVERY_MS);
    if forget.is_empty() && !prune {
        return Ok(());
    }
    let password = repositories::password(state, device_id)
        .await?
        .ok_or(BackupError::NoRepository)?;
    let storage = super::storage_for(state, device_id)?;
    if !forget.is_empty() {
        let (storage, password, ids) = (storage.clone(), password.clone(), forget.clone());
        blocking(move || {
            let repo = Repo::open(storage, &password, ProgressCounter::new())?;
            // A snapshot the store knows and the repository no longer holds is gone already.
            let held: HashSet<String> = repo.snapshots()?.into_iter().map(|s| s.id).collect();
            let present: Vec<String> = ids.into_iter().filter(|id| held.contains(id)).collect();
            if !present.is_empty() {
                repo.forget(&present)?;
            }
            Ok(())
        })
        .await?;
        state
            .store
            .mark_snapshots_forgotten(device_id, &forget, now)
            .await?;
        done.forgot_at = Some(now);
        done.forgotten = forget;
    }
    if prune {
        blocking(move || Repo::open(storage, &password, ProgressCounter::new())?.prune()).await?;
        done.pruned_at = Some(now);
    }
    Ok(())
}

/// The snapshots of the device that retention lets go now.
async fn plan(state: &AppState, device_id: &str, now: Timestamp) -> Result<Vec<String>> {
    let view = state.store.scoped(&Scope::AllDevices);
    let Some(device) = view.device(device_id).await? else {
        return Ok(Vec::new());
    };
    let covering = service::policies_covering(state, &device).await?;
    if covering.is_empty() {
        return Ok(Vec::new());
    }
    let snapshots = view.backup_snapshots(device_id, false).await?;
    Ok(forgettable(&snapshots, &covering, now))
}

/// Which of a device's live `snapshots` the `covering` policies let go at `now` (see the
/// module's decisions).
pub fn forgettable(
    snapshots: &[BackupSnapshotRecord],
    covering: &[BackupPolicyRecord],
    now: Timestamp,
) -> Vec<String> {
    if covering.is_empty() {
        return Vec::new();
    }
    let protection = covering
        .iter()
        .map(|p| p.protection_ms)
        .max()
        .unwrap_or(DEFAULT_PROTECTION_MS)
        .max(DAY_MS);
    // `None`: the group of other snapshots is kept whole.
    let others_keep = if covering.iter().any(|p| p.keep == Keep::default()) {
        None
    } else {
        Some(
            covering
                .iter()
                .fold(Keep::default(), |a, p| most(a, p.keep)),
        )
    };
    let mut groups: BTreeMap<Option<&str>, Vec<Received>> = BTreeMap::new();
    for s in snapshots {
        let own = s
            .policy_id
            .as_deref()
            .filter(|id| covering.iter().any(|p| p.id == *id));
        groups.entry(own).or_default().push(Received {
            id: s.snapshot_id.clone(),
            at: s.received_at,
        });
    }
    let mut forget = Vec::new();
    for (policy, received) in groups {
        let keep = match policy {
            Some(id) => covering.iter().find(|p| p.id == id).map(|p| p.keep),
            None => others_keep,
        };
        if let Some(keep) = keep {
            forget.extend(retention::to_forget(&received, &keep, protection, now));
        }
    }
    forget.sort();
    forget
}

/// The larger count of each kind.
fn most(a: Keep, b: Keep) -> Keep {
    Keep {
        last: a.last.max(b.last),
        hourly: a.hourly.max(b.hourly),
        daily: a.daily.max(b.daily),
        weekly: a.weekly.max(b.weekly),
        monthly: a.monthly.max(b.monthly),
        yearly: a.yearly.max(b.yearly),
    }
}

/// Runs a repository operation in the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, steward_backup::BackupError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BackupError::Repository(e.to_string()))?
        .map_err(|e| BackupError::Repository(e.to_string()))
}

#[cfg(test)]
mod tests;
