//! A hostile agent, a hostile client and a busy database: what they send is bounded and
//! refused clearly, they cannot wedge a device or stall the server, and nothing they do is
//! answered with a 500.

use std::time::Duration;

use serde_json::{Value, json};
use steward_core::limits::{MAX_CHANGES_PER_BATCH, MAX_PACKAGES, MAX_TEXT_CHARS};
use steward_core::{Inventory, InventoryDelta, Package, PackageSource, Timestamp};
use steward_proto::agent::{InventoryUpdate, Report, ReportBatch};
use steward_store::Backend;
use steward_testkit::{TestServer, sample_inventory};

fn full(seq: u64, inv: &Inventory) -> Report {
    Report {
        observations: None,
        posture: None,
        updates: None,
        seq,
        collected_at: Timestamp(1_700_000_000_000 + seq as i64),
        metrics: None,
        inventory: Some(InventoryUpdate::Full {
            inventory: Box::new(inv.clone()),
        }),
        summarised: 0,
        detections: Vec::new(),
        stopping: false,
    }
}

fn packages(n: usize, version: &str) -> Vec<Package> {
    (0..n)
        .map(|i| Package {
            name: format!("pkg-{i:06}"),
            version: version.into(),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        })
        .collect()
}

async fn send_json(server: &TestServer, credential: &str, body: String) -> (u16, Value) {
    let resp = server
        .http
        .post(format!("{}/agent/v1/reports", server.url))
        .bearer_auth(credential)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn send(server: &TestServer, credential: &str, reports: Vec<Report>) -> (u16, Value) {
    let body = serde_json::to_string(&ReportBatch {
        reports,
        capabilities: None,
    })
    .unwrap();
    send_json(server, credential, body).await
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

async fn refused_at_the_edge(backend: Backend) {
    let Some(server) = TestServer::on(backend).await else {
        return;
    };
    let (_, credential) = server.enroll_raw("hostile").await;
    let base = sample_inventory("hostile", 10);

    // More packages than an inventory may hold: refused, naming the field.
    let mut huge = base.clone();
    huge.packages = packages(MAX_PACKAGES + 1, "1");
    let (status, body) = send(&server, &credential, vec![full(1, &huge)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("packages"), "{body}");

    // A delta of 25,000 upserts (more than any collection may hold).
    let mut bigger = base.clone();
    bigger.packages = packages(25_000, "2");
    bigger.normalize();
    let delta = InventoryDelta::between(&base, &bigger);
    let report = Report {
        observations: None,
        posture: None,
        updates: None,
        inventory: Some(InventoryUpdate::Delta {
            delta: Box::new(delta),
        }),
        ..full(1, &base)
    };
    let (status, body) = send(&server, &credential, vec![report]).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("packages: 25000 items"), "{body}");

    // NUL (PostgreSQL cannot store it), escape sequences, newlines, a text too long.
    type Spoil = fn(&mut Inventory);
    let cases: [(&str, Spoil); 4] = [
        ("hardware.serial", |i| i.hardware.serial = "abc\0def".into()),
        ("os.name", |i| {
            i.os.name = "Debian\x1b[2J\x1b[31mOWNED".into()
        }),
        ("hostname", |i| {
            i.hostname = "host\n2026-01-01 INFO forged".into()
        }),
        ("hardware.model", |i| {
            i.hardware.model = "m".repeat(MAX_TEXT_CHARS + 1)
        }),
    ];
    for (field, spoil) in cases {
        let mut bad = base.clone();
        spoil(&mut bad);
        let (status, body) = send(&server, &credential, vec![full(1, &bad)]).await;
        assert_eq!(status, 400, "{field}: {body}");
        assert!(message(&body).contains(field), "{field}: {body}");
    }

    // A sequence number the database cannot hold, and too many reports at once.
    let huge_seq = format!(
        r#"{{"reports":[{{"seq":{},"collected_at":0}}]}}"#,
        i64::MAX as u64 + 1
    );
    let (status, body) = send_json(&server, &credential, huge_seq).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("sequence numbers"), "{body}");
    let many = (1..=101).map(|s| full(s, &base)).collect();
    let (status, body) = send(&server, &credential, many).await;
    assert_eq!(status, 400, "{body}");

    // Nothing of it was stored, and the device is not wedged: its next honest report lands.
    let (status, body) = send(&server, &credential, vec![full(1, &base)]).await;
    assert_eq!(
        (status, body["acked_seq"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    server.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_reports_are_refused_at_the_edge_on_sqlite() {
    refused_at_the_edge(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_reports_are_refused_at_the_edge_on_postgres() {
    refused_at_the_edge(Backend::Postgres).await;
}

async fn bad_bytes_from_clients(backend: Backend) {
    let Some(server) = TestServer::on(backend).await else {
        return;
    };
    let token = server.api_token().await;
    // NUL in a query parameter: PostgreSQL refuses the text, the API says 400.
    let (status, body) = server.api_get(&token, "/api/v1/devices?name=a%00b").await;
    assert_eq!(status, 400, "{body}");
    // NUL in the sign-in name: refused, not a 500.
    let resp = server
        .http
        .post(format!("{}/login", server.url))
        .form(&[("username", "ad\0min"), ("password", "whatever-it-is")])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert!(status < 500, "sign-in with NUL answered {status}");
    server.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_from_clients_is_refused_not_a_server_error_on_sqlite() {
    bad_bytes_from_clients(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_from_clients_is_refused_not_a_server_error_on_postgres() {
    bad_bytes_from_clients(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_is_rate_limited_with_retry_after() {
    let server = TestServer::sqlite_configured(|c| {
        c.report_rate = steward_core::rate::RateRule {
            burst: 3,
            per_minute: 1,
        };
    })
    .await;
    let (_, noisy) = server.enroll_raw("noisy").await;
    let (_, quiet) = server.enroll_raw("quiet").await;
    let inv = sample_inventory("noisy", 3);
    for seq in 1..=3 {
        let (status, _) = send(&server, &noisy, vec![full(seq, &inv)]).await;
        assert_eq!(status, 200);
    }
    let resp = server
        .http
        .post(format!("{}/agent/v1/reports", server.url))
        .bearer_auth(&noisy)
        .json(&ReportBatch {
            reports: vec![full(4, &inv)],
            capabilities: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Another device is not held back by the noisy one.
    let (status, _) = send(&server, &quiet, vec![full(1, &inv)]).await;
    assert_eq!(status, 200);
    server.cleanup().await;
}

/// A delivery that upgrades 20,000 packages stores 2,000 timeline lines and one summary,
/// not 20,000 rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_events_beyond_the_limit_are_summarised() {
    let server = TestServer::sqlite().await;
    let (device, credential) = server.enroll_raw("busy-box").await;
    let mut v1 = sample_inventory("busy-box", 0);
    v1.packages = packages(MAX_PACKAGES, "1");
    v1.normalize();
    let mut v2 = v1.clone();
    v2.packages = packages(MAX_PACKAGES, "2");
    v2.normalize();
    let (status, _) = send(&server, &credential, vec![full(1, &v1)]).await;
    assert_eq!(status, 200);
    let report = Report {
        observations: None,
        posture: None,
        updates: None,
        inventory: Some(InventoryUpdate::Delta {
            delta: Box::new(InventoryDelta::between(&v1, &v2)),
        }),
        ..full(2, &v2)
    };
    let (status, body) = send(&server, &credential, vec![report]).await;
    assert_eq!(
        (status, body["acked_seq"].as_u64()),
        (200, Some(2)),
        "{body}"
    );
    let (changes, total) = server
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .changes(&device, None, 0, 5)
        .await
        .unwrap();
    // The enrollment line, 2,000 upgrades, one summary.
    assert_eq!(total as usize, MAX_CHANGES_PER_BATCH + 2);
    let summary = changes
        .iter()
        .find(|c| c.event.kind == steward_core::ChangeKind::ChangesSummarised)
        .expect("the summary is the newest line");
    assert_eq!(summary.event.subject, "package_upgraded");
    assert_eq!(
        summary.event.to.as_deref(),
        Some((MAX_PACKAGES - MAX_CHANGES_PER_BATCH).to_string().as_str())
    );
    let (_, software_total) = server
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .software(&device, None, 0, 1)
        .await
        .unwrap();
    assert_eq!(software_total as usize, MAX_PACKAGES);
    server.cleanup().await;
}

/// Agents sending the largest reports the limits allow, as fast as the rate limit lets
/// them: the health check and an honest agent keep being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_hostile_reports_are_ingested() {
    let server = TestServer::sqlite().await;
    let mut heavy = sample_inventory("heavy", 0);
    heavy.packages = packages(MAX_PACKAGES, &"9".repeat(100));
    heavy.normalize();
    let body = serde_json::to_string(&ReportBatch {
        reports: vec![full(1, &heavy)],
        capabilities: None,
    })
    .unwrap();
    assert!(
        (3_000_000..steward_core::limits::MAX_DELIVERY_BYTES).contains(&body.len()),
        "a heavy report near the limit: {} bytes",
        body.len()
    );
    let mut attackers = Vec::new();
    for i in 0..4 {
        let (_, credential) = server.enroll_raw(&format!("attacker-{i}")).await;
        // A client of their own: the server may close an attacker's connection mid-upload
        // (a refused report is not read to its end), and a connection pool shared with the
        // honest device would hand it that closed connection (a broken pipe on its write).
        let (http, url, body) = (reqwest::Client::new(), server.url.clone(), body.clone());
        attackers.push(tokio::spawn(async move {
            for _ in 0..6 {
                let _ = http
                    .post(format!("{url}/agent/v1/reports"))
                    .bearer_auth(&credential)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
            }
        }));
    }
    let (_, honest) = server.enroll_raw("honest").await;
    let small = sample_inventory("honest", 20);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for seq in 1..=5 {
        let health = tokio::time::timeout(
            Duration::from_secs(10),
            server
                .http
                .get(format!("{}/api/v1/health", server.url))
                .send(),
        )
        .await
        .expect("health answers while heavy reports are ingested")
        .unwrap();
        assert_eq!(health.status().as_u16(), 200);
        let (status, body) = tokio::time::timeout(
            Duration::from_secs(10),
            send(&server, &honest, vec![full(seq, &small)]),
        )
        .await
        .expect("an honest check-in is answered");
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for a in attackers {
        a.await.unwrap();
    }
    server.cleanup().await;
}

/// The CLI writing to the same SQLite database in a loop (its own connections, as another
/// process has) while agents enroll and report: nobody gets a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_writing_beside_a_server_causes_no_errors() {
    let server = TestServer::sqlite().await;
    let cli = steward_store::Store::connect(&server.db.as_ref().unwrap().url)
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        for i in 0..150 {
            let now = Timestamp(1_700_000_000_000 + i);
            steward_server::admin::create_api_token(
                &cli,
                &format!("cli-{i}"),
                steward_core::Role::Viewer,
                None,
                None,
                now,
            )
            .await
            .unwrap();
        }
        cli.close().await;
    });
    let mut statuses = Vec::new();
    for i in 0..12 {
        let token = server.enroll_token(1).await;
        let resp = server
            .http
            .post(format!("{}/agent/v1/enroll", server.url))
            .json(&json!({"token": token, "hostname": format!("pc-{i}")}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if let Some(credential) = body["credential"].as_str() {
            let inv = sample_inventory(&format!("pc-{i}"), 50);
            for seq in 1..=3 {
                statuses.push(send(&server, credential, vec![full(seq, &inv)]).await.0);
            }
        }
    }
    writer.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses.len(), 48);
    server.cleanup().await;
}

/// A queue written by an agent that did not clamp (an older version): its report has a NUL
/// and an escape sequence, which the server refuses. The agent repairs its queue once and
/// gets through, instead of being blocked for good behind a report never accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_repairs_a_queue_the_server_refuses() {
    let server = TestServer::sqlite().await;
    let token = server.enroll_token(1).await;
    let clean = sample_inventory("mended", 5);
    let collector = steward_testkit::ScriptedCollector::new(clean.clone());
    let mut agent = steward_testkit::TestAgent::enroll(&server.url, &token, collector)
        .await
        .unwrap();
    let mut poisoned = clean.clone();
    poisoned.hardware.serial = "abc\0def".into();
    let mut metrics = steward_core::Metrics::default();
    metrics.filesystems.push(steward_core::FilesystemUsage {
        mount_point: "/mnt/\u{1b}[2Jx".into(),
        total_bytes: 1,
        used_bytes: 1,
    });
    let mut outbox = steward_agent::outbox::Outbox::open(agent.outbox_dir(), 1440).unwrap();
    outbox
        .push(Report {
            observations: None,
            posture: None,
            updates: None,
            metrics: Some(metrics),
            ..full(1, &poisoned)
        })
        .unwrap();
    drop(outbox);
    agent.start(Duration::from_millis(200));
    let device = agent.device_id.clone();
    let stored = steward_testkit::eventually(
        Duration::from_secs(20),
        "the repaired queue is delivered",
        || {
            let store = server.store.clone();
            let device = device.clone();
            async move {
                store
                    .scoped(&steward_core::Scope::AllDevices)
                    .inventory(&device)
                    .await
                    .ok()
                    .flatten()
            }
        },
    )
    .await;
    assert_eq!(stored.check_limits(), Ok(()));
    let (_, metrics) = server
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .metrics(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(metrics.check_limits(), Ok(()));
    agent.stop().await;
    server.cleanup().await;
}
