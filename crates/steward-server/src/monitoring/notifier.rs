//! Delivers the outbox: claims due notifications (with a lease, so several servers share
//! them and a dead server's lapse to the others), sends each through its channel, and marks
//! it delivered — or failed, to be tried again after a growing pause. A notification is
//! written in the transaction that decided it, so a server killed before sending still
//! sends after restart; once marked delivered it is never sent again.
//!
//! Each notification is taken again right before it is sent: one that lapsed to another
//! server while it waited its turn is left to that server. The lease is renewed while the
//! send runs and is longer than a send may last, so a send in flight never lapses to another
//! server while this one lives. What remains is a server that dies after the receiver
//! accepted a message and before the delivery is recorded (a few milliseconds): the message
//! is sent again when its lease lapses. Delivery is at least once in that window and exactly
//! once everywhere else (docs/ARCHITECTURE.md, "Several servers").

use std::time::Duration;

use steward_core::Timestamp;
use steward_store::NotificationRecord;

use crate::state::AppState;

const TICK: Duration = Duration::from_millis(250);
const BATCH: u32 = 64;
const LEASE_MS: i64 = super::leases::LEASE_MS;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

// A send starts with a fresh lease and gives up with a third of that lease to spare (to record
// the outcome), even with every renewal missed: it never lapses to another server in flight.
const _: () = assert!(SEND_TIMEOUT.as_millis() * 3 / 2 <= LEASE_MS as u128);

/// The pause before attempt `attempts + 1`: 10 s, doubling, at most an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
    (10_000_i64 << doublings).min(3_600_000)
}

/// Starts the notifier; it runs until the task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(client) = steward_notify::client() else {
            tracing::error!("monitoring: no HTTP client for notifications; nothing is sent");
            return;
        };
        loop {
            match state
                .store
                .claim_notifications(&state.instance, state.now(), BATCH, LEASE_MS)
                .await
            {
                Ok(due) if !due.is_empty() => {
                    for n in due {
                        deliver(&state, &client, &n).await;
                    }
                }
                Ok(_) => tokio::time::sleep(TICK).await,
                Err(e) => {
                    tracing::warn!(error = %e, "monitoring: cannot claim notifications");
                    tokio::time::sleep(TICK).await;
                }
            }
        }
    })
}

async fn deliver(state: &AppState, client: &reqwest::Client, n: &NotificationRecord) {
    // The channel's kind labels the delivery in the metrics (`unknown` when it is gone).
    let mut kind = String::from("unknown");
    let sent = match channel_of(state, &n.channel_id, &mut kind).await {
        Ok(channel) => match serde_json::from_str::<steward_notify::Message>(&n.payload) {
            Ok(message) => {
                if !still_ours(state, n).await {
                    return;
                }
                steward_notify::send(&channel, &message, client, SEND_TIMEOUT)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("unreadable message: {e}")),
        },
        Err(e) => Err(e),
    };
    state.telemetry.notification_attempted(&kind, sent.is_ok());
    let now = state.now();
    let marked = match sent {
        Ok(()) => state.store.notification_delivered(n.id, now).await,
        Err(error) => {
            tracing::warn!(notification = n.id, channel = %n.channel_id, %error, "monitoring: a notification was not delivered; it is retried");
            state
                .store
                .notification_failed(
                    &state.instance,
                    n.id,
                    &error,
                    Timestamp(now.0 + backoff_ms(n.attempts)),
                )
                .await
        }
    };
    if let Err(e) = marked {
        tracing::warn!(notification = n.id, error = %e, "monitoring: cannot record a delivery");
    }
}

/// Takes the notification again, with a fresh lease, just before sending it: `false` when it
/// is no longer this server's to send.
async fn still_ours(state: &AppState, n: &NotificationRecord) -> bool {
    match state
        .store
        .take_notification(&state.instance, n.id, state.now(), LEASE_MS)
        .await
    {
        Ok(true) => true,
        Ok(false) => {
            tracing::info!(
                notification = n.id,
                "monitoring: a notification lapsed to another server, which sends it"
            );
            false
        }
        Err(e) => {
            tracing::warn!(notification = n.id, error = %e, "monitoring: cannot take a notification; it is sent when its lease lapses");
            false
        }
    }
}

async fn channel_of(
    state: &AppState,
    id: &str,
    kind: &mut String,
) -> Result<steward_notify::Channel, String> {
    let record = state
        .store
        .channels()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| "the channel no longer exists".to_string())?;
    kind.clone_from(&record.kind);
    let plain = state
        .config
        .sealing_key
        .open(&record.settings, &record.id)
        .map_err(|e| format!("cannot open the channel's settings: {e}"))?;
    serde_json::from_slice(&plain).map_err(|e| format!("unreadable channel settings: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(super::backoff_ms(0), 10_000);
        assert_eq!(super::backoff_ms(1), 20_000);
        assert_eq!(super::backoff_ms(5), 320_000);
        assert_eq!(super::backoff_ms(9), 3_600_000);
        assert_eq!(super::backoff_ms(100), 3_600_000);
        assert_eq!(super::backoff_ms(-1), 10_000);
    }
}
