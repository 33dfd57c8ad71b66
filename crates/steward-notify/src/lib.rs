//! Notification channels: where an alert goes. A [`Channel`] is a kind and its settings;
//! [`send`] delivers one message and says whether it arrived, so the server's outbox can
//! retry with backoff. Webhooks first (a JSON POST); mail, Slack, Teams, ntfy and Telegram
//! are further variants of the same enum.
//!
//! In a crate of its own so that the channels' dependencies (the mail crate, TLS clients)
//! are built once, not with every change to the server.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where to send, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// A JSON POST of the message to `url`; any 2xx is delivered.
    Webhook { url: String },
}

/// Why a message did not arrive (it is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("not a URL: {0}")]
    BadAddress(String),
    #[error("the receiver answered HTTP {0}")]
    Refused(u16),
    #[error("{0}")]
    Unreachable(String),
}

impl Channel {
    /// Checks the settings (at start, for channels from the config file).
    pub fn check(&self) -> Result<(), SendError> {
        match self {
            Channel::Webhook { url } => reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|_| ())
                .ok_or_else(|| SendError::BadAddress(url.clone())),
        }
    }
}

/// Sends `message` (a JSON document) through `channel`, giving up after `timeout`.
pub async fn send(
    channel: &Channel,
    message: &serde_json::Value,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<(), SendError> {
    channel.check()?;
    match channel {
        Channel::Webhook { url } => {
            let response = client
                .post(url)
                .timeout(timeout)
                .json(message)
                .send()
                .await
                .map_err(|e| SendError::Unreachable(innermost(&e)))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(SendError::Refused(status.as_u16()))
            }
        }
    }
}

fn innermost(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        super::client().unwrap()
    }

    /// A webhook receiver answering `status`; the requests it got arrive on the channel.
    async fn receiver(status: u16) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 64 * 1024];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        (url, rx)
    }

    #[tokio::test]
    async fn a_webhook_gets_the_message_as_json() {
        let (url, mut got) = receiver(204).await;
        let channel = Channel::Webhook { url };
        let message = serde_json::json!({"check": "shop-website", "status": "critical"});
        send(&channel, &message, &client(), Duration::from_secs(2))
            .await
            .unwrap();
        let request = got.recv().await.unwrap();
        assert!(request.starts_with("POST /hook"), "{request}");
        assert!(
            request
                .to_lowercase()
                .contains("content-type: application/json")
        );
        assert!(request.contains(r#""check":"shop-website""#), "{request}");
    }

    #[tokio::test]
    async fn a_refusal_or_no_receiver_is_an_error_to_retry() {
        let (url, _got) = receiver(500).await;
        let refused = send(
            &Channel::Webhook { url },
            &serde_json::json!({}),
            &client(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(refused, Err(SendError::Refused(500)));
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let nobody = Channel::Webhook {
            url: format!("http://127.0.0.1:{closed}/hook"),
        };
        assert!(matches!(
            send(
                &nobody,
                &serde_json::json!({}),
                &client(),
                Duration::from_secs(2)
            )
            .await,
            Err(SendError::Unreachable(_))
        ));
        let bad = Channel::Webhook {
            url: "ftp://x".into(),
        };
        assert!(matches!(bad.check(), Err(SendError::BadAddress(_))));
    }
}
