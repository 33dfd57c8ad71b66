//! Issue 10 (a): thousands of network monitors on one `steward server` — how late each
//! check starts (from the server's own `/metrics`), the server's CPU and memory.
//!
//! Half the checks are HTTP against a local keep-alive HTTP server, half TCP against a
//! local port, both served by this process; all are declared in a config file the server
//! starts with. After a warm-up of one interval (the first runs, spread over the interval),
//! the bench reads `/metrics` and the server's /proc entries, waits `--seconds`, and reads
//! them again: lateness quantiles come from the difference of the two histograms.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use crate::peers;
use crate::server::Steward;
use crate::stats;

#[derive(Debug, Args)]
pub struct MonitorsArgs {
    /// Network monitors in all (half HTTP, half TCP).
    #[arg(long, default_value_t = 10_000)]
    checks: u32,
    /// Seconds between runs of each check.
    #[arg(long, default_value_t = 30)]
    interval: u64,
    /// Seconds measured after the warm-up.
    #[arg(long, default_value_t = 120)]
    seconds: u64,
    /// Run the server on this database (a fresh PostgreSQL database) instead of SQLite in a
    /// temporary directory.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub async fn run(steward: &Steward, args: MonitorsArgs) -> anyhow::Result<()> {
    if args.checks < 2 || args.interval == 0 || args.seconds == 0 {
        bail!("--checks must be at least 2, --interval and --seconds at least 1");
    }
    let (http_addr, _http) = peers::keep_alive_http("127.0.0.1:0".parse()?).await?;
    let (tcp_addr, _tcp) = peers::tcp_port().await?;
    let dir = crate::ingest::tempfile_dir()?;
    let config = dir.join("monitors.toml");
    std::fs::write(
        &config,
        declare(args.checks, args.interval, http_addr, tcp_addr),
    )?;
    println!(
        "{} checks ({} HTTP, {} TCP) every {} s; starting the server…",
        args.checks,
        args.checks / 2,
        args.checks - args.checks / 2,
        args.interval
    );
    let started = Instant::now();
    let (server, base) = steward
        .spawn_with(&dir.join("data"), args.database.as_deref(), Some(&config))
        .await?;
    let pid = server.id().context("server pid")?;
    let http = reqwest::Client::new();
    // The checks are stored before the server serves: wait until it answers.
    let deadline = Instant::now() + Duration::from_secs(600);
    while peers::scrape(&http, &base).await.is_err() {
        if Instant::now() > deadline {
            bail!("the server did not serve /metrics within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "serving after {:.1} s (declared checks stored)",
        started.elapsed().as_secs_f64()
    );
    // Warm-up: every check has run once (first runs are spread over one interval).
    tokio::time::sleep(Duration::from_secs(args.interval + 5)).await;

    let before = peers::scrape(&http, &base).await?;
    let cpu_before = stats::cpu_time(pid).context("reading the server's CPU time")?;
    let wall = Instant::now();
    let mut peak_due = 0.0_f64;
    let end = wall + Duration::from_secs(args.seconds);
    while Instant::now() < end {
        tokio::time::sleep(
            Duration::from_secs(5).min(end.saturating_duration_since(Instant::now())),
        )
        .await;
        if let Ok(now) = peers::scrape(&http, &base).await {
            peak_due = peak_due.max(now.get("steward_checks_overdue").copied().unwrap_or(0.0));
        }
    }
    let after = peers::scrape(&http, &base).await?;
    let cpu = stats::cpu_time(pid).context("reading the server's CPU time")? - cpu_before;
    let elapsed = wall.elapsed();
    let (rss, peak) = stats::rss_kib(pid).context("reading the server's memory")?;

    let lateness = "steward_check_lateness_seconds";
    let (b, a) = (
        peers::buckets(&before, lateness),
        peers::buckets(&after, lateness),
    );
    let runs = |s: &std::collections::BTreeMap<String, f64>, status: &str| -> f64 {
        s.iter()
            .filter(|(k, _)| {
                k.starts_with("steward_checks_run_total{")
                    && k.contains(&format!("status=\"{status}\""))
            })
            .map(|(_, v)| v)
            .sum()
    };
    let ok = runs(&after, "ok") - runs(&before, "ok");
    let failed: f64 = ["warning", "critical", "unknown"]
        .iter()
        .map(|s| runs(&after, s) - runs(&before, s))
        .sum();
    let expected = f64::from(args.checks) * elapsed.as_secs_f64() / args.interval as f64;
    let fmt_q = |q: f64| match peers::quantile(&b, &a, q) {
        Some((estimate, bound)) => format!("{:.0} ms (≤ {} ms)", estimate * 1000.0, bound * 1000.0),
        None => "—".into(),
    };
    println!();
    println!("| measure | figure | target |");
    println!("|---|---|---|");
    println!(
        "| check runs in {:.0} s | {:.0} ok, {:.0} failed (expected {:.0}) | every check once per interval |",
        elapsed.as_secs_f64(),
        ok,
        failed,
        expected
    );
    println!("| lateness p50 | {} | — |", fmt_q(0.50));
    println!("| lateness p99 | {} | ≤ 1 s |", fmt_q(0.99));
    println!("| lateness max | {} | — |", fmt_q(1.0));
    println!("| checks overdue > 1 s (peak of 5 s samples) | {peak_due:.0} | 0 |");
    println!(
        "| server CPU | {:.1} % of one core ({:.1} s in {:.0} s) | — |",
        100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64(),
        cpu.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "| server memory | {} MiB RSS ({} MiB peak) | — |",
        rss / 1024,
        peak / 1024
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The config file: `checks` monitors, half HTTP (a path each) and half TCP.
fn declare(
    checks: u32,
    interval: u64,
    http: std::net::SocketAddr,
    tcp: std::net::SocketAddr,
) -> String {
    let mut text = String::with_capacity(checks as usize * 120);
    for i in 0..checks {
        if i % 2 == 0 {
            let _ = write!(
                text,
                "[[checks]]\nname = \"http-{i}\"\nkind = \"http\"\nurl = \"http://{http}/c/{i}\"\n"
            );
        } else {
            let _ = write!(
                text,
                "[[checks]]\nname = \"tcp-{i}\"\nkind = \"tcp\"\nhost = \"{}\"\nport = {}\n",
                tcp.ip(),
                tcp.port()
            );
        }
        let _ = writeln!(text, "interval = \"{interval}s\"\ntimeout = \"5s\"\n");
    }
    text
}
