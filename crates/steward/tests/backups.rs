//! Backups end to end: a real server, real agents running as `steward agent run`
//! processes (whose backup worker is the same binary), restic's REST protocol between them.
//! A first and an incremental backup, snapshots and their files over the API, a restore
//! byte for byte (contents, modes, modification times, symlinks), a restore to another
//! device, and a device that may not read another's repository outside such a restore.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use steward_testkit::TestServer;

mod common;

use common::{BIN, Steward};

fn write_tree(root: &Path) {
    fs::create_dir_all(root.join("docs/orders")).unwrap();
    fs::write(
        root.join("docs/orders/2026-11.csv"),
        "sku,qty\nboot-42,120\n".repeat(2000),
    )
    .unwrap();
    fs::write(root.join("docs/price-list.txt"), "winter boots 89.00\n").unwrap();
    fs::write(
        root.join("payroll.bin"),
        (0..300_000u32)
            .map(|i| (i * 31 % 253) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    fs::set_permissions(root.join("payroll.bin"), fs::Permissions::from_mode(0o600)).unwrap();
    symlink("docs/price-list.txt", root.join("prices")).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    fs::File::options()
        .write(true)
        .open(root.join("docs/price-list.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
}

/// Path, kind, mode, mtime (s) and content (or link target) of everything under `root`.
fn describe(root: &Path) -> Vec<(String, u32, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if meta.file_type().is_symlink() {
                out.push((
                    name,
                    0,
                    0,
                    fs::read_link(&path)
                        .unwrap()
                        .display()
                        .to_string()
                        .into_bytes(),
                ));
            } else if meta.is_dir() {
                out.push((name, meta.permissions().mode() & 0o7777, 0, Vec::new()));
                stack.push(path);
            } else {
                let mtime = meta
                    .modified()
                    .unwrap()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                out.push((
                    name,
                    meta.permissions().mode() & 0o7777,
                    mtime,
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Enrolls an agent process in `state_dir` and starts `steward agent run`.
async fn agent(server: &TestServer, state_dir: &Path) -> (Steward, String) {
    let token = server.enroll_token(1).await;
    let out = tokio::process::Command::new(BIN)
        .args(["agent", "enroll", "--server", &server.url, "--state-dir"])
        .arg(state_dir)
        .env("STEWARD_ENROLL_TOKEN", token)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = steward_agent::state::AgentState::load(state_dir).unwrap();
    let run = Steward::agent(state_dir);
    assert!(
        run.said("backup"),
        "the agent runs backup jobs:\n{}",
        run.output()
    );
    (run, state.device_id)
}

/// Waits for job `id` of `device` to end; returns it.
async fn finished(server: &TestServer, token: &str, device: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, jobs) = server
            .api_get(token, &format!("/api/v1/devices/{device}/jobs"))
            .await;
        assert_eq!(status, 200, "{jobs}");
        let job = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .cloned()
            .unwrap();
        if ["succeeded", "failed", "expired", "unsupported"]
            .contains(&job["state"].as_str().unwrap())
        {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn succeeded(server: &TestServer, token: &str, device: &str, queued: (u16, Value)) -> Value {
    let (status, job) = queued;
    assert_eq!(status, 202, "{job}");
    let job = finished(server, token, device, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    job
}

/// Starts a drill of `device` and waits for its outcome.
async fn drill_of(server: &TestServer, token: &str, device: &str, body: Value) -> Value {
    let (status, started) = server
        .api_post(token, &format!("/api/v1/devices/{device}/drills"), body)
        .await;
    assert_eq!(status, 202, "{started}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, drills) = server
            .api_get(token, &format!("/api/v1/devices/{device}/drills"))
            .await;
        let drill = drills
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == started["id"])
            .cloned()
            .unwrap();
        if drill["outcome"] != "running" {
            return drill;
        }
        assert!(Instant::now() < deadline, "the drill did not end: {drill}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A console page as a viewer sees it (made and signed in on first use).
async fn console_page(server: &TestServer, path: &str) -> String {
    if server
        .store
        .user_by_username("owner")
        .await
        .unwrap()
        .is_none()
    {
        server
            .create_user("owner", steward_core::Role::Viewer, "a long passphrase")
            .await;
    }
    let cookie = server.sign_in("owner", "a long passphrase").await;
    steward_testkit::page_with(
        &reqwest::Client::new(),
        format!("{}{path}", server.url),
        &cookie,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn back_up_browse_restore_and_restore_to_another_device() {
    steward_testkit::init_tls();
    let server = TestServer::sqlite().await;
    let dirs = tempfile::tempdir().unwrap();
    let source = dirs.path().join("shop-share");
    write_tree(&source);
    let (_a, device_a) = agent(&server, &dirs.path().join("agent-a")).await;
    let (_b, device_b) = agent(&server, &dirs.path().join("agent-b")).await;
    let token = server.api_token().await;
    let src = source.display().to_string();

    // The generic job route does not take a backup without its parameters.
    let (status, body) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/jobs"),
            json!({"kind": "backup"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/backups"),
            json!({"paths": [src]}),
        )
        .await;
    let first = succeeded(&server, &token, &device_a, queued).await;
    let result: Value = serde_json::from_str(first["output"].as_str().unwrap()).unwrap();
    assert_eq!(result["files"], 4, "three files and a symlink: {result}");

    fs::write(
        source.join("docs/price-list.txt"),
        "winter boots 79.00 (sale)\n",
    )
    .unwrap();
    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/backups"),
            json!({"paths": [src]}),
        )
        .await;
    succeeded(&server, &token, &device_a, queued).await;

    let (status, snapshots) = server
        .api_get(&token, &format!("/api/v1/devices/{device_a}/snapshots"))
        .await;
    assert_eq!(status, 200, "{snapshots}");
    let snapshots = snapshots.as_array().unwrap().clone();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    let newest = snapshots[0]["id"].as_str().unwrap().to_owned();
    let oldest = snapshots[1]["id"].as_str().unwrap().to_owned();
    assert!(
        snapshots[0]["added_bytes"].as_i64().unwrap() < 10_000,
        "the incremental adds little: {snapshots:?}"
    );
    assert!(
        snapshots
            .iter()
            .all(|s| s["received_at"].as_i64().unwrap() > 0 && s["files"] == 4)
    );

    let inside = src.trim_start_matches('/');
    let (status, files) = server
        .api_get(
            &token,
            &format!(
                "/api/v1/devices/{device_a}/snapshots/{}/files?path={src}",
                &newest[..8]
            ),
        )
        .await;
    assert_eq!(status, 200, "{files}");
    let link = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == format!("{inside}/prices"))
        .cloned()
        .unwrap();
    assert_eq!(
        (link["kind"].as_str(), link["link"].as_str()),
        (Some("symlink"), Some("docs/price-list.txt"))
    );

    // The whole first snapshot back on the same device, elsewhere: as it was then.
    let target = dirs.path().join("restored");
    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/restores"),
            json!({"snapshot": oldest, "target_path": target.display().to_string()}),
        )
        .await;
    succeeded(&server, &token, &device_a, queued).await;
    let mut expected = describe(&source);
    for entry in &mut expected {
        if entry.0 == "docs/price-list.txt" {
            entry.3 = b"winter boots 89.00\n".to_vec();
            entry.2 = 1_700_000_000;
        }
    }
    assert_eq!(
        describe(&target.join(inside)),
        expected,
        "restored byte for byte, with modes, times and links"
    );

    // One folder of the newest snapshot to another device.
    let (status, body) = server
        .api_get(&token, &format!("/api/v1/devices/{device_a}/snapshots"))
        .await;
    assert_eq!(status, 200, "{body}");
    let on_b = dirs.path().join("on-b");
    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/restores"),
            json!({"snapshot": newest, "paths": [format!("{src}/docs")], "target_device": device_b,
                   "target_path": on_b.display().to_string()}),
        )
        .await;
    succeeded(&server, &token, &device_b, queued).await;
    assert_eq!(
        fs::read(on_b.join(inside).join("docs/price-list.txt")).unwrap(),
        b"winter boots 79.00 (sale)\n"
    );
    assert!(
        !on_b.join(inside).join("payroll.bin").exists(),
        "only the folder asked for"
    );

    // Outside such a restore, B may not read A's repository.
    let b_state = steward_agent::state::AgentState::load(&dirs.path().join("agent-b")).unwrap();
    let refused = reqwest::Client::new()
        .get(format!("{}/backup/v1/{device_a}/snapshots/", server.url))
        .bearer_auth(&b_state.credential)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    // Drills: the sample restored by the device itself, then by another device, matches.
    let drill = drill_of(&server, &token, &device_a, json!({})).await;
    assert_eq!(drill["outcome"], "passed", "{drill}");
    assert!(drill["files_checked"].as_i64().unwrap() >= 1, "{drill}");
    let drill_b = drill_of(&server, &token, &device_a, json!({"runner": device_b})).await;
    assert_eq!(drill_b["outcome"], "passed", "{drill_b}");
    assert_eq!(drill_b["runner_device_id"], device_b.as_str());
    let dashboard = console_page(&server, "/").await;
    let card = dashboard
        .split(r#"id="last-proven-restore">"#)
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("the dashboard has a Backups card: {dashboard}"));
    assert!(
        card.contains("just now</span> on <a href=") && !card.contains("none yet"),
        "the dashboard shows the last proven restore: {card}"
    );

    // Damage every pack on the server's storage: the next drill fails, and says so through
    // the Restore drills alert.
    let packs = server.backups_dir().join(&device_a).join("data");
    for sub in fs::read_dir(&packs).unwrap() {
        for pack in fs::read_dir(sub.unwrap().path()).unwrap() {
            let path = pack.unwrap().path();
            let mut bytes = fs::read(&path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x5a;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            fs::write(&path, bytes).unwrap();
        }
    }
    let failed = drill_of(&server, &token, &device_a, json!({})).await;
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert!(!failed["error"].as_str().unwrap().is_empty(), "{failed}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, alerts) = server.api_get(&token, "/api/v1/alerts").await;
        let text = alerts.to_string();
        if text.contains("Restore drills") && text.contains("critical") {
            break;
        }
        if Instant::now() >= deadline {
            let (_, checks) = server.api_get(&token, "/api/v1/checks").await;
            panic!("no drill alert: {alerts}\n{checks}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Bad requests are refused clearly.
    let (status, body) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/backups"),
            json!({"paths": ["relative/path"]}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("absolute"), "{body}");
    let (status, body) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/restores"),
            json!({"snapshot": newest, "target_path": "not/absolute"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
}

/// Bytes that do not compress (xorshift), so a backup of them takes a moment.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_cut_off_by_a_crash_leaves_no_snapshot_and_the_next_one_is_sound() {
    steward_testkit::init_tls();
    let server = TestServer::sqlite().await;
    let dirs = tempfile::tempdir().unwrap();
    let source = dirs.path().join("big");
    fs::create_dir_all(&source).unwrap();
    for i in 0..6 {
        fs::write(source.join(format!("scan-{i}.bin")), noise(32 << 20, i + 1)).unwrap();
    }
    let state_dir = dirs.path().join("agent");
    let (agent, device) = agent(&server, &state_dir).await;
    let token = server.api_token().await;
    let src = source.display().to_string();

    let (status, job) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device}/backups"),
            json!({"paths": [src]}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    // Wait until the worker is uploading, then cut the power: the agent and its worker die
    // at once, with no chance to clean up.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, jobs) = server
            .api_get(&token, &format!("/api/v1/devices/{device}/jobs"))
            .await;
        let current = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == job["id"])
            .cloned()
            .unwrap();
        if current["state"] == "running"
            && current["message"]
                .as_str()
                .unwrap_or("")
                .contains("backing up")
        {
            break;
        }
        assert_ne!(
            current["state"], "succeeded",
            "the backup ended before it could be cut off"
        );
        assert!(
            Instant::now() < deadline,
            "the backup never reported progress: {current}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let killed = std::process::Command::new("pkill")
        .args([
            "-KILL",
            "-f",
            &format!("backup-worker --state-dir {}", state_dir.display()),
        ])
        .status()
        .unwrap();
    assert!(killed.success(), "the worker was running");
    agent.kill();
    let storage = server.backups_dir().join(&device);
    assert!(
        fs::read_dir(storage.join("snapshots"))
            .unwrap()
            .next()
            .is_none(),
        "a backup cut off leaves no snapshot"
    );
    let (_, snapshots) = server
        .api_get(&token, &format!("/api/v1/devices/{device}/snapshots"))
        .await;
    assert_eq!(snapshots.as_array().unwrap().len(), 0, "{snapshots}");

    // The machine comes back: the next backup runs whole and the repository is sound.
    let _agent = Steward::agent(&state_dir);
    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device}/backups"),
            json!({"paths": [source.display().to_string()]}),
        )
        .await;
    succeeded(&server, &token, &device, queued).await;
    let (_, snapshots) = server
        .api_get(&token, &format!("/api/v1/devices/{device}/snapshots"))
        .await;
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "{snapshots}");
    let (status, password) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device}/backup-password"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{password}");
    let checked = std::process::Command::new("restic")
        .args(["--no-cache", "-r"])
        .arg(&storage)
        .args(["check", "--read-data"])
        .env("RESTIC_PASSWORD", password["password"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "restic check: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// The same backup and restore with the repositories in an S3 bucket (moto's server) that
/// has Object Lock: the server says the backups are locked, restic opens the repository in
/// the bucket, and not even the bucket's owner can delete a version of a pack.
#[tokio::test(flavor = "multi_thread")]
async fn backups_in_a_locked_bucket_restore_and_cannot_be_deleted() {
    steward_testkit::init_tls();
    let moto = steward_testkit::moto::Moto::start().await;
    moto.bucket("factory-backups", Some(1)).await;
    let bucket = steward_server::backup::storage::S3Config {
        endpoint: moto.endpoint(),
        region: "us-east-1".into(),
        bucket: "factory-backups".into(),
        prefix: "steward".into(),
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    };
    let server = TestServer::sqlite_configured(|c| c.backup_bucket = Some(bucket)).await;
    let dirs = tempfile::tempdir().unwrap();
    let source = dirs.path().join("shop-share");
    write_tree(&source);
    let (_a, device_a) = agent(&server, &dirs.path().join("agent-a")).await;
    let (_b, device_b) = agent(&server, &dirs.path().join("agent-b")).await;
    let token = server.api_token().await;
    let src = source.display().to_string();

    for _ in 0..2 {
        let queued = server
            .api_post(
                &token,
                &format!("/api/v1/devices/{device_a}/backups"),
                json!({"paths": [src]}),
            )
            .await;
        succeeded(&server, &token, &device_a, queued).await;
        fs::write(source.join("docs/notes.txt"), "order more laces\n").unwrap();
    }
    let (_, snapshots) = server
        .api_get(&token, &format!("/api/v1/devices/{device_a}/snapshots"))
        .await;
    let snapshots = snapshots.as_array().unwrap().clone();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    let (newest, oldest) = (snapshots[0]["id"].clone(), snapshots[1]["id"].clone());
    assert!(
        !server.backups_dir().join(&device_a).exists(),
        "nothing in the directory: the bucket holds the repository"
    );

    // The first snapshot, whole, on the same device elsewhere: byte for byte.
    let target = dirs.path().join("restored");
    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/restores"),
            json!({"snapshot": oldest, "target_path": target.display().to_string()}),
        )
        .await;
    succeeded(&server, &token, &device_a, queued).await;
    let inside = src.trim_start_matches('/');
    let expected: Vec<_> = describe(&source)
        .into_iter()
        .filter(|e| e.0 != "docs/notes.txt")
        .collect();
    assert_eq!(describe(&target.join(inside)), expected);

    // One folder of the newest on another device.
    let on_b = dirs.path().join("on-b");
    let queued = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/restores"),
            json!({"snapshot": newest, "paths": [format!("{src}/docs")], "target_device": device_b,
                   "target_path": on_b.display().to_string()}),
        )
        .await;
    succeeded(&server, &token, &device_b, queued).await;
    assert_eq!(
        fs::read(on_b.join(inside).join("docs/notes.txt")).unwrap(),
        b"order more laces\n"
    );

    // A drill checks the repository in the bucket and restores a sample.
    let drill = drill_of(&server, &token, &device_a, json!({})).await;
    assert_eq!(drill["outcome"], "passed", "{drill}");

    // The server saw the bucket's Object Lock and says the backups are locked.
    let overview = steward_testkit::eventually(
        Duration::from_secs(30),
        "the server to look at the bucket",
        || async {
            let (status, overview) = server.api_get(&token, "/api/v1/backups").await;
            assert_eq!(status, 200, "{overview}");
            overview["storage"]["object_lock"]
                .is_string()
                .then_some(overview)
        },
    )
    .await;
    assert_eq!(overview["storage"]["kind"], "s3", "{overview}");
    assert_eq!(overview["storage"]["locked"], true, "{overview}");
    assert_eq!(
        overview["storage"]["object_lock"], "compliance, 1 day",
        "{overview}"
    );
    let row = overview["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == device_a.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["snapshots"], 2, "{row}");
    assert_eq!(row["last_drill"], "passed", "{row}");
    let page = console_page(&server, "/backups").await;
    assert!(
        page.contains("Stored in the bucket s3:")
            && page.contains("Object Lock: compliance, 1 day."),
        "{page}"
    );

    // restic opens the repository in the bucket with the device's password.
    let (status, password) = server
        .api_post(
            &token,
            &format!("/api/v1/devices/{device_a}/backup-password"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{password}");
    let listed = std::process::Command::new("restic")
        .args([
            "--no-cache",
            "-r",
            &format!("s3:{}/factory-backups/steward/{device_a}", moto.endpoint()),
            "snapshots",
            "--json",
        ])
        .env("RESTIC_PASSWORD", password["password"].as_str().unwrap())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "restic: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains(newest.as_str().unwrap()), "{listed}");

    // Every pack is locked: even the bucket's owner cannot delete a version of one.
    let versions = moto
        .versions("factory-backups", &format!("steward/{device_a}/data/"))
        .await;
    assert!(!versions.is_empty());
    for (key, version) in &versions {
        let status = moto.delete_version("factory-backups", key, version).await;
        assert_eq!(status, 403, "{key} is locked");
    }
}
