//! `steward bench …`: the performance figures in docs/PERFORMANCE.md, measured against real
//! servers and agents (never timed tests). Each prints a short table; run them on a quiet
//! machine and compare ratios within one run.

mod agent;
mod console;
mod ingest;
mod login;
mod server;
mod stats;
mod stress;

pub use agent::AgentArgs;
pub use console::ConsoleArgs;
pub use ingest::IngestArgs;
pub use login::LoginArgs;
pub use stress::StressArgs;

use crate::cli::BenchCommand;

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    crate::logging::init("warn");
    match cmd {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Agent(args) => agent::run(args).await,
        BenchCommand::Console(args) => console::run(args).await,
        BenchCommand::Login(args) => login::run(args).await,
        BenchCommand::Stress(args) => stress::run(args).await,
    }
}

/// An administrator for a bench to sign in as: a known password (cheaply hashed: sign-in
/// cost is `bench login`'s subject, not these), already chosen by its owner, so the console
/// opens at once rather than asking for a new one.
pub(crate) async fn bench_admin(store: &steward_store::Store) -> anyhow::Result<(String, String)> {
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
