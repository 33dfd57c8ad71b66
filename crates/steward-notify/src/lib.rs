//! Notification channels: where an alert goes. A [`Message`] (one or more [`Alert`]s) is
//! sent through a [`Channel`] (a kind and its settings) by [`send`], which says whether the
//! peer accepted it, so the server's outbox can retry with backoff.
//!
//! Kinds: a generic JSON webhook (optionally HMAC-signed), mail over SMTP, Slack- and
//! Teams-compatible incoming webhooks, ntfy and Telegram. A channel's settings may hold
//! secrets (tokens, passwords, webhook URLs that are themselves secrets): the server stores
//! them sealed, [`Channel::redacted`] shows them masked, and no error this crate returns
//! carries one.
//!
//! In a crate of its own so that the channels' dependencies (the mail crate, TLS clients)
//! are built once, not with every change to the server.

mod email;
mod http;
pub mod message;
mod ntfy;
mod secret;
mod settings;
mod slack;
mod teams;
mod telegram;
pub mod webhook;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use email::{Email, Security};
pub use message::{Alert, CheckStatus, Event, Message};
pub use ntfy::Ntfy;
pub use secret::Secret;
pub use settings::{InvalidSetting, Shown};
pub use slack::Slack;
pub use teams::Teams;
pub use telegram::Telegram;
pub use webhook::Webhook;

/// Where to send, by kind. Stored as JSON with the kind in `kind`:
/// `{"kind": "webhook", "url": "…", "secret": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// A JSON POST of `{"text", "alerts"}`; any 2xx is delivered.
    Webhook(Webhook),
    /// Mail over SMTP (STARTTLS, implicit TLS, or plain to a local relay).
    Email(Email),
    /// A Slack (or Slack-compatible) incoming webhook.
    Slack(Slack),
    /// A Microsoft Teams Workflows webhook (an Adaptive Card).
    Teams(Teams),
    /// An ntfy topic.
    Ntfy(Ntfy),
    /// A Telegram chat, through a bot.
    Telegram(Telegram),
}

/// Why a message did not arrive (the server retries it). The text never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The channel's settings are wrong; fix them.
    #[error("invalid setting {0}")]
    Invalid(#[from] InvalidSetting),
    /// The peer answered and said no: an HTTP status, or an SMTP reply.
    #[error("{0}")]
    Refused(String),
    /// No answer: no connection, a TLS failure, a timeout.
    #[error("{0}")]
    Unreachable(String),
}

impl Channel {
    /// Every kind, as `kind` names it.
    pub const KINDS: [&'static str; 6] = ["webhook", "email", "slack", "teams", "ntfy", "telegram"];

    /// The kind, as stored and as the config file names it: "webhook", "email", ….
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook(_) => "webhook",
            Channel::Email(_) => "email",
            Channel::Slack(_) => "slack",
            Channel::Teams(_) => "teams",
            Channel::Ntfy(_) => "ntfy",
            Channel::Telegram(_) => "telegram",
        }
    }

    /// The settings of a kind that are secrets (which the config file may also take from a
    /// file, `<field>_file`).
    pub fn secret_fields(kind: &str) -> &'static [&'static str] {
        match kind {
            "webhook" => &["secret"],
            "email" => &["password"],
            "slack" | "teams" => &["url"],
            "ntfy" => &["token"],
            "telegram" => &["bot_token"],
            _ => &[],
        }
    }

    /// Checks the settings; the error names the field and what is wrong with it.
    pub fn check(&self) -> Result<(), InvalidSetting> {
        match self {
            Channel::Webhook(c) => c.check(),
            Channel::Email(c) => c.check(),
            Channel::Slack(c) => c.check(),
            Channel::Teams(c) => c.check(),
            Channel::Ntfy(c) => c.check(),
            Channel::Telegram(c) => c.check(),
        }
    }

    /// The settings as the console shows them, in order, secrets masked (and URLs that are
    /// secrets shown by their origin only).
    pub fn redacted(&self) -> Vec<Shown> {
        match self {
            Channel::Webhook(c) => c.redacted(),
            Channel::Email(c) => c.redacted(),
            Channel::Slack(c) => c.redacted(),
            Channel::Teams(c) => c.redacted(),
            Channel::Ntfy(c) => c.redacted(),
            Channel::Telegram(c) => c.redacted(),
        }
    }

    /// The secret strings, to scrub from any error text.
    fn secrets(&self) -> Vec<String> {
        match self {
            Channel::Webhook(c) => c.secrets(),
            Channel::Email(c) => c.secrets(),
            Channel::Slack(c) => c.secrets(),
            Channel::Teams(c) => c.secrets(),
            Channel::Ntfy(c) => c.secrets(),
            Channel::Telegram(c) => c.secrets(),
        }
    }
}

/// Sends `message` through `channel`, giving up after `timeout`. `Ok` only when the peer
/// accepted it (HTTP 2xx, Telegram's `ok`, the mail server's 250 after the data).
pub async fn send(
    channel: &Channel,
    message: &Message,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<(), SendError> {
    channel.check()?;
    let sent = match channel {
        Channel::Webhook(c) => c.send(message, client, timeout).await,
        Channel::Email(c) => c.send(message, timeout).await,
        Channel::Slack(c) => c.send(message, client, timeout).await,
        Channel::Teams(c) => c.send(message, client, timeout).await,
        Channel::Ntfy(c) => c.send(message, client, timeout).await,
        Channel::Telegram(c) => c.send(message, client, timeout).await,
    };
    // Belt and braces: whatever a peer or a library put in the error, no secret leaves.
    sent.map_err(|e| scrub(e, &channel.secrets()))
}

fn scrub(error: SendError, secrets: &[String]) -> SendError {
    let clean = |mut text: String| {
        // Longest first, so a whole URL goes before its path; very short parts ("/") are
        // no secret.
        let mut secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            text = text.replace(secret.as_str(), secret::MASK);
        }
        text
    };
    match error {
        SendError::Refused(t) => SendError::Refused(clean(t)),
        SendError::Unreachable(t) => SendError::Unreachable(clean(t)),
        invalid @ SendError::Invalid(_) => invalid,
    }
}

/// The client channels share: no proxy from the environment, no redirects (a webhook that
/// moves is a configuration to fix, not to follow with the alert in hand).
///
/// The process must have chosen its TLS crypto provider first (the `steward` binary installs
/// ring's at start).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests;
