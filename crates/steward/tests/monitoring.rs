//! The configuration-as-code example, run as written (ports aside) by the real binary: an
//! HTTP check and a webhook declared in the config file. Stopping the web server makes one
//! JSON POST reach the webhook naming the check and its state within
//! interval × (retries + 1) + 5 seconds; starting it again sends one recovery. A bad entry
//! beside them is reported with its line and left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use common::BIN;
use steward_testkit::peers::{
    free_address, http_target as target, next_within, webhook_receiver as receiver,
};

/// Runs `steward ARGS` until it prints `ready`; its output lines keep arriving on the
/// returned channel.
fn start(args: &[&str], ready: &str) -> (Child, Vec<String>, std_mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        // Detection would watch and place canaries in this machine's own folders.
        .env("STEWARD_NO_DETECTION", "1")
        .args(args)
        .env("STEWARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std_mpsc::channel::<String>();
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lines.iter().any(|l: &String| l.contains(ready)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => panic!(
                "steward {args:?} did not print {ready:?}:\n{}",
                lines.join("\n")
            ),
        }
    }
    (child, lines, rx)
}

/// The next message naming `check` within `limit`. Under `steward up` the local agent's
/// own machine is watched too, and the machine running the tests may well have a nearly
/// full disk or a failed unit: alerts about it are skipped, not counted.
async fn next_about(
    received: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    check: &str,
    limit: Duration,
) -> Option<serde_json::Value> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = next_within(received, left).await?;
        let names_it = message["alerts"]
            .as_array()
            .is_some_and(|alerts| alerts.iter().any(|a| a["check"] == check));
        if names_it {
            return Some(message);
        }
    }
}

/// The alert about `check` in a message (which may group several).
fn about(message: &serde_json::Value, check: &str) -> serde_json::Value {
    message["alerts"]
        .as_array()
        .and_then(|alerts| alerts.iter().find(|a| a["check"] == check))
        .cloned()
        .unwrap_or_else(|| panic!("no alert about {check}: {message}"))
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

async fn the_example_works_with(command: &str) {
    let addr = free_address().await;
    let up = target(addr).await;
    let (hook, mut received) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            r#"[[checks]]
name = "shop-website"
kind = "http"
url = "http://{addr}/"
interval = "5s"
retries = 1

[[checks]]
name = "broken"
kind = "http"
url = "not a url"

[[notifications]]
name = "ops-webhook"
kind = "webhook"
url = "{hook}"
"#
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let ready = if command == "up" {
        "Console:"
    } else {
        "listening on"
    };
    let (child, lines, _rest) = start(
        &[
            command,
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        ready,
    );
    let _ = lines;
    // Up and well: nothing is sent.
    assert!(
        next_about(&mut received, "shop-website", Duration::from_secs(6))
            .await
            .is_none()
    );

    up.abort();
    let _ = up.await;
    let stopped = Instant::now();
    let bound = Duration::from_secs(5 * 2 + 5);
    let message = next_about(&mut received, "shop-website", bound)
        .await
        .expect("one alert within interval x (retries + 1) + 5 s");
    let alert = about(&message, "shop-website");
    assert!(stopped.elapsed() <= bound);
    assert_eq!(alert["check"], "shop-website", "{alert}");
    assert_eq!(alert["status"], "critical", "{alert}");
    assert_eq!(alert["event"], "problem");

    let _again = target(addr).await;
    let message = next_about(&mut received, "shop-website", bound)
        .await
        .expect("one recovery");
    let recovery = about(&message, "shop-website");
    assert_eq!(recovery["check"], "shop-website");
    assert_eq!(recovery["event"], "recovery", "{recovery}");
    assert!(
        next_about(&mut received, "shop-website", Duration::from_secs(6))
            .await
            .is_none(),
        "one alert and one recovery, nothing more"
    );
    stop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_works_with_steward_server() {
    the_example_works_with("server").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_works_with_steward_up() {
    the_example_works_with("up").await;
}

#[test]
fn a_bad_entry_is_reported_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        "[[checks]]\nname = \"broken\"\nkind = \"ping\"\nhost = \"x\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let (child, lines, _rest) = start(
        &[
            "server",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "listening on",
    );
    stop(child);
    let said = lines
        .iter()
        .find(|l| l.contains("left out"))
        .unwrap_or_else(|| panic!("no report:\n{}", lines.join("\n")));
    assert!(
        said.contains("steward.toml line 1: check \"broken\""),
        "{said}"
    );
    assert!(
        said.contains(
            "kind must be one of http, tcp, tls, dns, icmp, disk, memory, cpu, load, \
             heartbeat, unit, failed_units, process, backup, drill, patching, detection, not \"ping\""
        ),
        "{said}"
    );
}
