//! A network monitor run by a chosen agent (`runner` = `device:ID`), end to end with a real
//! server, a real agent and a real HTTP target on loopback: the agent is told to run the
//! probe, its results ride its check-ins, a target going down alerts a real webhook once and
//! recovers once; the server itself never runs the probe, and bad runners are refused.

use std::time::Duration;

use serde_json::json;
use steward_testkit::agent::{ScriptedCollector, TestAgent, sample_inventory};
use steward_testkit::peers::{free_address, http_target, next_within, webhook_receiver};
use steward_testkit::{TestServer, eventually};

const WAIT: Duration = Duration::from_secs(30);

/// A network monitor's stored status and last summary.
async fn state_of(server: &TestServer, check: &str) -> Option<(String, String)> {
    let state = server.store.check_state(check, "").await.unwrap()?;
    Some((state.status, state.summary))
}

#[tokio::test]
async fn a_probe_run_by_an_agent_alerts_once_and_recovers_once() {
    let addr = free_address().await;
    let up = http_target(addr).await;
    let (hook, mut received) = webhook_receiver().await;
    let server = crate::support::server_alerting_to(hook).await;
    let api = server.api_token().await;
    let token = server.enroll_token(2).await;
    let collector = ScriptedCollector::new(sample_inventory("site-gw", 5));
    let mut agent = TestAgent::enroll(&server.url, &token, collector)
        .await
        .unwrap();
    let device = agent.device_id.clone();
    // A second device, enrolled and silent: a probe given to it never runs.
    let idle = TestAgent::enroll(
        &server.url,
        &token,
        ScriptedCollector::new(sample_inventory("idle", 5)),
    )
    .await
    .unwrap();

    // Bad runners are refused with the field named.
    for (runner, check) in [
        (
            "device:no-such-device".to_string(),
            json!({"kind": "tcp", "host": "127.0.0.1", "port": 9}),
        ),
        (
            "group:whatever".to_string(),
            json!({"kind": "tcp", "host": "127.0.0.1", "port": 9}),
        ),
        (format!("device:{device}"), json!({"kind": "failed_units"})),
    ] {
        let (status, body) = server
            .api_post(
                &api,
                "/api/v1/checks",
                json!({"name": format!("bad {runner}"), "check": check, "runner": runner}),
            )
            .await;
        assert_eq!(status, 400, "{runner}: {body}");
        assert!(body.to_string().contains("runner"), "{body}");
    }

    let create = |name: &str, runner: String| {
        let body = json!({
            "name": name,
            "check": {"kind": "http", "url": format!("http://{addr}/")},
            "interval_secs": 5,
            "timeout_secs": 2,
            "retries": 0,
            "runner": runner,
        });
        let (server, api) = (&server, &api);
        async move {
            let (status, created) = server.api_post(api, "/api/v1/checks", body).await;
            assert_eq!(status, 201, "{created}");
            assert_eq!(created["runner"], runner.as_str());
            created["id"].as_str().unwrap().to_string()
        }
    };
    let printer = create("site printer", format!("device:{device}")).await;
    let unrun = create("never run", format!("device:{}", idle.device_id)).await;
    agent.start(Duration::from_secs(1));

    let ok = eventually(WAIT, "the agent's first result", || async {
        state_of(&server, &printer)
            .await
            .filter(|(_, summary)| summary.starts_with("HTTP 200"))
    })
    .await;
    assert_eq!(ok.0, "ok", "{ok:?}");
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none(),
        "all is well"
    );

    up.abort();
    let _ = up.await;
    let message = next_within(&mut received, WAIT).await.expect("the alert");
    let alert = &message["alerts"][0];
    assert_eq!(alert["check"], "site printer", "{message}");
    assert_eq!(alert["event"], "problem");
    assert_eq!(alert["status"], "critical");

    let _again = http_target(addr).await;
    let message = next_within(&mut received, WAIT)
        .await
        .expect("the recovery");
    assert_eq!(message["alerts"][0]["event"], "recovery", "{message}");
    assert!(
        next_within(&mut received, Duration::from_secs(6))
            .await
            .is_none(),
        "one alert, one recovery"
    );

    // The idle device's probe was never run: not by its agent, not by the server.
    let (_, summary) = state_of(&server, &unrun).await.unwrap_or_default();
    assert_eq!(summary, "", "the server ran a probe meant for an agent");
    agent.stop().await;
    server.cleanup().await;
}
