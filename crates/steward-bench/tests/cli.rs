//! `steward-bench` as a process: the benches are its subcommands, and one that needs the
//! `steward` binary says so clearly when it is not there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_steward-bench");

#[test]
fn every_bench_is_a_subcommand() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    for bench in ["ingest", "agent", "console", "login", "stress"] {
        assert!(help.contains(bench), "{bench} missing from:\n{help}");
    }
}

#[test]
fn the_login_bench_runs_in_process() {
    let out = Command::new(BIN)
        .args(["login", "--rounds", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("login bench: Argon2id m=65536,t=3,p=1"),
        "{text}"
    );
}

#[test]
fn a_missing_steward_binary_is_named_before_a_bench_starts() {
    let out = Command::new(BIN)
        .args([
            "ingest",
            "--steward",
            "/nonexistent/steward",
            "--seconds",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("/nonexistent/steward"), "{err}");
}
