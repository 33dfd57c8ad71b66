//! Device checks end to end: a real server and a real agent (with a scripted machine). The
//! default checks apply to a new device; a unit check created over the API reaches the agent
//! as a watch list and its failure reaches a real webhook receiver, naming the device; an
//! acknowledgement is kept; a maintenance window holds a problem back until it closes; a
//! route keeps warnings from a critical-only channel; a silent device misses its heartbeat.

use std::time::Duration;

use serde_json::json;
use steward_testkit::agent::{ScriptedCollector, TestAgent, sample_inventory};
use steward_testkit::peers::{next_within, webhook_receiver};
use steward_testkit::{TestServer, eventually};

const WAIT: Duration = Duration::from_secs(20);
const QUIET: Duration = Duration::from_secs(3);

async fn checks_of(server: &TestServer, api: &str, device: &str) -> Vec<serde_json::Value> {
    let (status, body) = server
        .api_get(api, &format!("/api/v1/devices/{device}/checks"))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn status_of(checks: &[serde_json::Value], name: &str) -> Option<String> {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .map(|c| c["status"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn device_checks_alert_once_through_acknowledgement_windows_and_routes() {
    let (hook, mut received) = webhook_receiver().await;
    let server = crate::support::server_alerting_to(hook).await;
    let api = server.api_token().await;
    let collector = ScriptedCollector::new(sample_inventory("web-1", 5));
    collector.set(|m| {
        m.units.insert("nginx.service".into(), "active".into());
    });
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(&server.url, &token, collector.clone())
        .await
        .unwrap();
    let device = agent.device_id.clone();
    let (_, about) = server
        .api_get(&api, &format!("/api/v1/devices/{device}"))
        .await;
    let name = about["name"].as_str().unwrap().to_string();
    agent.start(Duration::from_secs(1));

    // The default checks cover the new device, all OK.
    let checks = eventually(WAIT, "the default checks judged", || async {
        let checks = checks_of(&server, &api, &device).await;
        (checks.len() >= 4).then_some(checks)
    })
    .await;
    for name in [
        "Agent heartbeat",
        "Disk space",
        "Memory",
        "Failed systemd units",
    ] {
        assert_eq!(
            status_of(&checks, name).as_deref(),
            Some("ok"),
            "{name}: {checks:?}"
        );
    }

    // A unit check for this device: the agent is told to watch nginx and reports it active.
    let (status, created) = server
        .api_post(
            &api,
            "/api/v1/checks",
            json!({
                "name": "web server",
                "check": {"kind": "unit", "unit": "nginx.service"},
                "target": format!("device:{device}"),
                "runbook": "Run `systemctl restart nginx`.",
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    eventually(WAIT, "the unit check judged OK", || async {
        let checks = checks_of(&server, &api, &device).await;
        (status_of(&checks, "web server").as_deref() == Some("ok")).then_some(())
    })
    .await;
    assert!(
        collector
            .machine
            .lock()
            .unwrap()
            .watched
            .iter()
            .any(|w| w.units == ["nginx.service"]),
        "the agent watched the unit"
    );
    assert!(
        next_within(&mut received, QUIET).await.is_none(),
        "all is well"
    );

    // nginx fails: one problem notice, naming the check, the device and the runbook.
    collector.set(|m| {
        m.units.insert("nginx.service".into(), "failed".into());
    });
    let alert = next_within(&mut received, WAIT).await.expect("the alert")["alerts"][0].clone();
    assert_eq!(alert["event"], "problem", "{alert}");
    assert_eq!(alert["check"], "web server");
    assert_eq!(alert["subject"], name.as_str());
    assert_eq!(alert["status"], "critical");
    assert_eq!(alert["summary"], "nginx.service is failed");
    assert_eq!(alert["runbook"], "Run `systemctl restart nginx`.");
    assert!(next_within(&mut received, QUIET).await.is_none(), "once");

    // The alerts page's API: open, worst first; acknowledged with a comment.
    let (_, view) = server.api_get(&api, "/api/v1/alerts").await;
    let open = view["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{view}");
    assert_eq!(open[0]["device"], name.as_str());
    let check_id = open[0]["check_id"].as_str().unwrap().to_string();
    let (status, body) = server
        .api_post(
            &api,
            "/api/v1/alerts/acknowledge",
            json!({"check_id": check_id, "subject": device, "comment": ""}),
        )
        .await;
    assert_eq!(status, 400, "an acknowledgement says why: {body}");
    let (status, _) = server
        .api_post(
            &api,
            "/api/v1/alerts/acknowledge",
            json!({"check_id": check_id, "subject": device, "comment": "restarting it"}),
        )
        .await;
    assert_eq!(status, 204);
    let (_, view) = server
        .api_get(&api, "/api/v1/alerts?acknowledged=true")
        .await;
    assert_eq!(
        view["open"][0]["acknowledged"]["comment"], "restarting it",
        "{view}"
    );
    let (_, history) = server
        .api_get(
            &api,
            &format!("/api/v1/alerts/history?check_id={check_id}&subject={device}"),
        )
        .await;
    assert_eq!(history[0]["event"], "acknowledged", "{history}");
    assert_eq!(history[1]["to"], "critical");

    // Back up: one recovery, and the alert is among the resolved.
    collector.set(|m| {
        m.units.insert("nginx.service".into(), "active".into());
    });
    let recovery = next_within(&mut received, WAIT)
        .await
        .expect("the recovery")["alerts"][0]
        .clone();
    assert_eq!(recovery["event"], "recovery", "{recovery}");
    assert_eq!(recovery["previous"], "critical");
    let (_, view) = server.api_get(&api, "/api/v1/alerts").await;
    assert!(view["open"].as_array().unwrap().is_empty(), "{view}");
    assert_eq!(view["resolved"][0]["check"], "web server");

    // A maintenance window on the device: the disk fills, nobody is paged…
    let now = server.now().0;
    let (status, window) = server
        .api_post(
            &api,
            "/api/v1/maintenance",
            json!({
                "name": "disk swap",
                "target": format!("device:{device}"),
                "schedule": {"kind": "once", "start": now - 60_000, "end": now + 3_600_000},
            }),
        )
        .await;
    assert_eq!(status, 201, "{window}");
    collector.set(|m| m.metrics.filesystems[0].used_bytes = 250 << 30);
    eventually(WAIT, "the disk judged critical", || async {
        let checks = checks_of(&server, &api, &device).await;
        (status_of(&checks, "Disk space").as_deref() == Some("critical")).then_some(())
    })
    .await;
    assert!(
        next_within(&mut received, QUIET).await.is_none(),
        "held back"
    );
    // …until the window is removed: what is still wrong is announced then.
    let window_id = window["id"].as_str().unwrap();
    let resp = server
        .http
        .delete(format!("{}/api/v1/maintenance/{window_id}", server.url))
        .bearer_auth(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let held = next_within(&mut received, WAIT)
        .await
        .expect("announced after the window")["alerts"][0]
        .clone();
    assert_eq!(held["check"], "Disk space", "{held}");
    assert_eq!(held["status"], "critical");

    // A route: the channel now gets only critical notices; a warning reaches nobody.
    let channel = "config:ops";
    let (status, route) = server
        .api_post(
            &api,
            "/api/v1/routes",
            json!({"channel_id": channel, "min_status": "critical"}),
        )
        .await;
    assert_eq!(status, 201, "{route}");
    collector.set(|m| m.failed_units = Some(vec!["backup.service".into()]));
    eventually(WAIT, "the failed unit judged", || async {
        let checks = checks_of(&server, &api, &device).await;
        (status_of(&checks, "Failed systemd units").as_deref() == Some("warning")).then_some(())
    })
    .await;
    assert!(
        next_within(&mut received, QUIET).await.is_none(),
        "a warning does not reach a critical-only channel"
    );

    agent.stop().await;
    server.cleanup().await;
}

#[tokio::test]
async fn a_silent_device_misses_its_heartbeat_and_recovers_when_it_reports() {
    let server = TestServer::sqlite_manual_clock().await;
    let api = server.api_token().await;
    let collector = ScriptedCollector::new(sample_inventory("pc-7", 5));
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(&server.url, &token, collector)
        .await
        .unwrap();
    let device = agent.device_id.clone();
    agent.start(Duration::from_secs(1));
    eventually(WAIT, "the first report judged", || async {
        let checks = checks_of(&server, &api, &device).await;
        (status_of(&checks, "Agent heartbeat").as_deref() == Some("ok")).then_some(())
    })
    .await;
    agent.stop().await;

    // Ten minutes of silence (the default limit), judged by the sweep.
    server.clock().advance(Duration::from_secs(601));
    steward_server::monitoring::devices::sweep(&server.state)
        .await
        .unwrap();
    let checks = checks_of(&server, &api, &device).await;
    assert_eq!(
        status_of(&checks, "Agent heartbeat").as_deref(),
        Some("critical")
    );
    let heartbeat = checks
        .iter()
        .find(|c| c["check"] == "Agent heartbeat")
        .unwrap();
    assert_eq!(
        heartbeat["summary"], "no check-in for 10 min",
        "{heartbeat}"
    );
    // A second sweep changes nothing.
    steward_server::monitoring::devices::sweep(&server.state)
        .await
        .unwrap();
    let (_, history) = server
        .api_get(
            &api,
            &format!("/api/v1/alerts/history?check_id=default:heartbeat&subject={device}"),
        )
        .await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");

    // It reports again: recovered at once.
    agent.start(Duration::from_secs(1));
    eventually(WAIT, "the heartbeat recovered", || async {
        let checks = checks_of(&server, &api, &device).await;
        (status_of(&checks, "Agent heartbeat").as_deref() == Some("ok")).then_some(())
    })
    .await;
    agent.stop().await;
    server.cleanup().await;
}

#[tokio::test]
async fn bad_definitions_are_refused_with_the_field_named() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    for (body, expected) in [
        (
            json!({"name": "x", "check": {"kind": "disk", "warn_percent": 150}}),
            "warn: a percentage is 0 to 100",
        ),
        (
            json!({"name": "x", "check": {"kind": "nonsense"}}),
            "check:",
        ),
        (
            json!({"name": "x", "check": {"kind": "disk", "warn_percent": 90}, "target": "site:1"}),
            "target:",
        ),
        (
            json!({"name": "", "check": {"kind": "failed_units"}}),
            "name: 1 to 100 characters",
        ),
        (
            json!({"name": "x", "check": {"kind": "tcp", "host": "127.0.0.1", "port": 1}, "target": "all"}),
            "target: a network monitor",
        ),
    ] {
        let (status, answer) = server.api_post(&api, "/api/v1/checks", body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(expected),
            "{body} → {answer}"
        );
    }
    let (status, answer) = server
        .api_post(
            &api,
            "/api/v1/maintenance",
            json!({"name": "w", "target": "all", "schedule": {"kind": "once", "start": 10, "end": 5}}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = server
        .api_post(
            &api,
            "/api/v1/channels",
            json!({"name": "c", "channel": {"kind": "webhook", "url": "ftp://x"}}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    // A viewer may look but not define.
    let viewer = server.api_token_with(steward_core::Role::Viewer).await;
    let (status, _) = server
        .api_post(
            &viewer,
            "/api/v1/checks",
            json!({"name": "x", "check": {"kind": "failed_units"}}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, checks) = server.api_get(&viewer, "/api/v1/checks").await;
    assert_eq!(status, 200);
    assert_eq!(
        checks.as_array().unwrap().len(),
        10,
        "the default checks: {checks}"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn the_console_shows_what_is_wrong_and_takes_an_acknowledgement() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    // A network monitor against a port nobody listens on: critical at its first run.
    let closed = steward_testkit::peers::free_address().await;
    let (status, body) = server
        .api_post(
            &api,
            "/api/v1/checks",
            json!({
                "name": "router admin page",
                "check": {"kind": "tcp", "host": closed.ip().to_string(), "port": closed.port()},
                "interval_secs": 1,
                "timeout_secs": 1,
                "retries": 0,
                "runbook": "Power-cycle the router in the store room.",
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    eventually(WAIT, "the monitor judged critical", || async {
        let (_, view) = server.api_get(&api, "/api/v1/alerts").await;
        (view["open"][0]["status"] == "critical").then_some(())
    })
    .await;

    server
        .create_user("olga", steward_core::Role::Admin, "a long enough password")
        .await;
    let cookie = server.sign_in("olga", "a long enough password").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let dashboard = steward_testkit::page_with(&http, format!("{}/", server.url), &cookie).await;
    assert!(dashboard.contains("What is wrong now"), "{dashboard}");
    assert!(dashboard.contains("router admin page"));
    let page = steward_testkit::page_with(&http, format!("{}/alerts", server.url), &cookie).await;
    assert!(page.contains("router admin page"), "{page}");
    assert!(page.contains("Power-cycle the router in the store room."));
    assert!(page.contains(">Acknowledge</button>"));
    let check_id = body["id"].as_str().unwrap();
    let resp = http
        .post(format!("{}/alerts/acknowledge", server.url))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", steward_testkit::csrf_in(&page).as_str()),
            ("check_id", check_id),
            ("subject", ""),
            ("comment", "the router is being replaced"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let page = steward_testkit::page_with(&http, format!("{}/alerts", server.url), &cookie).await;
    assert!(
        page.contains("Acknowledged by") && page.contains("the router is being replaced"),
        "{page}"
    );
    assert!(!page.contains(">Acknowledge</button>"), "acknowledged once");
    // A filter the page offers: only unacknowledged alerts — none now.
    let page = steward_testkit::page_with(
        &http,
        format!("{}/alerts?acknowledged=false", server.url),
        &cookie,
    )
    .await;
    assert!(page.contains("Nothing is wrong right now."), "{page}");
    server.cleanup().await;
}

/// Problems found together go out together: a report showing a full disk and a failed unit
/// reaches the webhook as one message of two alerts, not as two messages.
#[tokio::test]
async fn problems_found_together_go_out_as_one_message() {
    let (hook, mut received) = webhook_receiver().await;
    let server = crate::support::server_alerting_to(hook).await;
    let api = server.api_token().await;
    let collector = ScriptedCollector::new(sample_inventory("db-1", 5));
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(&server.url, &token, collector.clone())
        .await
        .unwrap();
    let device = agent.device_id.clone();
    agent.start(Duration::from_secs(1));
    eventually(WAIT, "the default checks judged", || async {
        let checks = checks_of(&server, &api, &device).await;
        (status_of(&checks, "Disk space").as_deref() == Some("ok")).then_some(())
    })
    .await;

    collector.set(|m| {
        m.metrics.filesystems[0].used_bytes = m.metrics.filesystems[0].total_bytes / 100 * 99;
        m.failed_units = Some(vec!["postgresql.service".into()]);
    });
    let message = next_within(&mut received, WAIT).await.expect("the alerts");
    let mut checks: Vec<&str> = message["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["check"].as_str().unwrap())
        .collect();
    checks.sort_unstable();
    assert_eq!(
        checks,
        ["Disk space", "Failed systemd units"],
        "one message: {message}"
    );
    assert!(
        next_within(&mut received, QUIET).await.is_none(),
        "and nothing more"
    );
    agent.stop().await;
    server.cleanup().await;
}
