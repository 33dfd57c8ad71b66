//! The real binary as a process: what it writes to logs and terminals cannot be forged by
//! text from outside (a sign-in form, an agent's OS name), and its files are private.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{BIN, admin};

/// A running `steward` whose stdout and stderr lines are collected for the whole run.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            // Detection would watch and place canaries in this machine's own folders.
            .env("STEWARD_NO_DETECTION", "1")
            .args(args)
            .env("STEWARD_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                // Split on '\n' only: a raw newline in a log field would show as two lines.
                for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
                    lines
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&line).into_owned());
                }
            });
        }
        Running { child, lines }
    }

    /// Waits until a line contains `marker`; returns the text after it.
    fn wait_for(&self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(marker))
            {
                return l[l.find(marker).unwrap() + marker.len()..]
                    .trim()
                    .to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no {marker:?} in:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Stops it (SIGTERM) and returns every line it printed.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.all()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

const FORGED_USER: &str = "admin\n2026-11-28T10:00:00.000000Z  INFO signed in user=root\x1b[31m";

#[tokio::test]
async fn hostile_text_is_escaped_in_logs_and_cli_and_files_are_private() {
    steward_testkit::init_tls();
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("steward-data");
    let data = data_dir.to_str().unwrap();
    let db = data_dir.join("steward.db");

    // A fresh install: directory 0700, database files 0600 (the test runs with the usual
    // umask 022, under which they used to be 0755/0644).
    let up = Running::start(&["up", "--data-dir", data, "--listen", "127.0.0.1:0"]);
    let console = up.wait_for("Console:").trim_end_matches('/').to_string();
    up.wait_for("Steward is running");
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&data_dir.join("agent")), 0o700);
    for file in ["steward.db", "steward.db-wal", "steward.db-shm"] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }

    // A sign-in with a username that would forge a log line and colour the terminal.
    let resp = reqwest::Client::new()
        .post(format!("{console}/login"))
        .form(&[("username", FORGED_USER), ("password", "wrong password 1")])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error() || resp.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !up.all().iter().any(|l| l.contains("failed sign-in")) {
        assert!(Instant::now() < deadline, "{}", up.all().join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = up.stop();
    let logged = log.iter().find(|l| l.contains("failed sign-in")).unwrap();
    // The name is logged quoted, its newline and escape written out as text.
    assert!(
        logged.contains(
            "\"admin\\n2026-11-28T10:00:00.000000Z  INFO signed in user=root\\u{1b}[31m\""
        ),
        "{logged}"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains('\x1b') || l.starts_with("2026-11-28T10:00:00")),
        "raw control characters in the log:\n{}",
        log.join("\n")
    );

    // An agent-supplied OS name stored before ingest refused such things.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{data}/steward.db"))
        .await
        .unwrap();
    sqlx::query("UPDATE devices SET os_name = $1, name = $2")
        .bind("Linux\x1b[2J\nforged-id\tforged-host\tonline\tWindows")
        .bind("host\u{202E}exe.txt")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let listed = admin(&data_dir, &["device", "list"]);
    assert_eq!(listed.lines().count(), 1, "one device, one row: {listed:?}");
    assert!(
        !listed.contains('\x1b') && !listed.contains('\u{202E}'),
        "{listed:?}"
    );
    assert!(
        listed.contains("host\\u{202e}exe.txt")
            && listed.contains("Linux\\u{1b}[2J\\u{a}forged-id\\u{9}forged-host"),
        "{listed:?}"
    );
    let csv = admin(&data_dir, &["audit", "export"]);
    assert!(!csv.contains('\x1b'), "{csv:?}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.starts_with(|c: char| c.is_ascii_digit())),
        "every line is a row: {csv}"
    );
    assert!(csv.contains("signed in user=root\\u{1b}[31m"), "{csv}");

    // An install from before: open modes are fixed at start, with a warning naming each.
    set_mode(&data_dir, 0o755);
    for file in ["steward.db", "steward.db-wal", "steward.db-shm"] {
        let path = data_dir.join(file);
        if path.exists() {
            set_mode(&path, 0o644);
        }
    }
    let server = Running::start(&["server", "--data-dir", data, "--listen", "127.0.0.1:0"]);
    server.wait_for("listening");
    let log = server.stop().join("\n");
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&db), 0o600);
    for (path, old) in [(data_dir.clone(), "755"), (db.clone(), "644")] {
        assert!(
            log.lines().any(|l| l.contains("made private")
                && l.contains(&format!("path={}", path.display()))
                && l.contains(&format!("old_mode={old}"))),
            "no warning for {}:\n{log}",
            path.display()
        );
    }
}
