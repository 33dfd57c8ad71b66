//! The outbox as people see it: recent notifications, newest first, each delivered,
//! waiting, or retrying with its attempts and last error — so a channel that stopped
//! working shows here rather than only in the log.

use std::collections::HashMap;

use steward_core::Action;
use steward_proto::monitoring::DeliveryInfo;
use steward_store::NotificationRecord;

use super::error::Result;
use crate::service::Caller;
use crate::state::AppState;

/// The most deliveries one answer lists.
pub const MAX_LISTED: u32 = 200;

/// Recent notifications, newest first (administrators: they show where alerts go).
pub async fn recent(state: &AppState, caller: &Caller, limit: u32) -> Result<Vec<DeliveryInfo>> {
    caller.require(Action::ManageChannels)?;
    let names: HashMap<String, String> = state
        .store
        .channels()
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let listed = state
        .store
        .notifications(limit.clamp(1, MAX_LISTED))
        .await?;
    Ok(listed.into_iter().map(|n| info(n, &names)).collect())
}

fn info(n: NotificationRecord, names: &HashMap<String, String>) -> DeliveryInfo {
    let title = serde_json::from_str::<steward_notify::Message>(&n.payload)
        .map_or_else(|_| "(unreadable message)".to_string(), |m| m.title());
    let state = match (n.delivered_at, n.attempts) {
        (Some(_), _) => "delivered",
        (None, 0) => "waiting",
        (None, _) => "retrying",
    };
    DeliveryInfo {
        id: n.id,
        channel: names.get(&n.channel_id).cloned().unwrap_or_default(),
        channel_id: n.channel_id,
        title,
        state: state.to_string(),
        attempts: n.attempts,
        last_error: n.last_error,
        created_at: n.created_at,
        next_attempt_at: n.next_attempt_at,
        delivered_at: n.delivered_at,
    }
}
