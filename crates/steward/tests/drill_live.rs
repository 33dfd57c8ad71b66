//! A ransomware fire drill through every real piece: `steward server` with a webhook
//! channel, `steward agent run` with detection on (fanotify as root), and `steward admin
//! drill ransomware --wait` from the shell. The agent's drill executor generates its scratch
//! folder, runs `steward agent simulate-attack` as a child, the engine stops it, the alert
//! goes out through the webhook, and the drill is scored against that channel.
//!
//! The agent protects only a temp folder of the test's (the policy is written to its state
//! directory before it starts and set on the server for `all`), with canaries off: nothing
//! is placed in this machine's own folders.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, Steward, admin, admin_result};
use steward_core::detection::DetectionPolicy;
use steward_testkit::peers::{next_within, webhook_receiver};

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_from_the_shell_runs_on_a_real_agent_and_is_scored_against_the_channel() {
    let (hook, mut received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!("[[notifications]]\nname = \"ops\"\nkind = \"webhook\"\nurl = \"{hook}\"\n"),
    )
    .unwrap();
    let server = Steward::start(
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
    let url = server
        .after("listening on")
        .unwrap()
        .trim_end_matches('/')
        .to_string();

    // What the agent protects: a folder of the test's only, no canaries.
    let protected = dir.path().join("protected");
    std::fs::create_dir(&protected).unwrap();
    let policy = DetectionPolicy {
        folders: vec![protected.to_string_lossy().into_owned()],
        canaries: false,
        auto_stop: false,
        auto_isolate: false,
    };
    admin(
        &data,
        &[
            "detection-policy",
            "set",
            "--target",
            "all",
            "--folder",
            protected.to_str().unwrap(),
            "--no-canaries",
        ],
    );

    let token = admin(&data, &["enroll-token", "create"]);
    let state = dir.path().join("agent");
    let enrolled = Command::new(BIN)
        .args(["agent", "enroll", "--server", &url, "--token", &token])
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let device = String::from_utf8_lossy(&enrolled.stdout)
        .split("Enrolled as device ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    std::fs::write(
        state.join(steward_agent::detection::feed::POLICY_FILE),
        serde_json::to_vec(&policy).unwrap(),
    )
    .unwrap();

    // Detection on: no STEWARD_NO_DETECTION for this agent.
    let mut command = Command::new(BIN);
    command
        .args(["agent", "run", "--interval", "1", "--state-dir"])
        .arg(&state)
        .env_remove("STEWARD_NO_DETECTION");
    let agent = Steward::start_command(command, "job executors registered");

    let (ok, job, err) = admin_result(
        &data,
        &[
            "drill",
            "ransomware",
            "--device",
            &device,
            "--files",
            "100",
            "--wait",
        ],
    );
    assert!(
        ok,
        "the drill did not pass:\n{err}\nagent:\n{}",
        agent.output()
    );
    assert_eq!(job.trim().len(), 36, "the drill's job id: {job}");
    // "Passed: 2 of 100 files lost; detected after 14 ms."
    let passed = err
        .lines()
        .find(|l| l.starts_with("Passed: "))
        .unwrap_or_else(|| panic!("{err}"));
    let lost: u32 = passed["Passed: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(lost <= 5, "{passed}");
    assert!(
        passed.contains("of 100 files lost; detected after "),
        "{passed}"
    );
    assert!(err.contains("  ops: delivered"), "{err}");

    // The alert the drill was scored on: the Detection check's problem about this device.
    let mut alert = None;
    while let Some(message) = next_within(&mut received, Duration::from_secs(10)).await {
        let problem = message["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["check"] == "Detection" && a["event"] == "problem")
            .cloned();
        if problem.is_some() {
            alert = problem;
            break;
        }
    }
    let alert = alert.expect("the Detection alert reached the webhook");
    assert_eq!(alert["status"], "critical", "{alert}");

    // The detection is recorded as the drill's, with the simulator as the process.
    let listed = admin(&data, &["detections", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let detections = listed.as_array().unwrap();
    assert_eq!(detections.len(), 1, "{listed}");
    let id = detections[0]["id"].as_str().unwrap();
    let shown: serde_json::Value =
        serde_json::from_str(&admin(&data, &["detections", "show", id, "--json"])).unwrap();
    assert!(shown["drill"].is_string(), "marked as the drill's: {shown}");
    let process = &shown["process"];
    assert!(
        process["cmdline"]
            .as_str()
            .unwrap()
            .contains("simulate-attack"),
        "{process}"
    );
    assert_eq!(
        process["exe_sha256"].as_str().unwrap().len(),
        64,
        "{process}"
    );
    assert!(
        shown["files"].as_array().is_some_and(|f| !f.is_empty()),
        "{shown}"
    );
    // Stopped by the engine, then ended by the drill: nothing is left to kill or release.
    let actions: Vec<&str> = shown["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["stop", "kill"], "{shown}");
    assert_eq!(shown["stopped"], false, "{shown}");

    // The scratch folder is gone, and nothing was placed in the protected folder.
    let drills = state.join("drills");
    assert!(
        !drills.exists() || std::fs::read_dir(&drills).unwrap().next().is_none(),
        "the drill's scratch folder is removed"
    );
    assert!(std::fs::read_dir(&protected).unwrap().next().is_none());
    drop(agent);
    drop(server);
}
