//! `steward bench …`: the performance figures in docs/PERFORMANCE.md, measured against real
//! servers and agents (never timed tests). Each prints a short table; run them on a quiet
//! machine and compare ratios within one run.

mod agent;
mod console;
mod ingest;
mod login;
mod server;
mod stats;

pub use agent::AgentArgs;
pub use console::ConsoleArgs;
pub use ingest::IngestArgs;
pub use login::LoginArgs;

use crate::cli::BenchCommand;

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    crate::logging::init("warn");
    match cmd {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Agent(args) => agent::run(args).await,
        BenchCommand::Console(args) => console::run(args).await,
        BenchCommand::Login(args) => login::run(args).await,
    }
}
