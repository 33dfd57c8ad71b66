//! How several servers share the monitoring work: each claims due checks and notifications
//! for itself with a short lease ([`LEASE_MS`]) and renews the leases of what it still has in
//! hand every [`RENEW_EVERY`]. A server that dies stops renewing, so whatever it held lapses
//! to the others within one lease, however long a probe or a send may take; work held longer
//! than [`MAX_HOLD_MS`] is not renewed (its task was lost, not slow) and lapses too.
//!
//! A lease renewed this way can still lapse while its server lives, when the database is out
//! of reach for longer than a lease: the store then refuses a check's late result once
//! another server answered the same run, and the notifier takes a notification again right
//! before sending it ([`steward_store::Store::take_notification`]), so neither alerts twice.

use std::time::Duration;

use crate::state::AppState;

/// How long a claim holds without renewal: the longest a dead server's work waits.
pub const LEASE_MS: i64 = 15_000;
/// How often a server renews its leases: a lease survives two renewals missed in a row.
pub const RENEW_EVERY: Duration = Duration::from_millis(5_000);
/// Longer than any check or send takes, waiting for a free slot included (a probe's timeout
/// is at most a minute): a claim older than this is not renewed.
pub const MAX_HOLD_MS: i64 = 180_000;

const _: () = assert!(RENEW_EVERY.as_millis() * 3 <= LEASE_MS as u128);

/// Starts renewing this server's leases; it runs until the task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tracing::info!(holder = %state.instance, "monitoring: sharing checks and notifications");
    tokio::spawn(async move {
        let mut every = tokio::time::interval(RENEW_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = state.now();
            let young = now.plus_millis(-MAX_HOLD_MS);
            if let Err(e) = state
                .store
                .renew_leases(&state.instance, now, LEASE_MS, young)
                .await
            {
                tracing::warn!(error = %e, "monitoring: cannot renew leases; what this server holds may lapse to another");
            }
        }
    })
}
