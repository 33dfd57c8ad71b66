//! The backup scheduler: a policy's run is queued when due (the server's clock is moved,
//! not slept through) with the policy's settings; once however many servers look at the
//! same moment; a slot is skipped while the last backup has not ended; a revoked device is
//! no longer scheduled.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use steward_core::{JobKind, JobState, Scope};
use steward_proto::backup::BackupJob;
use steward_server::backup::scheduler;
use steward_server::{AppState, Clock, ManualClock};
use steward_store::JobRecord;
use steward_testkit::{TestServer, eventually};

const HOUR_MS: i64 = 3_600_000;

async fn backup_jobs(server: &TestServer, device: &str) -> Vec<JobRecord> {
    server
        .store
        .scoped(&Scope::AllDevices)
        .jobs(device, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == JobKind::Backup)
        .collect()
}

/// A policy run every hour on `device`; its id.
async fn hourly_policy(server: &TestServer, device: &str) -> String {
    let root = server.api_token().await;
    let (status, policy) = server
        .api_post(
            &root,
            "/api/v1/backup-policies",
            json!({"name": "documents", "target": format!("device:{device}"),
                   "paths": ["/srv/share"], "excludes": ["*.iso"], "schedule": "every 1h",
                   "bandwidth_kib": 512}),
        )
        .await;
    assert_eq!(status, 201, "{policy}");
    policy["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_due_run_is_queued_with_the_policys_settings_and_a_busy_slot_is_skipped() {
    let server = TestServer::sqlite_manual_clock().await;
    let (device, _) = server.enroll_raw("files").await;
    let start = server.now();
    let policy = hourly_policy(&server, &device).await;
    let schedule = server.store.backup_schedule(&policy).await.unwrap();
    assert_eq!(schedule[0].due_at, start.plus_millis(HOUR_MS));
    assert_eq!(
        scheduler::run_once(&server.state).await.unwrap(),
        0,
        "not due yet"
    );

    // An hour later the server's own scheduler queues it within a few seconds.
    server.clock().advance(Duration::from_secs(3_601));
    let job = eventually(Duration::from_secs(20), "the scheduled backup", || async {
        backup_jobs(&server, &device).await.into_iter().next()
    })
    .await;
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.requested_by, "policy:documents");
    let params: BackupJob = serde_json::from_value(job.params.clone()).unwrap();
    assert_eq!(
        params,
        BackupJob {
            policy: Some("documents".into()),
            paths: vec!["/srv/share".into()],
            excludes: vec!["*.iso".into()],
            bandwidth_kib: Some(512),
        }
    );
    assert!(
        server.backups_dir().join(&device).join("config").exists(),
        "the device's repository is made before its first backup"
    );
    let schedule = server.store.backup_schedule(&policy).await.unwrap();
    assert_eq!(schedule[0].last_job_id.as_deref(), Some(job.id.as_str()));
    let next = schedule[0].due_at;
    assert_eq!(
        next,
        start.plus_millis(3_601_000 + HOUR_MS),
        "an hour after it ran"
    );

    // The device is off: the next slot passes without a second backup piling up.
    server.clock().advance(Duration::from_secs(3_600));
    assert_eq!(scheduler::run_once(&server.state).await.unwrap(), 0);
    assert_eq!(backup_jobs(&server, &device).await.len(), 1);
    let moved = server.store.backup_schedule(&policy).await.unwrap()[0].due_at;
    assert!(moved.0 > next.0, "the skipped slot moved the schedule on");

    // A revoked device is no longer scheduled.
    let root = server.api_token().await;
    let (status, _) = server
        .api_post(
            &root,
            &format!("/api/v1/devices/{device}/revoke"),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    scheduler::run_once(&server.state).await.unwrap();
    assert!(
        server
            .store
            .backup_schedule(&policy)
            .await
            .unwrap()
            .is_empty()
    );
    server.cleanup().await;
}

/// Two servers on one database, both looking the moment a run is due: one job.
async fn a_due_run_is_queued_once_by_servers_looking_together(server: TestServer) {
    let (device, _) = server.enroll_raw("files").await;
    let policy = hourly_policy(&server, &device).await;
    // Both servers' clocks are two hours on (the test server's own scheduler, on the real
    // clock, sees nothing due).
    let clock = Arc::new(ManualClock::new(server.now().plus_millis(2 * HOUR_MS)));
    let replica = || {
        AppState::new(
            server.store.clone(),
            clock.clone(),
            (*server.state.config).clone(),
        )
        .unwrap()
    };
    let (a, b) = (replica(), replica());
    let look = |state: AppState| async move {
        let mut queued = 0;
        for _ in 0..3 {
            queued += scheduler::run_once(&state).await.unwrap();
        }
        queued
    };
    let (from_a, from_b) = tokio::join!(look(a), look(b));
    assert_eq!(from_a + from_b, 1, "a: {from_a}, b: {from_b}");
    assert_eq!(backup_jobs(&server, &device).await.len(), 1);
    let due = server.store.backup_schedule(&policy).await.unwrap()[0].due_at;
    assert_eq!(due, clock.now().plus_millis(HOUR_MS));
    server.cleanup().await;
}

#[tokio::test]
async fn a_due_run_is_queued_once_by_servers_looking_together_sqlite() {
    a_due_run_is_queued_once_by_servers_looking_together(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn a_due_run_is_queued_once_by_servers_looking_together_postgres() {
    let Some(server) = TestServer::postgres().await else {
        eprintln!("STEWARD_TEST_PG_URL is not set: skipped");
        return;
    };
    a_due_run_is_queued_once_by_servers_looking_together(server).await;
}
