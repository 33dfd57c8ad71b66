//! The agent protocol spoken by hand: idempotence, delta checking, isolation between agents.

use std::time::Duration;

use serde_json::{Value, json};
use steward_core::{Inventory, InventoryDelta, Package, PackageSource};
use steward_proto::agent::{InventoryUpdate, Report, ReportBatch};
use steward_testkit::{TestServer, sample_inventory};

struct RawAgent<'a> {
    server: &'a TestServer,
    credential: String,
    device: String,
}

impl RawAgent<'_> {
    async fn send(&self, reports: Vec<Report>) -> (u16, Value) {
        let resp = self
            .server
            .http
            .post(format!("{}/agent/v1/reports", self.server.url))
            .bearer_auth(&self.credential)
            .json(&ReportBatch {
                reports,
                capabilities: None,
            })
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn full(seq: u64, inv: &Inventory) -> Report {
    Report {
        observations: None,
        posture: None,
        updates: None,
        seq,
        collected_at: steward_core::Timestamp(1_700_000_000_000 + seq as i64),
        metrics: None,
        inventory: Some(InventoryUpdate::Full {
            inventory: Box::new(inv.clone()),
        }),
        summarised: 0,
        detections: Vec::new(),
        stopping: false,
    }
}

fn delta(seq: u64, from: &Inventory, to: &Inventory) -> Report {
    Report {
        observations: None,
        posture: None,
        updates: None,
        inventory: Some(InventoryUpdate::Delta {
            delta: Box::new(InventoryDelta::between(from, to)),
        }),
        ..full(seq, to)
    }
}

fn with_package(inv: &Inventory, name: &str) -> Inventory {
    let mut next = inv.clone();
    next.packages.push(Package {
        name: name.into(),
        version: "1".into(),
        arch: "amd64".into(),
        source: PackageSource::Dpkg,
    });
    next.normalize();
    next
}

async fn raw<'a>(server: &'a TestServer, name: &str) -> RawAgent<'a> {
    let (device, credential) = server.enroll_raw(name).await;
    RawAgent {
        server,
        credential,
        device,
    }
}

#[tokio::test]
async fn reports_are_idempotent_and_deltas_are_checked() {
    let server = TestServer::sqlite().await;
    let agent = raw(&server, "raw-1").await;
    let v1 = sample_inventory("raw-1", 10);
    let v2 = with_package(&v1, "curl");
    let v3 = with_package(&v2, "wget");

    let (status, ack) = agent.send(vec![full(1, &v1), delta(2, &v1, &v2)]).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["acked_seq"], 2);
    assert_eq!(ack["need_full_inventory"], false);
    assert_eq!(ack["server_inventory_hash"], v2.hash().0);
    let changes = server
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .changes(&agent.device, None, 0, 100)
        .await
        .unwrap()
        .1;

    // The same batch again (a retry after a lost response) is stored once.
    let (status, ack) = agent.send(vec![full(1, &v1), delta(2, &v1, &v2)]).await;
    assert_eq!(status, 200);
    assert_eq!(ack["acked_seq"], 2);
    assert_eq!(
        server
            .store
            .scoped(&steward_core::Scope::AllDevices)
            .changes(&agent.device, None, 0, 100)
            .await
            .unwrap()
            .1,
        changes
    );

    // A delta against an inventory the server does not hold is refused; what came before
    // it in the batch is kept, what came after is not.
    let bogus = with_package(&v1, "something-else");
    let (status, ack) = agent
        .send(vec![
            delta(3, &v2, &v3),
            delta(4, &bogus, &v3),
            delta(5, &v3, &v3),
        ])
        .await;
    assert_eq!(status, 200);
    assert_eq!(ack["acked_seq"], 3);
    assert_eq!(ack["need_full_inventory"], true);
    let stored = server
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .inventory(&agent.device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, v3);
    server.cleanup().await;
}

#[tokio::test]
async fn malformed_reports_get_clear_errors_and_change_nothing() {
    let server = TestServer::sqlite().await;
    let agent = raw(&server, "raw-2").await;
    let url = format!("{}/agent/v1/reports", server.url);
    for (body, want) in [
        ("{not json", 400),
        ("{\"reports\": [{\"seq\": \"x\"}]}", 400),
        ("{\"reports\": [{\"seq\": 0, \"collected_at\": 1}]}", 400),
    ] {
        let resp = server
            .http
            .post(&url)
            .bearer_auth(&agent.credential)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{err}"
        );
    }
    // No credential, a garbled one, another device's id with this secret.
    for auth in [
        None,
        Some("garbage".to_string()),
        Some(format!("{}.nope", agent.device)),
    ] {
        let mut req = server.http.post(&url).json(&json!({"reports": []}));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 401);
    }
    let state = server
        .store
        .device_ingest_state(&agent.device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.last_seq, 0);
    server.cleanup().await;
}

#[tokio::test]
async fn one_agent_cannot_reach_another_devices_data() {
    let server = TestServer::sqlite().await;
    let a = raw(&server, "agent-a").await;
    let b = raw(&server, "agent-b").await;
    let api = server.api_token().await;
    // A job for B.
    let (_, job) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{}/jobs", b.device),
            json!({"kind": "collect_inventory"}),
        )
        .await;
    let job_id = job["id"].as_str().unwrap();
    // A does not receive it…
    let resp = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
        .bearer_auth(&a.credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    // …cannot report on it…
    let resp = server
        .http
        .post(format!("{}/agent/v1/jobs/{job_id}", server.url))
        .bearer_auth(&a.credential)
        .json(&json!({"state": "failed", "message": "hijacked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    // …and cannot use the console API with its credential.
    for path in ["/api/v1/devices", &format!("/api/v1/devices/{}", b.device)] {
        let resp = server
            .http
            .get(format!("{}{path}", server.url))
            .bearer_auth(&a.credential)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{path}");
    }
    // A's reports change only A.
    let inv = sample_inventory("agent-a", 3);
    assert_eq!(a.send(vec![full(1, &inv)]).await.0, 200);
    assert!(
        server
            .store
            .scoped(&steward_core::Scope::AllDevices)
            .inventory(&b.device)
            .await
            .unwrap()
            .is_none()
    );
    // B gets its job, untouched.
    let resp = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
        .bearer_auth(&b.credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["id"], job_id);
    server.cleanup().await;
}

#[tokio::test]
async fn a_waiting_agent_gets_a_new_job_without_polling_again() {
    let server = TestServer::sqlite().await;
    let agent = raw(&server, "waiter").await;
    let api = server.api_token().await;
    let wait = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=30", server.url))
        .bearer_auth(&agent.credential)
        .send();
    let queue = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server
            .api_post(
                &api,
                &format!("/api/v1/devices/{}/jobs", agent.device),
                json!({"kind": "collect_inventory"}),
            )
            .await
    };
    let (resp, (status, job)) = tokio::join!(wait, queue);
    assert_eq!(status, 201);
    let resp = resp.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["id"], job["id"]);
    // Progress and result are recorded; a finished job cannot be reopened.
    let job_url = format!(
        "{}/agent/v1/jobs/{}",
        server.url,
        got["id"].as_str().unwrap()
    );
    for (state, want) in [("running", 204), ("succeeded", 204), ("running", 409)] {
        let resp = server
            .http
            .post(&job_url)
            .bearer_auth(&agent.credential)
            .json(&json!({"state": state, "message": "m", "output": "o"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "{state}");
    }
    let (_, jobs) = server
        .api_get(&api, &format!("/api/v1/devices/{}/jobs", agent.device))
        .await;
    assert_eq!(jobs[0]["state"], "succeeded");
    server.cleanup().await;
}

#[tokio::test]
async fn a_job_queued_from_the_cli_reaches_a_waiting_agent() {
    // Jobs written straight into the database (as `steward admin device refresh` does) are
    // found by the server's poller.
    let server = TestServer::sqlite().await;
    let agent = raw(&server, "cli-target").await;
    let wait = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=30", server.url))
        .bearer_auth(&agent.credential)
        .send();
    let queue = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let job = steward_server::admin::new_job(
            &agent.device,
            steward_core::JobKind::CollectInventory,
            "cli",
            server.now(),
        );
        server.store.create_job(&job).await.unwrap();
        job.id
    };
    let (resp, id) = tokio::join!(wait, queue);
    let got: Value = resp.unwrap().json().await.unwrap();
    assert_eq!(got["id"], id.as_str());
    server.cleanup().await;
}
