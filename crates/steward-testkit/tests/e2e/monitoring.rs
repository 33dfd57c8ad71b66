//! A network monitor from the configuration, end to end: a real HTTP target the test stops
//! and starts again, the server's scheduler and notifier, and a real webhook receiver. The
//! alert reaches the receiver once, the recovery once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use steward_server::monitoring::{DeclaredChannel, DeclaredCheck};
use steward_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An HTTP server answering 200 on `addr` until the returned task is aborted.
async fn target(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nshop open")
                    .await;
            });
        }
    })
}

/// A webhook receiver: every request's body arrives on the channel; answers 204.
async fn receiver() -> (String, mpsc::UnboundedReceiver<serde_json::Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                // Read until the whole body (content-length) is in.
                loop {
                    let n = conn.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
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
                            if let Ok(v) = serde_json::from_str(body) {
                                let _ = tx.send(v);
                            }
                            break;
                        }
                    }
                }
                let _ = conn
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, rx)
}

async fn next_within(
    rx: &mut mpsc::UnboundedReceiver<serde_json::Value>,
    limit: Duration,
) -> Option<serde_json::Value> {
    tokio::time::timeout(limit, rx.recv()).await.ok().flatten()
}

#[tokio::test]
async fn a_target_going_down_and_up_is_announced_once_each_way() {
    // A free port for the target, kept by the target while it is up.
    let addr = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap()
    };
    let up = target(addr).await;
    let (hook, mut received) = receiver().await;
    let interval = Duration::from_secs(1);
    let retries = 1;
    let server = TestServer::sqlite_configured(|c| {
        c.declared_checks = vec![DeclaredCheck {
            name: "shop-website".into(),
            probe: steward_probes::Probe::Http {
                url: format!("http://{addr}/"),
                expect_status: None,
                keyword: None,
            },
            interval,
            timeout: Duration::from_secs(1),
            retries,
            runbook: "Restart the shop's web server.".into(),
        }];
        c.declared_channels = vec![DeclaredChannel {
            name: "ops-webhook".into(),
            channel: steward_notify::Channel::Webhook { url: hook },
        }];
    })
    .await;
    // While it is up, nobody is told anything.
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none()
    );
    let state = server
        .store
        .check_state("config:shop-website", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, "ok");

    up.abort();
    let _ = up.await;
    let stopped = Instant::now();
    let bound = interval * (retries + 1) + Duration::from_secs(5);
    let alert = next_within(&mut received, bound)
        .await
        .expect("the alert within the bound");
    assert!(stopped.elapsed() <= bound, "{:?}", stopped.elapsed());
    assert_eq!(alert["event"], "problem", "{alert}");
    assert_eq!(alert["check"], "shop-website");
    assert_eq!(alert["status"], "critical");
    assert_eq!(alert["runbook"], "Restart the shop's web server.");
    // Still down: no second alert.
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none()
    );

    let _again = target(addr).await;
    let recovery = next_within(&mut received, bound)
        .await
        .expect("the recovery within the bound");
    assert_eq!(recovery["event"], "recovery", "{recovery}");
    assert_eq!(recovery["previous"], "critical");
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none()
    );
    let history = server
        .store
        .check_history("config:shop-website", "", 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    let delivered = server.store.notifications(10).await.unwrap();
    assert_eq!(delivered.len(), 2);
    assert!(delivered.iter().all(|n| n.delivered_at.is_some()));
    server.cleanup().await;
}
