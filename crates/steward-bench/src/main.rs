//! `steward-bench …`: the performance figures in docs/PERFORMANCE.md, measured against real
//! servers and agents (never timed tests). Each prints a short table; run them on a quiet
//! machine and compare ratios within one run.
//!
//! A binary of its own, not a subcommand of `steward`, so that the shipped binary carries no
//! benchmark code. Benches that need a server or an agent in another process run the
//! `steward` binary built beside this one (or the one `--steward` names).

mod agent;
mod alert_latency;
mod backup;
mod console;
mod dataset;
mod detect;
mod detect_live;
mod detect_record;
mod fanout;
mod history;
mod ingest;
mod login;
mod monitors;
mod peers;
mod posture;
mod server;
mod stats;
mod stress;
mod updates;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "steward-bench",
    version,
    about = "Measure Steward's performance (see docs/PERFORMANCE.md)"
)]
struct Cli {
    /// The `steward` binary to run servers and agents with [default: `steward` in this
    /// program's directory, e.g. target/release/steward].
    #[arg(long, global = true, env = "STEWARD_BIN", value_name = "FILE")]
    steward: Option<PathBuf>,
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Simulated agents checking in concurrently against a real server.
    Ingest(ingest::IngestArgs),
    /// The agent's own cost: inventory collection time, memory.
    Agent(agent::AgentArgs),
    /// Console device list rendering with many devices, and job delivery latency.
    Console(console::ConsoleArgs),
    /// Metrics history: database bytes per device per day, roll-ups for a year, and the
    /// device page's charts over a month of history.
    History(history::HistoryArgs),
    /// A sign-in's password check with production Argon2id parameters.
    Login(login::LoginArgs),
    /// A well-behaved fleet and the console while a hostile agent and an anonymous client
    /// attack, against the same fleet alone.
    Stress(stress::StressArgs),
    /// Thousands of network monitors on one server: check lateness, server CPU and memory.
    Monitors(monitors::MonitorsArgs),
    /// Time from a monitored target going down to the webhook receiving the alert.
    AlertLatency(alert_latency::AlertLatencyArgs),
    /// Steward's backup through the server against restic on the same generated data set:
    /// a first and an incremental backup's time, repository size and reader's peak memory.
    Backup(backup::BackupArgs),
    /// Posture: a full evaluation's CPU on this machine, and the report for a large fleet.
    Posture(posture::PostureArgs),
    /// A job sent to a group of many connected simulated agents: time until all hold it,
    /// the server's CPU and memory meanwhile.
    Fanout(fanout::FanoutArgs),
    /// Listing pending updates with this machine's package manager: CPU and memory.
    Updates(updates::UpdatesArgs),
    /// Ransomware detection: files lost per attack mode, the detector's cost per event.
    Detect(detect::DetectArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The ring provider serves every TLS connection, as in the `steward` binary.
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_logging();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Only the benches that run other processes need the `steward` binary.
    let steward = || server::Steward::find(cli.steward.clone());
    match cli.command {
        BenchCommand::Ingest(args) => ingest::run(&steward()?, args).await,
        BenchCommand::Agent(args) => agent::run(&steward()?, args).await,
        BenchCommand::Console(args) => console::run(args).await,
        BenchCommand::History(args) => history::run(args).await,
        BenchCommand::Login(args) => login::run(args).await,
        BenchCommand::Stress(args) => stress::run(&steward()?, args).await,
        BenchCommand::Monitors(args) => monitors::run(&steward()?, args).await,
        BenchCommand::AlertLatency(args) => alert_latency::run(&steward()?, args).await,
        BenchCommand::Backup(args) => backup::run(&steward()?, args).await,
        BenchCommand::Posture(args) => posture::run(args).await,
        BenchCommand::Fanout(args) => fanout::run(&steward()?, args).await,
        BenchCommand::Updates(args) => updates::run(args).await,
        BenchCommand::Detect(args) => detect::run(steward().ok(), args).await,
    }
}

/// Warnings only (STEWARD_LOG or RUST_LOG to change): the benches print their own tables,
/// and the in-process server of `console` should not drown them.
fn init_logging() {
    let filter = std::env::var("STEWARD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "warn".to_string());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

/// An administrator for a bench to sign in as: a known password (cheaply hashed: sign-in
/// cost is `bench login`'s subject, not these), already chosen by its owner, so the console
/// opens at once rather than asking for a new one.
pub async fn bench_admin(store: &steward_store::Store) -> anyhow::Result<(String, String)> {
    let password = "bench password of some length".to_string();
    let hashing = steward_server::secrets::PasswordHashing::TestOnlyCheap;
    let user = steward_store::NewUser {
        id: steward_server::secrets::new_id(),
        username: "bench".into(),
        password_hash: hashing.hash(&password)?,
        role: "admin".into(),
        must_change_password: false,
    };
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    store.create_user(&user, now).await?;
    Ok((user.username, password))
}
