//! A sign-in's cost with production Argon2id parameters (m = 19 MiB, t = 2, p = 1): what
//! each password check takes, and so what guessing costs an attacker who has the hashes.

use std::time::Instant;

use clap::Args;
use steward_server::secrets::{PasswordHashing, verify_password};

use super::stats::{ms, percentile};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Password verifications to time.
    #[arg(long, default_value_t = 20)]
    rounds: u32,
}

pub async fn run(args: LoginArgs) -> anyhow::Result<()> {
    let hash = PasswordHashing::Production.hash("correct horse battery staple")?;
    let mut times = Vec::new();
    for _ in 0..args.rounds.max(1) {
        let hash = hash.clone();
        let t = Instant::now();
        let ok = tokio::task::spawn_blocking(move || {
            verify_password("correct horse battery staple", &hash)
        })
        .await?;
        times.push(t.elapsed());
        anyhow::ensure!(ok, "the password did not verify");
    }
    times.sort();
    println!(
        "login bench: Argon2id {}, {} verifications",
        hash.split('$').nth(3).unwrap_or("?"),
        times.len()
    );
    println!("  p50          {}", ms(percentile(&times, 50.0)));
    println!("  max          {}", ms(percentile(&times, 100.0)));
    Ok(())
}
