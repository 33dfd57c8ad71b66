//! Detection end to end, with a hand-made agent speaking the protocol: a report's detection
//! is stored once however often it is delivered, shown in the API with everything known of
//! it, raises the critical Detection alert through the route's channel (a webhook here),
//! and a person's decision queues the right `detection_response` job and clears the alert.
//! The detection policy reaches the agent in the ack; a fire drill is queued, its result
//! recorded and scored against the channel that delivered the alert; oversized detections
//! (hostile input) are refused with the field named.

use std::time::Duration;

use serde_json::{Value, json};
use steward_core::Timestamp;
use steward_core::detection::{
    Detected, DetectionKind, FileOp, FileTouch, ProcessFacts, ResponseAction, ResponseStep,
    SignalValue,
};
use steward_proto::agent::{Capabilities, Report, ReportBatch, report_section};
use steward_server::monitoring::DeclaredChannel;
use steward_testkit::peers::{next_within, webhook_receiver};
use steward_testkit::{TestServer, eventually};

const WAIT: Duration = Duration::from_secs(30);

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
                capabilities: Some(Capabilities {
                    job_kinds: vec!["detection_response".into(), "ransomware_drill".into()],
                    report_sections: vec![report_section::DETECTIONS.into()],
                    scripts_allowed: false,
                }),
            })
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn next_job(&self) -> Value {
        let resp = self
            .server
            .http
            .get(format!("{}/agent/v1/jobs/next?wait=5", self.server.url))
            .bearer_auth(&self.credential)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "a job for the agent");
        resp.json().await.unwrap()
    }

    async fn finish_job(&self, id: &str, output: &str) {
        let resp = self
            .server
            .http
            .post(format!("{}/agent/v1/jobs/{id}", self.server.url))
            .bearer_auth(&self.credential)
            .json(&json!({"state": "succeeded", "output": output}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204);
    }
}

fn report(seq: u64, detections: Vec<Detected>) -> Report {
    Report {
        seq,
        collected_at: Timestamp(1_700_000_000_000 + seq as i64),
        metrics: None,
        inventory: None,
        observations: None,
        posture: None,
        updates: None,
        detections,
        stopping: false,
        summarised: 0,
    }
}

fn stop_step() -> ResponseStep {
    ResponseStep {
        action: ResponseAction::Stop,
        at: Timestamp(1_700_000_000_100),
        ok: true,
        message: "stopped 2 processes: 4242 4243".into(),
        job: None,
    }
}

fn attack(local_id: &str, drill: Option<&str>) -> Detected {
    let file = |i: i64, path: &str, op, to: Option<&str>| FileTouch {
        at: Timestamp(1_700_000_000_000 + i),
        op,
        path: path.into(),
        to: to.map(str::to_owned),
        damaged: op == FileOp::Write,
    };
    Detected {
        local_id: local_id.into(),
        kind: DetectionKind::Ransomware,
        detected_at: Timestamp(1_700_000_000_050),
        summary: "python3 (pid 4242) changed 3 files' content in 1 s".into(),
        process: Some(ProcessFacts {
            pid: 4242,
            exe: "/usr/bin/python3.11".into(),
            exe_sha256: "9f".repeat(32),
            cmdline: "python3 /tmp/enc.py /srv/share".into(),
            user: "anna".into(),
        }),
        ancestors: vec![ProcessFacts {
            pid: 4000,
            exe: "/usr/bin/bash".into(),
            exe_sha256: String::new(),
            cmdline: "bash".into(),
            user: "anna".into(),
        }],
        signals: vec![
            SignalValue {
                name: "canary".into(),
                value: 1.0,
                detail: "/srv/share/~$0000-canary.docx rewritten".into(),
            },
            SignalValue {
                name: "distinct_files_per_10s".into(),
                value: 48.0,
                detail: String::new(),
            },
        ],
        files: vec![
            file(1, "/srv/share/offer.docx", FileOp::Write, None),
            file(
                2,
                "/srv/share/offer.docx",
                FileOp::Rename,
                Some("/srv/share/offer.docx.lockbit"),
            ),
            file(3, "/srv/share/budget.xlsx", FileOp::Write, None),
        ],
        responses: vec![stop_step()],
        drill: drill.map(str::to_owned),
    }
}

async fn raw<'a>(server: &'a TestServer, name: &str) -> RawAgent<'a> {
    let (device, credential) = server.enroll_raw(name).await;
    RawAgent {
        server,
        credential,
        device,
    }
}

async fn server_with_webhook() -> (TestServer, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let (hook, received) = webhook_receiver().await;
    let server = TestServer::sqlite_configured(|c| {
        c.declared_channels = vec![DeclaredChannel {
            name: "ops-webhook".into(),
            channel: steward_notify::Channel::Webhook(steward_notify::Webhook {
                url: hook,
                secret: None,
            }),
        }];
    })
    .await;
    (server, received)
}

/// The open alert of the Detection check, if any.
async fn detection_alert(server: &TestServer, api: &str) -> Option<Value> {
    let (_, view) = server.api_get(api, "/api/v1/alerts").await;
    view["open"]
        .as_array()?
        .iter()
        .find(|a| a["check"] == "Detection")
        .cloned()
}

/// The next webhook message about the Detection check.
async fn detection_message(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Value {
    loop {
        let message = next_within(rx, WAIT)
            .await
            .expect("the Detection alert on the webhook");
        if message["alerts"][0]["check"] == "Detection" {
            return message;
        }
    }
}

async fn send_json(
    server: &TestServer,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let resp = server
        .http
        .request(method, format!("{}{path}", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_detection_is_stored_once_alerted_shown_and_decided() {
    let (server, mut received) = server_with_webhook().await;
    let api = server.api_token().await;
    let agent = raw(&server, "shop-server").await;

    // The first ack carries the default policy: homes, shares, web roots; alert only.
    let (status, ack) = agent.send(vec![report(1, Vec::new())]).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(
        ack["detection"]["folders"],
        json!(["/home", "/root", "/srv", "/var/www"])
    );
    assert_eq!(ack["detection"]["auto_stop"], false, "{ack}");

    // A policy for this device reaches it at its next report, its folders tidied.
    let (status, set) = send_json(
        &server,
        reqwest::Method::PUT,
        &api,
        "/api/v1/detection-policies",
        json!({"target": format!("device:{}", agent.device),
               "policy": {"folders": ["/srv/share/", "/srv/share/a"], "auto_stop": true}}),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["responses"], "stop the process");
    let (status, bad) = send_json(
        &server,
        reqwest::Method::PUT,
        &api,
        "/api/v1/detection-policies",
        json!({"target": "all", "policy": {"folders": ["/proc"]}}),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap_or_default()
            .contains("kernel or runtime view"),
        "{bad}"
    );

    // The detection, delivered twice (a retry after a lost answer): recorded once.
    let (status, ack) = agent.send(vec![report(2, vec![attack("a-1", None)])]).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["detection"]["folders"], json!(["/srv/share"]), "{ack}");
    assert_eq!(ack["detection"]["auto_stop"], true);
    let (status, _) = agent.send(vec![report(2, vec![attack("a-1", None)])]).await;
    assert_eq!(status, 200);
    let (status, list) = server.api_get(&api, "/api/v1/detections").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["device_name"], "shop-server");
    assert_eq!(list[0]["stopped"], true);

    // Everything known of it.
    let (status, detail) = server
        .api_get(&api, &format!("/api/v1/detections/{id}"))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["process"]["exe"], "/usr/bin/python3.11");
    assert_eq!(detail["process"]["exe_sha256"], "9f".repeat(32));
    assert_eq!(detail["process"]["user"], "anna");
    assert_eq!(detail["ancestors"][0]["exe"], "/usr/bin/bash");
    assert_eq!(detail["signals"][1]["name"], "distinct_files_per_10s");
    assert_eq!(detail["signals"][1]["value"], 48.0);
    let paths: Vec<&str> = detail["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/srv/share/offer.docx",
            "/srv/share/offer.docx",
            "/srv/share/budget.xlsx"
        ]
    );
    assert_eq!(detail["files"][1]["to"], "/srv/share/offer.docx.lockbit");
    assert_eq!(detail["responses"][0]["action"], "stop");

    // The critical alert, naming the process, its hash and the files, on every channel.
    let alert = detection_alert(&server, &api)
        .await
        .expect("a Detection alert");
    assert_eq!(alert["status"], "critical", "{alert}");
    let text = alert["summary"].as_str().unwrap();
    assert!(text.contains("/usr/bin/python3.11 (pid 4242"), "{text}");
    assert!(text.contains(&"9f".repeat(32)), "{text}");
    assert!(text.contains("/srv/share/offer.docx"), "{text}");
    assert!(text.contains("no backup of them is known"), "{text}");
    let message = detection_message(&mut received).await;
    assert_eq!(message["alerts"][0]["status"], "critical", "{message}");
    assert_eq!(message["alerts"][0]["subject"], "shop-server");

    // A later report adds the steps since, and only those.
    let mut later = attack("a-1", None);
    later.responses.push(ResponseStep {
        action: ResponseAction::Isolate,
        at: Timestamp(1_700_000_000_200),
        ok: true,
        message: "isolated; only the server is reachable".into(),
        job: None,
    });
    let (status, _) = agent.send(vec![report(3, vec![later])]).await;
    assert_eq!(status, 200);
    let (_, detail) = server
        .api_get(&api, &format!("/api/v1/detections/{id}"))
        .await;
    assert_eq!(detail["responses"].as_array().unwrap().len(), 2, "{detail}");
    assert_eq!(detail["isolated"], true);

    // A viewer reads but does not decide.
    let viewer = server.api_token_with(steward_core::Role::Viewer).await;
    let (status, _) = server
        .api_get(&viewer, &format!("/api/v1/detections/{id}"))
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .api_post(
            &viewer,
            &format!("/api/v1/detections/{id}/decision"),
            json!({"decision": "confirm"}),
        )
        .await;
    assert_eq!(status, 403);

    // Confirming kills the stopped tree: a detection_response job for the agent.
    let (status, decided) = server
        .api_post(
            &api,
            &format!("/api/v1/detections/{id}/decision"),
            json!({"decision": "confirm"}),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["status"], "confirmed");
    let job = agent.next_job().await;
    assert_eq!(job["id"], decided["job_id"], "{job}");
    assert_eq!(job["kind"], "detection_response");
    assert_eq!(
        job["params"],
        json!({"detection": "a-1", "action": "kill", "pids": [4242]})
    );
    // What the agent did becomes the detection's next step: the tree is no longer stopped.
    agent
        .finish_job(job["id"].as_str().unwrap(), "killed 1 processes: 4242")
        .await;
    let (_, shown) = server
        .api_get(&api, &format!("/api/v1/detections/{id}"))
        .await;
    let last = shown["responses"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "kill", "{shown}");
    assert_eq!(last["ok"], true, "{shown}");
    assert_eq!(last["job"], job["id"], "{shown}");
    assert_eq!(shown["stopped"], false, "{shown}");
    // Decided: it stands; isolation can still be lifted.
    let (status, again) = server
        .api_post(
            &api,
            &format!("/api/v1/detections/{id}/decision"),
            json!({"decision": "release"}),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    assert!(
        again["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already confirmed"),
        "{again}"
    );
    let (status, lifted) = server
        .api_post(
            &api,
            &format!("/api/v1/detections/{id}/decision"),
            json!({"decision": "lift_isolation"}),
        )
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(agent.next_job().await["params"]["action"], "lift");

    // Every detection decided: the alert is over.
    eventually(WAIT, "the Detection alert cleared", || async {
        detection_alert(&server, &api).await.is_none().then_some(())
    })
    .await;
    let (_, open) = server.api_get(&api, "/api/v1/detections?status=open").await;
    assert!(open.as_array().unwrap().is_empty(), "{open}");
    let (_, audit) = server.api_get(&api, "/api/v1/audit").await;
    assert!(audit.to_string().contains("detection_decided"), "{audit}");
    server.cleanup().await;
}

#[tokio::test]
async fn a_drill_is_queued_recorded_and_scored_against_every_channel() {
    // Two channels of two kinds: the drill passes only once the alert reached both.
    let (hook, mut received) = webhook_receiver().await;
    let (slack, mut slack_received) = webhook_receiver().await;
    let server = TestServer::sqlite_configured(|c| {
        c.declared_channels = vec![
            DeclaredChannel {
                name: "ops-webhook".into(),
                channel: steward_notify::Channel::Webhook(steward_notify::Webhook {
                    url: hook,
                    secret: None,
                }),
            },
            DeclaredChannel {
                name: "ops-slack".into(),
                channel: steward_notify::Channel::Slack(steward_notify::Slack { url: slack }),
            },
        ];
    })
    .await;
    let api = server.api_token().await;
    let agent = raw(&server, "office-pc").await;
    let (status, _) = agent.send(vec![report(1, Vec::new())]).await;
    assert_eq!(status, 200);

    let (status, drill) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{}/ransomware-drills", agent.device),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{drill}");
    let job_id = drill["job_id"].as_str().unwrap().to_owned();
    let job = agent.next_job().await;
    assert_eq!(job["kind"], "ransomware_drill");
    assert_eq!(job["params"], json!({"files": 200, "mode": "in-place"}));

    // The simulation is caught: its detection, then the result, reported (as an agent
    // does) a check-in after the detection and perhaps before the alert was delivered:
    // the drill is scored once the alert has reached the channel.
    let (status, _) = agent
        .send(vec![report(2, vec![attack("drill-1", Some(&job_id))])])
        .await;
    assert_eq!(status, 200);
    let run = json!({"files_total": 200, "files_lost": 3, "time_to_detect_ms": 140, "detection": "drill-1"});
    agent.finish_job(&job_id, &run.to_string()).await;
    detection_message(&mut received).await;
    let on_slack = next_within(&mut slack_received, WAIT)
        .await
        .expect("the Detection alert on Slack");
    assert!(on_slack.to_string().contains("Detection"), "{on_slack}");
    let drills = eventually(WAIT, "the drill scored", || async {
        let (status, drills) = server.api_get(&api, "/api/v1/ransomware-drills").await;
        assert_eq!(status, 200, "{drills}");
        drills[0]["finished_at"].is_number().then_some(drills)
    })
    .await;
    let d = &drills[0];
    assert_eq!(d["job_id"], job_id.as_str(), "{d}");
    assert_eq!(d["files_lost"], 3);
    assert_eq!(d["time_to_detect_ms"], 140);
    let mut channels = d["channels"].as_array().cloned().unwrap_or_default();
    channels.sort_by_key(|c| c[0].as_str().map(str::to_owned));
    assert_eq!(
        channels,
        [json!(["ops-slack", true]), json!(["ops-webhook", true])],
        "{d}"
    );
    assert_eq!(d["passed"], true, "{d}");
    assert!(d["detection_id"].is_string(), "{d}");
    let (_, detections) = server.api_get(&api, "/api/v1/detections").await;
    assert_eq!(detections[0]["drill"], job_id.as_str());
    // The console draws the drills' trend: one bar for this one, passed.
    use crate::console_backups::signed_in;
    use crate::support::{browser, get};
    let (cookie, _) = signed_in(&server, "viewer", steward_core::Role::Viewer).await;
    let (status, page) = get(&browser(), &server, &cookie, "/detections").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="drill-trend""#), "{page}");
    assert_eq!(
        page.matches(r#"<rect class="trend-pass""#).count(),
        1,
        "{page}"
    );
    assert!(
        page.contains("1 of 1 drill passed; time to detect: 140 ms at the median"),
        "{page}"
    );

    // Asking for too many files is refused.
    let (status, refused) = server
        .api_post(
            &api,
            &format!("/api/v1/devices/{}/ransomware-drills", agent.device),
            json!({"files": 100000}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    server.cleanup().await;
}

#[tokio::test]
async fn oversized_detections_are_refused_with_the_field_named() {
    let server = TestServer::sqlite().await;
    let api = server.api_token().await;
    let agent = raw(&server, "hostile").await;
    let many: Vec<Detected> = (0..65).map(|i| attack(&format!("x-{i}"), None)).collect();
    let (status, body) = agent.send(vec![report(1, many)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("detections"),
        "{body}"
    );
    let mut long = attack("long", None);
    long.summary = "x".repeat(100_000);
    let (status, body) = agent.send(vec![report(1, vec![long])]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("detections.summary"),
        "{body}"
    );
    let mut files = attack("files", None);
    files.files = (0..201).map(|_| files.files[0].clone()).collect();
    let (status, body) = agent.send(vec![report(1, vec![files])]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("detections.files"),
        "{body}"
    );
    // Nothing of it was stored.
    let (_, list) = server.api_get(&api, "/api/v1/detections").await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    server.cleanup().await;
}

#[tokio::test]
async fn the_console_shows_a_detection_and_takes_decisions_and_drills() {
    use crate::console_backups::{signed_in, submit};
    use crate::support::{browser, get};
    use steward_core::Role;

    let server = TestServer::sqlite().await;
    let agent = raw(&server, "shop-server").await;
    let (status, _) = agent.send(vec![report(1, vec![attack("a-1", None)])]).await;
    assert_eq!(status, 200);
    let (cookie, csrf) = signed_in(&server, "tech", Role::Technician).await;

    let (status, list) = get(&browser(), &server, &cookie, "/detections").await;
    assert_eq!(status, 200);
    assert!(list.contains("Ransomware behaviour"), "{list}");
    assert!(list.contains("shop-server"), "{list}");
    assert!(list.contains(r#"id="open-detections">1<"#), "{list}");
    // A technician decides but sets no policies: no form.
    assert!(!list.contains("detection-policy-form"), "{list}");
    let (_, dashboard) = get(&browser(), &server, &cookie, "/").await;
    assert!(
        dashboard.contains(r#"id="dash-open-detections">1<"#),
        "{dashboard}"
    );
    let id = list
        .split("data-detection=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    let (status, page) = get(&browser(), &server, &cookie, &format!("/detections/{id}")).await;
    assert_eq!(status, 200);
    let hash = "9f".repeat(32);
    for shown in [
        "/usr/bin/python3.11",
        hash.as_str(),
        "/srv/share/offer.docx.lockbit",
        "distinct_files_per_10s",
        "Confirm: kill the process",
        "Release the process",
        "Isolate the device",
        "No backup of them is known",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }

    // A decision without the CSRF token is refused; with it, it is taken.
    let (status, _) = submit(
        &server,
        &cookie,
        &format!("/detections/{id}/decision"),
        &[("decision", "false_alarm")],
    )
    .await;
    assert!(matches!(status, 400 | 403), "{status}");
    let (status, to) = submit(
        &server,
        &cookie,
        &format!("/detections/{id}/decision"),
        &[("csrf", &csrf), ("decision", "false_alarm")],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let (_, page) = get(&browser(), &server, &cookie, &to).await;
    assert!(
        page.contains(r#"id="detection-status">false alarm<"#),
        "{page}"
    );

    // The device page's drill button queues a drill.
    let (_, device) = get(
        &browser(),
        &server,
        &cookie,
        &format!("/devices/{}", agent.device),
    )
    .await;
    assert!(device.contains("Run ransomware drill"), "{device}");
    let (status, to) = submit(
        &server,
        &cookie,
        "/detections/drills",
        &[("csrf", &csrf), ("device", &agent.device)],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    // Back to the device page, which says so.
    assert_eq!(to, format!("/devices/{}?done=drill", agent.device));
    let (_, device) = get(&browser(), &server, &cookie, &to).await;
    assert!(device.contains("Ransomware drill queued"), "{device}");
    let (_, list) = get(&browser(), &server, &cookie, "/detections").await;
    assert!(list.contains("waiting"), "{list}");
    // The false alarm is in the figures, not forgotten.
    assert!(list.contains(r#"id="false-alarms">1<"#), "{list}");
    assert!(list.contains(r#"id="open-detections">0<"#), "{list}");

    // An administrator sets a policy through the form.
    let (admin_cookie, admin_csrf) = signed_in(&server, "boss", Role::Admin).await;
    let (status, to) = submit(
        &server,
        &admin_cookie,
        "/detections/policies",
        &[
            ("csrf", &admin_csrf),
            ("target", "all"),
            ("folders", "/srv/share, /home"),
            ("canaries", "on"),
            ("auto_stop", "on"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let (_, list) = get(&browser(), &server, &admin_cookie, "/detections").await;
    assert!(list.contains("/home, /srv/share"), "{list}");
    assert!(list.contains("stop the process"), "{list}");
    server.cleanup().await;
}

mod server_side;
