//! The `run_script` job with real processes (/bin/sh, python3): what runs, what is refused
//! and how a run is stopped. Everything happens in temp dirs.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ring::signature::{Ed25519KeyPair, KeyPair};
use steward_agent::runner::jobs::JobOutcome;
use steward_agent::scripts::{RunScriptExecutor, RunScriptParams, ScriptPolicy, pin_script_key};
use steward_core::Timestamp;
use steward_core::scripts::{Interpreter, RunOrder, content_hash, encode_public_key, sign};

const DEVICE: &str = "dev-1";
const JOB: &str = "job-1";
const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

/// A state dir that allows scripts and pins key 1.
fn allowing_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ScriptPolicy {
        allow_scripts: true,
    }
    .save(dir.path())
    .unwrap();
    pin_script_key(dir.path(), &encode_public_key(key(1).public_key().as_ref())).unwrap();
    dir
}

fn order(interpreter: Interpreter, content: &str, params: &[(&str, &str)]) -> RunOrder {
    RunOrder {
        job_id: JOB.into(),
        device_id: DEVICE.into(),
        interpreter,
        content_sha256: content_hash(content),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        timeout_secs: 30,
        expires_at: NOW.plus_millis(3_600_000),
    }
}

fn job(order: &RunOrder, signature: String, content: &str) -> serde_json::Value {
    serde_json::to_value(RunScriptParams {
        order: order.clone(),
        signature,
        content: content.into(),
    })
    .unwrap()
}

fn signed(order: &RunOrder, content: &str) -> serde_json::Value {
    job(order, sign(order, &key(1)), content)
}

async fn run(executor: &RunScriptExecutor, dir: &Path, params: &serde_json::Value) -> JobOutcome {
    executor.execute(dir, DEVICE, JOB, params, NOW).await
}

fn parts(outcome: &JobOutcome) -> (bool, &str, &str) {
    match outcome {
        JobOutcome::Succeeded { message, output } => (true, message.as_str(), output.as_str()),
        JobOutcome::Failed { message, output } => (false, message.as_str(), output.as_str()),
        JobOutcome::Unsupported { message } => panic!("unsupported: {message}"),
    }
}

#[tokio::test]
async fn a_signed_sh_script_runs_with_its_parameter_as_data() {
    let dir = allowing_dir();
    let content = "echo \"hello $STEWARD_PARAM_NAME\"\necho oops >&2\necho after\nexit 3\n";
    let name = "world; touch pwned $(touch pwned2)";
    let order = order(Interpreter::Sh, content, &[("name", name)]);
    let outcome = run(
        &RunScriptExecutor::new(),
        dir.path(),
        &signed(&order, content),
    )
    .await;
    let (ok, message, output) = parts(&outcome);
    assert!(!ok);
    assert_eq!(message, "exited with code 3");
    assert_eq!(output, format!("hello {name}\noops\nafter\n"));
    // Nothing of the value was run, and the run's directory is gone.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("script-runs"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_script_that_exits_zero_succeeds() {
    let dir = allowing_dir();
    let content = "echo \"job $STEWARD_JOB_ID\"\n";
    let order = order(Interpreter::Sh, content, &[]);
    let outcome = run(
        &RunScriptExecutor::new(),
        dir.path(),
        &signed(&order, content),
    )
    .await;
    assert_eq!(
        outcome,
        JobOutcome::Succeeded {
            message: "exited with code 0".into(),
            output: format!("job {JOB}\n"),
        }
    );
}

#[tokio::test]
async fn a_python3_script_runs() {
    let dir = allowing_dir();
    let content =
        "import os, sys\nprint(int(os.environ['STEWARD_PARAM_COUNT']) * 2)\nsys.exit(0)\n";
    let order = order(Interpreter::Python3, content, &[("count", "21")]);
    let outcome = run(
        &RunScriptExecutor::new(),
        dir.path(),
        &signed(&order, content),
    )
    .await;
    assert_eq!(
        outcome,
        JobOutcome::Succeeded {
            message: "exited with code 0".into(),
            output: "42\n".into(),
        }
    );
}

/// A script that leaves a marker file if it ever runs.
fn marker_script(marker: &Path) -> (String, RunOrder) {
    let content = "touch \"$STEWARD_PARAM_MARKER\"\n".to_string();
    let order = order(
        Interpreter::Sh,
        &content,
        &[("marker", marker.to_str().unwrap())],
    );
    (content, order)
}

/// Runs `params` and asserts it was refused for a reason containing `why`, with nothing
/// run.
async fn assert_refused(dir: &Path, marker: &Path, params: &serde_json::Value, why: &str) {
    let outcome = run(&RunScriptExecutor::new(), dir, params).await;
    let (ok, message, output) = parts(&outcome);
    assert!(!ok, "{message}");
    assert!(
        message.starts_with("refused, nothing was run: "),
        "{message}"
    );
    assert!(message.contains(why), "{message} (expected {why:?})");
    assert_eq!(output, "");
    assert!(!marker.exists(), "the script ran: {message}");
}

#[tokio::test]
async fn a_device_that_does_not_allow_scripts_refuses() {
    let dir = allowing_dir();
    let marker = dir.path().join("ran");
    let (content, order) = marker_script(&marker);
    let params = signed(&order, &content);

    // Scripts turned off in the device's own file.
    ScriptPolicy::default().save(dir.path()).unwrap();
    assert_refused(dir.path(), &marker, &params, "does not allow scripts").await;
    // No file at all: off.
    std::fs::remove_file(dir.path().join("agent.toml")).unwrap();
    assert_refused(dir.path(), &marker, &params, "does not allow scripts").await;
    // A setting that is not a boolean does not turn them on.
    std::fs::write(dir.path().join("agent.toml"), "allow_scripts = \"yes\"\n").unwrap();
    assert_refused(dir.path(), &marker, &params, "allow_scripts").await;

    // Allowed, but no key pinned.
    ScriptPolicy {
        allow_scripts: true,
    }
    .save(dir.path())
    .unwrap();
    std::fs::remove_file(dir.path().join("script_key")).unwrap();
    assert_refused(dir.path(), &marker, &params, "no script signing key").await;
}

#[tokio::test]
async fn orders_not_signed_by_the_pinned_key_are_refused() {
    let dir = allowing_dir();
    let marker = dir.path().join("ran");
    let (content, order) = marker_script(&marker);

    // Unsigned, as a row edited into the server's database would be.
    let unsigned = job(&order, String::new(), &content);
    assert_refused(dir.path(), &marker, &unsigned, "not signed").await;
    // Signed with another key.
    let other_key = job(&order, sign(&order, &key(2)), &content);
    assert_refused(dir.path(), &marker, &other_key, "does not verify").await;
    // The order changed after signing (another parameter value).
    let mut changed = order.clone();
    changed.params.insert(
        "marker".into(),
        dir.path().join("elsewhere").to_str().unwrap().into(),
    );
    let tampered = job(&changed, sign(&order, &key(1)), &content);
    assert_refused(dir.path(), &marker, &tampered, "does not verify").await;
    // Garbage where the parameters should be.
    assert_refused(
        dir.path(),
        &marker,
        &serde_json::json!({"content": "touch x"}),
        "the job's parameters",
    )
    .await;
}

#[tokio::test]
async fn content_changed_after_signing_is_refused() {
    let dir = allowing_dir();
    let marker = dir.path().join("ran");
    let (content, order) = marker_script(&marker);
    let swapped = format!("{content}rm -rf \"$HOME\"\n");
    let params = job(&order, sign(&order, &key(1)), &swapped);
    assert_refused(
        dir.path(),
        &marker,
        &params,
        "not the content that was signed",
    )
    .await;
}

#[tokio::test]
async fn another_devices_or_jobs_or_an_expired_order_is_refused() {
    let dir = allowing_dir();
    let marker = dir.path().join("ran");
    let (content, order) = marker_script(&marker);

    let mut other_device = order.clone();
    other_device.device_id = "dev-2".into();
    let params = signed(&other_device, &content);
    assert_refused(dir.path(), &marker, &params, "another device").await;

    let mut other_job = order.clone();
    other_job.job_id = "job-0".into();
    let params = signed(&other_job, &content);
    assert_refused(dir.path(), &marker, &params, "signed for job \"job-0\"").await;

    let mut expired = order.clone();
    expired.expires_at = NOW.plus_millis(-1);
    let params = signed(&expired, &content);
    assert_refused(dir.path(), &marker, &params, "expired").await;
}

/// Whether the process `pid` is gone (or a zombie waiting for its new parent to reap it).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

async fn assert_gone_soon(pid_file: &Path) {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    let pid = pid.trim();
    let until = Instant::now() + Duration::from_secs(3);
    while !gone(pid) {
        assert!(Instant::now() < until, "process {pid} outlived the run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_timeout_stops_the_script_and_its_children() {
    let dir = allowing_dir();
    let pid_file = dir.path().join("child.pid");
    let content = "echo started\nsleep 600 &\necho $! > \"$STEWARD_PARAM_PID_FILE\"\nwait\n";
    let mut order = order(
        Interpreter::Sh,
        content,
        &[("pid_file", pid_file.to_str().unwrap())],
    );
    order.timeout_secs = 1;
    let started = Instant::now();
    let outcome = run(
        &RunScriptExecutor::new(),
        dir.path(),
        &signed(&order, content),
    )
    .await;
    let (ok, message, output) = parts(&outcome);
    assert!(!ok);
    assert!(message.starts_with("timed out after 1 s"), "{message}");
    assert_eq!(output, "started\n");
    // SIGTERM sufficed: no waiting out the 5 s grace.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_gone_soon(&pid_file).await;
}

#[tokio::test]
async fn a_script_that_ignores_sigterm_is_killed_after_the_grace() {
    let dir = allowing_dir();
    let pid_file = dir.path().join("child.pid");
    // Ignored signals are inherited: neither the shell nor its sleep stops on SIGTERM.
    let content = "trap '' TERM\nsleep 600 &\necho $! > \"$STEWARD_PARAM_PID_FILE\"\nwait\nwait\n";
    let mut order = order(
        Interpreter::Sh,
        content,
        &[("pid_file", pid_file.to_str().unwrap())],
    );
    order.timeout_secs = 1;
    let executor = RunScriptExecutor::new().with_kill_grace(Duration::from_millis(500));
    let outcome = run(&executor, dir.path(), &signed(&order, content)).await;
    let (ok, message, _) = parts(&outcome);
    assert!(!ok);
    assert!(message.starts_with("timed out after 1 s"), "{message}");
    assert_gone_soon(&pid_file).await;
}

#[tokio::test]
async fn output_past_the_cap_is_cut_and_marked() {
    let dir = allowing_dir();
    let content = "head -c 200000 /dev/zero | tr '\\0' x\necho\necho done\n";
    let order = order(Interpreter::Sh, content, &[]);
    let outcome = run(
        &RunScriptExecutor::new(),
        dir.path(),
        &signed(&order, content),
    )
    .await;
    let (ok, message, output) = parts(&outcome);
    assert!(ok, "{message}");
    let (kept, marker) = output.split_at(64 * 1024);
    assert!(kept.bytes().all(|b| b == b'x'));
    assert_eq!(
        marker,
        "\n[steward: output cut at 65536 bytes; 134470 more bytes were not kept]\n"
    );
}
