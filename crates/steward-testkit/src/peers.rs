//! Real peers on loopback for monitoring tests: an HTTP target a test stops and starts
//! again (one that notes when each request came, to count how often a check ran), a webhook
//! receiver that hands each JSON body it gets to the test, and one that takes requests and
//! never answers (a receiver hung mid-delivery).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A free loopback address (nothing listens on it when this returns).
pub async fn free_address() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// An HTTP server answering `200 ok` on `addr` until the returned task is aborted.
pub async fn http_target(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    })
}

/// When each request reached a target (wall-clock time, to compare with the times a server
/// stores), shared by the target's incarnations across a stop and a start.
#[derive(Debug, Clone, Default)]
pub struct Hits(Arc<Mutex<Vec<SystemTime>>>);

impl Hits {
    /// Every arrival so far, in order.
    pub fn times(&self) -> Vec<SystemTime> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Arrivals at or after `from` and before `to`.
    pub fn between(&self, from: SystemTime, to: SystemTime) -> usize {
        self.times()
            .into_iter()
            .filter(|t| *t >= from && *t < to)
            .count()
    }

    fn note(&self) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SystemTime::now());
    }
}

/// [`http_target`] that notes each connection's arrival in `hits` and answers `delay` after
/// it (a slow target keeps a probe in flight that long).
pub async fn counting_target(
    addr: SocketAddr,
    delay: Duration,
    hits: Hits,
) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            hits.note();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    })
}

/// A webhook receiver: its URL, and the JSON body of every request, in order. It answers
/// 204.
pub async fn webhook_receiver() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (rx, _serving) = serve_webhook(listener, true);
    (url, rx)
}

/// [`webhook_receiver`] on `addr` (its URL is `http://ADDR/hook`), until the returned task is
/// aborted: for a receiver that comes up after the alert was decided.
pub async fn webhook_receiver_at(
    addr: SocketAddr,
) -> (
    mpsc::UnboundedReceiver<serde_json::Value>,
    tokio::task::JoinHandle<()>,
) {
    serve_webhook(TcpListener::bind(addr).await.unwrap(), true)
}

/// A receiver on `addr` that reads each request whole, hands its JSON body to the test, and
/// never answers while the returned task runs: the sender's delivery stays in flight.
pub async fn silent_receiver_at(
    addr: SocketAddr,
) -> (
    mpsc::UnboundedReceiver<serde_json::Value>,
    tokio::task::JoinHandle<()>,
) {
    serve_webhook(TcpListener::bind(addr).await.unwrap(), false)
}

/// Serves webhook requests on `listener`: each JSON body goes to the returned receiver, and
/// is answered 204 when `answer` (else the connection is held, unanswered, until the task is
/// aborted).
fn serve_webhook(
    listener: TcpListener,
    answer: bool,
) -> (
    mpsc::UnboundedReceiver<serde_json::Value>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let serving = tokio::spawn(async move {
        // Connections are the task's own: aborting it closes them (a receiver going away).
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut conn, _)) = listener.accept().await {
            while connections.try_join_next().is_some() {}
            let tx = tx.clone();
            connections.spawn(async move {
                if let Some(body) = read_body(&mut conn).await
                    && let Ok(v) = serde_json::from_str(&body)
                {
                    let _ = tx.send(v);
                }
                if answer {
                    let _ = conn
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await;
                } else {
                    std::future::pending::<()>().await;
                }
            });
        }
    });
    (rx, serving)
}

/// Reads one request up to the end of its body (its `content-length`).
async fn read_body(conn: &mut tokio::net::TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = conn.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(body.to_string());
            }
        }
    }
}

/// The next message within `limit`, if one arrives.
pub async fn next_within(
    rx: &mut mpsc::UnboundedReceiver<serde_json::Value>,
    limit: Duration,
) -> Option<serde_json::Value> {
    tokio::time::timeout(limit, rx.recv()).await.ok().flatten()
}
