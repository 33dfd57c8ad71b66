//! Agent credential rotation: asked for by an administrator, carried out by the agent, and
//! safe against a lost answer (the old credential works until the new one is used).

use std::time::Duration;

use serde_json::json;
use steward_testkit::{ScriptedCollector, TestAgent, TestServer, eventually, sample_inventory};

const WAIT: Duration = Duration::from_secs(20);

/// Status of `GET /agent/v1/jobs/next?wait=0` with `credential`.
async fn agent_status(server: &TestServer, credential: &str) -> u16 {
    server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
        .bearer_auth(credential)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn last_seq(server: &TestServer, device: &str) -> u64 {
    server
        .store
        .device_ingest_state(device)
        .await
        .unwrap()
        .unwrap()
        .last_seq
}

async fn rotation_end_to_end(server: TestServer) {
    let api = server.api_token().await;
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(
        &server.url,
        &token,
        ScriptedCollector::new(sample_inventory("ws-rot", 10)),
    )
    .await
    .unwrap();
    let device = agent.device_id.clone();
    agent.start(Duration::from_millis(300));
    eventually(WAIT, "the first reports", || async {
        (last_seq(&server, &device).await > 0).then_some(())
    })
    .await;
    let old = agent.state().credential;

    // Rotation is its own action: not an ordinary job anyone who operates devices may queue.
    let (status, body) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{device}/jobs"),
            json!({"kind": "rotate_credential"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, job) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{device}/rotate-credential"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "rotate_credential");
    let job_id = job["id"].as_str().unwrap().to_string();
    let jobs = eventually(WAIT, "the rotation to succeed", || async {
        let (_, jobs) = server
            .api_get(&api, &format!("/api/v1/devices/{device}/jobs"))
            .await;
        let done = jobs
            .as_array()?
            .iter()
            .find(|j| j["id"] == job_id.as_str())?
            .clone();
        (done["state"] == "succeeded").then_some(done)
    })
    .await;
    assert_eq!(jobs["kind"], "rotate_credential");

    // The agent stored a new credential; the server now knows only that one.
    let new = agent.state().credential;
    assert_ne!(new, old);
    assert!(new.starts_with(&format!("{device}.")));
    assert_eq!(agent_status(&server, &old).await, 401);
    assert_eq!(agent_status(&server, &new).await, 204);
    let stored = server
        .store
        .device_ingest_state(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.pending_credential_hash, None);

    // And the device keeps reporting with it.
    let before = last_seq(&server, &device).await;
    eventually(WAIT, "reports after the rotation", || async {
        (last_seq(&server, &device).await >= before + 2).then_some(())
    })
    .await;
    agent.stop().await;

    // Audited from request to completion; no secret in the log.
    let entries = server.store.audit_after(0, 1000).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.facts.action.as_str()).collect();
    for action in [
        "credential_rotation_requested",
        "credential_issued",
        "credential_rotation_completed",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let secret = |c: &str| c.split_once('.').unwrap().1.to_string();
    for e in &entries {
        let text = format!("{:?}", e.facts);
        assert!(!text.contains(&secret(&old)) && !text.contains(&secret(&new)));
    }
    server.cleanup().await;
}

#[tokio::test]
async fn rotation_end_to_end_sqlite() {
    rotation_end_to_end(TestServer::sqlite_tls().await).await;
}

#[tokio::test]
async fn rotation_end_to_end_postgres() {
    match steward_testkit::TestDb::postgres().await {
        Some(db) => rotation_end_to_end(TestServer::start_tls(db).await).await,
        None => eprintln!("STEWARD_TEST_PG_URL unset: PostgreSQL variant skipped"),
    }
}

/// Claims the device's next job as its agent would; returns the job id.
async fn claim(server: &TestServer, credential: &str) -> String {
    let resp = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
        .bearer_auth(credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let job: serde_json::Value = resp.json().await.unwrap();
    job["id"].as_str().unwrap().to_string()
}

/// Asks for a credential for `job_id`; the status and the credential, if issued.
async fn issue(server: &TestServer, credential: &str, job_id: &str) -> (u16, Option<String>) {
    let resp = server
        .http
        .post(format!("{}/agent/v1/credential", server.url))
        .bearer_auth(credential)
        .json(&json!({ "job_id": job_id }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    if status != 200 {
        return (status, None);
    }
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    (
        status,
        Some(body["credential"].as_str().unwrap().to_string()),
    )
}

async fn ask_rotation(server: &TestServer, device: &str) -> String {
    steward_server::devices::request_rotation(
        &server.state,
        &steward_server::service::Caller::cli("test", server.state.now()),
        device,
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn a_lost_answer_leaves_the_old_credential_working() {
    let server = TestServer::sqlite().await;
    let (device, old) = server.enroll_raw("pc").await;
    let (other, other_credential) = server.enroll_raw("other").await;
    // No rotation under way: a credential alone cannot mint a new one.
    assert_eq!(issue(&server, &old, "made-up").await.0, 409);
    // Another device's rotation job is not this device's.
    let other_job = ask_rotation(&server, &other).await;
    assert_eq!(claim(&server, &other_credential).await, other_job);
    assert_eq!(issue(&server, &old, &other_job).await.0, 409);

    // Issued but never used (the agent crashed before storing it): the old one still works.
    let job1 = ask_rotation(&server, &device).await;
    assert_eq!(claim(&server, &old).await, job1);
    let lost = issue(&server, &old, &job1).await.1.unwrap();
    assert!(lost.starts_with(&format!("{device}.")));
    assert_eq!(agent_status(&server, &old).await, 204);
    // One credential per rotation job.
    assert_eq!(issue(&server, &old, &job1).await.0, 409);
    // The administrator asks again; only the latest issue counts.
    let job2 = ask_rotation(&server, &device).await;
    assert_eq!(claim(&server, &old).await, job2);
    let kept = issue(&server, &old, &job2).await.1.unwrap();
    assert_eq!(agent_status(&server, &lost).await, 401);
    assert_eq!(agent_status(&server, &old).await, 204);
    // First use of the new one retires the old one.
    assert_eq!(agent_status(&server, &kept).await, 204);
    assert_eq!(agent_status(&server, &old).await, 401);
    assert_eq!(agent_status(&server, &kept).await, 204);
    // A revoked device gets no new credential.
    let job3 = ask_rotation(&server, &device).await;
    assert_eq!(claim(&server, &kept).await, job3);
    server
        .store
        .revoke_device(&device, server.now())
        .await
        .unwrap();
    assert_eq!(issue(&server, &kept, &job3).await.0, 401);
    server.cleanup().await;
}
