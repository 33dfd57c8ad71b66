//! `/metrics` over real HTTP: what it counts (check-ins, ingest, requests by route template,
//! checks run and their lateness, queue depths), and who may read it — loopback by default,
//! a bearer token, allowed networks (after trusted proxies).

use std::time::Duration;

use steward_proto::agent::{Report, ReportBatch};
use steward_server::monitoring::DeclaredCheck;
use steward_server::telemetry::{MetricsAccess, MetricsToken};
use steward_testkit::{TestServer, eventually};

const TOKEN: &str = "scrape-0123456789abcdef";

async fn scrape(server: &TestServer, bearer: Option<&str>) -> reqwest::Response {
    let mut req = server.http.get(format!("{}/metrics", server.url));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// The value of the sample line `name` (with its labels, as written), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_what_the_server_does() {
    // A TCP check against a port that listens, every second.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = target.local_addr().unwrap().port();
    let accept = tokio::spawn(async move { while target.accept().await.is_ok() {} });
    let server = TestServer::sqlite_configured(|c| {
        c.declared_checks = vec![DeclaredCheck {
            name: "tcp-port".into(),
            probe: steward_probes::Probe::Tcp(steward_probes::Tcp {
                host: "127.0.0.1".into(),
                port,
            }),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries: 0,
            runbook: String::new(),
        }];
    })
    .await;
    // A check-in, a health request, a request for nothing.
    let (_, credential) = server.enroll_raw("metered").await;
    let resp = server
        .http
        .post(format!("{}/agent/v1/reports", server.url))
        .bearer_auth(&credential)
        .json(&ReportBatch {
            reports: vec![Report {
                seq: 1,
                collected_at: server.now(),
                metrics: None,
                inventory: None,
                observations: None,
                posture: None,
                updates: None,
                summarised: 0,
                detections: Vec::new(),
                stopping: false,
            }],
            capabilities: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let health = server.http.get(format!("{}/api/v1/health", server.url));
    assert_eq!(health.send().await.unwrap().status().as_u16(), 200);
    let missing = server.http.get(format!("{}/no/such/{}", server.url, "x"));
    assert_eq!(missing.send().await.unwrap().status().as_u16(), 404);

    let text = eventually(
        Duration::from_secs(10),
        "two runs of the TCP check",
        || async {
            let resp = scrape(&server, None).await;
            assert_eq!(resp.status().as_u16(), 200);
            assert_eq!(
                resp.headers()["content-type"],
                "text/plain; version=0.0.4; charset=utf-8"
            );
            let text = resp.text().await.unwrap();
            let runs = sample(
                &text,
                "steward_checks_run_total{kind=\"tcp\",status=\"ok\"}",
            );
            (runs.unwrap_or(0.0) >= 2.0).then_some(text)
        },
    )
    .await;
    assert_eq!(sample(&text, "steward_checkins_total"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "steward_ingest_duration_seconds_count"),
        Some(1.0)
    );
    let lateness_runs = sample(&text, "steward_check_lateness_seconds_count").unwrap();
    assert!(lateness_runs >= 2.0, "{text}");
    // Each check started well within a second of its time.
    assert_eq!(
        sample(&text, "steward_check_lateness_seconds_bucket{le=\"1\"}"),
        Some(lateness_runs),
        "{text}"
    );
    // Requests by route template and status class; the unmatched path is not a label.
    assert_eq!(
        sample(
            &text,
            "steward_http_request_duration_seconds_count{route=\"/api/v1/health\",method=\"GET\",status_class=\"2xx\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "steward_http_request_duration_seconds_count{route=\"/agent/v1/reports\",method=\"POST\",status_class=\"2xx\"}"
        ) == Some(1.0)
    );
    assert!(
        text.contains("route=\"unmatched\",method=\"GET\",status_class=\"4xx\""),
        "{text}"
    );
    assert!(!text.contains("/no/such"), "a raw path became a label");
    // Queue depths, read at the scrape.
    for gauge in [
        "steward_notifications_pending",
        "steward_checks_due",
        "steward_checks_overdue",
        "steward_jobs_queued",
    ] {
        assert!(sample(&text, gauge).is_some(), "{gauge} missing: {text}");
    }
    // A job queued shows (within the second the depths are cached for).
    let admin = server.api_token().await;
    let (id, _) = server.enroll_raw("queued-for").await;
    let (status, _) = server
        .api_post(
            &admin,
            &format!("/api/v1/devices/{id}/jobs"),
            serde_json::json!({"kind": "collect_inventory"}),
        )
        .await;
    assert_eq!(status, 201);
    eventually(
        Duration::from_secs(5),
        "the queued job in the metrics",
        || async {
            let text = scrape(&server, None).await.text().await.unwrap();
            (sample(&text, "steward_jobs_queued") == Some(1.0)).then_some(())
        },
    )
    .await;
    accept.abort();
    server.cleanup().await;
}

#[tokio::test]
async fn a_token_opens_the_metrics_and_nothing_else_does() {
    let server = TestServer::sqlite_configured(|c| {
        c.metrics = MetricsAccess {
            token: Some(MetricsToken::new(TOKEN).unwrap()),
            allow: Vec::new(),
        };
    })
    .await;
    let refused = scrape(&server, None).await;
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer realm=\"metrics\""
    );
    let body = refused.text().await.unwrap();
    assert!(body.contains("metrics_token"), "{body}");
    assert!(!body.contains("steward_"), "{body}");
    assert_eq!(
        scrape(&server, Some("scrape-0123456789abcdeF"))
            .await
            .status(),
        401
    );
    // A person's credentials are not the scraper's.
    let admin = server.api_token().await;
    assert_eq!(scrape(&server, Some(&admin)).await.status().as_u16(), 401);
    let ok = scrape(&server, Some(TOKEN)).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert!(
        ok.text()
            .await
            .unwrap()
            .contains("# TYPE steward_checkins_total counter")
    );
    server.cleanup().await;
}

#[tokio::test]
async fn only_allowed_networks_may_read_and_a_forwarded_address_counts_only_from_a_trusted_proxy() {
    let server = TestServer::sqlite_configured(|c| {
        c.metrics = MetricsAccess {
            token: None,
            allow: vec!["10.0.0.0/8".parse().unwrap()],
        };
    })
    .await;
    // The test connects from 127.0.0.1, which the list leaves out.
    let refused = scrape(&server, None).await;
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.text().await.unwrap().contains("metrics_allow"));
    // Claiming to be forwarded for an allowed address changes nothing from an untrusted peer.
    let spoofed = server
        .http
        .get(format!("{}/metrics", server.url))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status().as_u16(), 403);
    server.cleanup().await;

    let behind_proxy = TestServer::sqlite_configured(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        c.metrics = MetricsAccess {
            token: None,
            allow: vec!["10.0.0.0/8".parse().unwrap()],
        };
    })
    .await;
    let forwarded = |client: &'static str| {
        behind_proxy
            .http
            .get(format!("{}/metrics", behind_proxy.url))
            .header("x-forwarded-for", client)
            .send()
    };
    assert_eq!(forwarded("10.1.2.3").await.unwrap().status().as_u16(), 200);
    assert_eq!(forwarded("192.0.2.1").await.unwrap().status().as_u16(), 403);
    behind_proxy.cleanup().await;
}
