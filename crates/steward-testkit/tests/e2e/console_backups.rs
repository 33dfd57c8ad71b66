//! Backups in the console, over HTTP as a browser does it: a device with two real snapshots
//! (made with `steward-backup` straight into the server's repository, as an agent's would
//! be) shows them on its page with what the last one saved; a snapshot's page browses
//! folders, compares with the other snapshot and restores; `/backups` sums the fleet up;
//! forms need the CSRF token; the restore form says what is wrong. Who may do what:
//! `console_backups_access.rs`.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use steward_backup::storage::LocalDir;
use steward_backup::{BackupRequest, ProgressCounter, Repo};
use steward_core::{Role, Timestamp};
use steward_store::SnapshotSummary;
use steward_testkit::{TestServer, csrf_in};

use crate::support::{PASSWORD, browser, get, post};

/// A signed-in user of `role`: (session cookie, CSRF token).
pub(crate) async fn signed_in(server: &TestServer, name: &str, role: Role) -> (String, String) {
    server.create_user(name, role, PASSWORD).await;
    let cookie = server.sign_in(name, PASSWORD).await;
    let (_, html) = get(&browser(), server, &cookie, "/").await;
    (cookie.clone(), csrf_in(&html))
}

/// POSTs a console form; the status and the redirect target or the page.
pub(crate) async fn submit(
    server: &TestServer,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let resp = post(&browser(), server, cookie, path, fields).await;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(resp.text().await.unwrap()))
}

/// Backs `source` up into `device`'s repository on the server and records the snapshot as
/// the endpoint and the backup's result would; answers its id.
/// `clock_off_ms`: how far the device's clock is behind (what it writes into the snapshot).
async fn back_up(
    server: &TestServer,
    device: &str,
    password: &str,
    source: &Path,
    clock_off_ms: i64,
) -> String {
    let storage = Arc::new(LocalDir::new(server.backups_dir().join(device)));
    let (password, request) = (
        password.to_owned(),
        BackupRequest {
            paths: vec![source.display().to_string()],
            excludes: Vec::new(),
            host: "file-server".into(),
            tags: Vec::new(),
        },
    );
    let info = tokio::task::spawn_blocking(move || {
        Repo::open(storage, &password, ProgressCounter::new())?.backup(&request)
    })
    .await
    .unwrap()
    .unwrap();
    let received = server.now();
    assert!(
        server
            .store
            .record_snapshot_received(device, &info.id, received)
            .await
            .unwrap()
    );
    let summary = SnapshotSummary {
        written_at: Some(Timestamp(info.written_at - clock_off_ms)),
        files: info.files.map(|n| n as i64),
        bytes: info.bytes.map(|n| n as i64),
        added_bytes: info.added_bytes.map(|n| n as i64),
        stored_bytes: info.stored_bytes.map(|n| n as i64),
        duration_ms: info.duration_ms.map(|n| n as i64),
        paths: Some(vec![source.display().to_string()]),
        ..SnapshotSummary::default()
    };
    server
        .store
        .record_snapshot_summary(device, &info.id, &summary)
        .await
        .unwrap();
    info.id
}

/// A device with two snapshots of a small tree: (device, source folder, [older, newer]).
pub(crate) async fn device_with_snapshots(
    server: &TestServer,
    dir: &Path,
) -> (String, std::path::PathBuf, [String; 2]) {
    let (device, _) = server.enroll_raw("file-server").await;
    let source = dir.join("share");
    std::fs::create_dir_all(source.join("docs")).unwrap();
    std::fs::write(source.join("docs/letter.txt"), "Dear customer,\n").unwrap();
    std::fs::write(source.join("notes <b>.txt"), "escaped?\n").unwrap();
    std::os::unix::fs::symlink("docs/letter.txt", source.join("latest")).unwrap();
    let token = server.api_token().await;
    // The first "Back up now" makes the repository (the job waits for an agent: none here).
    let (status, body) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device}/backups"),
            json!({"paths": [source.display().to_string()]}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, revealed) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device}/backup-password"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{revealed}");
    let password = revealed["password"].as_str().unwrap().to_owned();
    let older = back_up(server, &device, &password, &source, 0).await;
    std::fs::write(source.join("docs/letter.txt"), "Dear customer, again\n").unwrap();
    std::fs::write(source.join("docs/invoice.csv"), "sku,qty\n").unwrap();
    // The device's clock is an hour behind by the second backup.
    let newer = back_up(server, &device, &password, &source, 3_600_000).await;
    (device, source, [older, newer])
}

#[tokio::test]
async fn backups_are_seen_browsed_compared_and_restored_in_the_console() {
    let server = TestServer::sqlite_manual_clock().await;
    let dir = tempfile::tempdir().unwrap();
    let (device, source, [older, newer]) = device_with_snapshots(&server, dir.path()).await;
    let inside = source
        .display()
        .to_string()
        .trim_start_matches('/')
        .to_owned();
    let (tech, tech_csrf) = signed_in(&server, "tech", Role::Technician).await;
    let http = browser();

    // The device page: the last backup and what it saved, the snapshots, the buttons.
    let (status, html) = get(&http, &server, &tech, &format!("/devices/{device}")).await;
    assert_eq!(status, 200);
    let section = crate::support::between(
        &html,
        r#"<section class="card" id="backups">"#,
        "</section>",
    );
    for expected in [
        "Last backup",
        "Deduplication",
        "Compression",
        "Last proven restore",
        "never",
        "Back up now",
    ] {
        assert!(section.contains(expected), "{expected}: {section}");
    }
    assert!(
        section.contains(&format!(r#"<tr data-snapshot="{}">"#, &older[..8])),
        "{section}"
    );
    assert!(
        section.contains(&format!("/devices/{device}/backups/{newer}")),
        "{section}"
    );
    assert!(
        !section.contains("Show repository password"),
        "technicians do not see it"
    );
    // The newer one's time, written by a clock an hour behind, is flagged; the older not.
    let row = |id: &str| {
        crate::support::between(
            section,
            &format!(r#"<tr data-snapshot="{}">"#, &id[..8]),
            "</tr>",
        )
        .to_owned()
    };
    assert!(row(&newer).contains("device clock differs"), "{section}");
    assert!(!row(&older).contains("device clock differs"), "{section}");
    assert!(
        html.contains(r##"<a href="#backups">Backups</a>"##),
        "the section menu"
    );

    // The snapshot's root: the top folder, which leads down to the share.
    let page = format!("/devices/{device}/backups/{newer}");
    let (status, html) = get(&http, &server, &tech, &page).await;
    assert_eq!(status, 200, "{html}");
    let top = inside.split('/').next().unwrap();
    assert!(
        html.contains(&format!(r#"<tr data-name="{top}" data-kind="folder">"#)),
        "{html}"
    );
    let (status, html) = get(&http, &server, &tech, &format!("{page}?path=/{inside}")).await;
    assert_eq!(status, 200);
    let files = crate::support::between(
        &html,
        r#"<table class="table compact" id="file-table">"#,
        "</table>",
    );
    assert!(
        files.contains(r#"data-name="docs" data-kind="folder""#),
        "{files}"
    );
    assert!(
        files.contains("in 2 files"),
        "a folder's size is what it holds: {files}"
    );
    assert!(
        files.contains("notes &#60;b&#62;.txt") || files.contains("notes &lt;b&gt;.txt"),
        "escaped: {files}"
    );
    assert!(!files.contains("notes <b>"), "{files}");
    assert!(
        files.contains("→ docs/letter.txt"),
        "a link's target: {files}"
    );
    assert!(
        !files.contains("letter.txt</td>"),
        "only the folder's own entries: {files}"
    );
    assert!(
        files.contains(&format!(r#"value="/{inside}/docs""#)),
        "a box to restore it"
    );

    // The diff with the older snapshot, under the share.
    let (status, html) = get(
        &http,
        &server,
        &tech,
        &format!("{page}?path={inside}&diff={older}"),
    )
    .await;
    assert_eq!(status, 200);
    let diff = crate::support::between(&html, r#"<div id="diff">"#, "</table>");
    assert!(diff.contains(&format!(r#"<tr data-change="added"><td><span class="badge badge-ok">added</span></td><td class="mono">/{inside}/docs/invoice.csv"#)), "{diff}");
    assert!(
        diff.contains(&format!("/{inside}/docs/letter.txt")),
        "{diff}"
    );
    assert!(diff.contains(r#"data-change="changed""#), "{diff}");
    assert!(diff.contains("<strong>1</strong> added"), "{diff}");
    // A snapshot the device does not have, and a folder it does not hold.
    let (status, _) = get(
        &http,
        &server,
        &tech,
        &format!("/devices/{device}/backups/{}", "ab".repeat(32)),
    )
    .await;
    assert_eq!(status, 404);
    let (status, html) = get(
        &http,
        &server,
        &tech,
        &format!("{page}?path=/no/such/folder"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("Could not list /no/such/folder"), "{html}");

    // The restore form says what is wrong, keeping what was typed.
    let restore = format!("{page}/restore");
    let (status, html) = submit(
        &server,
        &tech,
        &restore,
        &[("csrf", &tech_csrf), ("target_path", "/tmp/r")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("Choose what to restore"), "{html}");
    assert!(html.contains(r#"value="/tmp/r""#), "the folder is kept");
    let letter = format!("/{inside}/docs/letter.txt");
    let docs = format!("/{inside}/docs");
    let (status, html) = submit(
        &server,
        &tech,
        &restore,
        &[
            ("csrf", &tech_csrf),
            ("path", &letter),
            ("target_path", "/"),
            ("folder", &docs),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        html.contains("overwrites the files in their original place"),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            r#"value="{letter}" aria-label="Restore letter.txt" checked"#
        )),
        "the page comes back at the folder, the box still ticked: {html}"
    );
    let (status, html) = submit(
        &server,
        &tech,
        &restore,
        &[
            ("csrf", &tech_csrf),
            ("paths", &letter),
            ("target_path", "relative/dir"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("Restore to an absolute folder"), "{html}");
    // Without the CSRF token: refused.
    let (status, html) = submit(
        &server,
        &tech,
        &restore,
        &[("path", &letter), ("target_path", "/tmp/r")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(html.contains("stale"), "{html}");
    // A good one: queued on the device, and back to its page with word of it.
    let (status, location) = submit(
        &server,
        &tech,
        &restore,
        &[
            ("csrf", &tech_csrf),
            ("path", &letter),
            ("target_device", &device),
            ("target_path", "/tmp/r"),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/devices/{device}?done=restore#backups").as_str()
        )
    );
    let (_, html) = get(&http, &server, &tech, &location).await;
    assert!(html.contains("Restore queued"), "{html}");
    let queued = jobs(&server, &device).await;
    let (_, params) = queued.iter().find(|(kind, _)| kind == "restore").unwrap();
    assert_eq!(params["paths"], json!([letter]), "{params}");
    assert_eq!(params["target"], "/tmp/r");
    assert_eq!(params["snapshot"], newer.as_str());

    // Back up now: the paths typed; a relative one is refused.
    let backups = format!("/devices/{device}/backups");
    let (status, location) = submit(
        &server,
        &tech,
        &backups,
        &[("csrf", &tech_csrf), ("paths", "/etc\n/srv/share\n")],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/devices/{device}?done=backup#backups").as_str()
        )
    );
    assert!(
        jobs(&server, &device)
            .await
            .iter()
            .any(|(kind, params)| kind == "backup"
                && params["paths"] == json!(["/etc", "/srv/share"]))
    );
    let (status, html) = submit(
        &server,
        &tech,
        &backups,
        &[("csrf", &tech_csrf), ("paths", "srv")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("absolute"), "{html}");
    // Nothing typed: the paths of the policies covering the device, of which there is none.
    let (status, html) = submit(&server, &tech, &backups, &[("csrf", &tech_csrf)]).await;
    assert_eq!(status, 400);
    assert!(html.contains("nothing to back up"), "{html}");
    let policy = steward_store::NewBackupPolicy {
        name: "shop files".into(),
        target: format!("device:{device}"),
        paths: vec!["/srv/shop".into()],
        excludes: Vec::new(),
        schedule: "daily 01:00".into(),
        keep: steward_core::backup::retention::Keep {
            daily: 7,
            ..Default::default()
        },
        protection_ms: 0,
        bandwidth_kib: None,
        enabled: true,
    };
    server
        .store
        .create_backup_policy("p-1", &policy, server.now())
        .await
        .unwrap();
    let (_, html) = get(&http, &server, &tech, &format!("/devices/{device}")).await;
    assert!(
        html.contains("<strong>shop files</strong> (daily 01:00: /srv/shop)"),
        "{html}"
    );
    let (status, _) = submit(&server, &tech, &backups, &[("csrf", &tech_csrf)]).await;
    assert_eq!(status, 303);
    assert!(
        jobs(&server, &device)
            .await
            .iter()
            .any(|(kind, params)| kind == "backup"
                && params["paths"] == json!(["/srv/shop"])
                && params["policy"] == "shop files")
    );

    // The fleet: this device backed up, another never.
    server.enroll_raw("laptop").await;
    let (status, html) = get(&http, &server, &tech, "/backups").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<a href="/backups" class="active""#),
        "the navigation links it"
    );
    let storage = crate::support::between(&html, r#"id="backup-storage">"#, "</p>");
    assert!(
        storage.starts_with("Stored in the directory ") && !html.contains("backup-storage-warning"),
        "where backups are kept: {storage}"
    );
    let row = crate::support::between(&html, r#"<tr data-device="file-server">"#, "</tr>");
    assert!(row.contains("just now") && row.contains(">2</td>"), "{row}");
    let never = crate::support::between(&html, r#"<tr data-device="laptop">"#, "</tr>");
    assert!(never.contains("never"), "{never}");
    let totals = crate::support::between(
        &html,
        r#"<div class="stats" id="backup-totals">"#,
        "</div>\n</div>",
    );
    assert!(
        totals.contains(r#"Backed up</span><span class="stat-value">1<"#),
        "{totals}"
    );
    assert!(
        totals.contains(r#"Never backed up</span><span class="stat-value">1<"#),
        "{totals}"
    );

    // Three days later the backup is late (its policy runs daily: two days).
    server
        .clock()
        .advance(std::time::Duration::from_secs(3 * 86_400));
    let (tech, _) = (server.sign_in("tech", PASSWORD).await, ());
    let (_, html) = get(&http, &server, &tech, "/backups").await;
    let row = crate::support::between(&html, r#"<tr data-device="file-server">"#, "</tr>");
    assert!(row.contains("3 d ago") && row.contains("late"), "{row}");
    server.cleanup().await;
}

/// The device's jobs with their parameters (which the API does not show).
async fn jobs(server: &TestServer, device: &str) -> Vec<(String, Value)> {
    let token = server.api_token().await;
    let (status, jobs) = server
        .api_get(&token, &format!("/api/v1/devices/{device}/jobs"))
        .await;
    assert_eq!(status, 200, "{jobs}");
    let mut out = Vec::new();
    for job in jobs.as_array().unwrap() {
        let record = server
            .store
            .job(job["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        out.push((job["kind"].as_str().unwrap().to_owned(), record.params));
    }
    out
}
