//! Issue 11: Steward's backup against restic 0.14 on the same generated data set, in one
//! run — a first backup, then an incremental after changing 5 % of the files; wall time,
//! repository size and peak memory of the process that reads the files.
//!
//! Steward runs as in production: a `steward server` process, an enrolled `steward agent
//! run` process, backups queued with `POST /api/v1/devices/{id}/backups`; the files are
//! read by the agent's `steward agent backup-worker` child, which sends them over restic's
//! REST protocol to the server, which stores them under `<data dir>/backups/<device>`.
//! restic backs up the same tree to a local repository with a fresh, empty cache directory.
//! The two alternate (Steward, then restic) on the same machine state, with the page cache
//! dropped before each backup when the kernel allows it.
//!
//! Peak memory is VmHWM from /proc/PID/status, polled every 20 ms for both (the worker is
//! found as the agent's child whose command line says `backup-worker`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::dataset;
use crate::server::Steward;
use crate::stats::rss_kib;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Size of the generated data set in MiB.
    #[arg(long, default_value_t = 1024)]
    size: u64,
    /// Seed of the data set and of the change between the backups.
    #[arg(long, default_value_t = 11)]
    seed: u64,
    /// The restic binary to compare with.
    #[arg(long, default_value = "/usr/bin/restic")]
    restic: PathBuf,
    /// Keep the temporary directory (data set and both repositories) for inspection.
    #[arg(long)]
    keep: bool,
}

/// One backup's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// Wall time of the backup (Steward: the job's own duration; restic: the process).
    wall: Duration,
    /// Steward only: from queuing the job to seeing it succeeded.
    queued_to_done: Option<Duration>,
    repo_bytes: u64,
    peak_kib: u64,
}

pub async fn run(steward: &Steward, args: BackupArgs) -> anyhow::Result<()> {
    if args.size == 0 {
        bail!("--size must be at least 1 (MiB)");
    }
    let version = tokio::process::Command::new(&args.restic)
        .arg("version")
        .output()
        .await
        .with_context(|| format!("running {}", args.restic.display()))?;
    let restic_version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let dir = crate::ingest::tempfile_dir()?;
    let source = dir.join("share");
    let t = Instant::now();
    let mut set = dataset::generate(&source, args.size << 20, args.seed)?;
    println!(
        "data set: {} files, {:.1} MiB in {} (seed {}), generated in {:.1} s",
        set.files.len(),
        mib(set.bytes),
        source.display(),
        args.seed,
        t.elapsed().as_secs_f64()
    );
    println!("{restic_version}");

    let steward_side = StewardSide::start(steward, &dir).await?;
    let restic = Restic::init(&args.restic, &dir).await?;
    let dropped = drop_caches();
    println!(
        "page cache dropped before each backup: {}",
        if dropped { "yes" } else { "no (not permitted)" }
    );

    let first_bytes = set.bytes;
    drop_caches();
    let s1 = steward_side.backup(&source).await?;
    drop_caches();
    let r1 = restic.backup(&source).await?;
    let (files, changed) = dataset::change_five_percent(&mut set, args.seed)?;
    println!("changed {files} files ({:.1} MiB written)", mib(changed));
    drop_caches();
    let s2 = steward_side.backup(&source).await?;
    drop_caches();
    let r2 = restic.backup(&source).await?;

    println!();
    println!("| backup | measure | Steward | restic | Steward / restic |");
    println!("|---|---|---|---|---|");
    table("first", first_bytes, s1, r1);
    table("incremental", set.bytes, s2, r2);
    if let (Some(a), Some(b)) = (s1.queued_to_done, s2.queued_to_done) {
        println!(
            "\nSteward from queuing the job to seeing it succeeded: first {:.1} s, incremental \
             {:.1} s (the table uses the job's own duration)",
            a.as_secs_f64(),
            b.as_secs_f64()
        );
    }
    drop(steward_side);
    if args.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn table(name: &str, bytes: u64, s: Run, r: Run) {
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}", a / b)
        } else {
            "—".into()
        }
    };
    let (sw, rw) = (s.wall.as_secs_f64(), r.wall.as_secs_f64());
    println!(
        "| {name} | wall time | {sw:.1} s | {rw:.1} s | {} |",
        ratio(sw, rw)
    );
    let (st, rt) = (mib(bytes) / sw, mib(bytes) / rw);
    println!(
        "| {name} | throughput | {st:.1} MiB/s | {rt:.1} MiB/s | {} |",
        ratio(st, rt)
    );
    println!(
        "| {name} | repository size | {:.1} MiB | {:.1} MiB | {} |",
        mib(s.repo_bytes),
        mib(r.repo_bytes),
        ratio(s.repo_bytes as f64, r.repo_bytes as f64)
    );
    println!(
        "| {name} | peak RSS of the reader | {:.1} MiB | {:.1} MiB | {} |",
        s.peak_kib as f64 / 1024.0,
        r.peak_kib as f64 / 1024.0,
        ratio(s.peak_kib as f64, r.peak_kib as f64)
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `sync; echo 3 > /proc/sys/vm/drop_caches`: true if the kernel took it.
fn drop_caches() -> bool {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// Bytes of all files under `root` (their lengths, as `du --apparent-size`).
fn tree_bytes(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// The highest VmHWM seen of the process `pid()` finds, polled every 20 ms until `done`.
async fn watch_peak(
    mut pid: impl FnMut() -> Option<u32> + Send + 'static,
    done: tokio::sync::watch::Receiver<bool>,
) -> u64 {
    let mut peak = 0;
    let mut current = None;
    while !*done.borrow() {
        if current.is_none() {
            current = pid();
        }
        if let Some(p) = current {
            match rss_kib(p) {
                Some((_, hwm)) => peak = peak.max(hwm),
                // Gone: a later poll may find the next one (never in this bench).
                None => current = None,
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    peak
}

/// The child of `parent` whose command line contains `backup-worker`.
fn worker_of(parent: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("backup-worker") {
            return Some(pid);
        }
    }
    None
}

/// A server, an enrolled agent process and an administrator's API token.
struct StewardSide {
    _server: tokio::process::Child,
    agent: tokio::process::Child,
    url: String,
    token: String,
    device: String,
    backups: PathBuf,
    http: reqwest::Client,
}

impl StewardSide {
    async fn start(steward: &Steward, dir: &Path) -> anyhow::Result<StewardSide> {
        let data = dir.join("server");
        let (server, url) = steward.spawn(&data, None).await?;
        let store = steward_store::Store::connect(&steward_store::sqlite_url(&data)).await?;
        let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
        let enroll =
            steward_server::admin::create_enroll_token(&store, 1, now.plus_millis(600_000), now)
                .await?;
        let token = steward_server::admin::create_api_token(
            &store,
            "backup bench",
            steward_core::Role::Admin,
            None,
            None,
            now,
        )
        .await?;
        store.close().await;
        let state_dir = dir.join("agent");
        let status = steward
            .command()
            .args(["agent", "enroll", "--server", &url, "--token", &enroll])
            .arg("--state-dir")
            .arg(&state_dir)
            .stdout(Stdio::null())
            .status()
            .await?;
        anyhow::ensure!(status.success(), "agent enroll failed");
        let device = steward_agent::state::AgentState::load(&state_dir)?.device_id;
        // A 1 s interval, as in the backup process test: the job is picked up at once.
        let agent = steward
            .command()
            .args(["agent", "run", "--interval", "1", "--state-dir"])
            .arg(&state_dir)
            .env("STEWARD_LOG", "warn")
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting steward agent run")?;
        Ok(StewardSide {
            _server: server,
            agent,
            url,
            token,
            backups: data.join("backups").join(&device),
            device,
            http: reqwest::Client::new(),
        })
    }

    async fn backup(&self, source: &Path) -> anyhow::Result<Run> {
        let agent = self.agent.id().context("the agent has exited")?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(watch_peak(move || worker_of(agent), rx));
        let queued = Instant::now();
        let response = self
            .http
            .post(format!(
                "{}/api/v1/devices/{}/backups",
                self.url, self.device
            ))
            .bearer_auth(&self.token)
            .json(&json!({"paths": [source.display().to_string()]}))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.as_u16() == 202,
            "queuing the backup: {status} {body}"
        );
        let id = body["id"].as_str().context("no job id")?.to_owned();
        let job = self.wait(&id).await?;
        let queued_to_done = queued.elapsed();
        let _ = tx.send(true);
        let peak_kib = watcher.await?;
        anyhow::ensure!(job["state"] == "succeeded", "the backup job ended: {job}");
        let result: Value = serde_json::from_str(job["output"].as_str().unwrap_or("null"))?;
        let ms = result["duration_ms"]
            .as_u64()
            .with_context(|| format!("no duration in the job's result: {result}"))?;
        Ok(Run {
            wall: Duration::from_millis(ms),
            queued_to_done: Some(queued_to_done),
            repo_bytes: tree_bytes(&self.backups),
            peak_kib,
        })
    }

    /// Job `id` once it has ended.
    async fn wait(&self, id: &str) -> anyhow::Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(3600);
        loop {
            let jobs: Value = self
                .http
                .get(format!("{}/api/v1/devices/{}/jobs", self.url, self.device))
                .bearer_auth(&self.token)
                .send()
                .await?
                .json()
                .await?;
            let job = jobs
                .as_array()
                .and_then(|all| all.iter().find(|j| j["id"] == id))
                .cloned()
                .unwrap_or(Value::Null);
            let state = job["state"].as_str().unwrap_or("");
            if ["succeeded", "failed", "expired", "unsupported"].contains(&state) {
                return Ok(job);
            }
            if Instant::now() > deadline {
                bail!("the backup job did not end within an hour: {job}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A local restic repository with its own cache directory (empty before the first backup).
struct Restic {
    bin: PathBuf,
    repo: PathBuf,
    cache: PathBuf,
}

impl Restic {
    async fn init(bin: &Path, dir: &Path) -> anyhow::Result<Restic> {
        let restic = Restic {
            bin: bin.to_path_buf(),
            repo: dir.join("restic-repo"),
            cache: dir.join("restic-cache"),
        };
        // Repository version 2 (compressed, restic's `auto` level), as Steward's repositories.
        let out = restic
            .command()
            .args(["init", "--repository-version", "2"])
            .output()
            .await?;
        anyhow::ensure!(
            out.status.success(),
            "restic init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(restic)
    }

    fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.env("RESTIC_REPOSITORY", &self.repo)
            .env("RESTIC_PASSWORD", "bench password")
            .arg("--cache-dir")
            .arg(&self.cache)
            .kill_on_drop(true);
        cmd
    }

    async fn backup(&self, source: &Path) -> anyhow::Result<Run> {
        let started = Instant::now();
        let child = self
            .command()
            .args(["backup", "--quiet", "--host", "bench"])
            .arg(source)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting restic backup")?;
        let pid = child.id().context("restic pid")?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(watch_peak(move || Some(pid), rx));
        // Waiting reaps the process, after which /proc has no VmHWM: the watcher's last
        // sample is at most 20 ms before the end.
        let out = child.wait_with_output().await?;
        let wall = started.elapsed();
        let _ = tx.send(true);
        let peak_kib = watcher.await?;
        anyhow::ensure!(
            out.status.success(),
            "restic backup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(Run {
            wall,
            queued_to_done: None,
            repo_bytes: tree_bytes(&self.repo),
            peak_kib,
        })
    }
}
