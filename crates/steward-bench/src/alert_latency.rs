//! Issue 10 (d): how long from a target going down to the webhook receiving the alert.
//!
//! One `steward server` with one HTTP check (the configuration file's `[[checks]]`, short
//! interval, retries) and one webhook channel, both peers in this process. Each trial waits
//! a varying part of an interval (so the stop falls at different points of the check's
//! schedule), stops the target — its port closes at once; it closes every connection after
//! answering, so no pooled connection outlives it — and times the first `problem` to reach
//! the receiver; then it starts the target again and waits for the recovery.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use crate::peers;
use crate::server::Steward;
use crate::stats;

#[derive(Debug, Args)]
pub struct AlertLatencyArgs {
    /// Target going down, alert arriving: this many times.
    #[arg(long, default_value_t = 20)]
    trials: u32,
    /// The check's interval, in seconds.
    #[arg(long, default_value_t = 1)]
    interval: u64,
    /// Failed runs before a problem is confirmed.
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// Run the server on this database (a fresh PostgreSQL database) instead of SQLite in a
    /// temporary directory.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub async fn run(steward: &Steward, args: AlertLatencyArgs) -> anyhow::Result<()> {
    if args.trials == 0 || args.interval == 0 {
        bail!("--trials and --interval must be at least 1");
    }
    let interval = Duration::from_secs(args.interval);
    let bound = interval * (args.retries + 1) + Duration::from_secs(5);
    let (target, mut up) = peers::closing_http("127.0.0.1:0".parse()?).await?;
    let (hook, mut received) = peers::webhook_receiver().await?;
    let dir = crate::ingest::tempfile_dir()?;
    let config = dir.join("alert.toml");
    std::fs::write(
        &config,
        format!(
            "[[checks]]\nname = \"bench-target\"\nkind = \"http\"\nurl = \"http://{target}/\"\n\
             interval = \"{}s\"\ntimeout = \"2s\"\nretries = {}\n\n\
             [[notifications]]\nname = \"bench-hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n",
            args.interval, args.retries
        ),
    )?;
    let (_server, base) = steward
        .spawn_with(&dir.join("data"), args.database.as_deref(), Some(&config))
        .await?;
    let http = reqwest::Client::new();
    // Up and checked at least once before the first trial.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = peers::scrape(&http, &base).await
            && s.get("steward_checks_run_total{kind=\"http\",status=\"ok\"}")
                .is_some_and(|n| *n >= 1.0)
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the check did not run within a minute");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} trials: interval {} s, retries {} (bound {:.0} s)",
        args.trials,
        args.interval,
        args.retries,
        bound.as_secs_f64()
    );
    let mut took = Vec::with_capacity(args.trials as usize);
    for trial in 0..args.trials {
        // A different point of the check's schedule each time (golden-ratio steps).
        let phase = (f64::from(trial) * 0.618_034).fract();
        tokio::time::sleep(interval.mul_f64(phase)).await;
        up.abort();
        let _ = up.await;
        let stopped = Instant::now();
        let alert = wait_for(&mut received, "problem", bound * 3)
            .await
            .with_context(|| format!("trial {trial}: no alert"))?;
        took.push(alert - stopped);
        up = peers::closing_http(target).await?.1;
        wait_for(&mut received, "recovery", bound * 3)
            .await
            .with_context(|| format!("trial {trial}: no recovery"))?;
    }
    took.sort();
    let within = took.iter().filter(|t| **t <= bound).count();
    println!();
    println!("| measure | figure | bound |");
    println!("|---|---|---|");
    println!(
        "| target down → webhook, p50 of {} | {} | {:.0} s |",
        took.len(),
        stats::ms(stats::percentile(&took, 50.0)),
        bound.as_secs_f64()
    );
    println!(
        "| target down → webhook, max | {} | {:.0} s |",
        stats::ms(took.last().copied().unwrap_or_default()),
        bound.as_secs_f64()
    );
    println!(
        "| trials within the bound | {within} of {} | all |",
        took.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// When the next notification of `event` arrived (others are passed over).
async fn wait_for(
    received: &mut tokio::sync::mpsc::UnboundedReceiver<(Instant, serde_json::Value)>,
    event: &str,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, received.recv()).await {
            // A message carries one or more alerts (grouped per channel).
            Ok(Some((at, body)))
                if body["alerts"]
                    .as_array()
                    .is_some_and(|alerts| alerts.iter().any(|a| a["event"] == event)) =>
            {
                return Ok(at);
            }
            Ok(Some(_)) => {}
            Ok(None) => bail!("the webhook receiver stopped"),
            Err(_) => bail!("no {event} within {limit:?}"),
        }
    }
}
