//! Backup policies in the console (`/backups/policies`), as a browser does it: the backups
//! page links it; a policy made through the form is listed and is the API's too; a bad
//! schedule is refused with its message and the form kept as typed; editing saves through
//! the same form; a viewer sees no form and may not post; delete works, but not on a policy
//! declared in the configuration file.

use reqwest::Method;
use serde_json::Value;
use steward_core::Role;
use steward_proto::backup::SaveBackupPolicy;
use steward_server::backup::declared::DeclaredPolicy;
use steward_server::backup::policies;
use steward_testkit::TestServer;

use crate::console_backups::signed_in;
use crate::support::{Caller, api, between, browser, get, post};

const PAGE: &str = "/backups/policies";

/// POSTs a console form with its CSRF token; the status and the redirect target or the page.
async fn submit(
    server: &TestServer,
    (cookie, csrf): (&str, &str),
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    let resp = post(&browser(), server, cookie, path, &form).await;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(resp.text().await.unwrap()))
}

async fn policies_api(server: &TestServer, cookie: &str, csrf: &str) -> Vec<Value> {
    let (status, body) = api(
        server,
        Method::GET,
        "/api/v1/backup-policies",
        Caller::Session { cookie, csrf },
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn console_backup_policies_are_made_listed_refused_and_deleted() {
    let declared = DeclaredPolicy {
        policy: policies::definition(&SaveBackupPolicy {
            name: "declared".into(),
            paths: Some(vec!["/etc".into()]),
            ..Default::default()
        })
        .unwrap(),
        origin: "steward.toml line 1".into(),
    };
    let server = TestServer::sqlite_configured(|c| c.declared_backups = vec![declared]).await;
    let (tech, csrf) = signed_in(&server, "tech", Role::Technician).await;
    let http = browser();

    // The backups page links the policies; the declared one is listed read-only.
    let (_, html) = get(&http, &server, &tech, "/backups").await;
    assert!(html.contains(r#"href="/backups/policies""#), "link");
    let (status, html) = get(&http, &server, &tech, PAGE).await;
    assert_eq!(status, 200);
    assert!(html.contains("Add a policy"), "{html}");
    let row = between(&html, r#"<tr data-policy="declared">"#, "</tr>");
    assert!(row.contains("declared in the configuration file"), "{row}");
    assert!(!row.contains("Delete") && !row.contains("Edit"), "{row}");
    let (status, html) = get(&http, &server, &tech, &format!("{PAGE}/config:declared")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("change it there") && html.contains("Add a policy"),
        "{html}"
    );

    // A bad schedule: refused with its message, the form as typed.
    let fields = [
        ("name", "nightly"),
        ("target", "tag"),
        ("tag", "db"),
        ("preset", "linux-server"),
        ("paths", "/srv\n/etc"),
        ("excludes", "*.log"),
        ("schedule", "sometimes"),
        ("keep_last", "2"),
        ("keep_daily", "9"),
        ("protection_days", "14"),
        ("bandwidth_kib", "2048"),
        ("enabled", "on"),
    ];
    let (status, html) = submit(&server, (&tech, &csrf), PAGE, &fields).await;
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("Schedule: &#34;sometimes&#34;: expected"),
        "{html}"
    );
    for kept in [
        r#"value="nightly""#,
        r#"value="sometimes""#,
        r#"value="db""#,
        r#"value="2048""#,
        r#"value="14""#,
        r#"value="9""#,
        "/srv\n/etc</textarea>",
        "*.log</textarea>",
        r#"<option value="linux-server" "#,
    ] {
        assert!(html.contains(kept), "{kept} kept: {html}");
    }
    assert!(html.contains(r#"<option value="tag" selected>"#), "{html}");

    // Corrected: saved, listed, and the API's too.
    let mut fields = fields.to_vec();
    fields[6] = ("schedule", "weekly sun 03:00");
    let (status, location) = submit(&server, (&tech, &csrf), PAGE, &fields).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/backups/policies?done=created")
    );
    let (_, html) = get(&http, &server, &tech, &location).await;
    assert!(html.contains("Backup policy added."), "{html}");
    let row = between(&html, r#"<tr data-policy="nightly">"#, "</tr>");
    assert!(
        row.contains("Devices tagged db") && row.contains("weekly sun 03:00"),
        "{row}"
    );
    assert!(
        row.contains("/srv, /etc") && row.contains("last 2, daily 9"),
        "{row}"
    );
    let listed = policies_api(&server, &tech, &csrf).await;
    let made = listed.iter().find(|p| p["name"] == "nightly").unwrap();
    assert_eq!(made["target"], "tag:db");
    assert_eq!(made["excludes"], serde_json::json!(["*.log"]));
    assert_eq!(
        (
            made["protection_days"].as_u64(),
            made["bandwidth_kib"].as_u64()
        ),
        (Some(14), Some(2048))
    );
    let id = made["id"].as_str().unwrap().to_string();

    // Edited through the same form, prefilled: disabled, every device.
    let (status, html) = get(&http, &server, &tech, &format!("{PAGE}/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Edit “nightly”") && html.contains(r#"value="weekly sun 03:00""#));
    fields[1] = ("target", "all");
    fields.retain(|(k, _)| *k != "enabled");
    let (status, location) =
        submit(&server, (&tech, &csrf), &format!("{PAGE}/{id}"), &fields).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/backups/policies?done=updated")
    );
    let listed = policies_api(&server, &tech, &csrf).await;
    let saved = listed.iter().find(|p| p["id"] == id.as_str()).unwrap();
    assert_eq!(
        (&saved["target"], &saved["enabled"]),
        (&Value::from("all"), &Value::from(false))
    );

    // A viewer sees the list, no form, and may not post.
    let (viewer, viewer_csrf) = signed_in(&server, "viewer", Role::Viewer).await;
    let (status, html) = get(&http, &server, &viewer, PAGE).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"data-policy="nightly""#), "{html}");
    assert!(
        !html.contains("policy-form") && !html.contains("Delete"),
        "{html}"
    );
    let (status, _) = submit(&server, (&viewer, &viewer_csrf), PAGE, &fields).await;
    assert_eq!(status, 403);
    let delete = format!("{PAGE}/{id}/delete");
    let (status, _) = submit(&server, (&viewer, &viewer_csrf), &delete, &[]).await;
    assert_eq!(status, 403);

    // Deleted; the declared one cannot be.
    let (status, location) = submit(&server, (&tech, &csrf), &delete, &[]).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/backups/policies?done=deleted")
    );
    let listed = policies_api(&server, &tech, &csrf).await;
    assert!(listed.iter().all(|p| p["name"] != "nightly"), "{listed:?}");
    let delete = format!("{PAGE}/config:declared/delete");
    let (status, html) = submit(&server, (&tech, &csrf), &delete, &[]).await;
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("configuration file"), "{html}");
    let listed = policies_api(&server, &tech, &csrf).await;
    assert!(listed.iter().any(|p| p["name"] == "declared"), "{listed:?}");
    server.cleanup().await;
}
