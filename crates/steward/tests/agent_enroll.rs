//! `steward agent enroll` as a process: the token comes from a variable or a file (so it is
//! not in `ps`), and the agent talks to its server directly even when the environment names
//! a proxy (which would otherwise see the credential).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use steward_testkit::TestServer;

const BIN: &str = env!("CARGO_BIN_EXE_steward");

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `steward agent enroll` against `server` with `envs`, `extra` arguments and every
/// proxy variable pointing at `proxy`.
async fn enroll(
    server: &TestServer,
    state_dir: &std::path::Path,
    proxy: &str,
    envs: &[(&str, &str)],
    extra: &[&str],
) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(["agent", "enroll", "--server", &server.url, "--state-dir"])
        .arg(state_dir)
        .args(extra)
        .env_remove("STEWARD_ENROLL_TOKEN")
        .env_remove("STEWARD_ENROLL_TOKEN_FILE")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(var, proxy);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("enroll finished")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn enroll_reads_the_token_from_a_variable_or_file_and_never_uses_a_proxy() {
    steward_testkit::init_tls();
    let server = TestServer::sqlite().await;
    // A "proxy" that only counts who connects to it.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = connected.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = proxy.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let dirs = tempfile::tempdir().unwrap();

    let token = server.enroll_token(1).await;
    let (ok, out) = enroll(
        &server,
        &dirs.path().join("a"),
        &proxy_url,
        &[("STEWARD_ENROLL_TOKEN", &token)],
        &[],
    )
    .await;
    assert!(ok && out.contains("Enrolled as device"), "{out}");

    let token = server.enroll_token(1).await;
    let file = dirs.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    // A token file every local user may read is refused, naming the file, like any secret
    // read from a file; the token is not used up.
    set_mode(&file, 0o644);
    let (ok, out) = enroll(
        &server,
        &dirs.path().join("b"),
        &proxy_url,
        &[],
        &["--token-file", file.to_str().unwrap()],
    )
    .await;
    assert!(
        !ok && out.contains("readable by every user") && out.contains("token"),
        "{out}"
    );
    set_mode(&file, 0o600);
    let (ok, out) = enroll(
        &server,
        &dirs.path().join("b"),
        &proxy_url,
        &[("STEWARD_ENROLL_TOKEN_FILE", file.to_str().unwrap())],
        &[],
    )
    .await;
    assert!(ok && out.contains("Enrolled as device"), "{out}");

    assert_eq!(
        connected.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the agent connected to the proxy"
    );

    // No token at all is a clear error, not a prompt or a panic.
    let (ok, out) = enroll(&server, &dirs.path().join("c"), &proxy_url, &[], &[]).await;
    assert!(!ok && out.contains("--token"), "{out}");
    server.cleanup().await;
}
