//! Jobs at fleet scale: a real `steward server` with many simulated agents, each waiting
//! for work on the agent protocol's long poll (`GET /agent/v1/jobs/next`) as a real agent
//! does; a library script is run on all of them with one API call, and the bench measures
//! how long until every agent holds its signed job, and the server's CPU and memory during
//! the fan-out.
//!
//! The agents connect from four loopback addresses (all of 127.0.0.0/8 is this machine),
//! as separate machines would: the server limits connections per address.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use steward_core::Role;
use tokio::sync::Semaphore;

use super::stats::{cpu_time, ms, percentile, rss_kib};

#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// Simulated agents, all connected and waiting.
    #[arg(long, default_value_t = 1000)]
    agents: u32,
}

const SOURCES: [Ipv4Addr; 4] = [
    Ipv4Addr::new(127, 0, 0, 1),
    Ipv4Addr::new(127, 0, 0, 2),
    Ipv4Addr::new(127, 0, 0, 3),
    Ipv4Addr::new(127, 0, 0, 4),
];

pub async fn run(steward: &super::server::Steward, args: FanoutArgs) -> anyhow::Result<()> {
    let dir = super::ingest::tempfile_dir()?;
    let url_db = steward_store::sqlite_url(&dir);
    let store = steward_store::Store::connect(&url_db).await?;
    let now = steward_server::clock::Clock::now(&steward_server::SystemClock);
    let token = steward_server::admin::create_enroll_token(
        &store,
        args.agents,
        now.plus_millis(3_600_000),
        now,
    )
    .await?;
    let api =
        steward_server::admin::create_api_token(&store, "bench", Role::Admin, None, None, now)
            .await?;
    store.close().await;
    let (mut server, url) = steward.spawn(&dir, None).await?;
    let pid = server.id().context("server pid")?;

    let clients: Vec<reqwest::Client> = SOURCES
        .iter()
        .map(|from| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(*from))
                .pool_max_idle_per_host(args.agents as usize)
                .timeout(Duration::from_secs(120))
                .build()
        })
        .collect::<Result<_, _>>()?;

    // Enroll, and say what each agent runs (scripts allowed on every one).
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(32));
    let mut enrolling = tokio::task::JoinSet::new();
    for i in 0..args.agents {
        let http = clients[i as usize % SOURCES.len()].clone();
        let (url, token, limit) = (url.clone(), token.clone(), limit.clone());
        enrolling.spawn(async move {
            let _slot = limit.acquire().await?;
            let enrolled: serde_json::Value = http
                .post(format!("{url}/agent/v1/enroll"))
                .json(&serde_json::json!({"token": token, "hostname": format!("sim-{i:05}")}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let credential = enrolled["credential"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            http.post(format!("{url}/agent/v1/reports"))
                .bearer_auth(&credential)
                .json(&serde_json::json!({"reports": [], "capabilities": {
                    "job_kinds": ["run_script"], "report_sections": [], "scripts_allowed": true}}))
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok((i, credential))
        });
    }
    let mut agents = Vec::new();
    while let Some(done) = enrolling.join_next().await {
        agents.push(done??);
    }
    println!(
        "fan-out bench: SQLite, {} simulated agents enrolled in {}",
        args.agents,
        ms(started.elapsed())
    );

    // Every agent waits on the long poll; each notes when its job arrived.
    let mut waiting = tokio::task::JoinSet::new();
    for (i, credential) in agents {
        let http = clients[i as usize % SOURCES.len()].clone();
        let url = url.clone();
        waiting.spawn(async move {
            loop {
                let resp = http
                    .get(format!("{url}/agent/v1/jobs/next?wait=25"))
                    .bearer_auth(&credential)
                    .send()
                    .await?;
                if resp.status() == reqwest::StatusCode::OK {
                    let job: serde_json::Value = resp.json().await?;
                    let arrived = Instant::now();
                    anyhow::ensure!(
                        job["params"]["signature"].is_string(),
                        "a job without a signed order"
                    );
                    return anyhow::Ok(arrived);
                }
                resp.error_for_status()?;
            }
        });
    }
    // Let every long poll reach the server before the run is sent.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let admin = &clients[0];
    let script: serde_json::Value = admin
        .post(format!("{url}/api/v1/scripts"))
        .bearer_auth(&api)
        .json(
            &serde_json::json!({"name": "bench", "platform": "linux", "interpreter": "sh",
            "content": "uptime\n"}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let (rss_before, _) = rss_kib(pid).unwrap_or_default();
    let cpu_before = cpu_time(pid).context("the server's CPU time")?;
    let sent_at = Instant::now();
    let batch: serde_json::Value = admin
        .post(format!(
            "{url}/api/v1/scripts/{}/runs",
            script["id"].as_str().unwrap_or_default()
        ))
        .bearer_auth(&api)
        .json(&serde_json::json!({"target": "all"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let answered = sent_at.elapsed();
    let mut arrivals = Vec::new();
    while let Some(done) = waiting.join_next().await {
        arrivals.push(done??.saturating_duration_since(sent_at));
    }
    let cpu = cpu_time(pid)
        .context("the server's CPU time")?
        .saturating_sub(cpu_before);
    let (rss_after, peak) = rss_kib(pid).unwrap_or_default();
    arrivals.sort();
    let all = arrivals.last().copied().unwrap_or_default();
    println!(
        "one run on `all`: {} jobs, the API answered in {}",
        batch["progress"]["total"],
        ms(answered)
    );
    println!(
        "every agent held its job after {} (p50 {}, p95 {}); target 2 s",
        ms(all),
        ms(percentile(&arrivals, 50.0)),
        ms(percentile(&arrivals, 95.0))
    );
    println!(
        "server during the fan-out: {} of CPU; RSS {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB",
        ms(cpu)
    );
    server.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
