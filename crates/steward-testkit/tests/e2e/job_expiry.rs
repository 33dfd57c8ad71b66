//! Jobs that can no longer finish expire: one whose agent took it and vanished, every
//! unfinished job of a revoked device, and every job past its deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use steward_core::Timestamp;
use steward_server::AppState;
use steward_server::clock::Clock;
use steward_testkit::TestServer;

/// The server's clock, `ahead_ms` later.
struct Ahead(i64);

impl Clock for Ahead {
    fn now(&self) -> Timestamp {
        steward_server::SystemClock.now().plus_millis(self.0)
    }
}

/// The server as it will be `ahead_ms` from now (same database and settings).
fn later(server: &TestServer, ahead_ms: i64) -> AppState {
    AppState::new(
        server.store.clone(),
        Arc::new(Ahead(ahead_ms)),
        (*server.state.config).clone(),
    )
    .unwrap()
}

async fn job_state(server: &TestServer, api: &str, device: &str) -> Value {
    let (status, jobs) = server
        .api_get(api, &format!("/api/v1/devices/{device}/jobs"))
        .await;
    assert_eq!(status, 200);
    jobs[0].clone()
}

#[tokio::test]
async fn a_job_whose_agent_vanished_and_a_revoked_devices_jobs_expire() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let (device, credential) = server.enroll_raw("vanishing").await;
    server
        .api_post(
            &api,
            &format!("/api/v1/devices/{device}/jobs"),
            json!({"kind": "collect_inventory"}),
        )
        .await;
    // The agent takes the job, then is never heard from again.
    let resp = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
        .bearer_auth(&credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let job_id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Nine minutes on it is still waiting; eleven minutes on it has expired.
    let n = steward_server::expire_jobs(&later(&server, 9 * 60_000))
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(
        job_state(&server, &api, &device).await["state"],
        "dispatched"
    );
    let n = steward_server::expire_jobs(&later(&server, 11 * 60_000))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let job = job_state(&server, &api, &device).await;
    assert_eq!(job["state"], "expired", "{job}");
    // The agent coming back late cannot finish it.
    let resp = server
        .http
        .post(format!("{}/agent/v1/jobs/{job_id}", server.url))
        .bearer_auth(&credential)
        .json(&json!({"state": "succeeded", "message": "late"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);

    // A job queued for a device that is then revoked expires at once.
    let (other, _) = server.enroll_raw("revoked").await;
    server
        .api_post(
            &api,
            &format!("/api/v1/devices/{other}/jobs"),
            json!({"kind": "collect_inventory"}),
        )
        .await;
    let (status, _) = server
        .api_post(&api, &format!("/api/v1/devices/{other}/revoke"), json!({}))
        .await;
    assert!(status < 300, "{status}");
    // (The server's own poller may have been first: it sweeps every 30 s.)
    let n = steward_server::expire_jobs(&server.state).await.unwrap();
    assert!(n <= 1, "{n}");
    assert_eq!(job_state(&server, &api, &other).await["state"], "expired");
    server.cleanup().await;
}

/// The system clock moved forward by hand (how far: `ahead`, in ms).
#[derive(Default)]
struct ManualClock {
    ahead: AtomicI64,
}

impl ManualClock {
    fn advance(&self, ms: i64) {
        self.ahead.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        steward_server::SystemClock
            .now()
            .plus_millis(self.ahead.load(Ordering::SeqCst))
    }
}

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

#[tokio::test]
async fn jobs_expire_at_their_deadline_whatever_their_state_sqlite() {
    deadlines(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn jobs_expire_at_their_deadline_whatever_their_state_postgres() {
    match TestServer::postgres().await {
        Some(server) => deadlines(server).await,
        None => eprintln!("STEWARD_TEST_PG_URL unset: PostgreSQL variant skipped"),
    }
}

async fn deadlines(server: TestServer) {
    let api = server.api_token().await;
    let clock = Arc::new(ManualClock::default());
    let moved = AppState::new(
        server.store.clone(),
        clock.clone(),
        (*server.state.config).clone(),
    )
    .unwrap();
    let take = |credential: String| {
        let server = &server;
        async move {
            let resp = server
                .http
                .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
                .bearer_auth(&credential)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            resp.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };

    // A credential rotation (a week to finish) whose agent took it, said it was running,
    // then died: the unanswered-dispatch rule does not apply to it, the deadline does.
    let (died, died_credential) = server.enroll_raw("died").await;
    server
        .api_post(
            &api,
            &format!("/api/v1/devices/{died}/rotate-credential"),
            json!({}),
        )
        .await;
    let rotation = take(died_credential.clone()).await;
    let resp = server
        .http
        .post(format!("{}/agent/v1/jobs/{rotation}", server.url))
        .bearer_auth(&died_credential)
        .json(&json!({"state": "running"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    // An inventory request (an hour) for a device that never asks for work.
    let (away, _) = server.enroll_raw("away").await;
    server
        .api_post(
            &api,
            &format!("/api/v1/devices/{away}/jobs"),
            json!({"kind": "collect_inventory"}),
        )
        .await;

    clock.advance(59 * MINUTE);
    assert_eq!(steward_server::expire_jobs(&moved).await.unwrap(), 0);
    assert_eq!(job_state(&server, &api, &away).await["state"], "queued");

    clock.advance(2 * MINUTE);
    assert_eq!(steward_server::expire_jobs(&moved).await.unwrap(), 1);
    let queued = job_state(&server, &api, &away).await;
    assert_eq!(queued["state"], "expired", "{queued}");
    assert_eq!(
        queued["message"],
        steward_core::job::EXPIRED_NEVER_PICKED_UP
    );
    assert_eq!(job_state(&server, &api, &died).await["state"], "running");

    clock.advance(7 * DAY);
    assert_eq!(steward_server::expire_jobs(&moved).await.unwrap(), 1);
    let stuck = job_state(&server, &api, &died).await;
    assert_eq!(stuck["state"], "expired", "{stuck}");
    assert_eq!(stuck["message"], steward_core::job::EXPIRED_PAST_DEADLINE);
    server.cleanup().await;
}
