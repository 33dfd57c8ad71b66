//! Helpers shared by the process tests (each test file is its own crate and includes this).

use std::path::Path;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_steward");

/// Runs `steward admin ARGS --data-dir DATA_DIR`, which must succeed; returns its stdout,
/// trimmed.
pub fn admin(data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
