//! `steward agent …`: enroll, run, or print the inventory. The agent runs on a
//! current-thread runtime: it has little to do, and one thread keeps it light.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{AgentCommand, AgentStateArgs};

pub fn main(cmd: AgentCommand) -> anyhow::Result<()> {
    if let AgentCommand::BackupWorker { state } = &cmd {
        // The worker's standard output is its report to the agent: no log lines there.
        return steward_agent::backup::worker::main(&state_dir(state)?);
    }
    if let AgentCommand::SimulateAttack {
        dir,
        mode,
        generate,
        files,
        key,
        part,
        walk,
        unthrottled,
    } = cmd
    {
        let simulation = SimulateArgs {
            part,
            walk,
            unthrottled,
        };
        return simulate_attack(dir, mode, generate, files, key, simulation);
    }
    if let AgentCommand::RecordTrace {
        dirs,
        out,
        seconds,
        rewrite,
    } = cmd
    {
        crate::logging::init("info");
        return record_trace(&dirs, &out, seconds, rewrite);
    }
    crate::logging::init("info");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cmd {
            AgentCommand::Enroll {
                server,
                token,
                token_file,
                pin,
                allow_scripts,
                state,
            } => {
                let token = enroll_token(token, token_file.as_deref())?;
                let dir = state_dir(&state)?;
                crate::private::dir(&dir)?;
                let st = steward_agent::runner::enroll(&dir, &server, &token, pin).await?;
                if allow_scripts {
                    steward_agent::scripts::ScriptPolicy {
                        allow_scripts: true,
                    }
                    .save(&dir)?;
                    println!(
                        "This device runs scripts signed with the server's pinned key \
                         (allow_scripts = true in {}; set it to false there to stop).",
                        steward_agent::scripts::ScriptPolicy::path(&dir).display()
                    );
                }
                match (st.server_cert_pin, pin) {
                    (Some(got), Some(_)) => {
                        println!("The server's certificate matches the pin {got}.")
                    }
                    (Some(got), None) => println!(
                        "Pinned the server certificate {got}. Check it against the fingerprint \
                         `steward server` printed; from now on this agent talks only to a \
                         server with this certificate."
                    ),
                    (None, _) => {}
                }
                println!(
                    "Enrolled as device {} with {}. Start reporting with: steward agent run{}",
                    st.device_id,
                    st.server_url,
                    state
                        .state_dir
                        .as_ref()
                        .map(|d| format!(" --state-dir {}", d.display()))
                        .unwrap_or_default()
                );
                Ok(())
            }
            AgentCommand::Run {
                state,
                interval,
                posture,
                updates_every,
                no_detection,
                keep_idle_memory,
            } => {
                let dir = state_dir(&state)?;
                crate::private::dir(&dir)?;
                let mut config =
                    with_device_jobs(steward_agent::runner::AgentConfig::new(dir.clone()));
                if !no_detection {
                    with_detection(&mut config, &dir)?;
                }
                if let Some(updates) = config.updates.as_mut() {
                    updates.every =
                        std::time::Duration::from_secs(updates_every.saturating_mul(3600));
                }
                config.interval = interval.map(std::time::Duration::from_secs);
                let worker = posture_worker()?;
                config.posture =
                    (posture.posture_every > 0).then(|| steward_agent::posture::PostureConfig {
                        every: std::time::Duration::from_secs(
                            posture.posture_every.saturating_mul(3600),
                        ),
                        pack_dir: posture.posture_pack,
                        worker: Some(worker),
                    });
                register_backup_executors(&mut config)?;
                // The agent has this process to itself (unlike in `steward up`).
                config.release_idle_memory = !keep_idle_memory;
                steward_agent::runner::run(
                    config,
                    steward_agent::collect::platform_collector(),
                    crate::shutdown::signal(),
                )
                .await
            }
            AgentCommand::BackupWorker { .. }
            | AgentCommand::SimulateAttack { .. }
            | AgentCommand::RecordTrace { .. } => Ok(()),
            AgentCommand::Posture { json, posture_pack } => {
                let report = tokio::task::spawn_blocking(move || {
                    steward_agent::posture::evaluate_this_machine(posture_pack.as_deref())
                })
                .await
                .context("posture task")?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    for r in &report.results {
                        println!("{:<15} {:<40} {}", r.state.as_str(), r.check, r.reason);
                    }
                }
                Ok(())
            }
            AgentCommand::Inventory => {
                let mut collector = steward_agent::collect::platform_collector();
                let inventory = tokio::task::spawn_blocking(move || collector.inventory())
                    .await
                    .context("collector task")??;
                println!("{}", serde_json::to_string_pretty(&inventory)?);
                Ok(())
            }
        }
    })
}

/// `steward agent record-trace`: the sensor on `dirs` for `seconds` (or until Ctrl-C),
/// its events written to `out` as they come.
#[cfg(target_os = "linux")]
fn record_trace(
    dirs: &[PathBuf],
    out: &Path,
    seconds: u64,
    rewrite: Vec<(String, String)>,
) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use steward_agent::detection::recorder::{Rewrite, record};

    let mut folders = Vec::new();
    for dir in dirs {
        let folder = dir
            .canonicalize()
            .with_context(|| format!("{}: not a folder to watch", dir.display()))?;
        anyhow::ensure!(folder.is_dir(), "{}: not a folder", dir.display());
        folders.push(folder);
    }
    let rewrites: Vec<Rewrite> = rewrite
        .into_iter()
        .map(|(from, to)| Rewrite { from, to })
        .collect();
    let mut writer: Box<dyn std::io::Write + Send> = if out == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        let file = std::fs::File::create(out)
            .with_context(|| format!("creating the trace {}", out.display()))?;
        Box::new(std::io::BufWriter::new(file))
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let flag = interrupted.clone();
    let (recorded, mut writer) = runtime.block_on(async move {
        tokio::spawn(async move {
            crate::shutdown::signal().await;
            flag.store(true, Ordering::Relaxed);
        });
        tokio::task::spawn_blocking(move || {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
            let recorded = record(
                &folders,
                std::process::id(),
                &rewrites,
                &mut writer,
                || eprintln!("Recording for {seconds} s (Ctrl-C stops sooner)."),
                || interrupted.load(Ordering::Relaxed) || std::time::Instant::now() >= until,
                std::time::Duration::from_millis(200),
            );
            (recorded, writer)
        })
        .await
    })?;
    let recorded = recorded.context("recording the sensor's events")?;
    writer.flush()?;
    eprintln!(
        "Recorded {} events with {}{}.",
        recorded.events,
        recorded.sensor,
        if recorded.overflows > 0 {
            format!(
                "; the kernel's queue overflowed {} times, so events are missing",
                recorded.overflows
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn record_trace(_: &[PathBuf], _: &Path, _: u64, _: Vec<(String, String)>) -> anyhow::Result<()> {
    anyhow::bail!("recording the ransomware sensor's events runs on Linux only")
}

/// How `simulate-attack` runs (beyond its tree, mode and key).
struct SimulateArgs {
    part: Option<(usize, usize)>,
    walk: bool,
    unthrottled: bool,
}

/// `steward agent simulate-attack`: the drill's simulated attack, in this process (its
/// workers are this same command with `--part`).
#[cfg(unix)]
fn simulate_attack(
    dir: PathBuf,
    mode: steward_detect::simulate::Mode,
    generate: bool,
    files: usize,
    key: u64,
    args: SimulateArgs,
) -> anyhow::Result<()> {
    use steward_agent::drill::simulator;
    if generate {
        let made = simulator::generate(&dir, files, key)?;
        println!("made {made} files in {}", dir.display());
        return Ok(());
    }
    let binary = std::env::current_exe().context("finding this program to start workers")?;
    let program = vec![
        binary.into_os_string(),
        "agent".into(),
        "simulate-attack".into(),
    ];
    let simulation = simulator::Simulation {
        dir,
        mode,
        key,
        part: args.part,
        walk: args.walk,
        unthrottled: args.unthrottled,
    };
    let done = simulator::run(&simulation, &program)?;
    println!("{done} files attacked");
    Ok(())
}

#[cfg(not(unix))]
fn simulate_attack(
    _: PathBuf,
    _: steward_detect::simulate::Mode,
    _: bool,
    _: usize,
    _: u64,
    _: SimulateArgs,
) -> anyhow::Result<()> {
    anyhow::bail!("the ransomware drill runs on Linux and other Unix systems only")
}

/// Posture is evaluated in a worker: this same binary as `agent posture` (the runner adds
/// `--json` and the pack), so the agent's resident memory does not keep what it read.
pub(crate) fn posture_worker() -> anyhow::Result<Vec<std::ffi::OsString>> {
    let binary =
        std::env::current_exe().context("finding this program to start posture workers")?;
    Ok(vec![
        binary.into_os_string(),
        "agent".into(),
        "posture".into(),
    ])
}

/// What every agent this binary runs does besides collecting: lists and installs updates
/// with this machine's package manager, and runs signed scripts where the device's own
/// `agent.toml` allows them (the executor refuses otherwise, saying why).
pub(crate) fn with_device_jobs(
    config: steward_agent::runner::AgentConfig,
) -> steward_agent::runner::AgentConfig {
    let mut config = config.with_this_machines_updates();
    config
        .executors
        .register(steward_agent::scripts::RunScriptExecutor::new());
    config
}

/// Ransomware detection on this device (Linux): the engine's thread with the sensor,
/// canaries and responses, and the `ransomware_drill` job, whose attack runs as this same
/// binary's `agent simulate-attack`.
#[cfg(target_os = "linux")]
pub(crate) fn with_detection(
    config: &mut steward_agent::runner::AgentConfig,
    dir: &Path,
) -> anyhow::Result<()> {
    use std::sync::{Arc, Mutex};
    use steward_agent::detection::{DetectionFeed, SystemDevice};
    let state = steward_agent::state::AgentState::load(dir)?;
    let feed = Arc::new(DetectionFeed::open(dir));
    let device = SystemDevice {
        state_dir: dir.to_path_buf(),
        server_url: state.server_url,
    };
    let binary = std::env::current_exe().context("finding this program to run drills")?;
    let program = vec![
        binary.into_os_string(),
        "agent".into(),
        "simulate-attack".into(),
    ];
    config
        .executors
        .register(steward_agent::drill::executor::DrillExecutor::new(
            feed.clone(),
            program,
        ));
    config.detection = Some(steward_agent::runner::DetectionConfig {
        feed,
        device: Arc::new(Mutex::new(Some(Box::new(device)))),
    });
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn with_detection(
    _: &mut steward_agent::runner::AgentConfig,
    _: &Path,
) -> anyhow::Result<()> {
    Ok(())
}

/// `backup` and `restore` jobs run in a worker: this same binary as `agent backup-worker`.
fn register_backup_executors(
    config: &mut steward_agent::runner::AgentConfig,
) -> anyhow::Result<()> {
    use steward_agent::backup::WorkerExecutor;
    let binary = std::env::current_exe().context("finding this program to start backup workers")?;
    let command = vec![
        binary.into_os_string(),
        "agent".into(),
        "backup-worker".into(),
    ];
    config
        .executors
        .register(WorkerExecutor::backup(command.clone()))
        .register(WorkerExecutor::restore(command));
    Ok(())
}

/// The token from --token / STEWARD_ENROLL_TOKEN, or the first line of --token-file /
/// STEWARD_ENROLL_TOKEN_FILE (`-`: standard input), so that it need not appear on the
/// command line.
fn enroll_token(token: Option<String>, file: Option<&Path>) -> anyhow::Result<String> {
    let text = match (token, file) {
        (Some(token), _) => token,
        (None, Some(path)) if path == Path::new("-") => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the enrollment token from standard input")?;
            line
        }
        // The same rules as every secret read from a file (a world-readable one is refused).
        (None, Some(path)) => crate::secret_file::read(path, "the enrollment token")?,
        (None, None) => {
            anyhow::bail!("give the enrollment token with STEWARD_ENROLL_TOKEN or --token-file")
        }
    };
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.is_empty() {
        anyhow::bail!("the enrollment token is empty");
    }
    Ok(token)
}

fn state_dir(args: &AgentStateArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.state_dir {
        return Ok(dir.clone());
    }
    if is_root() {
        return Ok(PathBuf::from("/var/lib/steward/agent"));
    }
    let home = std::env::var_os("HOME")
        .context("cannot find a state directory: set --state-dir or HOME")?;
    Ok(PathBuf::from(home).join(".local/state/steward/agent"))
}

fn is_root() -> bool {
    // Reading our own uid without unsafe code: /proc/self/status has "Uid: real effective …".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
