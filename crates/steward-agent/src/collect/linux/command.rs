//! Running a system tool (rpm, systemctl) with a time limit: a wedged tool (a hung D-Bus, a
//! locked database) must not stall the agent's check-ins.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What a finished run printed.
pub struct Output {
    pub success: bool,
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` with `args`, killing it after `timeout`.
pub fn run(program: &std::path::Path, args: &[&str], timeout: Duration) -> anyhow::Result<Output> {
    let name = program.display().to_string();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {name}"))?;
    // Drain both pipes on threads, so a large listing (or many warnings) cannot fill a pipe
    // and block the tool while we wait for it.
    let stdout = child.stdout.take().context("stdout not captured")?;
    let stderr = child.stderr.take().context("stderr not captured")?;
    let stdout_reader = std::thread::spawn(move || read_all(stdout));
    let stderr_reader = std::thread::spawn(move || read_all(stderr));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("waiting for {name}"))?
        {
            break status;
        }
        if Instant::now() >= deadline {
            // Best effort: the process may have exited in between.
            let _ = child.kill();
            let _ = child.wait();
            bail!("{name} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout_reader
        .join()
        .map_err(|_| anyhow::anyhow!("{name} output reader panicked"))?
        .with_context(|| format!("reading {name} output"))?;
    let stderr = stderr_reader
        .join()
        .map_err(|_| anyhow::anyhow!("{name} error reader panicked"))?
        .unwrap_or_default();
    Ok(Output {
        success: status.success(),
        status,
        stdout,
        stderr,
    })
}

/// `program` on `PATH` (or in `/usr/bin`, `/bin` when `PATH` is unset).
pub fn find(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn read_all(mut pipe: impl Read) -> std::io::Result<String> {
    let mut text = String::new();
    pipe.read_to_string(&mut text)?;
    Ok(text)
}
