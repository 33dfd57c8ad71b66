//! Jobs and what agents support: the advertisement at check-in, `unsupported` answers from
//! the server and from the agent, agents that advertise nothing, and jobs running side by
//! side on one agent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use steward_agent::runner::{BoxFuture, JobContext, JobExecutor, JobExecutors, JobOutcome};
use steward_proto::agent::{JobAssignment, Report, ReportBatch};
use steward_testkit::{ScriptedCollector, TestAgent, TestServer, eventually, sample_inventory};
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(20);
/// Long enough that a test sees one check-in only: what the agent advertises is read once.
const QUIET: Duration = Duration::from_secs(600);

async fn job(server: &TestServer, api: &str, device: &str, id: &str) -> Option<Value> {
    let (_, jobs) = server
        .api_get(api, &format!("/api/v1/devices/{device}/jobs"))
        .await;
    jobs.as_array()?.iter().find(|j| j["id"] == id).cloned()
}

/// Waits until the job `id` is in `state`; returns it.
async fn job_in(server: &TestServer, api: &str, device: &str, id: &str, state: &str) -> Value {
    eventually(WAIT, &format!("job {id} to be {state}"), || async {
        job(server, api, device, id)
            .await
            .filter(|j| j["state"] == state)
    })
    .await
}

async fn queue(server: &TestServer, api: &str, device: &str, path: &str, body: Value) -> String {
    let (status, job) = server
        .api_post(api, &format!("/api/v1/devices/{device}/{path}"), body)
        .await;
    assert!(status < 300, "{status} {job}");
    job["id"].as_str().unwrap().to_string()
}

async fn queue_inventory(server: &TestServer, api: &str, device: &str) -> String {
    queue(
        server,
        api,
        device,
        "jobs",
        json!({"kind": "collect_inventory"}),
    )
    .await
}

async fn advertised(server: &TestServer, device: &str) -> Option<Vec<String>> {
    server
        .store
        .device_ingest_state(device)
        .await
        .unwrap()
        .unwrap()
        .agent_job_kinds
}

async fn started_agent(
    server: &TestServer,
    name: &str,
    interval: Duration,
    executors: JobExecutors,
) -> TestAgent {
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(
        &server.url,
        &token,
        ScriptedCollector::new(sample_inventory(name, 5)),
    )
    .await
    .unwrap();
    let want = executors.kinds();
    agent.start_with(interval, |config| config.executors = executors);
    eventually(WAIT, "the agent's advertisement", || async {
        (advertised(server, &agent.device_id).await.as_ref() == Some(&want)).then_some(())
    })
    .await;
    agent
}

#[tokio::test]
async fn a_kind_the_agent_does_not_run_is_answered_unsupported_sqlite() {
    unsupported_kinds(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn a_kind_the_agent_does_not_run_is_answered_unsupported_postgres() {
    match TestServer::postgres().await {
        Some(server) => unsupported_kinds(server).await,
        None => eprintln!("STEWARD_TEST_PG_URL unset: PostgreSQL variant skipped"),
    }
}

async fn unsupported_kinds(server: TestServer) {
    let api = server.api_token().await;
    // An agent built without the inventory job: it runs credential rotations only.
    let mut executors = JobExecutors::with_builtins();
    executors.remove("collect_inventory");
    let mut agent = started_agent(&server, "ws-lean", QUIET, executors).await;
    let device = agent.device_id.clone();

    // The server knows from the check-in and never hands the job over.
    let id = queue_inventory(&server, &api, &device).await;
    let refused = job_in(&server, &api, &device, &id, "unsupported").await;
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("does not run collect_inventory jobs"),
        "{message}"
    );
    assert!(message.contains("update the agent"), "{message}");

    // Had the server not known (its record says nothing, as for an agent from before
    // advertising), the agent itself answers: it received a kind it has no executor for.
    server
        .store
        .set_agent_capabilities(&device, None, None, false)
        .await
        .unwrap();
    let id = queue_inventory(&server, &api, &device).await;
    let answered = job_in(&server, &api, &device, &id, "unsupported").await;
    let message = answered["message"].as_str().unwrap();
    // The kinds it runs: the built-in ones left (detection's response job on Linux too).
    assert!(
        message.contains("this agent does not run collect_inventory jobs (it runs: ")
            && message.contains("rotate_credential)"),
        "{message}"
    );

    // What it does run still works.
    let id = queue(&server, &api, &device, "rotate-credential", json!({})).await;
    job_in(&server, &api, &device, &id, "succeeded").await;
    agent.stop().await;
    server.cleanup().await;
}

/// A test-only executor that takes the place of `collect_inventory`: each run waits until
/// the test releases it, and it counts how many runs overlap.
#[derive(Clone, Default)]
struct Gate {
    started: Arc<Notify>,
    release: Arc<Notify>,
    running: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
}

impl JobExecutor for Gate {
    fn kind(&self) -> &str {
        "collect_inventory"
    }

    fn run(&self, _: JobContext, _: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            let released = self.release.notified();
            self.started.notify_one();
            released.await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            JobOutcome::succeeded("released")
        })
    }
}

#[tokio::test]
async fn a_long_job_does_not_hold_up_another_kind() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let gate = Gate::default();
    let mut executors = JobExecutors::with_builtins();
    executors.register(gate.clone());
    let mut agent = started_agent(&server, "ws-busy", QUIET, executors).await;
    let device = agent.device_id.clone();

    let slow = queue_inventory(&server, &api, &device).await;
    tokio::time::timeout(WAIT, gate.started.notified())
        .await
        .expect("the slow job to start");
    job_in(&server, &api, &device, &slow, "running").await;

    // A second job of the same kind waits for the first (one per kind at a time)…
    let second = queue_inventory(&server, &api, &device).await;
    let waiting = job_in(&server, &api, &device, &second, "running").await;
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("waiting for another collect_inventory job"),
        "{waiting}"
    );
    // …while a job of another kind runs and finishes meanwhile.
    let rotation = queue(&server, &api, &device, "rotate-credential", json!({})).await;
    job_in(&server, &api, &device, &rotation, "succeeded").await;
    assert_eq!(
        job(&server, &api, &device, &slow).await.unwrap()["state"],
        "running"
    );

    gate.release.notify_one();
    job_in(&server, &api, &device, &slow, "succeeded").await;
    tokio::time::timeout(WAIT, gate.started.notified())
        .await
        .expect("the second job to start once the first is done");
    gate.release.notify_one();
    job_in(&server, &api, &device, &second, "succeeded").await;
    assert_eq!(gate.most_at_once.load(Ordering::SeqCst), 1);
    agent.stop().await;
    server.cleanup().await;
}

/// A check-in as an agent from before advertising sends it.
fn old_check_in(seq: u64) -> Value {
    let batch = ReportBatch {
        reports: vec![Report {
            observations: None,
            posture: None,
            updates: None,
            seq,
            collected_at: steward_core::Timestamp(1_700_000_000_000),
            metrics: Some(steward_core::Metrics::default()),
            inventory: None,
            summarised: 0,
            detections: Vec::new(),
            stopping: false,
        }],
        capabilities: None,
    };
    let body = serde_json::to_value(&batch).unwrap();
    assert!(body.get("capabilities").is_none(), "{body}");
    body
}

#[tokio::test]
async fn an_agent_that_advertises_nothing_still_gets_jobs() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let (device, credential) = server.enroll_raw("old-agent").await;
    let post = |body: Value| {
        server
            .http
            .post(format!("{}/agent/v1/reports", server.url))
            .bearer_auth(&credential)
            .json(&body)
            .send()
    };
    let take = || async {
        let resp = server
            .http
            .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
            .bearer_auth(&credential)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.json::<Value>().await.unwrap()
    };
    assert_eq!(post(old_check_in(1)).await.unwrap().status().as_u16(), 200);
    assert_eq!(advertised(&server, &device).await, None);

    let id = queue_inventory(&server, &api, &device).await;
    let got = take().await;
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["kind"], "collect_inventory");

    // Upgraded to an agent that lists rotations only, the inventory job is refused…
    let mut new = old_check_in(2);
    new["capabilities"] =
        json!({"job_kinds": ["rotate_credential"], "report_sections": ["metrics"]});
    assert_eq!(post(new).await.unwrap().status().as_u16(), 200);
    let refused = queue_inventory(&server, &api, &device).await;
    let resp = server
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", server.url))
        .bearer_auth(&credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(
        job(&server, &api, &device, &refused).await.unwrap()["state"],
        "unsupported"
    );
    // …and downgraded again (no advertisement), it gets inventory jobs once more.
    assert_eq!(post(old_check_in(3)).await.unwrap().status().as_u16(), 200);
    assert_eq!(advertised(&server, &device).await, None);
    let id = queue_inventory(&server, &api, &device).await;
    assert_eq!(take().await["id"], id.as_str());
    server.cleanup().await;
}
