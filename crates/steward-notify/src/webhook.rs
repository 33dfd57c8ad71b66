//! The generic webhook: a JSON POST of `{"text": title, "alerts": [...]}`, signed when a
//! secret is set.
//!
//! The signature lets a receiver check that the POST comes from this server and is fresh:
//! - `X-Steward-Timestamp`: the sending time, in whole seconds since the Unix epoch;
//! - `X-Steward-Signature`: `sha256=` and the lowercase hex of
//!   HMAC-SHA256(secret, `"{timestamp}.{body}"`), over the body's exact bytes.
//!
//! A receiver recomputes it, compares in constant time, and refuses a timestamp more than a
//! few minutes from its own clock (a replayed request).

use std::time::{Duration, SystemTime};

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use crate::settings::{
    InvalidSetting, Shown, http_url, invalid, shown, shown_secret, url_without_query,
};
use crate::{Alert, Message, Secret, SendError};

pub const TIMESTAMP_HEADER: &str = "x-steward-timestamp";
pub const SIGNATURE_HEADER: &str = "x-steward-signature";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// Signs each POST (see the module's documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

/// What the receiver gets.
#[derive(Serialize)]
struct Body<'a> {
    text: String,
    alerts: &'a [Alert],
}

impl Webhook {
    pub(crate) fn check(&self) -> Result<(), InvalidSetting> {
        http_url("url", &self.url)?;
        if self.secret.as_ref().is_some_and(Secret::is_empty) {
            return Err(invalid(
                "secret",
                "is empty (leave it out to send unsigned)",
            ));
        }
        Ok(())
    }

    pub(crate) fn redacted(&self) -> Vec<Shown> {
        let mut out = vec![shown("url", url_without_query(&self.url))];
        shown_secret("secret", self.secret.is_some(), &mut out);
        out
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        self.secret.iter().map(|s| s.expose().to_string()).collect()
    }

    pub(crate) async fn send(
        &self,
        message: &Message,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let body = serde_json::to_vec(&Body {
            text: message.title(),
            alerts: &message.alerts,
        })
        .map_err(|e| SendError::Unreachable(format!("cannot encode the message: {e}")))?;
        let mut request = client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let timestamp = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            request = request
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, sign(secret.expose(), timestamp, &body));
        }
        crate::http::post(request.body(body), timeout, true).await?;
        Ok(())
    }
}

/// The signature header's value for `body` sent at `timestamp` (seconds since the epoch):
/// `sha256=<hex of HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
