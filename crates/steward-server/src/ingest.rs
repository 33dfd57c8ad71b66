//! Turning a batch of agent reports into one store commit: drop what was already stored,
//! apply inventory updates with `steward-core`, derive the timeline, keep the latest metrics.

use steward_core::{Inventory, InventoryDelta, Timestamp, changes_between};
use steward_proto::agent::{InventoryUpdate, Report, ReportAck};
use steward_store::{DeviceIngestState, IngestCommit, InventoryWrite, SoftwareWrite, StoreError};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Most reports accepted in one batch.
pub const MAX_BATCH: usize = 1000;

/// Stores a batch. Safe to call twice with the same reports: they are stored once.
pub async fn ingest(
    state: &AppState,
    device: DeviceIngestState,
    mut reports: Vec<Report>,
) -> AppResult<ReportAck> {
    if reports.len() > MAX_BATCH {
        return Err(AppError::bad_request(format!(
            "at most {MAX_BATCH} reports per batch"
        )));
    }
    if reports.iter().any(|r| r.seq == 0) {
        return Err(AppError::bad_request("report sequence numbers start at 1"));
    }
    reports.sort_by_key(|r| r.seq);
    reports.dedup_by_key(|r| r.seq);
    let mut device = device;
    // One retry: a conflict means the same device delivered concurrently (a retry after a
    // timeout racing the original); re-reading sorts out which reports are new.
    for attempt in 0..2 {
        let plan = plan(state, &device, &reports).await?;
        match state.store.commit_ingest(&plan.commit).await {
            Ok(()) => return Ok(plan.ack),
            Err(StoreError::Conflict(_)) if attempt == 0 => {
                device = state
                    .store
                    .device_ingest_state(&device.device_id)
                    .await?
                    .ok_or_else(|| AppError::unauthorized("unknown device credential"))?;
                if device.revoked_at.is_some() {
                    return Err(AppError::unauthorized("this device has been revoked"));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "reports from this device are being stored concurrently; send them again",
    ))
}

struct Plan {
    commit: IngestCommit,
    ack: ReportAck,
}

async fn plan(state: &AppState, device: &DeviceIngestState, reports: &[Report]) -> AppResult<Plan> {
    let now = state.now();
    let fresh: Vec<&Report> = reports.iter().filter(|r| r.seq > device.last_seq).collect();
    let needs_inventory = fresh.iter().any(|r| r.inventory.is_some());
    let before: Option<Inventory> = if needs_inventory && !device.inventory_hash.is_empty() {
        state.store.inventory(&device.device_id).await?
    } else {
        None
    };
    let mut current = before.clone();
    let mut last_seq = device.last_seq;
    let mut metrics = None;
    let mut changes = Vec::new();
    let mut need_full = false;
    for report in fresh {
        let at = Timestamp(report.collected_at.0.min(now.0));
        if let Some(update) = &report.inventory {
            let next = match update {
                InventoryUpdate::Full { inventory } => {
                    let mut inv = (**inventory).clone();
                    inv.normalize();
                    inv
                }
                InventoryUpdate::Delta { delta } => match apply(current.as_ref(), delta) {
                    Some(inv) => inv,
                    None => {
                        // Stop here: later reports build on this one.
                        need_full = true;
                        break;
                    }
                },
            };
            if let Some(prev) = &current {
                changes.extend(changes_between(prev, &next).into_iter().map(|e| (at, e)));
            }
            current = Some(next);
        }
        if let Some(m) = &report.metrics {
            metrics = Some((at, m.clone()));
        }
        last_seq = report.seq;
    }
    let inventory_changed = current.is_some() && current != before;
    let inventory = if inventory_changed {
        current.clone().map(|inv| {
            let software = match &before {
                Some(b) => {
                    let d = InventoryDelta::between(b, &inv);
                    SoftwareWrite::Delta {
                        upsert: d.packages.upsert,
                        remove: d.packages.remove,
                    }
                }
                None => SoftwareWrite::Replace,
            };
            InventoryWrite {
                inventory: inv,
                software,
            }
        })
    } else {
        None
    };
    let server_hash = current.as_ref().map(Inventory::hash).or_else(|| {
        (!device.inventory_hash.is_empty())
            .then(|| steward_core::InventoryHash(device.inventory_hash.clone()))
    });
    Ok(Plan {
        commit: IngestCommit {
            device_id: device.device_id.clone(),
            expected_last_seq: device.last_seq,
            new_last_seq: last_seq,
            seen_at: now,
            inventory,
            metrics,
            changes,
        },
        ack: ReportAck {
            acked_seq: last_seq,
            need_full_inventory: need_full,
            server_inventory_hash: server_hash,
        },
    })
}

fn apply(current: Option<&Inventory>, delta: &InventoryDelta) -> Option<Inventory> {
    let current = current?;
    match delta.apply(current) {
        Ok(inv) => Some(inv),
        Err(e) => {
            tracing::info!(error = %e, "asking agent for a full inventory");
            None
        }
    }
}
