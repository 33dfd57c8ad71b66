//! Helpers shared by the process tests (each test file is its own crate and includes this).

use std::path::Path;
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_steward");

/// Runs `steward admin ARGS --data-dir DATA_DIR`, which must succeed; returns its stdout,
/// trimmed.
#[allow(dead_code)] // not every test crate runs admin commands
pub fn admin(data_dir: &Path, args: &[&str]) -> String {
    let (ok, out, err) = admin_result(data_dir, args);
    assert!(ok, "{err}");
    out
}

/// Runs `steward admin ARGS --data-dir DATA_DIR`, successful or not: whether it succeeded,
/// its stdout (trimmed) and its stderr.
#[allow(dead_code)] // not every test crate looks at refusals
pub fn admin_result(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A `steward` process a test started: killed when dropped, so a failing test leaves none
/// behind. Its output (stdout and stderr) is kept for the failure message.
#[allow(dead_code)] // not every test crate starts servers this way
pub struct Steward {
    child: std::process::Child,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

#[allow(dead_code)]
impl Steward {
    /// Runs `steward ARGS` (logging at info) until it prints a line containing `ready`.
    pub fn start(args: &[&str], ready: &str) -> Steward {
        let mut command = Command::new(BIN);
        // Detection would watch and place canaries in this machine's own folders.
        command.args(args).env("STEWARD_NO_DETECTION", "1");
        Self::start_command(command, ready)
    }

    /// Runs `command` (which runs steward, perhaps through a wrapper such as `unshare`)
    /// until it prints a line containing `ready`.
    pub fn start_command(mut command: Command, ready: &str) -> Steward {
        use std::io::{BufRead, BufReader, Read};
        use std::time::{Duration, Instant};

        let mut child = command
            .env("STEWARD_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        let steward = Steward { child, output };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !steward.said(ready) {
            assert!(
                Instant::now() < deadline,
                "{command:?} did not print {ready:?}:\n{}",
                steward.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        steward
    }

    /// `steward agent run` for the agent enrolled in `state_dir`, checking in every second,
    /// once its job executors are registered.
    pub fn agent(state_dir: &Path) -> Steward {
        Steward::start(
            &[
                "agent",
                "run",
                "--state-dir",
                state_dir.to_str().unwrap(),
                "--interval",
                "1",
            ],
            "job executors registered",
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether a line of its output so far contains `text`.
    pub fn said(&self, text: &str) -> bool {
        self.output.lock().unwrap().iter().any(|l| l.contains(text))
    }

    /// The text after `marker` on the first line that has it.
    pub fn after(&self, marker: &str) -> Option<String> {
        let lines = self.output.lock().unwrap();
        let line = lines.iter().find(|l| l.contains(marker))?;
        Some(line[line.find(marker)? + marker.len()..].trim().to_string())
    }

    /// Its output so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// SIGKILL: no shutdown, no last writes.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Steward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
