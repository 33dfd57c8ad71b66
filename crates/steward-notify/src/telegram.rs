//! Telegram: the Bot API's `sendMessage` with the plain text (no parse mode, so nothing in
//! a check's name or summary can break the formatting). The bot token is part of the URL
//! (`{api_base}/bot{token}/sendMessage`), so neither the URL nor reqwest's errors (which
//! name it) are ever shown.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::message::truncate;
use crate::settings::{InvalidSetting, Shown, http_url, invalid, shown, shown_secret};
use crate::{Message, Secret, SendError};

pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";
/// Telegram's limit for a message's text, in characters.
const MAX_TEXT_CHARS: usize = 4096;
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Telegram {
    /// From @BotFather: `123456:ABC-…`.
    pub bot_token: Secret,
    /// A chat's id (`-1001234567890`) or a channel's `@name`.
    pub chat_id: String,
    /// The Bot API's address (a local Bot API server, or a test's receiver).
    #[serde(default = "default_api_base")]
    pub api_base: String,
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_string()
}

/// What the Bot API answers.
#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    description: String,
}

impl Telegram {
    pub(crate) fn check(&self) -> Result<(), InvalidSetting> {
        // The token goes into the URL's path: only the characters tokens are made of.
        let token = self.bot_token.expose();
        let well_formed = token.split_once(':').is_some_and(|(id, key)| {
            !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit())
                && !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !well_formed {
            return Err(invalid(
                "bot_token",
                "is not a bot token (digits:letters, from @BotFather)",
            ));
        }
        let chat = self.chat_id.trim();
        let numeric = chat.strip_prefix('-').unwrap_or(chat);
        let is_id = !numeric.is_empty() && numeric.chars().all(|c| c.is_ascii_digit());
        let is_name = chat.strip_prefix('@').is_some_and(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !(is_id || is_name) {
            return Err(invalid("chat_id", "is a number (-100…) or @channelname"));
        }
        let base = http_url("api_base", &self.api_base)?;
        if base.query().is_some() {
            return Err(invalid("api_base", "must not have a query"));
        }
        Ok(())
    }

    pub(crate) fn redacted(&self) -> Vec<Shown> {
        let mut out = Vec::new();
        shown_secret("bot_token", true, &mut out);
        out.push(shown("chat_id", self.chat_id.clone()));
        out.push(shown("api_base", self.api_base.clone()));
        out
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        vec![self.bot_token.expose().to_string()]
    }

    pub(crate) async fn send(
        &self,
        message: &Message,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let url = format!(
            "{}/bot{}/sendMessage",
            self.api_base.trim_end_matches('/'),
            self.bot_token.expose()
        );
        let body = json!({
            "chat_id": self.chat_id.trim(),
            "text": truncate(&message.text(), MAX_TEXT_CHARS),
            "disable_web_page_preview": true,
        });
        // Telegram explains a refusal in its JSON answer; its body is read here rather than
        // by the shared helper, and only its `description` is shown.
        let response = client
            .post(url)
            .json(&body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| SendError::Unreachable(crate::http::describe(e, timeout)))?;
        let status = response.status().as_u16();
        let answer = crate::http::read_bounded(response, MAX_ANSWER_BYTES).await;
        match serde_json::from_slice::<Answer>(&answer) {
            Ok(a) if a.ok && (200..300).contains(&status) => Ok(()),
            Ok(a) => Err(crate::http::refused(
                status,
                &crate::message::one_line(&a.description, 200),
            )),
            Err(_) => Err(crate::http::refused(status, "not a Bot API answer")),
        }
    }
}
