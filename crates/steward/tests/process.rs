//! The real binary as a process: `steward up` end to end, and a server killed with SIGKILL
//! in the middle of ingesting losing nothing it acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use steward_core::{Inventory, InventoryDelta, Package, PackageSource, Timestamp};
use steward_proto::agent::{InventoryUpdate, Report, ReportBatch};

mod common;

use common::{BIN, admin, admin_result};

/// Starts the binary and collects lines from stdout and stderr until `want` has matched.
fn spawn(args: &[&str], want: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        // Detection would watch and place canaries in this machine's own folders.
        .env("STEWARD_NO_DETECTION", "1")
        .args(args)
        .env("STEWARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !want
        .iter()
        .all(|w| lines.iter().any(|l: &String| l.contains(w)))
    {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!(
                "steward {args:?} did not print {want:?}; got:\n{}",
                lines.join("\n")
            ),
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    (child, lines)
}

fn after<'a>(lines: &'a [String], marker: &str) -> &'a str {
    let line = lines.iter().find(|l| l.contains(marker)).unwrap();
    line[line.find(marker).unwrap() + marker.len()..].trim()
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

#[tokio::test]
async fn steward_up_shows_this_machine_within_seconds() {
    steward_testkit::init_tls();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (child, lines) = spawn(
        &["up", "--data-dir", data, "--listen", "127.0.0.1:0"],
        &["Console:", "password:"],
    );
    let console = after(&lines, "Console:").trim_end_matches('/').to_string();
    let password = after(&lines, "password:").to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .post(format!("{console}/login"))
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        303,
        "sign-in with the printed password"
    );
    assert_eq!(
        resp.headers()["location"],
        "/account/password",
        "the printed password is replaced first"
    );
    let one_time_session = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let cookie = steward_testkit::change_one_time_password(
        &console,
        &one_time_session,
        &password,
        "a password of my own choosing",
    )
    .await;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let device = steward_testkit::eventually(
        Duration::from_secs(10),
        "this machine in the console",
        || async {
            let list: Value = http
                .get(format!("{console}/api/v1/devices"))
                .header("cookie", &cookie)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let d = list["items"].get(0)?.clone();
            (d["name"] == hostname.as_str() && d["status"] == "online").then_some(d)
        },
    )
    .await;
    let id = device["id"].as_str().unwrap();
    let detail: Value = http
        .get(format!("{console}/api/v1/devices/{id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(detail["hardware"]["cpu_cores"].as_u64().unwrap() > 0);
    assert!(
        detail["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "root" && a["is_admin"] == true)
    );
    // `steward admin device refresh` queues a job from the shell; the running agent takes it
    // and reports success.
    let job = admin(dir.path(), &["device", "refresh", &hostname]);
    steward_testkit::eventually(
        Duration::from_secs(10),
        "the CLI's job to succeed",
        || async {
            let jobs: Value = http
                .get(format!("{console}/api/v1/devices/{id}/jobs"))
                .header("cookie", &cookie)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (jobs[0]["id"] == job.as_str() && jobs[0]["state"] == "succeeded").then_some(())
        },
    )
    .await;
    // Everything above is in the audit log, and the chain verifies…
    let csv = admin(dir.path(), &["audit", "export"]);
    for action in ["\"sign_in\"", "\"job_queued\""] {
        assert!(csv.contains(action), "{action} missing from:\n{csv}");
    }
    assert!(!csv.contains(&password), "no secret in the audit log");
    assert!(admin(dir.path(), &["audit", "verify"]).starts_with("audit log intact"));
    // …until someone edits a row behind Steward's back.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&format!("sqlite://{}/steward.db", data))
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 1")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let out = Command::new(BIN)
        .args(["admin", "audit", "verify", "--data-dir", data])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tampered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The password is stored only as an Argon2id hash.
    let db = std::fs::read(dir.path().join("steward.db")).unwrap();
    assert!(!db.windows(password.len()).any(|w| w == password.as_bytes()));
    stop(child);

    // A second start reuses everything: no new password, the same single device.
    let (child, lines) = spawn(
        &["up", "--data-dir", data, "--listen", "127.0.0.1:0"],
        &["Console:"],
    );
    assert!(!lines.iter().any(|l| l.contains("password:")));
    let listed = admin(dir.path(), &["device", "list"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    stop(child);
}

fn package(i: u64) -> Package {
    Package {
        name: format!("pkg-{i:05}"),
        version: "1.0".into(),
        arch: "amd64".into(),
        source: PackageSource::Dpkg,
    }
}

/// One simulated agent: sends one report per request, each adding a package, and returns the
/// highest sequence number the server acknowledged before it stopped answering.
async fn report_until_gone(url: String, credential: String) -> u64 {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut inv = Inventory::default();
    let mut acked = 0;
    for seq in 1..=100_000u64 {
        let mut next = inv.clone();
        next.packages.push(package(seq));
        next.normalize();
        let update = if seq == 1 {
            InventoryUpdate::Full {
                inventory: Box::new(next.clone()),
            }
        } else {
            InventoryUpdate::Delta {
                delta: Box::new(InventoryDelta::between(&inv, &next)),
            }
        };
        let batch = ReportBatch {
            reports: vec![Report {
                observations: None,
                posture: None,
                updates: None,
                seq,
                collected_at: Timestamp(seq as i64),
                metrics: None,
                inventory: Some(update),
                summarised: 0,
                detections: Vec::new(),
                stopping: false,
            }],
            capabilities: None,
        };
        match http
            .post(format!("{url}/agent/v1/reports"))
            .bearer_auth(&credential)
            .json(&batch)
            .send()
            .await
        {
            Ok(resp) if resp.status().is_success() => {
                let ack: Value = resp.json().await.unwrap();
                assert_eq!(ack["acked_seq"], seq);
                acked = seq;
                inv = next;
            }
            _ => return acked,
        }
    }
    acked
}

#[tokio::test]
async fn sigkill_mid_ingest_loses_nothing_acknowledged() {
    steward_testkit::init_tls();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (server, lines) = spawn(
        &["server", "--data-dir", data, "--listen", "127.0.0.1:0"],
        &["listening on"],
    );
    let url = after(&lines, "listening on")
        .trim_end_matches('/')
        .to_string();
    let token = admin(dir.path(), &["enroll-token", "create", "--uses", "4"]);
    let http = reqwest::Client::new();
    let mut agents = Vec::new();
    for i in 0..4 {
        let body: Value = http
            .post(format!("{url}/agent/v1/enroll"))
            .json(&json!({"token": token, "hostname": format!("crash-{i}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let device = body["device_id"].as_str().unwrap().to_string();
        let credential = body["credential"].as_str().unwrap().to_string();
        agents.push((
            device,
            tokio::spawn(report_until_gone(url.clone(), credential)),
        ));
    }
    // Let them ingest for a while, then kill the server without warning.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = server;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let mut acked = Vec::new();
    for (device, task) in agents {
        acked.push((device, task.await.unwrap()));
    }
    assert!(
        acked.iter().all(|(_, n)| *n > 0),
        "every agent got reports in: {acked:?}"
    );

    // Everything acknowledged is there after the crash.
    let store = steward_store::Store::connect(&format!("sqlite://{}/steward.db", data))
        .await
        .unwrap();
    for (device, n) in &acked {
        let state = store.device_ingest_state(device).await.unwrap().unwrap();
        assert!(
            state.last_seq >= *n,
            "device {device}: acked {n}, stored {}",
            state.last_seq
        );
        let (software, total) = store
            .scoped(&steward_core::Scope::AllDevices)
            .software(device, None, 0, 100_000)
            .await
            .unwrap();
        assert!(
            total >= *n,
            "device {device}: acked {n} packages, stored {total}"
        );
        for i in 1..=*n {
            assert!(
                software.iter().any(|s| s.name == package(i).name),
                "pkg {i} of {device} lost"
            );
        }
    }
    eprintln!("acknowledged before SIGKILL: {acked:?}");
}

/// Runs `steward agent …` to completion; returns (success, stdout, stderr).
fn agent_cmd(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).arg("agent").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn https_server_pinning_enrollment_and_rotation_from_the_shell() {
    steward_testkit::init_tls();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    // Loopback serves plain HTTP unless told otherwise; `tls = "on"` takes the path a
    // non-loopback address takes by default.
    let config = dir.path().join("steward.toml");
    std::fs::write(&config, "tls = \"on\"\n").unwrap();
    let args = [
        "server",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data_s,
        "--listen",
        "127.0.0.1:0",
    ];
    let (server, lines) = spawn(&args, &["listening on", "TLS certificate sha256:", "--pin"]);
    let url = after(&lines, "listening on")
        .trim_end_matches('/')
        .to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let fingerprint = format!(
        "sha256:{}",
        after(&lines, "TLS certificate sha256:")
            .split_whitespace()
            .next()
            .unwrap()
    );
    assert_eq!(fingerprint.len(), 7 + 64, "{fingerprint}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let token = admin(&data, &["enroll-token", "create", "--uses", "2"]);
    let state = dir.path().join("agent");
    let state_s = state.to_str().unwrap();
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let (ok, _, err) = agent_cmd(&[
        "enroll",
        "--server",
        &url,
        "--token",
        &token,
        "--pin",
        &wrong,
        "--state-dir",
        state_s,
    ]);
    assert!(!ok);
    assert!(
        err.contains(&format!("presented the certificate {fingerprint}")),
        "{err}"
    );
    let (ok, out, err) = agent_cmd(&[
        "enroll",
        "--server",
        &url,
        "--token",
        &token,
        "--state-dir",
        state_s,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("Pinned the server certificate {fingerprint}")),
        "{out}"
    );
    let device = out
        .split("Enrolled as device ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();

    // Rotation from the shell: the running agent switches to a new credential.
    let credential = || {
        let text = std::fs::read_to_string(state.join("agent.json")).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()["credential"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let before = credential();
    admin(&data, &["device", "rotate-credential", &device]);
    let (agent, _) = spawn(
        &["agent", "run", "--state-dir", state_s],
        &["agent started"],
    );
    steward_testkit::eventually(Duration::from_secs(15), "the new credential", || async {
        (credential() != before).then_some(())
    })
    .await;
    // The server completes the rotation at the agent's first request with the new
    // credential, which follows the switch shortly.
    steward_testkit::eventually(Duration::from_secs(15), "rotation completed", || async {
        admin(&data, &["audit", "export"])
            .contains("credential_rotation_completed")
            .then_some(())
    })
    .await;
    stop(agent);
    stop(server);

    // A restart serves the same certificate, so pinned agents keep working.
    let (server, lines) = spawn(&args, &["TLS certificate sha256:"]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("TLS certificate {fingerprint}"))),
        "{lines:?}"
    );
    stop(server);
}

/// Runs `steward admin ARGS --data-dir DIR`; returns (success, stdout, stderr).
#[tokio::test]
async fn admin_commands_manage_users_groups_and_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // An installation: the database (migrated) with its first administrator.
    let url = format!("sqlite://{}?mode=rwc", data.join("steward.db").display());
    let store = steward_store::Store::connect(&url).await.unwrap();
    steward_server::admin::ensure_first_admin(
        &store,
        steward_server::secrets::PasswordHashing::TestOnlyCheap,
        steward_core::Timestamp(1),
    )
    .await
    .unwrap();

    admin(data, &["group", "create", "Shop floor"]);
    let password = admin(
        data,
        &[
            "user",
            "create",
            "tech",
            "--role",
            "technician",
            "--group",
            "Shop floor",
        ],
    );
    assert_eq!(password.len(), 23, "a one-time password: {password}");
    let list = admin(data, &["user", "list"]);
    assert!(list.contains("tech\ttechnician\tenabled\tno-2fa"), "{list}");
    admin(data, &["security", "require-2fa", "admin,technician"]);
    assert!(admin(data, &["security", "show"]).contains("admin,technician"));

    // The same rules as the console: the last administrator stays one; administrators are
    // not limited to groups; unknown names are clear errors.
    let (ok, _, err) = admin_result(data, &["user", "set-role", "admin", "viewer"]);
    assert!(!ok && err.contains("last enabled administrator"), "{err}");
    let (ok, _, err) = admin_result(
        data,
        &[
            "user",
            "create",
            "boss",
            "--role",
            "admin",
            "--group",
            "Shop floor",
        ],
    );
    assert!(
        !ok && err.contains("administrators see every device"),
        "{err}"
    );
    let (ok, _, err) = admin_result(data, &["user", "disable", "nobody"]);
    assert!(!ok && err.contains("no user named"), "{err}");
    let (ok, _, err) = admin_result(data, &["security", "require-2fa", "root"]);
    assert!(!ok && err.contains("unknown role"), "{err}");

    // A command-line API token names its owner; offboarding the owner revokes it.
    let (ok, _, err) = admin_result(data, &["api-token", "create", "--name", "ci"]);
    assert!(!ok && err.contains("--owner"), "{err}");
    let (ok, _, err) = admin_result(
        data,
        &[
            "api-token",
            "create",
            "--name",
            "ci",
            "--role",
            "admin",
            "--owner",
            "tech",
        ],
    );
    assert!(
        !ok && err.contains("never does more than its owner"),
        "{err}"
    );
    let token = admin(
        data,
        &[
            "api-token",
            "create",
            "--name",
            "ci",
            "--role",
            "technician",
            "--owner",
            "Tech",
        ],
    );
    assert!(token.starts_with("stw_api_"), "{token}");
    assert!(admin(data, &["api-token", "list"]).contains("ci\ttechnician\tactive\ttech"));
    admin(data, &["user", "disable", "tech"]);
    assert!(admin(data, &["api-token", "list"]).contains("ci\ttechnician\trevoked\ttech"));
    admin(data, &["user", "reset-2fa", "tech"]);
    admin(data, &["user", "delete", "tech"]);
    assert!(!admin(data, &["user", "list"]).contains("tech"));
    // Every change is in the verified audit log, named after the shell user.
    assert!(admin(data, &["audit", "verify"]).contains("verified"));
    let csv = admin(data, &["audit", "export"]);
    for action in [
        "group_created",
        "user_created",
        "two_factor_policy_changed",
        "user_disabled",
        "two_factor_disabled",
        "user_deleted",
    ] {
        assert!(csv.contains(action), "{action} missing:\n{csv}");
    }
    assert!(!csv.contains(&password), "no password in the audit log");
    store.close().await;
}
