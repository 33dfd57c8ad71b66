//! Local peers for the monitoring benches: targets for network monitors (an HTTP server,
//! a TCP port), a webhook receiver, and reading the server's `/metrics`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// An HTTP/1.1 server answering every request `200` with an empty body, keeping connections
/// alive (a probe's pooled connection is reused, as with a real web server). Runs until the
/// returned task is aborted; existing connections then end with it.
pub async fn keep_alive_http(
    addr: SocketAddr,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .context("binding the HTTP target")?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((conn, _)) = listener.accept().await {
            connections.spawn(answer_requests(conn, true));
            // Reap finished connections so the set does not grow for ever.
            while connections.try_join_next().is_some() {}
        }
    });
    Ok((addr, task))
}

/// [`keep_alive_http`] closing each connection after its answer: when the task is aborted,
/// the next probe finds the port closed at once (no pooled connection outlives it).
pub async fn closing_http(
    addr: SocketAddr,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .context("binding the HTTP target")?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(answer_requests(conn, false));
        }
    });
    Ok((addr, task))
}

async fn answer_requests(mut conn: TcpStream, keep_alive: bool) {
    let mut buf = vec![0u8; 4096];
    let mut pending = Vec::new();
    loop {
        let Ok(n) = conn.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        // Requests without bodies (GET): each ends with an empty line.
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            let answer: &[u8] = if keep_alive {
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            if conn.write_all(answer).await.is_err() || !keep_alive {
                return;
            }
        }
        if pending.len() > 64 * 1024 {
            return;
        }
    }
}

/// A TCP port that accepts connections and closes them.
pub async fn tcp_port() -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move { while listener.accept().await.is_ok() {} });
    Ok((addr, task))
}

/// A webhook receiver: its URL, and each JSON body with the moment it arrived.
pub async fn webhook_receiver() -> anyhow::Result<(
    String,
    mpsc::UnboundedReceiver<(Instant, serde_json::Value)>,
)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Some(body) = read_body(&mut conn).await {
                    let arrived = Instant::now();
                    if let Ok(v) = serde_json::from_str(&body) {
                        let _ = tx.send((arrived, v));
                    }
                }
                let _ = conn
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    Ok((url, rx))
}

/// One request's body (up to its `content-length`).
async fn read_body(conn: &mut TcpStream) -> Option<String> {
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
                        .and_then(|v| v.trim().parse::<usize>().ok())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(body.to_string());
            }
        }
        if data.len() > 1024 * 1024 {
            return None;
        }
    }
}

/// The samples of a `/metrics` text: `name{labels}` → value.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The server's `/metrics` (from loopback, which the default configuration allows).
pub async fn scrape(http: &reqwest::Client, base: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let resp = http.get(format!("{base}/metrics")).send().await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "/metrics answered {}",
        resp.status()
    );
    Ok(samples(&resp.text().await?))
}

/// The cumulative buckets of histogram `name` (upper bound, count), ascending, `+Inf` last.
pub fn buckets(samples: &BTreeMap<String, f64>, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut out: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, *v))
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The `q` quantile of the observations between two scrapes of a histogram, estimated as
/// Prometheus's `histogram_quantile` does (linear within the bucket that holds it); also the
/// bucket's upper bound, which the true value does not exceed.
pub fn quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<(f64, f64)> {
    let diff: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| {
            let was = before
                .iter()
                .find(|(b, _)| b == le)
                .map_or(0.0, |(_, n)| *n);
            (*le, n - was)
        })
        .collect();
    let total = diff.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, n) in &diff {
        if *n >= rank {
            if le.is_infinite() {
                return Some((lower.0, *le));
            }
            let within = (rank - lower.1) / (n - lower.1).max(f64::MIN_POSITIVE);
            return Some((lower.0 + (le - lower.0) * within, *le));
        }
        lower = (*le, *n);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_difference_of_two_scrapes() {
        let before = [(0.1, 10.0), (0.5, 10.0), (1.0, 10.0), (f64::INFINITY, 10.0)];
        let after = [
            (0.1, 60.0),
            (0.5, 105.0),
            (1.0, 110.0),
            (f64::INFINITY, 110.0),
        ];
        // 100 new observations: 50 ≤ 0.1, 45 in (0.1, 0.5], 5 in (0.5, 1].
        let (p50, bound) = quantile(&before, &after, 0.5).unwrap();
        assert_eq!(bound, 0.1);
        assert!((p50 - 0.1).abs() < 1e-9);
        let (p99, bound) = quantile(&before, &after, 0.99).unwrap();
        assert_eq!(bound, 1.0);
        assert!(p99 > 0.5 && p99 <= 1.0, "{p99}");
        assert!(quantile(&after, &after, 0.5).is_none());
    }

    #[test]
    fn samples_and_buckets_are_read_from_the_text_format() {
        let text =
            "# TYPE x histogram\nx_bucket{le=\"0.5\"} 3\nx_bucket{le=\"+Inf\"} 4\nx_count 4\n";
        let s = samples(text);
        assert_eq!(s["x_count"], 4.0);
        assert_eq!(buckets(&s, "x"), vec![(0.5, 3.0), (f64::INFINITY, 4.0)]);
    }
}
