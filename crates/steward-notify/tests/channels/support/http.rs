//! A real HTTP receiver on loopback (axum): it answers every request with a fixed status and
//! body, and hands the test what it got.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use tokio::sync::mpsc;

/// One request as the receiver saw it.
#[derive(Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    pub got: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(5), self.got.recv())
            .await
            .expect("a request within 5 s")
            .expect("the receiver is running")
    }
}

/// A receiver answering `status` with `answer` (as JSON when it parses as JSON).
pub async fn receiver(status: u16, answer: &'static str) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, got) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Received {
                    method,
                    path: uri.to_string(),
                    headers,
                    body,
                });
                let content_type = if serde_json::from_str::<serde_json::Value>(answer).is_ok() {
                    "application/json"
                } else {
                    "text/plain"
                };
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", content_type)],
                    answer,
                )
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { base, got }
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}
