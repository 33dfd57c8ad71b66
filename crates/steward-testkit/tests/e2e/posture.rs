//! Posture end to end: a real agent evaluates the built-in checks on this very machine and
//! reports them; the report has the checklist's eight sections, the CIS IG1 table (56
//! Safeguards) and the Cyber Essentials themes, and exports as CSV and PDF; a manual item
//! answered with a review date fails once it is overdue; an accepted exception shows a
//! failure as excepted and lets it count again when it expires; a check that starts failing
//! after a device's first evaluation raises the `Security posture` alert; an overdue
//! manual item reminds its owner through the alert pipeline and recovers once answered.

use std::time::Duration;

use serde_json::{Value, json};
use steward_agent::posture::PostureConfig;
use steward_testkit::agent::{ScriptedCollector, TestAgent, sample_inventory};
use steward_testkit::{TestServer, eventually};

const WAIT: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

async fn report(server: &TestServer, api: &str, query: &str) -> Value {
    let (status, body) = server
        .api_get(api, &format!("/api/v1/posture/report{query}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn items(report: &Value) -> Vec<&Value> {
    report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["items"].as_array().unwrap())
        .collect()
}

fn item<'a>(report: &'a Value, id: &str) -> &'a Value {
    items(report)
        .into_iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no item {id} in {report}"))
}

async fn put(server: &TestServer, api: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}{path}", server.url))
        .bearer_auth(api)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_agent_reports_its_posture_and_the_report_holds_every_section_and_framework() {
    let server = TestServer::sqlite_manual_clock().await;
    let api = server.api_token().await;
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(
        &server.url,
        &token,
        ScriptedCollector::new(sample_inventory("office-pc", 3)),
    )
    .await
    .unwrap();
    let device = agent.device_id.clone();
    agent.start_with(Duration::from_secs(1), |c| {
        c.posture = Some(PostureConfig::default());
    });

    // The agent evaluates at start; its next check-in carries the results.
    let checklist = eventually(WAIT, "the device's posture reported", || async {
        let r = report(&server, &api, "").await;
        (r["devices_evaluated"] == 1).then_some(r)
    })
    .await;
    let sections: Vec<&str> = checklist["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "hardware",
            "network",
            "software",
            "security",
            "backup",
            "support",
            "user-access",
            "cloud"
        ]
    );
    // Every built-in check reached the server from this machine, each in one of the states.
    let pack = steward_posture::builtin();
    assert!(pack.checks.len() >= 40, "{} checks", pack.checks.len());
    for check in &pack.checks {
        let it = item(&checklist, &check.id);
        let here = it["devices"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no device results: {it}", check.id))
            .iter()
            .find(|d| d["device_id"] == device.as_str())
            .unwrap_or_else(|| panic!("{} has no result for the device: {it}", check.id));
        assert!(
            ["pass", "fail", "not_applicable", "unknown"]
                .contains(&here["status"].as_str().unwrap()),
            "{here}"
        );
        assert!(!here["reason"].as_str().unwrap().is_empty(), "{here}");
    }
    // The server's own checks: a device with no backups fails the backup item.
    assert_eq!(item(&checklist, "backup-recent")["status"], "fail");
    assert_eq!(item(&checklist, "inventory-reporting")["status"], "pass");

    let cis = report(&server, &api, "?framework=cis-ig1").await;
    assert_eq!(cis["sections"].as_array().unwrap().len(), 15);
    let safeguards = items(&cis);
    assert_eq!(safeguards.len(), 56);
    assert!(
        safeguards.iter().all(|s| s["evidenced"].is_string()),
        "every IG1 Safeguard is accounted for"
    );
    let ce = report(&server, &api, "?framework=cyber-essentials").await;
    assert_eq!(ce["sections"].as_array().unwrap().len(), 5);
    assert_eq!(
        ce["standings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["framework"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["checklist", "cis-ig1", "cyber-essentials"]
    );

    // CSV: a row per item and device, with the header.
    let csv = reqwest::Client::new()
        .get(format!("{}/api/v1/posture/report?format=csv", server.url))
        .bearer_auth(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("section,item,title,kind,status"), "{csv}");
    assert!(csv.contains("ssh-max-auth-tries"), "{csv}");

    // The PDF, from the console, read back.
    server
        .create_user("owner", steward_core::Role::Admin, "correct horse battery")
        .await;
    let cookie = server.sign_in("owner", "correct horse battery").await;
    let pdf = reqwest::Client::new()
        .get(format!("{}/posture/report.pdf", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    let doc = lopdf::Document::load_mem(&bytes).unwrap();
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    assert!(pages.len() >= 3, "{} pages", pages.len());
    let text = doc.extract_text(&pages).unwrap();
    for expected in [
        "Security posture report",
        "Standing per framework",
        "User access",
    ] {
        assert!(text.contains(expected), "{expected:?} not in the PDF");
    }

    // A manual item answered, due for review tomorrow: passes now, fails once overdue.
    let tomorrow = server.now().plus_millis(86_400_000);
    let (status, body) = put(
        &server,
        &api,
        "/api/v1/posture/manual/router-firmware",
        json!({"answer": "yes", "owner": "Sam (office manager)", "note": "checked the router's admin page", "review_by": tomorrow}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let now = report(&server, &api, "").await;
    assert_eq!(item(&now, "router-firmware")["status"], "pass");
    assert_eq!(
        item(&now, "router-firmware")["owner"],
        "Sam (office manager)"
    );

    // A failing check on this machine, accepted until tomorrow.
    let failing = items(&checklist)
        .into_iter()
        .find(|i| i["kind"] == "check" && i["status"] == "fail")
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .expect("this machine fails at least one check (the server's backup one at least)");
    let (status, created) = server
        .api_post(
            &api,
            "/api/v1/posture/exceptions",
            json!({"check_id": failing, "target": format!("device:{device}"), "reason": "a test box", "owner": "Sam", "expires_at": tomorrow}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let excepted = report(&server, &api, "").await;
    let row = |r: &Value| {
        item(r, &failing)["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device_id"] == device.as_str())
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(row(&excepted), "excepted");
    assert_eq!(excepted["exceptions"][0]["status"], "active");

    // Two days on: the answer is overdue and the exception has lapsed.
    server.clock().advance(2 * DAY);
    let later = report(&server, &api, "").await;
    let overdue = item(&later, "router-firmware");
    assert_eq!(overdue["status"], "fail");
    assert!(
        overdue["reason"].as_str().unwrap().contains("overdue"),
        "{overdue}"
    );
    assert_eq!(row(&later), "fail");
    assert_eq!(later["exceptions"][0]["status"], "expired");

    // Bad input is refused, naming the field.
    let (status, body) = server
        .api_post(
            &api,
            "/api/v1/posture/exceptions",
            json!({"check_id": failing, "target": "everything", "reason": "x", "owner": "Sam", "expires_at": tomorrow}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = put(
        &server,
        &api,
        "/api/v1/posture/manual/no-such-item",
        json!({"answer": "yes", "owner": "Sam"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .api_get(&api, "/api/v1/posture/report?framework=iso27001")
        .await;
    assert_eq!(status, 400, "{body}");

    agent.stop().await;
    server.cleanup().await;
}

#[tokio::test]
async fn a_check_that_starts_failing_after_the_first_evaluation_raises_the_posture_alert() {
    let server = TestServer::sqlite_manual_clock().await;
    let api = server.api_token().await;
    let (device, _) = server.enroll_raw("till-1").await;
    let result = |state: &str| steward_store::PostureResultWrite {
        check_id: "ssh-no-empty-passwords".into(),
        state: state.into(),
        evidence: format!(
            "permitemptypasswords {}",
            if state == "pass" { "no" } else { "yes" }
        ),
        reason: "read from sshd -T".into(),
    };
    let first = server.now();
    server
        .store
        .record_posture(&device, first, &[result("pass")])
        .await
        .unwrap();
    steward_server::posture::alerts::judge(&server.state).await;
    let posture_status = || async {
        let (status, body) = server
            .api_get(&api, &format!("/api/v1/devices/{device}/checks"))
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "Security posture")
            .map(|c| c["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(posture_status().await.as_deref(), Some("ok"));

    server.clock().advance(Duration::from_secs(3600));
    let transitions = server
        .store
        .record_posture(&device, server.now(), &[result("fail")])
        .await
        .unwrap();
    assert_eq!(transitions.len(), 1);
    steward_server::posture::alerts::judge(&server.state).await;
    // A critical check regressed: the alert is critical.
    assert_eq!(posture_status().await.as_deref(), Some("critical"));
    server.cleanup().await;
}

#[tokio::test]
async fn an_overdue_manual_item_reminds_its_owner_through_the_alert_pipeline() {
    let (hook, mut received) = steward_testkit::peers::webhook_receiver().await;
    let server = crate::support::server_alerting_to(hook).await;
    let api = server.api_token().await;
    // The default check is there once the server serves (the first request waits for it).
    let (_, checks) = server.api_get(&api, "/api/v1/checks").await;
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Posture reviews" && c["kind"] == "posture_reviews"),
        "{checks}"
    );
    // Answered long ago, with a review date three days past (the API refuses a date in the
    // past, so the store is written as time would have left it).
    let now = server.now();
    server
        .store
        .save_posture_answer(&steward_store::PostureAnswerWrite {
            item_id: "router-firmware".into(),
            owner: "Sam (office manager)".into(),
            answer: "yes".into(),
            note: String::new(),
            review_by: now.plus_millis(-3 * 86_400_000),
            answered_at: now.plus_millis(-200 * 86_400_000),
            answered_by: "test".into(),
            attachment: steward_store::AttachmentChange::Keep,
        })
        .await
        .unwrap();
    steward_server::posture::alerts::judge(&server.state).await;

    // One reminder through the channel, naming the item and its owner.
    let message = steward_testkit::peers::next_within(&mut received, WAIT)
        .await
        .expect("the reminder");
    let alert = &message["alerts"][0];
    assert_eq!(alert["event"], "problem", "{message}");
    assert_eq!(alert["check"], "Posture reviews");
    assert_eq!(alert["subject"], "Router and firewall firmware is current");
    assert_eq!(alert["status"], "warning");
    let summary = alert["summary"].as_str().unwrap();
    assert!(
        summary.contains("Sam (office manager)") && summary.contains("3 d ago"),
        "{summary}"
    );
    // Judged again, nothing new is said.
    steward_server::posture::alerts::judge(&server.state).await;
    assert!(
        steward_testkit::peers::next_within(&mut received, Duration::from_secs(2))
            .await
            .is_none(),
        "one reminder, not one per sweep"
    );

    // Open in the alerts API for every role and scope, and linked to the item in the console.
    let (_, view) = server.api_get(&api, "/api/v1/alerts").await;
    let open = view["open"].as_array().unwrap();
    assert!(
        open.iter()
            .any(|a| a["subject"] == "manual:router-firmware" && a["status"] == "warning"),
        "{view}"
    );
    let (cookie, _) =
        crate::console_backups::signed_in(&server, "viewer-reviews", steward_core::Role::Viewer)
            .await;
    let (status, html) =
        crate::support::get(&crate::support::browser(), &server, &cookie, "/alerts").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(
            r#"<a href="/posture#item-router-firmware">Router and firewall firmware is current</a>"#
        ),
        "the alert links to the item"
    );

    // Answered again: the reminder ends with a recovery.
    let (status, body) = put(
        &server,
        &api,
        "/api/v1/posture/manual/router-firmware",
        json!({"answer": "yes", "owner": "Sam (office manager)", "note": "firmware 1.2.3, password changed"}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    steward_server::posture::alerts::judge(&server.state).await;
    let message = steward_testkit::peers::next_within(&mut received, WAIT)
        .await
        .expect("the recovery");
    assert_eq!(message["alerts"][0]["event"], "recovery", "{message}");
    server.cleanup().await;
}

/// A multipart body of `fields` and one file part, as a browser sends the answer form.
fn multipart(fields: &[(&str, &str)], file: (&str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "----steward-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/plain\r\n\r\n",
            file.0
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.1);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_console_answer_form_keeps_a_file_as_evidence_and_refuses_a_forged_or_oversized_one() {
    let server = TestServer::sqlite().await;
    let (cookie, csrf) =
        crate::console_backups::signed_in(&server, "tech", steward_core::Role::Technician).await;
    let send = |fields: Vec<(&'static str, String)>, file: (&'static str, Vec<u8>)| {
        let server = &server;
        let cookie = cookie.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (content_type, body) = multipart(&fields, (file.0, &file.1));
            let resp = crate::support::browser()
                .post(format!("{}/posture/manual/router-firmware", server.url))
                .header("cookie", cookie)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    let answer = |csrf: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("answer", "yes".to_owned()),
            ("owner", "Sam".to_owned()),
            ("note", "firmware 1.2.3".to_owned()),
        ]
    };

    // A forged token: refused, nothing kept.
    let status = send(answer("forged"), ("router.txt", b"status page".to_vec())).await;
    assert_eq!(status, 403);
    assert!(server.store.posture_answers().await.unwrap().is_empty());
    // A file over 2 MiB: refused, nothing kept.
    let big = vec![b'x'; 2 * 1024 * 1024 + 1];
    let status = send(answer(&csrf), ("big.txt", big)).await;
    assert!(status == 400 || status == 413, "{status}");
    assert!(server.store.posture_answers().await.unwrap().is_empty());
    // The answer with its file.
    let status = send(answer(&csrf), ("router.txt", b"status page".to_vec())).await;
    assert_eq!(status, 303);
    let file = server
        .store
        .posture_attachment("router-firmware")
        .await
        .unwrap()
        .expect("the file");
    assert_eq!(
        (file.name.as_str(), file.bytes.as_slice()),
        ("router.txt", b"status page".as_slice())
    );
    // The report names it, and it downloads.
    let api = server.api_token().await;
    let listed = report(&server, &api, "").await;
    assert_eq!(item(&listed, "router-firmware")["attachment"], "router.txt");
    let (status, page) =
        crate::support::get(&crate::support::browser(), &server, &cookie, "/posture").await;
    assert_eq!(status, 200);
    assert!(page.contains("/api/v1/posture/manual/router-firmware/attachment"));
    server.cleanup().await;
}
