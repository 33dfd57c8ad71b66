//! Detections the server makes from facts it already has: a new administrator and a port
//! opened beyond loopback (inventory changes), an agent stopped on purpose and then silent,
//! the firewall turned off (posture); and the restore of exactly the files a detection
//! touched.

use super::*;

#[tokio::test]
async fn the_server_detects_a_new_admin_a_public_port_and_a_stopped_agent() {
    use steward_core::inventory::{Account, Listener, Protocol};
    use steward_proto::agent::InventoryUpdate;

    let server = TestServer::sqlite_manual_clock().await;
    let api = server.api_token().await;
    let agent = raw(&server, "file-server").await;
    let first = steward_testkit::sample_inventory("file-server", 3);
    let full = |seq: u64, inventory: &steward_core::Inventory| Report {
        inventory: Some(InventoryUpdate::Full {
            inventory: Box::new(inventory.clone()),
        }),
        ..report(seq, Vec::new())
    };
    // The first inventory raises nothing, whatever it holds.
    let (status, _) = agent.send(vec![full(1, &first)]).await;
    assert_eq!(status, 200);
    let (_, list) = server.api_get(&api, "/api/v1/detections").await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");

    let mut second = first.clone();
    second.accounts.push(Account {
        name: "mallory".into(),
        uid: 1666,
        gid: 1666,
        home: "/home/mallory".into(),
        shell: "/bin/bash".into(),
        is_admin: true,
        can_login: true,
    });
    for (address, port) in [("0.0.0.0", 4444), ("127.0.0.1", 5433)] {
        second.listeners.push(Listener {
            protocol: Protocol::Tcp,
            address: address.into(),
            port,
            process: "nc".into(),
            pid: Some(777),
        });
    }
    second.normalize();
    let (status, body) = agent.send(vec![full(2, &second)]).await;
    assert_eq!(status, 200, "{body}");
    let (_, list) = server.api_get(&api, "/api/v1/detections").await;
    let mut kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["new_administrator", "new_listening_port"], "{list}");
    assert!(
        list.to_string().contains("nc listens on tcp/0.0.0.0:4444"),
        "{list}"
    );
    assert!(
        list.to_string().contains("mallory became an administrator"),
        "{list}"
    );
    let alert = detection_alert(&server, &api)
        .await
        .expect("the Detection alert");
    assert_eq!(alert["status"], "critical", "{alert}");

    // The agent says it is stopping, then falls silent: "the agent was stopped".
    let (status, _) = agent
        .send(vec![Report {
            stopping: true,
            ..report(3, Vec::new())
        }])
        .await;
    assert_eq!(status, 200);
    steward_server::detection::server_side::stopped_agents(&server.state).await;
    let (_, list) = server.api_get(&api, "/api/v1/detections?status=open").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "not yet: {list}");
    server.clock().advance(Duration::from_secs(600));
    steward_server::detection::server_side::stopped_agents(&server.state).await;
    steward_server::detection::server_side::stopped_agents(&server.state).await;
    let (_, list) = server.api_get(&api, "/api/v1/detections?status=open").await;
    let stopped: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "agent_stopped")
        .collect();
    assert_eq!(stopped.len(), 1, "once per silence: {list}");
    assert!(
        stopped[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("the agent was stopped"),
        "{list}"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn exactly_the_touched_files_are_restored_from_the_last_backup() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let agent = raw(&server, "nas").await;
    let (status, _) = agent.send(vec![report(1, vec![attack("a-1", None)])]).await;
    assert_eq!(status, 200);
    let (_, list) = server.api_get(&api, "/api/v1/detections").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    // No backup yet: refused, saying why.
    let (status, refused) = server
        .api_post(&api, &format!("/api/v1/detections/{id}/restore"), json!({}))
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no backup of these files"),
        "{refused}"
    );

    // A repository and a snapshot of /srv: the detection names it, and restores from it.
    let snapshot = "ab".repeat(32);
    server
        .store
        .create_backup_repository(&steward_store::BackupRepositoryRecord {
            device_id: agent.device.clone(),
            storage: "local".into(),
            location: "nas".into(),
            password_sealed: "sealed".into(),
            created_at: Timestamp(1),
        })
        .await
        .unwrap();
    server
        .store
        .record_snapshot_received(&agent.device, &snapshot, Timestamp(1_700_000_000_000))
        .await
        .unwrap();
    server
        .store
        .record_snapshot_summary(
            &agent.device,
            &snapshot,
            &steward_store::SnapshotSummary {
                written_at: None,
                policy_id: None,
                job_id: None,
                files: Some(10),
                bytes: None,
                added_bytes: None,
                stored_bytes: None,
                duration_ms: None,
                paths: Some(vec!["/srv".into()]),
            },
        )
        .await
        .unwrap();
    let (_, detail) = server
        .api_get(&api, &format!("/api/v1/detections/{id}"))
        .await;
    assert_eq!(
        detail["last_backup_snapshot"],
        snapshot.as_str(),
        "{detail}"
    );
    let (status, queued) = server
        .api_post(&api, &format!("/api/v1/detections/{id}/restore"), json!({}))
        .await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(
        queued["paths"],
        json!(["/srv/share/offer.docx", "/srv/share/budget.xlsx"])
    );
    let job = server
        .store
        .job(queued["job_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, steward_core::JobKind::Restore);
    assert_eq!(job.params["paths"], queued["paths"], "{:?}", job.params);
    assert_eq!(job.params["target"], "/", "{:?}", job.params);
    // The alert names the backup too.
    steward_server::detection::alerts::judge(&server.state).await;
    let alert = detection_alert(&server, &api).await.expect("the alert");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("last backup of them 2023-11-14"),
        "{alert}"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn turning_the_firewall_off_is_a_detection() {
    use steward_core::posture::{PostureReport, PostureResult, PostureState};

    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let agent = raw(&server, "desk-1").await;
    let posture = |seq: u64, state: PostureState| Report {
        posture: Some(PostureReport {
            evaluated_at: Timestamp(1_700_000_000_000 + seq as i64),
            results: vec![PostureResult {
                check: "firewall-default-deny-inbound".into(),
                state,
                evidence: String::new(),
                reason: String::new(),
            }],
        }),
        ..report(seq, Vec::new())
    };
    // Failing from the first evaluation is a posture finding, not a detection.
    let other = raw(&server, "desk-2").await;
    let (status, _) = other.send(vec![posture(1, PostureState::Fail)]).await;
    assert_eq!(status, 200);
    let (status, _) = agent.send(vec![posture(1, PostureState::Pass)]).await;
    assert_eq!(status, 200);
    let (_, list) = server.api_get(&api, "/api/v1/detections").await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    let (status, _) = agent.send(vec![posture(2, PostureState::Fail)]).await;
    assert_eq!(status, 200);
    let (_, list) = server.api_get(&api, "/api/v1/detections").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["kind"], "protection_off");
    assert_eq!(list[0]["device_name"], "desk-1");
    assert!(
        list[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("the firewall was turned off"),
        "{list}"
    );
    let alert = detection_alert(&server, &api)
        .await
        .expect("the Detection alert");
    assert_eq!(alert["status"], "critical");
    server.cleanup().await;
}
