//! Real clients of the backup endpoint: restic itself (Debian's; `scripts/test` installs it) backs up,
//! checks and restores through it and is refused a `forget`; an upload over a slow link gets
//! the backup body timeout.

use serde_json::Value;
use steward_testkit::TestServer;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::backup_endpoint::{Repo, sha256};
use reqwest::StatusCode;

/// restic itself (Debian's) against the endpoint: it creates a repository,
/// backs up, lists, checks and restores through it; `forget` is refused, and the snapshot
/// stays.
#[tokio::test]
async fn restic_backs_up_and_restores_through_the_endpoint_but_cannot_forget() {
    // Never skipped: without restic this fails, saying how to get it.
    assert!(
        std::process::Command::new("restic")
            .arg("version")
            .output()
            .is_ok(),
        "restic is not installed: apt-get install restic (scripts/test does)"
    );
    let server = TestServer::sqlite().await;
    let (device, credential) = server.enroll_raw("restic").await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    std::fs::create_dir_all(source.join("docs")).unwrap();
    std::fs::write(source.join("docs/letter.txt"), "Dear customer,\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(source.join("big.bin"), &big).unwrap();
    let url = format!(
        "rest:http://{device}:{credential}@{}/backup/v1/{device}/",
        server.addr
    );
    let restic = |args: &[&str]| {
        let mut command = tokio::process::Command::new("restic");
        command
            .args(["--repo", &url, "--no-cache", "--quiet"])
            .args(args)
            .env("RESTIC_PASSWORD", "correct horse battery staple")
            .env("HOME", work.path());
        async move {
            let out = command.output().await.unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (ok, _, err) = restic(&["init"]).await;
    assert!(ok, "init: {err}");
    let (ok, _, err) = restic(&["backup", source.to_str().unwrap()]).await;
    assert!(ok, "backup: {err}");
    let (ok, out, err) = restic(&["snapshots", "--json"]).await;
    assert!(ok, "snapshots: {err}");
    let snapshots: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "{snapshots}");
    let (ok, _, err) = restic(&["check", "--read-data"]).await;
    assert!(ok, "check: {err}");
    let target = work.path().join("restored");
    let (ok, _, err) = restic(&["restore", "latest", "--target", target.to_str().unwrap()]).await;
    assert!(ok, "restore: {err}");
    let restored = target.join(source.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(restored.join("big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(restored.join("docs/letter.txt")).unwrap(),
        "Dear customer,\n"
    );

    // What ransomware with the device's credential would run: refused, the snapshot stays.
    let id = snapshots[0]["id"].as_str().unwrap();
    // restic 0.14 retries the refused delete for about 45 s before it gives up: its first
    // refusal is enough here.
    let mut forget = tokio::process::Command::new("restic")
        .args(["--repo", &url, "--no-cache", "forget", "--prune", id])
        .env("RESTIC_PASSWORD", "correct horse battery staple")
        .env("HOME", work.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(forget.stderr.take().unwrap()).lines();
    let refused = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("Remove(<snapshot/") && line.contains("403 Forbidden") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        refused,
        Ok(true),
        "restic's delete of the snapshot is refused"
    );
    forget.kill().await.unwrap();
    // Without a lock: the one forget took is left behind by the kill.
    let (ok, out, err) = restic(&["snapshots", "--json", "--no-lock"]).await;
    assert!(ok, "snapshots: {err}");
    let after: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(after[0]["id"], snapshots[0]["id"]);
    let (ok, _, err) = restic(&["unlock", "--remove-all"]).await;
    assert!(ok, "the device removes its own locks: {err}");
    let (ok, _, err) = restic(&["check"]).await;
    assert!(ok, "check after the refused forget: {err}");
    server.cleanup().await;
}

/// A pack over a slow link takes minutes: backup uploads have a body timeout of their own
/// (`backup_body_timeout`), longer than every other request's, and still bounded.
#[tokio::test]
async fn a_slow_upload_gets_the_backup_body_timeout() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::sqlite_configured(|c| {
        c.net.body_timeout = Duration::from_secs(1);
        c.net.backup_body_timeout = Duration::from_secs(3);
    })
    .await;
    let (device, credential) = server.enroll_raw("slow").await;
    let repo = Repo::of(&server, &device, Some(&credential));
    assert_eq!(repo.post("/?create=true", b"").await, StatusCode::OK);
    // Sends `content` one byte every 300 ms; returns the answer's status (0: closed).
    let trickle = |content: &'static [u8], declared: usize| {
        let (addr, device, credential) = (server.addr, device.clone(), credential.clone());
        async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /backup/v1/{device}/data/{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Authorization: Bearer {credential}\r\nContent-Length: {declared}\r\n\r\n",
                sha256(content)
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            for byte in content {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
            }
            let mut answer = vec![0u8; 1024];
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
                .await
                .unwrap()
                .unwrap_or(0);
            String::from_utf8_lossy(&answer[..n])
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or(0)
        }
    };
    // Two seconds: past the ordinary body timeout, within the backup one.
    assert_eq!(trickle(b"abcdef", 6).await, 200);
    // A body that never ends is still cut off.
    let started = Instant::now();
    let status = trickle(b"0123456789012345", 100).await;
    // 408, unless the connection was reset first by the bytes still sent after it.
    assert!(matches!(status, 0 | 408), "{status}");
    assert!(started.elapsed() < Duration::from_secs(8));
    server.cleanup().await;
}
