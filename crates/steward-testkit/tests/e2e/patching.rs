//! Patching end to end: a real agent lists the updates of a throwaway Debian root (real
//! apt-get and dpkg, packages built by the test: `steward_testkit::apt`) and reports them;
//! the server shows them per device and across the fleet (security classified, age kept);
//! an install asked for from the API really installs into the root, streams its log,
//! reports each package's result and refreshes the list; a failed install raises the
//! `Patching` alert; a patch policy installs what it allows (security at once, others once
//! approved, held packages never) when its window is open.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use steward_agent::updates::UpdatesFeed;
use steward_testkit::agent::{ScriptedCollector, TestAgent, sample_inventory};
use steward_testkit::apt::{Machine, machine, status_version};
use steward_testkit::{TestServer, eventually};

const WAIT: Duration = Duration::from_secs(90);

async fn device_with_apt(server: &TestServer) -> (TestAgent, Machine) {
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(
        &server.url,
        &token,
        ScriptedCollector::new(sample_inventory("shop-server", 2)),
    )
    .await
    .unwrap();
    let m = machine();
    let feed = UpdatesFeed::new(Arc::new(m.apt.clone()));
    agent.start_with(Duration::from_secs(1), move |c| c.set_updates(feed));
    (agent, m)
}

async fn pending(server: &TestServer, api: &str, device: &str) -> Vec<Value> {
    let (status, body) = server
        .api_get(api, &format!("/api/v1/devices/{device}/updates"))
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn names(rows: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r["package"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The posture report's standing of the server's 14-day check on the one device.
async fn posture_status(server: &TestServer, api: &str) -> String {
    let (status, report) = server.api_get(api, "/api/v1/posture/report").await;
    assert_eq!(status, 200, "{report}");
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["items"].as_array().unwrap())
        .find(|i| i["id"] == "patches-within-14-days")
        .unwrap_or_else(|| panic!("no patches-within-14-days in {report}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn finished(server: &TestServer, api: &str, id: &str) -> Value {
    eventually(WAIT, "the install finished", || async {
        let (_, b) = server.api_get(api, &format!("/api/v1/batches/{id}")).await;
        let p = &b["batch"]["progress"];
        (p["queued"] == 0 && p["offline"] == 0 && p["running"] == 0).then_some(b)
    })
    .await
}

#[tokio::test]
async fn updates_are_listed_installed_on_request_and_a_failure_alerts() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let (mut agent, m) = device_with_apt(&server).await;
    let device = agent.device_id.clone();

    let rows = eventually(WAIT, "the agent's listing reached the server", || async {
        let rows = pending(&server, &api, &device).await;
        (rows.len() == 3).then_some(rows)
    })
    .await;
    assert_eq!(
        names(&rows),
        ["steward-broken", "steward-demo", "steward-secfix"]
    );
    let secfix = rows
        .iter()
        .find(|r| r["package"] == "steward-secfix")
        .unwrap();
    assert_eq!(secfix["security"], true, "{secfix}");
    assert_eq!(secfix["installed"], "1.0");
    assert_eq!(secfix["candidate"], "1.1");
    assert_eq!(secfix["plan"], "no policy");
    let (_, overview) = server.api_get(&api, "/api/v1/updates").await;
    assert_eq!(overview["devices_missing_security"], 1, "{overview}");
    assert_eq!(overview["oldest_security_days"], 0, "{overview}");
    assert_eq!(overview["devices"][0]["manager"], "apt");
    // Posture reads the same facts: nothing has waited 14 days.
    assert_eq!(posture_status(&server, &api).await, "pass");

    // Security updates only, now.
    let (status, sent) = server
        .api_post(
            &api,
            "/api/v1/updates/install",
            json!({"target": format!("device:{device}"), "security_only": true}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    let done = finished(&server, &api, sent["id"].as_str().unwrap()).await;
    assert_eq!(done["batch"]["progress"]["succeeded"], 1, "{done}");
    assert!(
        done["jobs"][0]["message"]
            .as_str()
            .unwrap()
            .contains("steward-secfix 1.0 → 1.1 installed"),
        "{done}"
    );
    assert_eq!(
        status_version(&m.root, "steward-secfix").as_deref(),
        Some("1.1")
    );
    // The agent listed again after the install.
    eventually(WAIT, "the list refreshed after the install", || async {
        (names(&pending(&server, &api, &device).await) == ["steward-broken", "steward-demo"])
            .then_some(())
    })
    .await;

    // Everything else: the broken package fails, and says why.
    let (status, sent) = server
        .api_post(
            &api,
            "/api/v1/updates/install",
            json!({"target": format!("device:{device}")}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    let done = finished(&server, &api, sent["id"].as_str().unwrap()).await;
    assert_eq!(done["batch"]["progress"]["failed"], 1, "{done}");
    let job = server
        .store
        .job(done["jobs"][0]["job_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(job.message.contains("steward-broken 1.0 failed"), "{job:?}");
    assert!(
        job.message.contains("steward-demo 1.0 → 1.1 installed"),
        "{job:?}"
    );
    assert!(
        job.output.contains("this version refuses to install"),
        "the install's log is kept: {}",
        job.output
    );
    eventually(WAIT, "only the broken package is left", || async {
        (names(&pending(&server, &api, &device).await) == ["steward-broken"]).then_some(())
    })
    .await;

    // The failure raises the Patching alert.
    let alert = eventually(WAIT, "the patching alert", || async {
        steward_server::patching::alerts::judge(&server.state).await;
        let (_, view) = server.api_get(&api, "/api/v1/alerts").await;
        view["open"]
            .as_array()?
            .iter()
            .find(|a| a["check"] == "Patching")
            .cloned()
    })
    .await;
    assert_eq!(alert["status"], "critical", "{alert}");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("steward-broken"),
        "{alert}"
    );

    // Every install is audited.
    let (_, audit) = server
        .api_get(&api, "/api/v1/audit?action=updates_install_queued")
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(2), "{audit}");
    agent.stop().await;
}

#[tokio::test]
async fn a_policy_installs_what_it_allows_inside_its_window() {
    let server = TestServer::sqlite_manual_clock().await;
    let api = server.api_token().await;
    let (mut agent, m) = device_with_apt(&server).await;
    let device = agent.device_id.clone();
    eventually(WAIT, "the agent's listing reached the server", || async {
        (pending(&server, &api, &device).await.len() == 3).then_some(())
    })
    .await;

    // Fifteen days on, the security update still waiting fails Cyber Essentials' 14-day rule
    // in the posture report and raises the Patching alert.
    server.clock().advance(Duration::from_secs(15 * 86_400));
    assert_eq!(posture_status(&server, &api).await, "fail");
    steward_server::patching::alerts::judge(&server.state).await;
    let (_, view) = server.api_get(&api, "/api/v1/alerts").await;
    let alert = view["open"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["check"] == "Patching")
        .unwrap_or_else(|| panic!("no Patching alert in {view}"));
    assert_eq!(alert["status"], "critical", "{alert}");
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("the oldest for 15 days"),
        "{alert}"
    );

    // A window that is closed now: nothing installs.
    let now = server.now();
    let closed = (now.0.div_euclid(86_400_000) + 3).rem_euclid(7); // today, Monday = 0
    let other_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][((closed + 3) % 7) as usize];
    let (status, policy) = server
        .api_post(
            &api,
            "/api/v1/patch-policies",
            json!({
                "name": "Shop servers",
                "target": "all",
                "policy": {"security": "auto", "others": {"mode": "approve"},
                           "holds": ["steward-broken"], "reboot": "never"},
                "window": format!("{other_day} 02:00 1h"),
            }),
        )
        .await;
    assert_eq!(status, 201, "{policy}");
    assert_eq!(
        steward_server::patching::scheduler::run_once(&server.state)
            .await
            .unwrap(),
        0
    );
    let rows = pending(&server, &api, &device).await;
    let plan = |name: &str| {
        rows.iter().find(|r| r["package"] == name).unwrap()["plan"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        plan("steward-secfix").starts_with("installs in the window"),
        "{rows:?}"
    );
    assert_eq!(plan("steward-demo"), "needs approval");
    assert_eq!(plan("steward-broken"), "held");

    // Any time, and steward-demo 1.1 approved: security and the approved one install; the
    // held one never does.
    let id = policy["id"].as_str().unwrap();
    let mut changed = policy.clone();
    for field in ["id", "updated_at", "updated_by"] {
        changed.as_object_mut().unwrap().remove(field);
    }
    changed["window"] = Value::Null;
    let resp = reqwest::Client::new()
        .put(format!("{}/api/v1/patch-policies/{id}", server.url))
        .bearer_auth(&api)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, _) = server
        .api_post(
            &api,
            "/api/v1/updates/approvals",
            json!({"package": "steward-demo", "version": "1.1"}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        steward_server::patching::scheduler::run_once(&server.state)
            .await
            .unwrap(),
        1
    );
    // Not twice while it runs.
    assert_eq!(
        steward_server::patching::scheduler::run_once(&server.state)
            .await
            .unwrap(),
        0
    );
    eventually(WAIT, "the policy's install ran", || async {
        (status_version(&m.root, "steward-demo").as_deref() == Some("1.1")
            && status_version(&m.root, "steward-secfix").as_deref() == Some("1.1"))
        .then_some(())
    })
    .await;
    assert_eq!(
        status_version(&m.root, "steward-broken").as_deref(),
        Some("1.0")
    );
    eventually(WAIT, "only the held package is left", || async {
        (names(&pending(&server, &api, &device).await) == ["steward-broken"]).then_some(())
    })
    .await;
    agent.stop().await;
}
