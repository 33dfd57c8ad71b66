//! ntfy (ntfy.sh or a self-hosted server): a POST of the plain text to the topic's URL, with
//! the title, priority and tags as headers, and a bearer token for a protected topic.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::message::{CheckStatus, Event};
use crate::settings::{InvalidSetting, Shown, http_url, invalid, shown, shown_secret, url_origin};
use crate::{Message, Secret, SendError};

/// ntfy turns longer messages into attachments (or refuses them): cut below its 4096 bytes.
const MAX_BODY_BYTES: usize = 4000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ntfy {
    /// The server and topic: `https://ntfy.sh/steward-alerts`. On a public server the
    /// topic's name is all that protects it, so it is shown masked.
    pub url: String,
    /// An access token (`tk_…`) for a protected topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

impl Ntfy {
    pub(crate) fn check(&self) -> Result<(), InvalidSetting> {
        let url = http_url("url", &self.url)?;
        if url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .is_none_or(str::is_empty)
        {
            return Err(invalid("url", "names no topic (https://ntfy.sh/TOPIC)"));
        }
        if let Some(token) = &self.token
            && (token.is_empty() || !token.expose().chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(invalid(
                "token",
                "is empty or has spaces or control characters",
            ));
        }
        Ok(())
    }

    pub(crate) fn redacted(&self) -> Vec<Shown> {
        let mut out = vec![shown("url", url_origin(&self.url))];
        shown_secret("token", self.token.is_some(), &mut out);
        out
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out = crate::settings::url_secrets(&self.url);
        out.extend(self.token.iter().map(|t| t.expose().to_string()));
        out
    }

    pub(crate) async fn send(
        &self,
        message: &Message,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let (priority, tags) = priority_and_tags(message);
        let mut request = client
            .post(&self.url)
            .header("X-Title", header_text(&message.title()))
            .header("X-Priority", priority.to_string())
            .header("X-Tags", tags)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(truncate_bytes(&message.text(), MAX_BODY_BYTES));
        if let Some(link) = message.alerts.iter().find_map(|a| a.link.as_deref()) {
            request = request.header("X-Click", link);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        crate::http::post(request, timeout, true).await?;
        Ok(())
    }
}

/// ntfy's priority (5 urgent … 1 min) and emoji tags, by the worst alert.
pub(crate) fn priority_and_tags(message: &Message) -> (u8, String) {
    if message.is_test() {
        return (3, "steward,test_tube".into());
    }
    let all_recovered = message
        .alerts
        .iter()
        .all(|a| a.event == Event::Recovery || a.status == CheckStatus::Ok);
    let (priority, tag) = match message.worst() {
        _ if all_recovered => (3, "white_check_mark"),
        CheckStatus::Critical => (5, "rotating_light"),
        CheckStatus::Warning => (4, "warning"),
        CheckStatus::Unknown => (4, "grey_question"),
        CheckStatus::Ok => (3, "white_check_mark"),
    };
    (priority, format!("steward,{tag}"))
}

/// A header value: ASCII as it is, anything else as an RFC 2047 encoded word, which ntfy
/// decodes (HTTP headers carry no UTF-8 of their own).
pub(crate) fn header_text(text: &str) -> String {
    if text.is_ascii() {
        text.to_string()
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
