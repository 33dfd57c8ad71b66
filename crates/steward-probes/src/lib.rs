//! Network monitors: a [`Probe`] says what to look at (an HTTP(S) address, a TCP port), and
//! [`run`] looks once and judges what it saw into a [`CheckStatus`] with a line for people.
//! A probe never fails as such: a refused connection or a timeout is a result (critical),
//! and a probe that could not be attempted (an address that does not parse) is unknown.
//!
//! In a crate of its own so that the network dependencies (and those to come: DNS, ICMP,
//! certificate inspection) are built once, not with every change to the server, and so that
//! an agent can run the same probes behind a site's firewall.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use steward_core::alerting::CheckStatus;

/// What to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Probe {
    /// An HTTP(S) request: OK when the status is `expect_status` (any 2xx or 3xx when not
    /// given) and the body contains `keyword` (when given).
    Http {
        url: String,
        #[serde(default)]
        expect_status: Option<u16>,
        #[serde(default)]
        keyword: Option<String>,
    },
    /// A TCP connection: OK when it opens.
    Tcp { host: String, port: u16 },
}

/// What one look saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: CheckStatus,
    /// "HTTP 200 in 12 ms", "connection refused", …
    pub summary: String,
    pub latency_ms: u64,
}

/// At most this much of a body is read when looking for a keyword.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Looks once, giving up after `timeout`.
pub async fn run(probe: &Probe, client: &reqwest::Client, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let judged = match tokio::time::timeout(timeout, look(probe, client)).await {
        Ok(judged) => judged,
        Err(_) => (
            CheckStatus::Critical,
            format!("no answer within {} ms", timeout.as_millis()),
        ),
    };
    Outcome {
        status: judged.0,
        summary: judged.1,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

async fn look(probe: &Probe, client: &reqwest::Client) -> (CheckStatus, String) {
    let started = Instant::now();
    match probe {
        Probe::Http {
            url,
            expect_status,
            keyword,
        } => {
            let Ok(parsed) = reqwest::Url::parse(url) else {
                return (CheckStatus::Unknown, format!("not a URL: {url}"));
            };
            let response = match client.get(parsed).send().await {
                Ok(r) => r,
                Err(e) => return (CheckStatus::Critical, describe(&e)),
            };
            let code = response.status().as_u16();
            let status_ok = match expect_status {
                Some(expected) => code == *expected,
                None => (200..400).contains(&code),
            };
            let ms = started.elapsed().as_millis();
            if !status_ok {
                return (CheckStatus::Critical, format!("HTTP {code} in {ms} ms"));
            }
            if let Some(word) = keyword {
                let body = read_capped(response).await;
                if !body.contains(word.as_str()) {
                    return (
                        CheckStatus::Critical,
                        format!("HTTP {code} in {ms} ms, without {word:?}"),
                    );
                }
            }
            (CheckStatus::Ok, format!("HTTP {code} in {ms} ms"))
        }
        Probe::Tcp { host, port } => {
            match tokio::net::TcpStream::connect((host.as_str(), *port)).await {
                Ok(_) => (
                    CheckStatus::Ok,
                    format!("port {port} open in {} ms", started.elapsed().as_millis()),
                ),
                Err(e) => (CheckStatus::Critical, format!("port {port}: {e}")),
            }
        }
    }
}

async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_BODY_BYTES {
            body.truncate(MAX_BODY_BYTES);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A request error as a person reads it (the innermost cause, which names what failed).
fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        format!("cannot connect: {cause}")
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        cause.to_string()
    }
}

/// The client probes share: no redirects followed past five, no proxy from the environment
/// (a probe looks at the target itself), its own timeout per look.
///
/// The process must have chosen its TLS crypto provider first (the `steward` binary installs
/// ring's at start).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("steward-probe/", env!("CARGO_PKG_VERSION")))
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

    /// A one-line HTTP server on loopback answering every request with `status` and `body`.
    async fn serve(status: u16, body: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        (port, task)
    }

    fn http(port: u16, keyword: Option<&str>) -> Probe {
        Probe::Http {
            url: format!("http://127.0.0.1:{port}/"),
            expect_status: None,
            keyword: keyword.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn http_targets_are_judged_by_status_and_keyword() {
        let client = client();
        let second = Duration::from_secs(2);
        let (up, _a) = serve(200, "shop open").await;
        let (broken, _b) = serve(503, "maintenance").await;
        let ok = run(&http(up, Some("open")), &client, second).await;
        assert_eq!(ok.status, CheckStatus::Ok, "{ok:?}");
        assert!(ok.summary.starts_with("HTTP 200"), "{ok:?}");
        let missing = run(&http(up, Some("closed")), &client, second).await;
        assert_eq!(missing.status, CheckStatus::Critical);
        assert!(
            missing.summary.contains("without \"closed\""),
            "{missing:?}"
        );
        let bad = run(&http(broken, None), &client, second).await;
        assert_eq!(bad.status, CheckStatus::Critical);
        assert!(bad.summary.starts_with("HTTP 503"), "{bad:?}");
        let expected = Probe::Http {
            url: format!("http://127.0.0.1:{broken}/"),
            expect_status: Some(503),
            keyword: None,
        };
        assert_eq!(
            run(&expected, &client, second).await.status,
            CheckStatus::Ok
        );
        let nonsense = Probe::Http {
            url: "not a url".into(),
            expect_status: None,
            keyword: None,
        };
        assert_eq!(
            run(&nonsense, &client, second).await.status,
            CheckStatus::Unknown
        );
    }

    #[tokio::test]
    async fn a_closed_port_and_a_silent_one_are_critical() {
        let client = client();
        // A port that was just free: nothing listens.
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let refused = run(&http(closed, None), &client, Duration::from_secs(2)).await;
        assert_eq!(refused.status, CheckStatus::Critical);
        assert!(refused.summary.contains("cannot connect"), "{refused:?}");
        let tcp = Probe::Tcp {
            host: "127.0.0.1".into(),
            port: closed,
        };
        assert_eq!(
            run(&tcp, &client, Duration::from_secs(2)).await.status,
            CheckStatus::Critical
        );
        // Accepts but never answers: the timeout decides.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let hung = run(&http(port, None), &client, Duration::from_millis(300)).await;
        assert_eq!(hung.status, CheckStatus::Critical);
        assert!(hung.summary.contains("no answer within 300 ms"), "{hung:?}");
        let open = Probe::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        assert_eq!(
            run(&open, &client, Duration::from_secs(2)).await.status,
            CheckStatus::Ok
        );
    }
}
