//! Managing monitoring in the console, over HTTP as a browser does it (forms with the
//! session's CSRF token): a technician adds, edits and deletes a check, a viewer may look but
//! not change; an administrator adds a webhook channel whose "Send test" reaches a real
//! receiver, and routes it; maintenance windows are added and removed; the device page shows
//! a device's checks with their history, and a hostile runbook comes out escaped.

use std::time::Duration;

use serde_json::Value;
use steward_core::Role;
use steward_server::monitoring::DeclaredCheck;
use steward_testkit::agent::{ScriptedCollector, TestAgent, sample_inventory};
use steward_testkit::peers::{free_address, next_within, webhook_receiver};
use steward_testkit::{TestServer, csrf_in, eventually};

use crate::support::{Caller, PASSWORD, api, between, browser, get};

const WAIT: Duration = Duration::from_secs(20);

/// A signed-in user of `role`: (session cookie, CSRF token).
async fn signed_in(server: &TestServer, name: &str, role: Role) -> (String, String) {
    server.create_user(name, role, PASSWORD).await;
    let cookie = server.sign_in(name, PASSWORD).await;
    let (_, html) = get(&browser(), server, &cookie, "/").await;
    (cookie.clone(), csrf_in(&html))
}

/// POSTs a console form; returns the status and the redirect target or the page.
async fn submit(
    server: &TestServer,
    cookie: &str,
    csrf: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    let resp = crate::support::post(&browser(), server, cookie, path, &form).await;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(resp.text().await.unwrap()))
}

async fn checks_api(server: &TestServer, cookie: &str, csrf: &str) -> Vec<Value> {
    let (status, body) = api(
        server,
        reqwest::Method::GET,
        "/api/v1/checks",
        Caller::Session { cookie, csrf },
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn named<'a>(checks: &'a [Value], name: &str) -> Option<&'a Value> {
    checks.iter().find(|c| c["name"] == name)
}

#[tokio::test]
async fn a_technician_manages_checks_and_a_viewer_only_looks() {
    let server = TestServer::sqlite_configured(|c| {
        c.declared_checks = vec![DeclaredCheck {
            name: "declared-site".into(),
            probe: steward_probes::Probe::Tcp(steward_probes::Tcp {
                host: "127.0.0.1".into(),
                port: 9,
            }),
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
            retries: 0,
            runbook: String::new(),
        }];
    })
    .await;
    let (tech, csrf) = signed_in(&server, "tech", Role::Technician).await;
    let http = browser();

    // The page: the navigation links it, the default and declared checks are listed, the
    // declared one without an Edit button.
    let (status, html) = get(&http, &server, &tech, "/checks").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<a href="/checks" class="active""#),
        "nav link"
    );
    assert!(html.contains("Add a check"));
    assert!(html.contains("Disk space") && html.contains("Agent heartbeat"));
    let declared = between(&html, r#"<tr data-check="declared-site">"#, "</tr>");
    assert!(declared.contains("config file"), "{declared}");
    assert!(!declared.contains("Edit"), "{declared}");
    let (_, html) = get(&http, &server, &tech, "/checks?edit=config:declared-site").await;
    assert!(
        html.contains("declared in the configuration file"),
        "{html}"
    );

    // Bad input: the form comes back as typed, with the reason.
    let fields = [
        ("name", "Data disk"),
        ("kind", "disk"),
        ("target", "all"),
        ("mount", "/srv"),
        ("warn", "lots"),
        ("critical", "95"),
        ("enabled", "on"),
    ];
    let (status, html) = submit(&server, &tech, &csrf, "/checks", &fields).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Warning threshold: &#34;lots&#34; is not a number."),
        "{html}"
    );
    assert!(html.contains(r#"value="Data disk""#), "the name is kept");
    assert!(html.contains(r#"value="/srv""#), "the mount is kept");
    let mut fields = fields.to_vec();
    fields[4] = ("warn", "101");
    let (status, html) = submit(&server, &tech, &csrf, "/checks", &fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("a percentage is 0 to 100"), "{html}");

    // Added: listed on the page, and the API sees what the form said.
    fields[4] = ("warn", "80");
    fields.push(("sustain", "10m"));
    fields.push(("runbook", "Clean **/srv/tmp**"));
    let (status, to) = submit(&server, &tech, &csrf, "/checks", &fields).await;
    assert_eq!(status, 303, "{to}");
    assert!(to.starts_with("/checks?done=created:"), "{to}");
    let (_, html) = get(&http, &server, &tech, &to).await;
    assert!(html.contains("Check “Data disk” created."), "{html}");
    let row = between(&html, r#"<tr data-check="Data disk">"#, "</tr>");
    assert!(
        row.contains("/srv: warning at 80.0 %, critical at 95.0 %; for 10m"),
        "{row}"
    );
    assert!(row.contains("All devices"), "{row}");
    let checks = checks_api(&server, &tech, &csrf).await;
    let made = named(&checks, "Data disk").expect("created");
    assert_eq!(made["check"]["warn_percent"], 80.0);
    assert_eq!(made["sustain_secs"], 600);
    assert_eq!(made["runbook"], "Clean **/srv/tmp**");
    let id = made["id"].as_str().unwrap().to_string();

    // Edited: the form opens filled in, and saves.
    let (_, html) = get(&http, &server, &tech, &format!("/checks?edit={id}")).await;
    assert!(html.contains("Edit “Data disk”"), "{html}");
    assert!(html.contains(&format!(r#"action="/checks/{id}""#)));
    assert!(html.contains(r#"name="warn" value="80.0""#), "{html}");
    fields[4] = ("warn", "70");
    let (status, to) = submit(&server, &tech, &csrf, &format!("/checks/{id}"), &fields).await;
    assert_eq!(status, 303, "{to}");
    let checks = checks_api(&server, &tech, &csrf).await;
    assert_eq!(
        named(&checks, "Data disk").unwrap()["check"]["warn_percent"],
        70.0
    );
    // A network monitor needs its address; with it, it is added.
    let monitor = [
        ("name", "Shop"),
        ("kind", "tcp"),
        ("host", "127.0.0.1"),
        ("interval", "1h"),
        ("timeout", "30s"),
        ("enabled", "on"),
    ];
    let (status, html) = submit(&server, &tech, &csrf, "/checks", &monitor).await;
    assert_eq!(status, 400);
    assert!(html.contains("Port: which port to connect to."), "{html}");
    let mut monitor = monitor.to_vec();
    monitor.push(("port", "9"));
    let (status, _) = submit(&server, &tech, &csrf, "/checks", &monitor).await;
    assert_eq!(status, 303);
    let checks = checks_api(&server, &tech, &csrf).await;
    let shop = named(&checks, "Shop").unwrap();
    assert_eq!(
        (shop["interval_secs"].clone(), shop["target"].clone()),
        (3600.into(), Value::Null)
    );
    // Its edit form keeps what the API does not show, such as the timeout.
    let shop_id = shop["id"].as_str().unwrap();
    let (_, html) = get(&http, &server, &tech, &format!("/checks?edit={shop_id}")).await;
    assert!(html.contains(r#"name="timeout" value="30s""#), "{html}");
    assert!(html.contains(r#"name="interval" value="1h""#), "{html}");

    // A viewer sees the checks but no form, and may change nothing.
    let (viewer, viewer_csrf) = signed_in(&server, "viewer", Role::Viewer).await;
    let (status, html) = get(&http, &server, &viewer, "/checks").await;
    assert_eq!(status, 200);
    assert!(html.contains("Data disk"));
    assert!(!html.contains("Add a check") && !html.contains(r#"id="check-form""#));
    assert!(
        !between(&html, r#"<nav class="nav""#, "</nav>").contains("/checks"),
        "no navigation link for viewers"
    );
    let (status, _) = submit(&server, &viewer, &viewer_csrf, "/checks", &fields).await;
    assert_eq!(status, 403);
    let (status, _) = submit(
        &server,
        &viewer,
        &viewer_csrf,
        &format!("/checks/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = submit(
        &server,
        &viewer,
        &viewer_csrf,
        &format!("/checks/{id}"),
        &fields,
    )
    .await;
    assert_eq!(status, 403);
    // A form without the session's CSRF token is refused even for the technician.
    let (status, _) = submit(
        &server,
        &tech,
        "forged",
        &format!("/checks/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 403);

    // Deleted.
    let (status, to) = submit(&server, &tech, &csrf, &format!("/checks/{id}/delete"), &[]).await;
    assert_eq!(status, 303, "{to}");
    assert!(named(&checks_api(&server, &tech, &csrf).await, "Data disk").is_none());
    // The declared one cannot be deleted from here.
    let (status, html) = submit(
        &server,
        &tech,
        &csrf,
        "/checks/config:declared-site/delete",
        &[],
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        html.contains("declared in the configuration file"),
        "{html}"
    );

    let actions: Vec<String> = server
        .store
        .audit_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.facts.action)
        .collect();
    for action in ["check.create", "check.update", "check.delete"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} audited: {actions:?}"
        );
    }
    server.cleanup().await;
}

#[tokio::test]
async fn an_admin_adds_a_webhook_channel_tests_it_and_routes_it() {
    let server = TestServer::sqlite().await;
    let (admin, csrf) = signed_in(&server, "admin", Role::Admin).await;
    let http = browser();
    let (hook, mut received) = webhook_receiver().await;

    // Refused: an address that is not http(s); the secret typed is not shown back.
    let (status, html) = submit(
        &server,
        &admin,
        &csrf,
        "/channels",
        &[
            ("name", "ops hook"),
            ("kind", "webhook"),
            ("url", "ftp://example.com/"),
            ("secret", "s3cret-signing-key"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("must be http:// or https://"), "{html}");
    assert!(!html.contains("s3cret-signing-key"));
    assert!(html.contains("Secrets are not shown again"));

    let (status, to) = submit(
        &server,
        &admin,
        &csrf,
        "/channels",
        &[
            ("name", "ops hook"),
            ("kind", "webhook"),
            ("url", &hook),
            ("secret", "s3cret-signing-key"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/channels?done=created"));
    let (_, html) = get(&http, &server, &admin, "/channels").await;
    let row = between(&html, r#"<tr data-channel="ops hook">"#, "</tr>");
    assert!(row.contains("Webhook"), "{row}");
    assert!(
        !html.contains("s3cret-signing-key"),
        "secrets are never shown"
    );
    let id = between(row, r#"action="/channels/"#, "/test").to_string();

    // "Send test" reaches the receiver, and the page says so.
    let (status, html) = submit(&server, &admin, &csrf, &format!("/channels/{id}/test"), &[]).await;
    assert_eq!(status, 200);
    let result = between(&html, r#"id="test-result">"#, "</div>");
    assert_eq!(result, "Test message delivered to “ops hook”.");
    let message = next_within(&mut received, WAIT)
        .await
        .expect("the test message");
    assert_eq!(message["alerts"][0]["event"], "test", "{message}");
    assert!(
        message["alerts"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("admin"),
        "{message}"
    );

    // A channel nobody answers: the test says why it failed.
    let dead = format!("http://{}/hook", free_address().await);
    let (status, _) = submit(
        &server,
        &admin,
        &csrf,
        "/channels",
        &[("name", "dead hook"), ("kind", "webhook"), ("url", &dead)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get(&http, &server, &admin, "/channels").await;
    let dead_id = between(
        between(&html, r#"<tr data-channel="dead hook">"#, "</tr>"),
        r#"action="/channels/"#,
        "/test",
    )
    .to_string();
    let (_, html) = submit(
        &server,
        &admin,
        &csrf,
        &format!("/channels/{dead_id}/test"),
        &[],
    )
    .await;
    let result = between(&html, r#"id="test-result">"#, "</div>");
    assert!(
        result.starts_with("The test message to “dead hook” failed: "),
        "{result}"
    );

    // A route: warnings and worse about every device.
    let (status, to) = submit(
        &server,
        &admin,
        &csrf,
        "/channels/routes",
        &[
            ("channel_id", &id),
            ("min_status", "warning"),
            ("target", "all"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/channels?done=route-created"));
    let (_, html) = get(&http, &server, &admin, "/channels").await;
    let row = between(&html, r#"<tr data-channel="ops hook">"#, "</tr>");
    assert!(row.contains("and worse, All devices"), "{row}");
    let route = between(row, r#"action="/channels/routes/"#, "/delete").to_string();
    let (status, html) = submit(
        &server,
        &admin,
        &csrf,
        "/channels/routes",
        &[
            ("channel_id", "nope"),
            ("min_status", "warning"),
            ("target", "all"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains(r#"id="route-error">Channel not found."#),
        "{html}"
    );
    let (status, _) = submit(
        &server,
        &admin,
        &csrf,
        &format!("/channels/routes/{route}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get(&http, &server, &admin, "/channels").await;
    assert!(!html.contains("and worse, All devices"));

    // Technicians do not manage channels.
    let (tech, tech_csrf) = signed_in(&server, "tech", Role::Technician).await;
    assert_eq!(get(&http, &server, &tech, "/channels").await.0, 403);
    let (status, _) = submit(
        &server,
        &tech,
        &tech_csrf,
        &format!("/channels/{id}/test"),
        &[],
    )
    .await;
    assert_eq!(status, 403);
    let (_, html) = get(&http, &server, &tech, "/checks").await;
    assert!(
        !html.contains(r#"href="/channels""#),
        "no Notifications tab for technicians"
    );

    let (status, _) = submit(
        &server,
        &admin,
        &csrf,
        &format!("/channels/{dead_id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, html) = get(&http, &server, &admin, "/channels").await;
    assert!(!html.contains("dead hook") && html.contains("ops hook"));
    server.cleanup().await;
}

#[tokio::test]
async fn maintenance_windows_are_added_and_deleted() {
    let server = TestServer::sqlite().await;
    let (tech, csrf) = signed_in(&server, "tech", Role::Technician).await;
    let http = browser();
    let (status, html) = get(&http, &server, &tech, "/maintenance").await;
    assert_eq!(status, 200);
    assert!(html.contains("No maintenance windows."));
    // The form offers now to two hours from now; taken as it is, the window is open.
    let start = between(&html, r#"name="start" value=""#, "\"").to_string();
    let end = between(&html, r#"name="end" value=""#, "\"").to_string();
    let once = [
        ("name", "Disk swap"),
        ("target", "all"),
        ("schedule", "once"),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("comment", "replacing sdb"),
    ];
    let (status, to) = submit(&server, &tech, &csrf, "/maintenance", &once).await;
    assert_eq!((status, to.as_str()), (303, "/maintenance?done=created"));
    let (_, html) = get(&http, &server, &tech, "/maintenance").await;
    let row = between(&html, r#"<tr data-window="Disk swap">"#, "</tr>");
    assert!(
        row.contains("open") && row.contains("replacing sdb"),
        "{row}"
    );
    assert!(row.contains(" UTC → "), "{row}");

    // Weekly, on a tag.
    let weekly = [
        ("name", "Backups"),
        ("target", "tag"),
        ("tag", "db"),
        ("schedule", "weekly"),
        ("day", "5"),
        ("day", "6"),
        ("at", "22:00"),
        ("length", "2h"),
    ];
    let (status, _) = submit(&server, &tech, &csrf, "/maintenance", &weekly).await;
    assert_eq!(status, 303);
    let (_, html) = get(&http, &server, &tech, "/maintenance").await;
    let row = between(&html, r#"<tr data-window="Backups">"#, "</tr>");
    assert!(row.contains("Devices tagged db"), "{row}");
    assert!(row.contains("Sat, Sun at 22:00 UTC for 2h"), "{row}");

    // Ending before it starts: refused with the reason, the form kept.
    let mut backwards = once.to_vec();
    backwards[0] = ("name", "Backwards");
    backwards[3] = ("start", end.as_str());
    backwards[4] = ("end", start.as_str());
    let (status, html) = submit(&server, &tech, &csrf, "/maintenance", &backwards).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Schedule: a window ends after it starts."),
        "{html}"
    );
    assert!(html.contains(r#"value="Backwards""#));

    // The API sees both; a viewer sees them too but may not add or delete.
    let (_, listed) = api(
        &server,
        reqwest::Method::GET,
        "/api/v1/maintenance",
        Caller::Session {
            cookie: &tech,
            csrf: &csrf,
        },
        None,
    )
    .await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let id = listed.iter().find(|w| w["name"] == "Disk swap").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (viewer, viewer_csrf) = signed_in(&server, "viewer", Role::Viewer).await;
    let (status, html) = get(&http, &server, &viewer, "/maintenance").await;
    assert_eq!(status, 200);
    assert!(html.contains("Disk swap") && !html.contains(r#"id="window-form""#));
    let (status, _) = submit(&server, &viewer, &viewer_csrf, "/maintenance", &weekly).await;
    assert_eq!(status, 403);
    let (status, _) = submit(
        &server,
        &viewer,
        &viewer_csrf,
        &format!("/maintenance/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!(status, 403);

    let (status, to) = submit(
        &server,
        &tech,
        &csrf,
        &format!("/maintenance/{id}/delete"),
        &[],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/maintenance?done=deleted"));
    let (_, html) = get(&http, &server, &tech, "/maintenance").await;
    assert!(!html.contains("Disk swap") && html.contains("Backups"));
    server.cleanup().await;
}

#[tokio::test]
async fn the_device_page_shows_its_checks_with_history_and_runbooks_are_escaped() {
    let server = TestServer::sqlite().await;
    let (tech, csrf) = signed_in(&server, "tech", Role::Technician).await;
    let http = browser();
    let collector = ScriptedCollector::new(sample_inventory("db-1", 5));
    let token = server.enroll_token(1).await;
    let mut agent = TestAgent::enroll(&server.url, &token, collector.clone())
        .await
        .unwrap();
    let device = agent.device_id.clone();
    agent.start(Duration::from_secs(1));

    // A check of this device whose runbook tries to run script in whoever reads it.
    let hostile = "<script>alert(1)</script>\n\n**Restart** the [wiki](https://wiki.example.com/db) \
                   [click](javascript:alert(2)) <img src=x onerror=alert(3)>";
    let target = format!("device:{device}");
    let (status, to) = submit(
        &server,
        &tech,
        &csrf,
        "/checks",
        &[
            ("name", "Data disk"),
            ("kind", "disk"),
            ("target", &target),
            ("warn", "50"),
            ("critical", "80"),
            ("runbook", hostile),
            ("enabled", "on"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{to}");
    let page = format!("/devices/{device}");
    let names = ["Agent heartbeat", "Disk space", "Memory", "Data disk"];
    // (The heartbeat may be judged by the sweep rather than at a report: wait for all.)
    let html = eventually(WAIT, "the device's checks judged", || async {
        let (_, html) = get(&http, &server, &tech, &page).await;
        names
            .iter()
            .all(|name| html.contains(&format!(r#"<tr data-check="{name}">"#)))
            .then_some(html)
    })
    .await;
    assert!(
        html.contains(r##"<a href="#checks">Checks"##),
        "section link"
    );
    for name in names {
        let row = between(&html, &format!(r#"<tr data-check="{name}">"#), "</tr>");
        assert!(row.contains("badge-ok"), "{name}: {row}");
    }

    // The disk fills: critical, with the change in its history and the runbook shown.
    collector.set(|m| m.metrics.filesystems[0].used_bytes = 250 << 30);
    let html = eventually(WAIT, "the disk judged critical", || async {
        let (_, html) = get(&http, &server, &tech, &page).await;
        // The state's badge (the history below it may have the change first: the page
        // reads the state, then the history).
        between(&html, r#"<tr data-check="Data disk">"#, "</tr>")
            .contains(r#"<td class="nowrap"><span class="badge badge-critical">critical</span>"#)
            .then_some(html)
    })
    .await;
    let row = between(&html, r#"<tr data-check="Data disk">"#, "</tr>");
    assert!(row.contains("History"), "{row}");
    assert!(
        row.contains(r#"<span class="badge badge-ok">ok</span> → <span class="badge badge-critical">critical</span>"#),
        "{row}"
    );
    for (label, shown) in [
        ("device page", html.clone()),
        ("alerts", get(&http, &server, &tech, "/alerts").await.1),
        ("dashboard", get(&http, &server, &tech, "/").await.1),
    ] {
        assert!(
            shown.contains(r#"<div class="runbook">"#),
            "{label}: {shown}"
        );
        let runbook = between(&shown, r#"<div class="runbook">"#, "</div>");
        assert!(runbook.contains("<strong>Restart</strong>"), "{runbook}");
        assert!(
            runbook.contains(r#"<a href="https://wiki.example.com/db">wiki</a>"#),
            "{runbook}"
        );
        assert!(
            runbook.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{runbook}"
        );
        assert!(
            runbook.contains("&lt;img src=x onerror=alert(3)&gt;"),
            "{runbook}"
        );
        assert!(
            !runbook.contains("<script") && !runbook.contains("<img"),
            "{runbook}"
        );
        assert!(!runbook.contains("javascript:"), "{runbook}");
    }
    assert!(!html.contains("<script>alert"), "nowhere on the page");

    // A viewer sees the section too, without the link to manage checks.
    let (viewer, _) = signed_in(&server, "viewer", Role::Viewer).await;
    let (_, html) = get(&http, &server, &viewer, &page).await;
    assert!(html.contains(r#"<tr data-check="Data disk">"#));
    assert!(!html.contains("Manage checks"));
    agent.stop().await;
    server.cleanup().await;
}
