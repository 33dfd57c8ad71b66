//! The `backup` and `restore` job kinds: each runs in a backup worker (a child process,
//! see [`super::worker`]) and passes its progress on to the server as the job's message.

use std::ffi::OsString;
use std::process::Stdio;
use std::time::{Duration, Instant};

use steward_core::{JobKind, JobState};
use steward_proto::agent::{JobAssignment, JobUpdate};
use steward_proto::backup::{BackupJob, RestoreJob};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::worker::{WorkerEvent, WorkerOrder, WorkerTask};
use crate::runner::jobs::{BoxFuture, JobContext, JobExecutor, JobOutcome};

/// How often a running job's progress is sent to the server.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Runs `backup` or `restore` jobs in a worker started with `command` (the agent's own
/// binary and the arguments that make it a worker, e.g. `steward agent backup-worker`).
pub struct WorkerExecutor {
    kind: JobKind,
    command: Vec<OsString>,
}

impl WorkerExecutor {
    pub fn backup(command: Vec<OsString>) -> Self {
        Self {
            kind: JobKind::Backup,
            command,
        }
    }

    pub fn restore(command: Vec<OsString>) -> Self {
        Self {
            kind: JobKind::Restore,
            command,
        }
    }

    fn task(&self, job: &JobAssignment) -> Result<WorkerTask, String> {
        let bad = |e: serde_json::Error| format!("the job's parameters: {e}");
        match self.kind {
            JobKind::Restore => serde_json::from_value::<RestoreJob>(job.params.clone())
                .map(WorkerTask::Restore)
                .map_err(bad),
            _ => serde_json::from_value::<BackupJob>(job.params.clone())
                .map(WorkerTask::Backup)
                .map_err(bad),
        }
    }

    async fn run_worker(&self, ctx: &JobContext, task: WorkerTask) -> JobOutcome {
        let Some((program, args)) = self.command.split_first() else {
            return JobOutcome::unsupported("no backup worker is configured");
        };
        let mut child = match tokio::process::Command::new(program)
            .args(args)
            .arg("--state-dir")
            .arg(ctx.state_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(child) => child,
            Err(e) => return JobOutcome::failed(format!("starting the backup worker: {e}")),
        };
        let order = WorkerOrder {
            job_id: ctx.job_id().to_owned(),
            task,
        };
        if let Some(mut stdin) = child.stdin.take() {
            let line = serde_json::to_string(&order).unwrap_or_default() + "\n";
            if let Err(e) = stdin.write_all(line.as_bytes()).await {
                return JobOutcome::failed(format!("sending the backup worker its order: {e}"));
            }
        }
        let Some(stdout) = child.stdout.take() else {
            return JobOutcome::failed("the backup worker has no output");
        };
        let mut lines = BufReader::new(stdout).lines();
        let mut last_sent: Option<Instant> = None;
        // When the current phase began, for its rate.
        let mut phase_began = (String::new(), Instant::now());
        let mut outcome = None;
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<WorkerEvent>(&line) {
                Ok(WorkerEvent::Progress {
                    phase,
                    done_bytes,
                    total_bytes,
                }) => {
                    if phase_began.0 != phase {
                        phase_began = (phase.clone(), Instant::now());
                    }
                    if last_sent.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                        last_sent = Some(Instant::now());
                        let update = JobUpdate {
                            state: JobState::Running,
                            message: progress_text(
                                &phase,
                                done_bytes,
                                total_bytes,
                                phase_began.1.elapsed(),
                            ),
                            output: String::new(),
                        };
                        // Progress is a courtesy: a lost update is replaced by the next.
                        let _ = ctx.client().update_job(ctx.job_id(), &update).await;
                    }
                }
                Ok(WorkerEvent::BackedUp(result)) => {
                    let message = format!(
                        "snapshot {} of {} files, {} ({} new, {} stored)",
                        &result.snapshot_id[..result.snapshot_id.len().min(8)],
                        result.files,
                        bytes_text(result.bytes),
                        bytes_text(result.added_bytes),
                        bytes_text(result.stored_bytes)
                    );
                    outcome = Some(JobOutcome::Succeeded {
                        message,
                        output: json(&result),
                    });
                }
                Ok(WorkerEvent::Restored(result)) => {
                    let message = format!(
                        "restored {} files, {}",
                        result.files,
                        bytes_text(result.bytes)
                    );
                    outcome = Some(JobOutcome::Succeeded {
                        message,
                        output: json(&result),
                    });
                }
                Ok(WorkerEvent::Failed(error)) => outcome = Some(JobOutcome::failed(error)),
                Err(_) => {}
            }
        }
        let status = child.wait().await;
        match (outcome, status) {
            (Some(outcome), _) => outcome,
            (None, Ok(status)) => JobOutcome::failed(format!(
                "the backup worker ended without a result ({status})"
            )),
            (None, Err(e)) => JobOutcome::failed(format!("the backup worker: {e}")),
        }
    }
}

impl JobExecutor for WorkerExecutor {
    fn kind(&self) -> &str {
        self.kind.as_str()
    }

    fn run(&self, ctx: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move {
            match self.task(&job) {
                Ok(task) => self.run_worker(&ctx, task).await,
                Err(message) => JobOutcome::failed(message),
            }
        })
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `backing up: 512.0 MiB of 2.0 GiB (25%), 40.0 MiB/s` — the rate over the phase so far.
fn progress_text(phase: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let phase = phase.trim_end_matches("...").trim();
    let rate = match elapsed.as_secs_f64() {
        secs if secs >= 1.0 => format!(", {}/s", bytes_text((done as f64 / secs) as u64)),
        _ => String::new(),
    };
    if total > 0 {
        format!(
            "{phase}: {} of {} ({}%){rate}",
            bytes_text(done),
            bytes_text(total),
            done * 100 / total
        )
    } else {
        format!("{phase}: {}{rate}", bytes_text(done))
    }
}

/// Bytes in binary units with one decimal.
pub fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_well() {
        assert_eq!(
            progress_text("backing up...", 512 << 20, 2 << 30, Duration::from_secs(16)),
            "backing up: 512.0 MiB of 2.0 GiB (25%), 32.0 MiB/s"
        );
        assert_eq!(
            progress_text("restoring file contents...", 10, 0, Duration::ZERO),
            "restoring file contents: 10 B"
        );
        assert_eq!(bytes_text(999), "999 B");
    }
}
