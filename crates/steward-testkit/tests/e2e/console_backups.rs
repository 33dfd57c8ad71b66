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

/// A device whose repository the server has made (as the first "Back up now" of `source`
/// does; the job waits for an agent, none here): (device, the repository's password).
async fn device_with_repository(server: &TestServer, source: &Path) -> (String, String) {
    let (device, _) = server.enroll_raw("file-server").await;
    let token = server.api_token().await;
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
    (device, revealed["password"].as_str().unwrap().to_owned())
}

/// A device with two snapshots of a small tree: (device, source folder, [older, newer]).
pub(crate) async fn device_with_snapshots(
    server: &TestServer,
    dir: &Path,
) -> (String, std::path::PathBuf, [String; 2]) {
    let source = dir.join("share");
    std::fs::create_dir_all(source.join("docs")).unwrap();
    std::fs::write(source.join("docs/letter.txt"), "Dear customer,\n").unwrap();
    std::fs::write(source.join("notes <b>.txt"), "escaped?\n").unwrap();
    std::os::unix::fs::symlink("docs/letter.txt", source.join("latest")).unwrap();
    let (device, password) = device_with_repository(server, &source).await;
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
        files.contains(r#"data-name="latest" data-kind="link""#),
        "{files}"
    );
    assert!(html.contains("3 entries</span>"), "{html}");
    assert!(!html.contains(r#"id="rows-cut""#), "{html}");
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
    assert!(
        !html.contains(r#"id="diff-stopped""#),
        "compared whole: {diff}"
    );
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

/// Listings are bounded. The API lists one folder's own entries or all under it, at most
/// `limit`, with `X-Steward-Truncated` saying whether it was cut; the console lists the
/// folder shown alone and up to 10,000 entries of it, and compares two snapshots as far as
/// both listings reach, saying so.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_listings_stop_at_their_limit_and_say_so() {
    let server = TestServer::sqlite_manual_clock().await;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("many");
    std::fs::create_dir_all(source.join("docs")).unwrap();
    std::fs::write(source.join("docs/deep.txt"), "deep").unwrap();
    // One more than the console lists of a folder.
    for i in 0..10_001 {
        std::fs::write(source.join(format!("f{i:05}")), "").unwrap();
    }
    let (device, password) = device_with_repository(&server, &source).await;
    let older = back_up(&server, &device, &password, &source, 0).await;
    std::fs::write(source.join("f00000"), "changed").unwrap();
    std::fs::write(source.join("zz-new"), "past where the listings stop").unwrap();
    let newer = back_up(&server, &device, &password, &source, 0).await;
    let inside = source.display().to_string();
    let inside = inside.trim_start_matches('/');

    let token = server.api_token().await;
    let http = reqwest::Client::new();
    let files = |query: String| {
        let (http, token) = (&http, &token);
        let url = format!(
            "{}/api/v1/devices/{device}/snapshots/{}/files?path=/{inside}{query}",
            server.url,
            &newer[..8]
        );
        async move {
            let resp = http.get(url).bearer_auth(token).send().await.unwrap();
            let status = resp.status().as_u16();
            let truncated = resp
                .headers()
                .get("x-steward-truncated")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = resp.json().await.unwrap();
            (status, truncated, body)
        }
    };
    let paths = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .collect()
    };
    // One level, cut at five: the first five by name, none of them deeper.
    let (status, truncated, body) = files("&recursive=false&limit=5".into()).await;
    assert_eq!(
        (status, truncated.as_deref()),
        (200, Some("true")),
        "{body}"
    );
    let expected: Vec<String> = ["docs", "f00000", "f00001", "f00002", "f00003"]
        .iter()
        .map(|n| format!("{inside}/{n}"))
        .collect();
    assert_eq!(paths(&body), expected);
    // One level, whole: the subfolder but not what is in it.
    let (status, truncated, body) = files("&recursive=false&limit=20000".into()).await;
    assert_eq!((status, truncated.as_deref()), (200, Some("false")));
    let listed = paths(&body);
    assert_eq!(listed.len(), 10_003, "the files, docs and zz-new");
    assert!(listed.contains(&format!("{inside}/docs")));
    assert!(!listed.contains(&format!("{inside}/docs/deep.txt")));
    // Everything under it (the default), cut at the default 10,000.
    let (status, truncated, body) = files(String::new()).await;
    assert_eq!((status, truncated.as_deref()), (200, Some("true")));
    assert_eq!(
        paths(&body)[..2],
        [format!("{inside}/docs"), format!("{inside}/docs/deep.txt")]
    );
    assert_eq!(paths(&body).len(), 10_000);
    let (_, truncated, body) = files("/docs".into()).await;
    assert_eq!(truncated.as_deref(), Some("false"));
    assert_eq!(paths(&body), [format!("{inside}/docs/deep.txt")]);
    // A file lists as itself; a limit below one is one.
    let (_, truncated, body) = files("/docs/deep.txt&limit=0".into()).await;
    assert_eq!(truncated.as_deref(), Some("false"));
    assert_eq!(paths(&body), [format!("{inside}/docs/deep.txt")]);
    let (status, _, body) = files("&recursive=perhaps".into()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "bad_request", "{body}");

    // The console: the folder's first 10,000 entries, folders first, 1,000 of them shown.
    let (tech, _) = signed_in(&server, "tech", Role::Technician).await;
    let browser = browser();
    let page = format!("/devices/{device}/backups/{newer}?path=/{inside}");
    let (status, html) = get(&browser, &server, &tech, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("more than 10000 entries</span>"), "the count");
    let cut = crate::support::between(&html, r#"id="rows-cut">"#, "</p>");
    assert!(cut.contains("more than 10000 entries"), "{cut}");
    assert!(
        html.contains(r#"<tr data-name="docs" data-kind="folder">"#),
        "the folder comes first"
    );
    // The diff: both listings stop at 10,000 entries; compared up to there.
    let (status, html) = get(&browser, &server, &tech, &format!("{page}&diff={older}")).await;
    assert_eq!(status, 200);
    let diff = crate::support::between(&html, r#"<div id="diff">"#, "</table>");
    assert!(
        diff.contains(&format!(r#"<td class="mono">/{inside}/f00000</td>"#)),
        "{diff}"
    );
    assert!(diff.contains("<strong>0</strong> removed"), "{diff}");
    assert!(!diff.contains("zz-new"), "past where both stopped: {diff}");
    let stopped = crate::support::between(&html, r#"id="diff-stopped">"#, "</p>");
    assert!(
        stopped.contains(&format!("/{inside}/f09997")),
        "the 10,000th entry, after docs and its file: {stopped}"
    );
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
