//! Slack incoming webhooks (and the Slack-compatible ones of Mattermost and Rocket.Chat):
//! `text` (the title, also what notifications show) and one attachment per alert, coloured
//! by status. Attachments rather than blocks because every Slack-compatible receiver renders
//! them; Slack still does.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::message::{CheckStatus, Event, truncate};
use crate::settings::{InvalidSetting, Shown, http_url, shown, url_origin};
use crate::{Message, SendError};

/// Slack shows at most this many attachments; the rest are counted in the last one.
const MAX_ATTACHMENTS: usize = 20;
/// An attachment's text is cut well under Slack's limits.
const MAX_TEXT_CHARS: usize = 3000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    /// The webhook URL: whoever has it can post, so it is treated as a secret.
    pub url: String,
}

impl Slack {
    pub(crate) fn check(&self) -> Result<(), InvalidSetting> {
        http_url("url", &self.url).map(|_| ())
    }

    pub(crate) fn redacted(&self) -> Vec<Shown> {
        vec![shown("url", url_origin(&self.url))]
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        crate::settings::url_secrets(&self.url)
    }

    pub(crate) async fn send(
        &self,
        message: &Message,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let request = client.post(&self.url).json(&payload(message));
        crate::http::post(request, timeout, true).await?;
        Ok(())
    }
}

/// The colour of an alert's bar.
pub(crate) fn colour(event: Event, status: CheckStatus) -> &'static str {
    match (event, status) {
        (Event::Test, _) => "#1e88e5",
        (_, CheckStatus::Critical) => "#d32f2f",
        (_, CheckStatus::Warning) => "#f9a825",
        (_, CheckStatus::Unknown) => "#757575",
        (_, CheckStatus::Ok) => "#2e7d32",
    }
}

/// Slack's text escaping: `&`, `<` and `>` only (everything else is literal or mrkdwn).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(crate) fn payload(message: &Message) -> serde_json::Value {
    let mut attachments: Vec<serde_json::Value> = message
        .alerts
        .iter()
        .take(MAX_ATTACHMENTS)
        .map(|alert| {
            let mut text = format!("*Status:* {}", escape(&alert.status_line()));
            if !alert.summary.trim().is_empty() {
                text.push_str(&format!("\n*Summary:* {}", escape(alert.summary.trim())));
            }
            if !alert.runbook.trim().is_empty() {
                text.push_str(&format!("\n*Runbook:*\n{}", escape(alert.runbook.trim())));
            }
            let mut attachment = json!({
                "color": colour(alert.event, alert.status),
                "fallback": alert.title(),
                "title": escape(&alert.title()),
                "text": truncate(&text, MAX_TEXT_CHARS),
                "mrkdwn_in": ["text"],
                "ts": alert.at.div_euclid(1000),
            });
            if let Some(link) = &alert.link {
                attachment["title_link"] = json!(link);
            }
            attachment
        })
        .collect();
    if message.alerts.len() > MAX_ATTACHMENTS {
        attachments.push(json!({
            "color": "#757575",
            "text": format!("… and {} more", message.alerts.len() - MAX_ATTACHMENTS),
        }));
    }
    json!({
        "text": escape(&message.title()),
        "attachments": attachments,
    })
}
