//! A full disk on the server's side: the server runs in a mount namespace of its own where
//! its backups directory is a small tmpfs. A backup that does not fit fails with a clear
//! error and an alert, leaves no snapshot, and once there is room again the next backup
//! succeeds and the standard restic client finds the repository sound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{BIN, Steward, admin};

/// `steward admin ARGS --data-dir DATA`: (success, stdout, stderr).
fn admin_result(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Bytes that do not compress (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Runs `program ARGS` in the server's mount namespace (where its backups are).
fn in_server_namespace(
    pid: u32,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new("nsenter")
        .args(["--target", &pid.to_string(), "--mount", program])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_backup_clearly_alerts_and_the_repository_stays_sound() {
    steward_testkit::init_tls();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backups = data.join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "sh", "-c"]).arg(
        r#"mount -t tmpfs -o size=3m steward-full-disk "$1" && exec "$2" server --data-dir "$3" --listen 127.0.0.1:0"#,
    );
    command.args(["sh", backups.to_str().unwrap(), BIN, data.to_str().unwrap()]);
    let server = Steward::start_command(command, "listening on");
    let url = server
        .after("listening on")
        .unwrap()
        .trim_end_matches('/')
        .to_string();

    let token = admin(&data, &["enroll-token", "create"]);
    let state_dir = dir.path().join("agent");
    let enrolled = Command::new(BIN)
        .args([
            "agent",
            "enroll",
            "--server",
            &url,
            "--state-dir",
            state_dir.to_str().unwrap(),
        ])
        .env("STEWARD_ENROLL_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let device = steward_agent::state::AgentState::load(&state_dir)
        .unwrap()
        .device_id;
    let _agent = Steward::agent(&state_dir);

    let source = dir.path().join("ledger");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("small.txt"), "invoice 1\n".repeat(100)).unwrap();
    let src = source.to_str().unwrap();
    admin(
        &data,
        &["backup", "run", "--device", &device, "--path", src],
    );

    // 8 MiB that cannot be compressed, into 3 MiB.
    std::fs::write(source.join("scans.bin"), noise(8 << 20)).unwrap();
    let (ok, _, err) = admin_result(
        &data,
        &["backup", "run", "--device", &device, "--path", src],
    );
    assert!(!ok, "the backup cannot fit: {err}");
    assert!(
        err.contains("backup storage is full"),
        "a clear error: {err}"
    );

    // The failure raises the Backups alert through monitoring.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alerts = admin(&data, &["alerts", "list"]);
        if alerts
            .lines()
            .any(|l| l.contains("Backups") && l.contains("critical") && l.contains("full"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no backup alert:\n{alerts}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Room again: the next backup succeeds, only the two good snapshots exist, and restic
    // finds the repository sound.
    let grown = in_server_namespace(
        server.pid(),
        "mount",
        &["-o", "remount,size=64m", backups.to_str().unwrap()],
        &[],
    );
    assert!(
        grown.status.success(),
        "{}",
        String::from_utf8_lossy(&grown.stderr)
    );
    admin(
        &data,
        &["backup", "run", "--device", &device, "--path", src],
    );
    let listed = admin(&data, &["backup", "list", "--device", &device]);
    assert_eq!(
        listed.lines().count(),
        3,
        "a header and two snapshots:\n{listed}"
    );
    let password = admin(&data, &["backup", "password", "--device", &device]);
    let repository = backups.join(&device).display().to_string();
    let env = [("RESTIC_PASSWORD", password.as_str())];
    let snapshots = in_server_namespace(
        server.pid(),
        "restic",
        &["--no-cache", "-r", &repository, "snapshots", "--json"],
        &env,
    );
    assert!(
        snapshots.status.success(),
        "{}",
        String::from_utf8_lossy(&snapshots.stderr)
    );
    let snapshots: serde_json::Value = serde_json::from_slice(&snapshots.stdout).unwrap();
    assert_eq!(
        snapshots.as_array().unwrap().len(),
        2,
        "the failed backup left no snapshot: {snapshots}"
    );
    let checked = in_server_namespace(
        server.pid(),
        "restic",
        &["--no-cache", "-r", &repository, "check", "--read-data"],
        &env,
    );
    assert!(
        checked.status.success(),
        "restic check: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while admin(&data, &["alerts", "list"])
        .lines()
        .any(|l| l.contains("Backups") && l.contains("critical"))
    {
        assert!(
            Instant::now() < deadline,
            "the backup alert did not recover"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
