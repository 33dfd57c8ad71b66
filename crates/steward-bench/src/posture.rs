//! Posture: what a full evaluation of the built-in checks costs on this machine (the CPU of
//! the agent's own work and of the commands it runs, wall time, memory), and how long the
//! report takes to build and render for a large fleet (synthetic results for every check on
//! every device, a third of them failing).

use std::time::{Duration, Instant};

use clap::Args;
use steward_core::Timestamp;
use steward_core::posture::PostureState;
use steward_server::posture::report::{
    self, Answered, CheckMeta, Device, Framework, Inputs, Stored,
};

use super::stats::{ms, own_and_children_cpu_time, rss_kib};

#[derive(Debug, Args)]
pub struct PostureArgs {
    /// Full evaluations of the built-in checks on this machine.
    #[arg(long, default_value_t = 3)]
    evaluations: u32,
    /// Devices in the synthetic fleet the report is built for.
    #[arg(long, default_value_t = 1000)]
    devices: u32,
    /// Report builds to time (each format once per build).
    #[arg(long, default_value_t = 3)]
    builds: u32,
}

pub async fn run(args: PostureArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || {
        evaluation(&args);
        fleet_report(&args)
    })
    .await?
}

fn evaluation(args: &PostureArgs) {
    println!("posture evaluation of the built-in pack on this machine (SystemHost)");
    println!(
        "{:>4} {:>10} {:>12} {:>14} {:>8}",
        "run", "wall", "agent CPU", "commands CPU", "checks"
    );
    let pid = std::process::id();
    let (rss_before, _) = rss_kib(pid).unwrap_or_default();
    for run in 1..=args.evaluations {
        let (own0, kids0) = own_and_children_cpu_time().unwrap_or_default();
        let started = Instant::now();
        let report = steward_agent::posture::evaluate_this_machine(None);
        let wall = started.elapsed();
        let (own1, kids1) = own_and_children_cpu_time().unwrap_or_default();
        println!(
            "{run:>4} {:>10} {:>12} {:>14} {:>8}",
            ms(wall),
            ms(own1.saturating_sub(own0)),
            ms(kids1.saturating_sub(kids0)),
            report.results.len()
        );
    }
    let (rss_after, peak) = rss_kib(pid).unwrap_or_default();
    println!("bench process RSS: {rss_before} KiB before, {rss_after} KiB after, peak {peak} KiB");
}

fn fleet_report(args: &PostureArgs) -> anyhow::Result<()> {
    let checks: Vec<CheckMeta> = steward_server::posture::catalog::checks().to_vec();
    let devices: Vec<Device> = (0..args.devices)
        .map(|i| Device {
            id: format!("device-{i:05}"),
            name: format!("pc-{i:05}"),
            groups: vec![format!("site-{}", i % 7)],
            tags: Vec::new(),
        })
        .collect();
    let states = [
        PostureState::Pass,
        PostureState::Fail,
        PostureState::Pass,
        PostureState::NotApplicable,
        PostureState::Pass,
        PostureState::Fail,
        PostureState::Unknown,
    ];
    let mut results = Vec::with_capacity(devices.len() * checks.len());
    for (d, device) in devices.iter().enumerate() {
        for (c, check) in checks.iter().enumerate() {
            results.push(Stored {
                device_id: device.id.clone(),
                check_id: check.id.clone(),
                state: states[(d + c) % states.len()],
                evidence: format!("{} seen on {}: value {}", check.id, device.name, d + c),
                reason: "as read from the running system".into(),
                since: Timestamp(1_700_000_000_000),
                evaluated_at: Timestamp(1_700_000_000_000),
            });
        }
    }
    let answers: Vec<Answered> = Vec::new();
    let inputs = Inputs {
        checks: &checks,
        manual: steward_posture::manual::items(),
        devices: &devices,
        results: &results,
        answers: &answers,
        exceptions: &[],
        now: Timestamp(1_700_000_100_000),
    };
    println!(
        "\nreport for {} devices × {} checks ({} results)",
        devices.len(),
        checks.len(),
        results.len()
    );
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "build", "framework", "build", "json", "csv", "html", "pdf"
    );
    for run in 1..=args.builds {
        for framework in Framework::ALL {
            let t = Instant::now();
            let built = report::build(&inputs, framework);
            let build = t.elapsed();
            let (json, json_len) = timed(|| serde_json::to_vec(&built).map(|v| v.len()))?;
            let (csv, _) = timed(|| Ok::<_, anyhow::Error>(report::csv::render(&built).len()))?;
            let (html, _) = timed(|| report::html::render(&built).map(|s| s.len()))?;
            let (pdf, pdf_len) = timed(|| report::pdf::render(&built).map(|b| b.len()))?;
            println!(
                "{run:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}   ({} KiB JSON, {} KiB PDF)",
                framework.id(),
                ms(build),
                ms(json),
                ms(csv),
                ms(html),
                ms(pdf),
                json_len / 1024,
                pdf_len / 1024
            );
        }
    }
    Ok(())
}

fn timed<T, E: Into<anyhow::Error>>(
    f: impl FnOnce() -> Result<T, E>,
) -> anyhow::Result<(Duration, T)> {
    let t = Instant::now();
    let out = f().map_err(Into::into)?;
    Ok((t.elapsed(), out))
}
