//! Listing pending updates as the agent does every 6 hours: the package manager of this
//! machine (apt's simulation, or dnf), the CPU of the agent's own work and of the commands
//! it runs, wall time, and the bench process's memory before and after (a listing must
//! leave nothing behind).

use std::time::Instant;

use clap::Args;

use super::stats::{ms, own_and_children_cpu_time, rss_kib};

#[derive(Debug, Args)]
pub struct UpdatesArgs {
    /// Listings to run.
    #[arg(long, default_value_t = 5)]
    listings: u32,
}

pub async fn run(args: UpdatesArgs) -> anyhow::Result<()> {
    let Some(manager) = steward_agent::updates::this_machine() else {
        anyhow::bail!("no package manager Steward knows on this machine (apt or dnf)");
    };
    tokio::task::spawn_blocking(move || {
        let feed = steward_agent::updates::UpdatesFeed::new(manager);
        println!("updates listing on this machine; target: at most 1 s of CPU, no lasting memory");
        println!(
            "{:>4} {:>10} {:>12} {:>14} {:>8} {:>9}",
            "run", "wall", "agent CPU", "commands CPU", "pending", "security"
        );
        let pid = std::process::id();
        let (rss_before, _) = rss_kib(pid).unwrap_or_default();
        for run in 1..=args.listings {
            let (own0, kids0) = own_and_children_cpu_time().unwrap_or_default();
            let started = Instant::now();
            let report = feed.list();
            let wall = started.elapsed();
            let (own1, kids1) = own_and_children_cpu_time().unwrap_or_default();
            if let Some(e) = &report.error {
                anyhow::bail!("listing failed: {e}");
            }
            println!(
                "{run:>4} {:>10} {:>12} {:>14} {:>8} {:>9}",
                ms(wall),
                ms(own1.saturating_sub(own0)),
                ms(kids1.saturating_sub(kids0)),
                report.pending.len(),
                report.pending.iter().filter(|u| u.security).count()
            );
            drop(feed.take());
        }
        let (rss_after, peak) = rss_kib(pid).unwrap_or_default();
        println!(
            "bench process RSS: {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB"
        );
        Ok(())
    })
    .await?
}
