//! Enrollment, inventory, deltas, jobs, offline queueing — with the production agent.

use std::time::Duration;

use steward_core::{Account, Listener, Package, PackageSource, Protocol};
use steward_testkit::{ScriptedCollector, TestAgent, TestServer, eventually, sample_inventory};

const WAIT: Duration = Duration::from_secs(20);

async fn changes_of(server: &TestServer, api: &str, device: &str) -> Vec<(String, String)> {
    let (status, body) = server
        .api_get(
            api,
            &format!("/api/v1/devices/{device}/changes?per_page=500"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn software_total(server: &TestServer, api: &str, device: &str) -> u64 {
    let (_, body) = server
        .api_get(
            api,
            &format!("/api/v1/devices/{device}/software?per_page=1"),
        )
        .await;
    body["total"].as_u64().unwrap_or(0)
}

async fn enrollment_inventory_and_deltas(server: TestServer) {
    let api = server.api_token().await;
    let token = server.enroll_token(1).await;
    let collector = ScriptedCollector::new(sample_inventory("ws-01", 300));
    let mut agent = TestAgent::enroll(&server.url, &token, collector.clone())
        .await
        .unwrap();
    agent.start(Duration::from_secs(1));
    let device = agent.device_id.clone();

    // The full inventory arrives.
    eventually(WAIT, "the full inventory", || async {
        (software_total(&server, &api, &device).await == 300).then_some(())
    })
    .await;
    let (status, detail) = server
        .api_get(&api, &format!("/api/v1/devices/{device}"))
        .await;
    assert_eq!(status, 200);
    // The device is named after the real machine's hostname at enrollment; the inventory
    // holds what the (scripted) collector reports.
    assert_eq!(detail["hostname"], "ws-01");
    assert_eq!(detail["status"], "online");
    assert_eq!(detail["hardware"]["cpu_cores"], 6);
    assert_eq!(detail["os"]["name"], "Debian GNU/Linux");
    assert_eq!(detail["listeners"][0]["port"], 22);
    assert!(detail["metrics"]["memory_used_bytes"].as_u64().unwrap() > 0);

    // The machine changes; a refresh job makes the agent report a delta at once.
    collector.change(|inv| {
        inv.packages.retain(|p| p.name != "package-00001");
        inv.packages[0].version = "2.0.0-1".into();
        inv.packages.push(Package {
            name: "netcat".into(),
            version: "1.10-47".into(),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        });
        inv.accounts.push(Account {
            name: "mallory".into(),
            uid: 1001,
            gid: 27,
            home: "/home/mallory".into(),
            shell: "/bin/bash".into(),
            is_admin: true,
            can_login: true,
        });
        inv.listeners.push(Listener {
            protocol: Protocol::Tcp,
            address: "0.0.0.0".into(),
            port: 4444,
            process: "nc".into(),
            pid: Some(4242),
        });
        inv.hardware.memory_bytes = 32 << 30;
    });
    let (status, job) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{device}/jobs"),
            serde_json::json!({"kind": "collect_inventory"}),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let job_id = job["id"].as_str().unwrap().to_string();
    let changes = eventually(WAIT, "the timeline to show the changes", || async {
        let c = changes_of(&server, &api, &device).await;
        c.iter().any(|(k, _)| k == "listener_opened").then_some(c)
    })
    .await;
    for expected in [
        ("package_installed", "netcat"),
        ("package_removed", "package-00001"),
        ("package_upgraded", "package-00000"),
        ("account_added", "mallory"),
        ("admin_added", "mallory"),
        ("listener_opened", "tcp/0.0.0.0:4444"),
        ("memory_changed", "memory"),
    ] {
        assert!(
            changes.contains(&(expected.0.to_string(), expected.1.to_string())),
            "missing {expected:?} in {changes:?}"
        );
    }
    assert!(changes.iter().any(|(k, _)| k == "enrolled"));
    assert_eq!(software_total(&server, &api, &device).await, 300);
    // The job's history is kept and it succeeded.
    let jobs = eventually(WAIT, "the job to succeed", || async {
        let (_, jobs) = server
            .api_get(&api, &format!("/api/v1/devices/{device}/jobs"))
            .await;
        (jobs[0]["state"] == "succeeded").then_some(jobs)
    })
    .await;
    assert_eq!(jobs[0]["id"], job_id.as_str());
    assert_eq!(jobs[0]["kind"], "collect_inventory");

    // The agent sent deltas after the first report: the stored inventory matches the machine.
    let stored = server
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .inventory(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, collector.inventory.lock().unwrap().clone());

    agent.stop().await;
    server.cleanup().await;
}

#[tokio::test]
async fn enrollment_inventory_and_deltas_sqlite() {
    enrollment_inventory_and_deltas(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn enrollment_inventory_and_deltas_postgres() {
    match TestServer::postgres().await {
        Some(server) => enrollment_inventory_and_deltas(server).await,
        None => eprintln!("STEWARD_TEST_PG_URL unset: PostgreSQL variant skipped"),
    }
}

#[tokio::test]
async fn bad_enrollment_tokens_are_refused_and_create_nothing() {
    let server = TestServer::sqlite_manual_clock().await;
    let collector = ScriptedCollector::new(sample_inventory("pc", 1));
    // Wrong token.
    let err = TestAgent::enroll(&server.url, "stw_enr_not-a-real-token", collector.clone())
        .await
        .err()
        .expect("a wrong token must be refused");
    assert!(format!("{err:#}").contains("not known"), "{err:#}");
    // Expired token.
    let now = server.now();
    let expired =
        steward_server::admin::create_enroll_token(&server.store, 1, now.plus_millis(1), now)
            .await
            .unwrap();
    server.clock().advance(Duration::from_millis(5));
    let err = TestAgent::enroll(&server.url, &expired, collector.clone())
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("expired"), "{err:#}");
    // Used-up token: one use, two enrollments.
    let once = server.enroll_token(1).await;
    TestAgent::enroll(&server.url, &once, collector.clone())
        .await
        .unwrap();
    let err = TestAgent::enroll(&server.url, &once, collector.clone())
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("used up"), "{err:#}");
    let api = server.api_token().await;
    let (_, list) = server.api_get(&api, "/api/v1/devices").await;
    assert_eq!(
        list["total"], 1,
        "only the good enrollment created a device"
    );
    // A multi-use token enrolls N devices.
    let three = server.enroll_token(3).await;
    for _ in 0..3 {
        TestAgent::enroll(&server.url, &three, collector.clone())
            .await
            .unwrap();
    }
    assert!(
        TestAgent::enroll(&server.url, &three, collector)
            .await
            .is_err()
    );
    server.cleanup().await;
}

#[tokio::test]
async fn agent_queues_while_server_is_away_and_catches_up() {
    let server = TestServer::sqlite().await;
    let addr = server.addr;
    let api = server.api_token().await;
    let token = server.enroll_token(1).await;
    let collector = ScriptedCollector::new(sample_inventory("laptop", 50));
    let mut agent = TestAgent::enroll(&server.url, &token, collector.clone())
        .await
        .unwrap();
    agent.start(Duration::from_secs(1));
    let device = agent.device_id.clone();
    eventually(WAIT, "first inventory", || async {
        (software_total(&server, &api, &device).await == 50).then_some(())
    })
    .await;
    let seq_before = server
        .store
        .device_ingest_state(&device)
        .await
        .unwrap()
        .unwrap()
        .last_seq;

    // The server goes away; the machine changes; the agent keeps queueing on disk.
    let db = server.stop().await;
    collector.change(|inv| {
        inv.packages.push(Package {
            name: "installed-while-offline".into(),
            version: "1.0".into(),
            arch: "amd64".into(),
            source: PackageSource::Dpkg,
        })
    });
    eventually(WAIT, "reports to queue on disk", || async {
        (agent.queued() >= 3).then_some(())
    })
    .await;
    // Restart the agent too: the queue survives a restart.
    agent.stop().await;
    let queued = agent.queued();
    assert!(queued >= 3);
    agent.start(Duration::from_secs(1));

    // The server comes back on the same address; the queue drains in order.
    let server = TestServer::start(db, addr).await;
    eventually(WAIT, "the queue to drain", || async {
        (agent.queued() == 0).then_some(())
    })
    .await;
    let seq_after = server
        .store
        .device_ingest_state(&device)
        .await
        .unwrap()
        .unwrap()
        .last_seq;
    assert!(
        seq_after >= seq_before + queued as u64,
        "{seq_before} + {queued} > {seq_after}"
    );
    // An inventory change made while offline arrives once the agent collects again.
    let (_, job) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{device}/jobs"),
            serde_json::json!({"kind": "collect_inventory"}),
        )
        .await;
    assert!(job["id"].is_string());
    eventually(WAIT, "the offline change", || async {
        let c = changes_of(&server, &api, &device).await;
        c.contains(&("package_installed".into(), "installed-while-offline".into()))
            .then_some(())
    })
    .await;
    agent.stop().await;
    server.cleanup().await;
}

#[tokio::test]
async fn revoking_a_device_cuts_it_off_at_once() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let (device, credential) = server.enroll_raw("to-revoke").await;
    let post = |seq: u64| {
        server
            .http
            .post(format!("{}/agent/v1/reports", server.url))
            .bearer_auth(&credential)
            .json(&serde_json::json!({"reports": [{"seq": seq, "collected_at": 1}]}))
            .send()
    };
    assert_eq!(post(1).await.unwrap().status().as_u16(), 200);
    let (status, _) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{device}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let resp = post(2).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("revoked"));
    let (_, detail) = server
        .api_get(&api, &format!("/api/v1/devices/{device}"))
        .await;
    assert_eq!(detail["status"], "revoked");
    server.cleanup().await;
}
