//! The backup worker: a short-lived child process of the agent (`steward agent
//! backup-worker`) that runs one backup or restore and exits. A child of its own, so the
//! memory rustic_core uses for a backup is returned when it ends, a crash in it cannot take
//! the agent down, and its peak memory can be measured on its own.
//!
//! It reads one [`WorkerOrder`] (JSON) on standard input and writes [`WorkerEvent`]s, one
//! JSON object a line, on standard output: progress every second, then the result or the
//! error. No secret crosses the pipe: the worker loads the agent's credential from the
//! state directory and asks the server for the repository's password itself.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use steward_backup::{BackupRequest, ProgressCounter, Repo};
use steward_proto::backup::{BackupJob, BackupResult, RestoreJob, RestoreResult, RestoredFile};

use super::remote::RemoteStorage;
use crate::client::Client;
use crate::state::AgentState;

/// What the agent asks the worker to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerOrder {
    pub job_id: String,
    pub task: WorkerTask,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerTask {
    Backup(BackupJob),
    Restore(RestoreJob),
}

/// One line of the worker's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerEvent {
    Progress {
        phase: String,
        done_bytes: u64,
        total_bytes: u64,
    },
    BackedUp(BackupResult),
    Restored(RestoreResult),
    Failed(String),
}

/// The worker's `main`: runs the order read from standard input, reports on standard output.
pub fn main(state_dir: &Path) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the worker's order")?;
    let order: WorkerOrder = serde_json::from_str(&line).context("the worker's order")?;
    let event = match run(state_dir, order) {
        Ok(event) => event,
        Err(error) => WorkerEvent::Failed(format!("{error:#}")),
    };
    let failed = matches!(event, WorkerEvent::Failed(_));
    emit(&event);
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

fn emit(event: &WorkerEvent) {
    if let Ok(text) = serde_json::to_string(event) {
        let mut out = std::io::stdout().lock();
        // The agent reading this end may be gone; the worker's work is done either way.
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }
}

fn run(state_dir: &Path, order: WorkerOrder) -> anyhow::Result<WorkerEvent> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the worker's runtime")?;
    let state = AgentState::load(state_dir)?;
    let client = Client::new(
        &state.server_url,
        Some(state.credential.clone()),
        state.server_cert_pin,
    )?;
    let access = runtime
        .block_on(client.repository_access(&order.job_id))
        .context("asking the server for the repository")?;
    let bandwidth = match &order.task {
        WorkerTask::Backup(job) => job.bandwidth_kib,
        WorkerTask::Restore(_) => None,
    };
    let storage = Arc::new(RemoteStorage::new(
        client,
        access.device_id.clone(),
        runtime.handle().clone(),
        bandwidth,
    ));
    let progress = ProgressCounter::new();
    let reporter = report_progress(progress.clone());
    let started = Instant::now();
    let repo = Repo::open(storage, &access.password, progress).context("opening the repository")?;
    let event = match order.task {
        WorkerTask::Backup(job) => {
            let mut tags = vec!["steward".to_owned()];
            tags.extend(job.policy.clone());
            let request = BackupRequest {
                paths: job.paths,
                excludes: with_canaries_excluded(state_dir, job.excludes),
                host: host_name(&state),
                tags,
            };
            let snapshot = repo.backup(&request)?;
            WorkerEvent::BackedUp(BackupResult {
                snapshot_id: snapshot.id,
                written_at: snapshot.written_at,
                files: snapshot.files.unwrap_or(0),
                bytes: snapshot.bytes.unwrap_or(0),
                added_bytes: snapshot.added_bytes.unwrap_or(0),
                stored_bytes: snapshot.stored_bytes.unwrap_or(0),
                duration_ms: elapsed_ms(started),
            })
        }
        WorkerTask::Restore(job) if job.drill.is_some() => {
            let scratch = state_dir.join("drills").join(&order.job_id);
            let result = drill(repo, &job, &scratch);
            // The scratch copy goes whatever happened: it holds another device's files.
            let _ = std::fs::remove_dir_all(&scratch);
            let mut result = result?;
            result.duration_ms = elapsed_ms(started);
            WorkerEvent::Restored(result)
        }
        WorkerTask::Restore(job) => {
            let indexed = repo.into_indexed()?;
            let target = PathBuf::from(&job.target);
            let paths = if job.paths.is_empty() {
                vec![String::new()]
            } else {
                job.paths.clone()
            };
            let mut result = RestoreResult::default();
            for path in &paths {
                let inside = path.trim_start_matches('/');
                // A path keeps its place under the target: /srv/a restored to /tmp/r is
                // /tmp/r/srv/a, and restored to / is back where it was.
                let done = indexed.restore(&job.snapshot, inside, &target.join(inside))?;
                result.files += done.files;
                result.dirs += done.dirs;
                result.bytes += done.bytes;
            }
            result.duration_ms = elapsed_ms(started);
            WorkerEvent::Restored(result)
        }
    };
    drop(reporter);
    Ok(event)
}

/// The job's excludes and the detection canaries this agent placed: decoys, not anyone's
/// files, and restoring one would only plant a stale decoy.
fn with_canaries_excluded(state_dir: &Path, mut excludes: Vec<String>) -> Vec<String> {
    #[cfg(target_os = "linux")]
    excludes.extend(crate::detection::canaries::backup_excludes(state_dir));
    #[cfg(not(target_os = "linux"))]
    let _ = state_dir;
    excludes
}

/// A drill's restore: each sampled file into `scratch`, then its size and SHA-256 as it came
/// out, for the server to compare with its own reading of the repository.
fn drill(repo: Repo, job: &RestoreJob, scratch: &Path) -> anyhow::Result<RestoreResult> {
    let indexed = repo.into_indexed()?;
    let mut result = RestoreResult::default();
    for path in &job.paths {
        let inside = path.trim_start_matches('/');
        let restored = scratch.join(inside);
        let done = indexed.restore(&job.snapshot, inside, &restored)?;
        result.files += done.files;
        result.bytes += done.bytes;
        let digest = steward_backup::digest_of_file(&restored)
            .with_context(|| format!("reading back the restored {inside}"))?;
        result.checked.push(RestoredFile {
            path: inside.to_owned(),
            size: digest.size,
            sha256: digest.sha256,
        });
    }
    Ok(result)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The name written into snapshots: this machine's host name, as restic would write it.
fn host_name(state: &AgentState) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| state.device_id.clone())
}

/// Prints the progress every second until dropped.
fn report_progress(progress: Arc<ProgressCounter>) -> impl Drop {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
            let now = progress.read();
            if now.done_bytes > 0 || now.total_bytes > 0 {
                emit(&WorkerEvent::Progress {
                    phase: now.phase,
                    done_bytes: now.done_bytes,
                    total_bytes: now.total_bytes,
                });
            }
        }
    });
    StopOnDrop(stop)
}

struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
