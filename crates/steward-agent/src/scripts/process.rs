//! Running a script's content as a child process: a private temp file, the interpreter,
//! parameters as environment variables, one pipe for stdout and stderr (so their lines stay
//! in the order they were written), a process group of its own that a timeout stops as a
//! whole, and output kept up to a cap.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context;
use rustix::process::{Pid, Signal, test_kill_process_group};
use steward_core::scripts::Interpreter;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::time::{Instant, sleep_until};

use crate::process_group::{SYSTEM_PATH, group_of, signal_group};

/// How long output is still read after the script's own process ended, for what its
/// children wrote last. A child that outlives the script keeps the pipe open; the run does
/// not wait for it.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);
/// How often a stopping group is checked for processes left.
const GROUP_POLL: Duration = Duration::from_millis(50);

/// How a script is run.
#[derive(Debug, Clone)]
pub struct RunSpec<'a> {
    pub interpreter: Interpreter,
    pub content: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub job_id: &'a str,
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when the timeout stops the group.
    pub kill_grace: Duration,
    /// At most this many bytes of output are kept.
    pub output_cap: usize,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(ExitStatus),
    TimedOut,
}

/// What a run came to: how it ended and its output (capped, the cut marked).
#[derive(Debug, Clone)]
pub struct Ran {
    pub ending: Ending,
    pub output: String,
}

/// The variable a parameter reaches the script as: `STEWARD_PARAM_` and the name in upper
/// case (`service` → `STEWARD_PARAM_SERVICE`).
pub fn param_variable(name: &str) -> String {
    format!("STEWARD_PARAM_{}", name.to_ascii_uppercase())
}

/// Runs the script in a private directory under `work_dir` (0700, removed afterwards).
pub async fn run(work_dir: &Path, spec: &RunSpec<'_>) -> anyhow::Result<Ran> {
    let dir = RunDir::create(work_dir, spec.job_id)?;
    let script = dir.write_script(spec.content)?;
    let result = run_in(&dir.0, &script, spec).await;
    drop(dir);
    result
}

async fn run_in(dir: &Path, script: &Path, spec: &RunSpec<'_>) -> anyhow::Result<Ran> {
    let (reader, writer) = std::io::pipe().context("creating the output pipe")?;
    let mut child = {
        let mut command = tokio::process::Command::new(program(spec.interpreter));
        command
            .arg(script)
            .current_dir(dir)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or(SYSTEM_PATH.into()),
            )
            .env("STEWARD_JOB_ID", spec.job_id)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().context("sharing the output pipe")?)
            .stderr(writer)
            // Its own group: the timeout stops the script and everything it started.
            .process_group(0)
            .kill_on_drop(true);
        for name in ["HOME", "LANG", "LC_ALL"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        for (name, value) in spec.params {
            // An environment value, never a word of a command line: no shell reads it.
            command.env(param_variable(name), value);
        }
        command
            .spawn()
            .with_context(|| format!("starting {}", program(spec.interpreter)))?
        // `command` (which holds the pipe's write ends) is dropped here, so the pipe ends
        // when the script and its children have closed theirs.
    };
    let group = child
        .id()
        .and_then(group_of)
        .context("the script's process has no id")?;
    let mut output = pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
        .map(|r| Output::new(r, spec.output_cap))
        .context("reading the script's output")?;

    let deadline = Instant::now() + spec.timeout;
    let ending = tokio::select! {
        status = child.wait() => Ending::Exited(status.context("waiting for the script")?),
        () = output.read_until(deadline) => {
            // The pipe closed early (a script may close its output); keep waiting for it.
            tokio::select! {
                status = child.wait() => Ending::Exited(status.context("waiting for the script")?),
                () = sleep_until(deadline) => Ending::TimedOut,
            }
        }
        () = sleep_until(deadline) => Ending::TimedOut,
    };
    if ending == Ending::TimedOut {
        stop_group(group, &mut child, &mut output, spec.kill_grace).await;
    }
    output.read_until(Instant::now() + DRAIN_AFTER_EXIT).await;
    Ok(Ran {
        ending,
        output: output.finish(),
    })
}

/// SIGTERM to the whole group; SIGKILL to whatever is left of it after `grace`. The output
/// is read meanwhile so that a process blocked on a full pipe can still end.
async fn stop_group(
    group: Pid,
    child: &mut tokio::process::Child,
    output: &mut Output,
    grace: Duration,
) {
    signal_group(group, Signal::TERM);
    let give_up = Instant::now() + grace;
    let mut reaped = false;
    while Instant::now() < give_up {
        if !reaped {
            // The script's own process stays in the group as a zombie until reaped.
            reaped = matches!(child.try_wait(), Ok(Some(_)));
        }
        if reaped && test_kill_process_group(group).is_err() {
            return;
        }
        output.read_until(Instant::now() + GROUP_POLL).await;
    }
    signal_group(group, Signal::KILL);
    let _ = child.wait().await;
}

fn program(interpreter: Interpreter) -> &'static str {
    match interpreter {
        Interpreter::Sh => "/bin/sh",
        Interpreter::Python3 => "python3",
    }
}

/// The script's output as it is read: kept up to the cap, the rest counted.
struct Output {
    pipe: Option<pipe::Receiver>,
    kept: Vec<u8>,
    cap: usize,
    dropped: u64,
}

impl Output {
    fn new(pipe: pipe::Receiver, cap: usize) -> Output {
        Output {
            pipe: Some(pipe),
            kept: Vec::new(),
            cap,
            dropped: 0,
        }
    }

    /// Reads until the pipe ends or `until`, whichever is first. Pending forever once
    /// the pipe has ended is avoided: it returns at once then.
    async fn read_until(&mut self, until: Instant) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut buf = [0u8; 8192];
        loop {
            tokio::select! {
                read = pipe.read(&mut buf) => match read {
                    Ok(0) | Err(_) => {
                        self.pipe = None;
                        return;
                    }
                    Ok(n) => {
                        let room = self.cap.saturating_sub(self.kept.len()).min(n);
                        self.kept.extend_from_slice(&buf[..room]);
                        self.dropped += (n - room) as u64;
                    }
                },
                () = sleep_until(until) => return,
            }
        }
    }

    fn finish(self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "[steward: output cut at {} bytes; {} more bytes were not kept]\n",
                self.cap, self.dropped
            ));
        }
        text
    }
}

/// A private directory for one run, removed when dropped.
struct RunDir(PathBuf);

impl RunDir {
    fn create(work_dir: &Path, job_id: &str) -> anyhow::Result<RunDir> {
        let parent = work_dir.join("script-runs");
        crate::state::ensure_dir(&parent)?;
        // Named by a hash of the job id: the id comes from the server and is no path.
        let name = format!("run-{}", &steward_core::scripts::content_hash(job_id)[..16]);
        let dir = parent.join(name);
        if dir.exists() {
            // Left by a run the agent did not finish (it was stopped mid-run).
            fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the stale {}", dir.display()))?;
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(RunDir(dir))
    }

    fn write_script(&self, content: &str) -> anyhow::Result<PathBuf> {
        let path = self.0.join("script");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(content.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
