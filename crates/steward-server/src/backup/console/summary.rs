//! The dashboard's "Backups" card: how many devices are backed up, how their restore
//! drills went, and when a restore was last proven — the figure that says whether the
//! backups would save the business, on the first page anyone opens.

use steward_core::Timestamp;
use steward_store::DrillOutcome;

use crate::console::format::{bytes, relative, utc};
use crate::error::AppResult;
use crate::service::Caller;
use crate::state::AppState;

/// What the card shows.
pub struct BackupCard {
    pub backed_up: usize,
    pub stored: String,
    pub drills_passed: usize,
    pub drills_failed: usize,
    /// Backed-up devices whose backups no drill has proven yet.
    pub never_drilled: usize,
    /// The newest passed drill: when, and on which device.
    pub last_proven: Option<Proven>,
    /// The backed-up device whose last proven restore is oldest (or never), when it is not
    /// the only one: the weakest link.
    pub weakest: Option<Proven>,
}

pub struct Proven {
    pub device: String,
    pub href: String,
    /// `3 d ago`, or `never`.
    pub when: String,
    pub exact: String,
}

/// The card for the devices the caller sees; `None` when none of them has backups.
pub async fn card(state: &AppState, caller: &Caller) -> AppResult<Option<BackupCard>> {
    let now = caller.now;
    let overview = state.store.scoped(caller.scope()).backup_overview().await?;
    let backed_up: Vec<_> = overview
        .iter()
        .filter(|o| o.last_received_at.is_some())
        .collect();
    if backed_up.is_empty() {
        return Ok(None);
    }
    let passed_at = |o: &steward_store::BackupOverviewRecord| match o.last_drill_outcome {
        Some(DrillOutcome::Passed) => o.last_drill_finished_at,
        _ => None,
    };
    let proven = |o: &steward_store::BackupOverviewRecord, at: Option<Timestamp>| Proven {
        device: o.device_name.clone(),
        href: super::device_href(&o.device_id, None),
        when: at.map_or_else(|| "never".to_owned(), |at| relative(at, now)),
        exact: at.map(utc).unwrap_or_default(),
    };
    let last_proven = backed_up
        .iter()
        .filter_map(|o| passed_at(o).map(|at| (at, *o)))
        .max_by_key(|(at, _)| *at)
        .map(|(at, o)| proven(o, Some(at)));
    // Never proven sorts first (None < Some).
    let weakest = backed_up
        .iter()
        .min_by_key(|o| passed_at(o))
        .filter(|_| backed_up.len() > 1)
        .map(|o| proven(o, passed_at(o)));
    let stored: i64 = backed_up.iter().map(|o| o.live_stored_bytes.max(0)).sum();
    Ok(Some(BackupCard {
        backed_up: backed_up.len(),
        stored: bytes(u64::try_from(stored).unwrap_or(0)),
        drills_passed: backed_up
            .iter()
            .filter(|o| o.last_drill_outcome == Some(DrillOutcome::Passed))
            .count(),
        drills_failed: backed_up
            .iter()
            .filter(|o| o.last_drill_outcome == Some(DrillOutcome::Failed))
            .count(),
        never_drilled: backed_up
            .iter()
            .filter(|o| o.last_drill_outcome.is_none())
            .count(),
        last_proven,
        weakest,
    }))
}
