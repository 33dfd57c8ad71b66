//! An agent report's `updates` section into the store: the device's pending updates are
//! replaced (an update already pending keeps the time it was first seen, so its age is
//! true), or, when the listing failed, the failure is recorded beside the last good list.
//! Called after the report's own commit: a failure here is logged, and the next listing
//! (at most 6 hours on) says it all again.

use steward_core::Timestamp;
use steward_proto::agent::UpdatesReport;

use crate::state::AppState;

/// The oldest a listing's time is believed: a report waits at most a day in the agent's
/// queue (`OUTBOX_MAX_REPORTS` at the default interval), so a week is generous.
const MAX_LISTING_AGE_MS: i64 = 7 * 86_400_000;

pub async fn record(state: &AppState, device_id: &str, report: UpdatesReport, now: Timestamp) {
    // The agent's clock may run ahead (the server never records a listing in its future)
    // or be far behind (a board without a real-time clock starts in 1970): a listing older
    // than a week cannot have waited that long in the agent's queue, and is taken as now.
    let at = if report.listed_at.0 < now.0 - MAX_LISTING_AGE_MS {
        now
    } else {
        Timestamp(report.listed_at.0.min(now.0))
    };
    let stored = match &report.error {
        Some(error) => {
            state
                .store
                .record_update_listing_error(device_id, at, error)
                .await
        }
        None => {
            state
                .store
                .replace_pending_updates(
                    device_id,
                    &report.manager,
                    at,
                    report.reboot_required,
                    &report.pending,
                )
                .await
        }
    };
    match stored {
        Ok(()) => {
            tracing::info!(device = %device_id, pending = report.pending.len(),
                security = report.pending.iter().filter(|u| u.security).count(),
                failed = report.error.is_some(), "updates listing recorded");
            super::alerts::wake(state);
        }
        Err(e) => tracing::warn!(device = %device_id, error = %e,
            "patching: could not record a device's updates; its next listing will"),
    }
}
