//! The `steward` binary: command-line parsing and wiring only. Each subcommand lives in its
//! own module and calls into the library crates; no domain logic here.

mod admin;
mod agent;
mod cli;
mod config;
mod declared;
mod keyfile;
mod logging;
mod private;
mod report;
mod secret_file;
mod server;
mod shutdown;
mod tls;
mod up;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // The ring provider serves every TLS connection (database, agent to server).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        cli::Command::Agent(cmd) => agent::main(cmd),
        other => multi_threaded(other),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn multi_threaded(command: cli::Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            cli::Command::Up(args) => up::run(args).await,
            cli::Command::Server(args) => server::run(args).await,
            cli::Command::Admin(cmd) => admin::run(cmd).await,
            cli::Command::Report(args) => report::run(args).await,
            cli::Command::Agent(_) => Ok(()),
        }
    })
}
