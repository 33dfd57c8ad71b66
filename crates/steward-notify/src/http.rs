//! Sending over HTTP, shared by the webhook-like channels: one POST, accepted on 2xx, and
//! errors that say why without the URL (reqwest's own messages name it, and a channel's URL
//! may be its secret: a Slack or Teams webhook, a Telegram bot token in the path).

use std::time::Duration;

use crate::SendError;

/// How much of a refusal's body is read, and how much of it is shown.
const MAX_ERROR_BODY_BYTES: usize = 16 * 1024;
const MAX_ERROR_DETAIL_CHARS: usize = 200;

/// Sends `request` and returns the response when the peer accepted it (2xx). A refusal is
/// `Refused` with the status and, when `show_body`, the start of what the peer said.
pub(crate) async fn post(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    show_body: bool,
) -> Result<reqwest::Response, SendError> {
    let response = request
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| SendError::Unreachable(describe(e, timeout)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let detail = if show_body {
        let body = read_bounded(response, MAX_ERROR_BODY_BYTES).await;
        crate::message::one_line(
            String::from_utf8_lossy(&body).trim(),
            MAX_ERROR_DETAIL_CHARS,
        )
    } else {
        String::new()
    };
    Err(refused(status.as_u16(), &detail))
}

pub(crate) fn refused(status: u16, detail: &str) -> SendError {
    if detail.is_empty() {
        SendError::Refused(format!("the receiver answered HTTP {status}"))
    } else {
        SendError::Refused(format!("the receiver answered HTTP {status}: {detail}"))
    }
}

/// At most `limit` bytes of the body (a hostile peer may send without end).
pub(crate) async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// Why a request did not get an answer, without the URL.
pub(crate) fn describe(e: reqwest::Error, timeout: Duration) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f32());
    }
    let prefix = if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    format!("{prefix}: {}", innermost(&e))
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
