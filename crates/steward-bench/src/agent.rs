//! The agent's own cost: how long a full inventory takes, and — over a run of real
//! `steward agent run` processes against a real server — with the posture checks, the
//! updates listing and detection off, with posture on, with the listing on, with detection
//! on — their memory and CPU use.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use super::stats::{cpu_time, ms, percentile, rss_kib, rss_split_kib};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Full inventory collections to time.
    #[arg(long, default_value_t = 20)]
    collections: u32,
    /// How long to watch a running agent, in seconds (0: skip).
    #[arg(long, default_value_t = 120)]
    watch_secs: u64,
    /// The agent's check-in interval during the watch.
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// Start-up left out of the watch: the first inventory and posture evaluation.
    #[arg(long, default_value_t = 30)]
    settle_secs: u64,
}

pub async fn run(steward: &super::server::Steward, args: AgentArgs) -> anyhow::Result<()> {
    let mut collector = steward_agent::collect::platform_collector();
    let mut times = Vec::new();
    let mut packages = 0;
    for _ in 0..args.collections {
        let t = Instant::now();
        let inv = collector.inventory()?;
        times.push(t.elapsed());
        packages = inv.packages.len();
    }
    times.sort();
    println!(
        "agent bench: full inventory ({packages} packages), {} collections",
        args.collections
    );
    println!("  min          {}", ms(percentile(&times, 0.0)));
    println!("  p50          {}", ms(percentile(&times, 50.0)));
    println!("  max          {}", ms(percentile(&times, 100.0)));
    if args.watch_secs == 0 {
        return Ok(());
    }

    let dir = super::ingest::tempfile_dir()?;
    let (mut server, url) = steward.spawn(&dir.join("server"), None).await?;
    let store =
        steward_store::Store::connect(&steward_store::sqlite_url(&dir.join("server"))).await?;
    // Detection watches a folder of the bench's own (a generated tree of documents, with
    // canaries): the policy for every device, and the one the agent starts with before the
    // server's first answer, so nothing outside the bench's folder is watched or touched.
    let protected = dir.join("protected");
    steward_detect::simulate::generate(&protected, 500, 3)?;
    let policy = serde_json::to_string(&steward_core::detection::DetectionPolicy {
        folders: vec![protected.to_string_lossy().into_owned()],
        canaries: true,
        auto_stop: true,
        auto_isolate: false,
    })?;
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    store
        .set_detection_policy("all", &policy, now, "steward-bench")
        .await?;
    // Agents side by side, in the same run: one with the posture checks, the updates
    // listing and detection off, one with posture on, one with the listing on (each done at
    // start, as every agent does, then every 6 h), one with detection on, so their figures
    // compare under the same load.
    let mut agents = Vec::new();
    // And one with all off that keeps what start-up left resident, to show what handing it
    // back saves.
    for (name, posture_every, updates_every, detection) in [
        ("all off, start-up kept", "0", "0", false),
        ("all off", "0", "0", false),
        ("posture on", "6", "0", false),
        ("updates on", "0", "6", false),
        ("detection on", "0", "0", true),
    ] {
        let state_dir = dir.join(name.replace(',', "").replace(' ', "-"));
        enroll(steward, &store, &url, &state_dir).await?;
        std::fs::write(
            state_dir.join(steward_agent::detection::feed::POLICY_FILE),
            &policy,
        )?;
        // Each agent from a binary of its own, as on a device where it is the only process
        // running it (see `copy_into`).
        let child = steward
            .copy_into(&state_dir)?
            .command()
            .args([
                "agent",
                "run",
                "--interval",
                &args.interval.to_string(),
                "--posture-every",
                posture_every,
                "--updates-every",
                updates_every,
                "--state-dir",
            ])
            .arg(&state_dir)
            .args((!detection).then_some("--no-detection"))
            .args(name.contains("kept").then_some("--keep-idle-memory"))
            .env("STEWARD_LOG", "warn")
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().context("agent pid")?;
        agents.push(Watched {
            name,
            child,
            pid,
            cpu0: Duration::ZERO,
            rss_max: 0,
        });
    }
    // Skip start-up (the first full inventory and, with posture on, the first evaluation),
    // then measure the steady state.
    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    for a in &mut agents {
        a.cpu0 = cpu_time(a.pid).unwrap_or_default();
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(args.watch_secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for a in &mut agents {
            a.rss_max = a.rss_max.max(rss_kib(a.pid).map_or(0, |r| r.0));
        }
    }
    let wall = t0.elapsed();
    println!(
        "agent processes over {} s at a {} s interval, after {} s of start-up",
        wall.as_secs(),
        args.interval,
        args.settle_secs
    );
    for a in &mut agents {
        let cpu = cpu_time(a.pid).unwrap_or_default().saturating_sub(a.cpu0);
        let (rss, peak) = rss_kib(a.pid).unwrap_or_default();
        println!("  {}:", a.name);
        println!(
            "    CPU        {:.3} % of one core ({} ms)",
            cpu.as_secs_f64() * 100.0 / wall.as_secs_f64(),
            cpu.as_millis()
        );
        println!(
            "    RSS        {:.1} MiB now, {:.1} MiB max steady, {:.1} MiB peak incl. start",
            rss as f64 / 1024.0,
            a.rss_max as f64 / 1024.0,
            peak as f64 / 1024.0
        );
        if let Some((anon, file)) = rss_split_kib(a.pid) {
            println!(
                "               {:.1} MiB anonymous (the agent's own), {:.1} MiB file-backed \
                 (the binary's pages and libraries, shared and reclaimable)",
                anon as f64 / 1024.0,
                file as f64 / 1024.0
            );
        }
        let _ = a.child.kill().await;
    }
    let _ = server.kill().await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A running agent and what was measured of it.
struct Watched {
    name: &'static str,
    child: tokio::process::Child,
    pid: u32,
    cpu0: Duration,
    rss_max: u64,
}

/// Enrolls an agent with its own state directory.
async fn enroll(
    steward: &super::server::Steward,
    store: &steward_store::Store,
    url: &str,
    state_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    let token =
        steward_server::admin::create_enroll_token(store, 1, now.plus_millis(600_000), now).await?;
    let status = steward
        .command()
        .args([
            "agent",
            "enroll",
            "--server",
            url,
            "--token",
            &token,
            "--state-dir",
        ])
        .arg(state_dir)
        .stdout(Stdio::null())
        .status()
        .await?;
    anyhow::ensure!(status.success(), "agent enroll failed");
    Ok(())
}
