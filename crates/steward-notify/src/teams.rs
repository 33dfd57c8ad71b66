//! Microsoft Teams: a Workflows webhook ("Post to a channel when a webhook request is
//! received", the replacement for the retired Office 365 connectors). It takes a message
//! envelope carrying an Adaptive Card (schema 1.4):
//! `{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
//! "contentUrl": null, "content": {"type": "AdaptiveCard", ...}}]}`, and answers 202.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::message::{CheckStatus, Event, truncate};
use crate::settings::{InvalidSetting, Shown, http_url, shown, url_origin};
use crate::{Message, SendError};

pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// Teams refuses cards over about 28 KB; alerts past this many are counted, not shown.
const MAX_ALERTS: usize = 10;
const MAX_TEXT_CHARS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teams {
    /// The workflow's URL (its `sig=` query is the secret).
    pub url: String,
}

impl Teams {
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

/// An Adaptive Card text colour.
fn colour(event: Event, status: CheckStatus) -> &'static str {
    match (event, status) {
        (Event::Test, _) => "accent",
        (_, CheckStatus::Critical) => "attention",
        (_, CheckStatus::Warning) => "warning",
        (_, CheckStatus::Unknown) => "default",
        (_, CheckStatus::Ok) => "good",
    }
}

pub(crate) fn payload(message: &Message) -> serde_json::Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": message.title(),
        "weight": "bolder",
        "size": "medium",
        "wrap": true,
        "color": colour(
            if message.is_test() { Event::Test } else { Event::Problem },
            message.worst()
        ),
    })];
    let mut actions = Vec::new();
    for alert in message.alerts.iter().take(MAX_ALERTS) {
        if message.alerts.len() > 1 {
            body.push(json!({
                "type": "TextBlock",
                "text": alert.title(),
                "weight": "bolder",
                "wrap": true,
                "separator": true,
                "color": colour(alert.event, alert.status),
            }));
        }
        let mut facts = vec![
            json!({"title": "Status", "value": alert.status_line()}),
            json!({"title": "At", "value": alert.when()}),
        ];
        if !alert.summary.trim().is_empty() {
            facts.push(json!({"title": "Summary", "value": truncate(alert.summary.trim(), MAX_TEXT_CHARS)}));
        }
        body.push(json!({"type": "FactSet", "facts": facts}));
        if !alert.runbook.trim().is_empty() {
            body.push(json!({
                "type": "TextBlock",
                "text": truncate(alert.runbook.trim(), MAX_TEXT_CHARS),
                "wrap": true,
            }));
        }
        if let Some(link) = &alert.link
            && actions.len() < 5
        {
            actions
                .push(json!({"type": "Action.OpenUrl", "title": "Open in Steward", "url": link}));
        }
    }
    if message.alerts.len() > MAX_ALERTS {
        body.push(json!({
            "type": "TextBlock",
            "text": format!("… and {} more", message.alerts.len() - MAX_ALERTS),
            "isSubtle": true,
        }));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if !actions.is_empty() {
        card["actions"] = json!(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": CARD_CONTENT_TYPE,
            "contentUrl": null,
            "content": card,
        }],
    })
}
