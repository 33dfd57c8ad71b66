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
//!
//! Notices decided close together for one channel go out as one message: a channel's
//! notifications are claimed together once the oldest is [`GROUP_WINDOW_MS`] old
//! (`Store::claim_notification_groups`), and each channel's share of a claim is sent as one
//! message of up to [`MAX_ALERTS`] alerts, so a switch failing with the twenty checks behind
//! it is one mail, not twenty.

use std::time::Duration;

use steward_core::Timestamp;
use steward_store::NotificationRecord;

use crate::state::AppState;

const TICK: Duration = Duration::from_millis(250);
const BATCH: u32 = 64;
const LEASE_MS: i64 = super::leases::LEASE_MS;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a notice waits for others to join it in one message.
pub const GROUP_WINDOW_MS: i64 = 1_000;
/// The most alerts in one message (the chat channels shorten long ones further).
const MAX_ALERTS: usize = 50;

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
                .claim_notification_groups(
                    &state.instance,
                    state.now(),
                    GROUP_WINDOW_MS,
                    BATCH,
                    LEASE_MS,
                )
                .await
            {
                Ok(due) if !due.is_empty() => {
                    for group in groups(due) {
                        deliver(&state, &client, &group).await;
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

/// The claimed notifications by channel, in the order claimed, at most [`MAX_ALERTS`] to a
/// group.
fn groups(claimed: Vec<NotificationRecord>) -> Vec<Vec<NotificationRecord>> {
    let mut groups: Vec<Vec<NotificationRecord>> = Vec::new();
    for n in claimed {
        match groups
            .iter_mut()
            .find(|g| g[0].channel_id == n.channel_id && g.len() < MAX_ALERTS)
        {
            Some(group) => group.push(n),
            None => groups.push(vec![n]),
        }
    }
    groups
}

/// Sends one channel's group as one message and records the outcome for each of them.
async fn deliver(state: &AppState, client: &reqwest::Client, group: &[NotificationRecord]) {
    let Some(first) = group.first() else {
        return;
    };
    // The channel's kind labels the delivery in the metrics (`unknown` when it is gone).
    let mut kind = String::from("unknown");
    let channel = channel_of(state, &first.channel_id, &mut kind).await;
    let mut sending = Vec::with_capacity(group.len());
    let mut message = steward_notify::Message { alerts: Vec::new() };
    for n in group {
        match serde_json::from_str::<steward_notify::Message>(&n.payload) {
            Ok(m) => {
                if channel.is_ok() && !still_ours(state, n).await {
                    continue;
                }
                message.alerts.extend(m.alerts);
                sending.push(n);
            }
            // Nothing to send, ever: recorded as failed with the reason, seen in the console.
            Err(e) => record(state, n, Err(format!("unreadable message: {e}"))).await,
        }
    }
    if sending.is_empty() {
        return;
    }
    let sent = match &channel {
        Ok(channel) => steward_notify::send(channel, &message, client, SEND_TIMEOUT)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    state.telemetry.notification_attempted(&kind, sent.is_ok());
    for n in sending {
        record(state, n, sent.clone()).await;
    }
}

/// Records a delivery, or a failure to be retried after the notification's backoff.
async fn record(state: &AppState, n: &NotificationRecord, sent: Result<(), String>) {
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
