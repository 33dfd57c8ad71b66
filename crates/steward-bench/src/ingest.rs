//! Ingest: simulated agents checking in concurrently against a real `steward server`
//! process. A check-in is what an agent sends every interval: one report with its metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use steward_core::Timestamp;
use steward_proto::agent::{Report, ReportBatch};

use super::stats::{cpu_time, ms, percentile, rss_kib};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 2000)]
    devices: u32,
    /// Check-ins in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: u32,
    /// Measured duration in seconds (after a 3 s warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Database for the server: empty for SQLite in a temporary directory, or postgres://….
    #[arg(long, default_value = "")]
    database: String,
    /// Send the one-filesystem sample of the benches before metrics history (CPU, memory,
    /// load, `/`) instead of a typical machine's twelve series.
    #[arg(long)]
    minimal_sample: bool,
}

pub async fn run(steward: &super::server::Steward, args: IngestArgs) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let database = Some(args.database.as_str()).filter(|d| !d.is_empty());
    // Each simulated device checks in far more often than a real one (the bench measures
    // throughput, not one device's pace), so the per-device rate limit is lifted here.
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        "report_rate_burst = 1000000\nreport_rate_per_minute = 1000000\n",
    )?;
    let (mut server, url) = steward.spawn_with(&dir, database, Some(&config)).await?;
    let pid = server.id().context("server pid")?;

    // Enroll the simulated fleet through the real endpoint.
    let store = steward_store::Store::connect(&database_url(&args.database, &dir)).await?;
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    let token = steward_server::admin::create_enroll_token(
        &store,
        args.devices,
        now.plus_millis(3_600_000),
        now,
    )
    .await?;
    store.close().await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency as usize)
        .build()?;
    let mut creds = Vec::new();
    for i in 0..args.devices {
        let resp: serde_json::Value = http
            .post(format!("{url}/agent/v1/enroll"))
            .json(&serde_json::json!({"token": token, "hostname": format!("sim-{i:06}")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        creds.push(resp["credential"].as_str().unwrap_or_default().to_string());
    }
    let creds = Arc::new(creds);
    let seqs: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.devices).map(|_| AtomicU64::new(0)).collect());
    let next_device = Arc::new(AtomicU64::new(0));
    let warmup = Duration::from_secs(3);
    let start = Instant::now();
    let end = start + warmup + Duration::from_secs(args.seconds);
    let minimal = args.minimal_sample;
    // The server's CPU time over the measured period: a cost per check-in that the other
    // processes on a shared machine disturb far less than throughput.
    let cpu_from = tokio::spawn(async move {
        tokio::time::sleep_until((start + warmup).into()).await;
        cpu_time(pid)
    });
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, url, creds, seqs, next_device) = (
            http.clone(),
            url.clone(),
            creds.clone(),
            seqs.clone(),
            next_device.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let d = (next_device.fetch_add(1, Ordering::Relaxed) % creds.len() as u64) as usize;
                let seq = seqs[d].fetch_add(1, Ordering::Relaxed) + 1;
                let batch = ReportBatch {
                    reports: vec![if minimal {
                        minimal_check_in(seq)
                    } else {
                        check_in(seq)
                    }],
                    capabilities: None,
                };
                let t = Instant::now();
                let ok = http
                    .post(format!("{url}/agent/v1/reports"))
                    .bearer_auth(&creds[d])
                    .json(&batch)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if t >= start + warmup {
                    if ok {
                        samples.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
            (samples, errors)
        }));
    }
    let mut samples = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (s, e) = w.await?;
        samples.extend(s);
        errors += e;
    }
    samples.sort();
    let cpu = cpu_time(pid)
        .zip(cpu_from.await?)
        .map(|(end, from)| end.saturating_sub(from));
    let (rss, peak) = rss_kib(pid).unwrap_or_default();
    let backend = if args.database.is_empty() {
        "sqlite"
    } else {
        "postgres"
    };
    println!(
        "ingest bench: {backend}, {} devices, {} in flight, {} s",
        args.devices, args.concurrency, args.seconds
    );
    println!(
        "  check-ins/s  {:.0}",
        samples.len() as f64 / args.seconds as f64
    );
    println!("  p50          {}", ms(percentile(&samples, 50.0)));
    println!("  p99          {}", ms(percentile(&samples, 99.0)));
    println!("  errors       {errors}");
    if let Some(cpu) = cpu {
        println!(
            "  server CPU   {:.0} µs per check-in",
            cpu.as_secs_f64() * 1e6 / samples.len().max(1) as f64
        );
    }
    println!(
        "  server RSS   {} MiB (peak {} MiB)",
        rss / 1024,
        peak / 1024
    );
    let _ = server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A check-in of a typical machine (the history bench's: twelve series with varying
/// values), so the server stores what it stores for a real fleet. A server from before
/// metrics history reads the same report and ignores the fields it does not know.
/// The check-in the ingest bench sent before metrics history.
fn minimal_check_in(seq: u64) -> Report {
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    Report {
        observations: None,
        posture: None,
        updates: None,
        seq,
        collected_at: now,
        metrics: Some(steward_core::Metrics {
            cpu_percent: 4.2,
            memory_used_bytes: 5 << 30,
            memory_total_bytes: 16 << 30,
            load_1m: 0.3,
            uptime_secs: seq * 60,
            filesystems: vec![steward_core::FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 256 << 30,
                used_bytes: 120 << 30,
            }],
            ..Default::default()
        }),
        inventory: None,
        summarised: 0,
        detections: Vec::new(),
        stopping: false,
    }
}

pub(super) fn check_in(seq: u64) -> Report {
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    let mut dice = super::history::Dice::new(seq);
    Report {
        observations: None,
        posture: None,
        updates: None,
        seq,
        collected_at: now,
        metrics: Some(super::history::typical_metrics(&mut dice, now)),
        inventory: None,
        summarised: 0,
        detections: Vec::new(),
        stopping: false,
    }
}

fn database_url(database: &str, dir: &std::path::Path) -> String {
    if database.is_empty() {
        steward_store::sqlite_url(dir)
    } else {
        database.to_string()
    }
}

pub fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "steward-bench-{}-{}",
        std::process::id(),
        Timestamp::default().0
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
