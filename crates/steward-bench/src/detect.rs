//! Ransomware detection. Replay: every attack mode of the simulator, seen through the
//! synthetic sensor, and the files lost before the detector's verdict; the detector's own
//! cost per event over a long benign stream, and its memory. (Live figures, through the
//! real sensor, come from `steward-bench detect --live`.)

use std::time::{Duration, Instant};

use clap::Args;
use steward_detect::simulate::{self, Mode, Options, Synthetic};
use steward_detect::{Config, Detector, Event, FileEvent, Op, ProcessInfo, Sample};

use super::stats::rss_kib;

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Files in each attacked tree.
    #[arg(long, default_value_t = 200)]
    files: usize,
    /// Trees attacked per mode (each with its own seed).
    #[arg(long, default_value_t = 5)]
    rounds: u64,
    /// Benign events fed to measure the detector's cost.
    #[arg(long, default_value_t = 500_000)]
    events: usize,
    /// Also on this machine, through the agent's engine and sensor (fanotify as root):
    /// attacks by `steward agent simulate-attack`, canaries, the benign suite's CPU.
    #[arg(long)]
    live: bool,
    /// With `--live`: only this part (the replay and the detector's cost are skipped too).
    #[arg(long, value_enum, requires = "live")]
    only: Option<super::detect_live::Part>,
    /// With `--live`: before each attack, page out the bench's idle code, as `steward agent
    /// run` does after each burst of work; `rehearsed` then rehearses the engine's response
    /// as the agent does, `bare` does not (what the rehearsal is for).
    #[arg(long, value_enum, requires = "live")]
    page_out: Option<super::detect_live::PageOut>,
    /// Instead of measuring: record what the real sensor sees of each attack mode (not
    /// stopped) and each benign workload, as traces in this folder (the detector's test
    /// fixtures: `crates/steward-detect/tests/recorded/`).
    #[arg(long, value_name = "DIR")]
    record: Option<std::path::PathBuf>,
}

pub async fn run(steward: Option<super::server::Steward>, args: DetectArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = &args.record {
            let steward =
                steward.ok_or_else(|| anyhow::anyhow!("recording needs the steward binary"))?;
            return super::detect_record::run(&steward, dir, 100);
        }
        if args.only.is_none() {
            replay_modes(&args)?;
            detector_cost(args.events);
        }
        if args.live {
            let steward = steward
                .ok_or_else(|| anyhow::anyhow!("the live bench needs the steward binary"))?;
            super::detect_live::run(&steward, args.rounds, args.only, args.page_out)?;
        }
        Ok(())
    })
    .await?
}

fn replay_modes(args: &DetectArgs) -> anyhow::Result<()> {
    println!(
        "replay: {} files per tree, {} trees per mode, no canaries (content signals only); \
         target: median ≤ 5 files lost, p95 ≤ 25",
        args.files, args.rounds
    );
    println!(
        "{:<20} {:>8} {:>8} {:>8}  signals",
        "mode", "median", "p95", "max"
    );
    let mut all = Vec::new();
    for mode in Mode::ALL {
        let mut lost = Vec::new();
        let mut signals = String::new();
        for round in 0..args.rounds {
            let dir = tempfile::tempdir()?;
            let root = dir.path().join("share");
            simulate::generate(&root, args.files, 100 + round)?;
            let events = attack_events(&root, mode)?;
            let mut detector = Detector::new(Config::default());
            let (verdict, n) = replay(&mut detector, &events, &root.to_string_lossy());
            match verdict {
                Some(names) => signals = names,
                None => signals = "NOT DETECTED".into(),
            }
            lost.push(n);
        }
        lost.sort_unstable();
        println!(
            "{:<20} {:>8} {:>8} {:>8}  {signals}",
            mode.as_str(),
            percentile(&lost, 50),
            percentile(&lost, 95),
            lost.last().copied().unwrap_or(0)
        );
        all.extend(lost);
    }
    all.sort_unstable();
    println!(
        "{:<20} {:>8} {:>8} {:>8}",
        "all modes",
        percentile(&all, 50),
        percentile(&all, 95),
        all.last().copied().unwrap_or(0)
    );
    Ok(())
}

fn attack_events(root: &std::path::Path, mode: Mode) -> anyhow::Result<Vec<Event>> {
    let step = if mode == Mode::Slow { 1000 } else { 2 };
    let workers = mode.workers();
    let mut all = Vec::new();
    for w in 0..workers {
        let info = ProcessInfo {
            pid: 5000 + w as u32 + u32::from(workers > 1),
            ppid: if workers > 1 { 5000 } else { 900 },
            name: "attack".into(),
            exe: "/usr/bin/attack".into(),
            uid: 1000,
            ancestors: if workers > 1 {
                vec!["attack".into(), "bash".into()]
            } else {
                vec!["bash".into()]
            },
        };
        let mut sensor = Synthetic::new(info).stepping(0, step);
        let options = Options {
            key: 9,
            part: (w, workers),
            pace: Duration::ZERO,
            walk: false,
        };
        simulate::attack(root, mode, options, &mut sensor)?;
        all.extend(sensor.events);
    }
    all.sort_by_key(|e| match e {
        Event::Process(_) => 0,
        Event::File(f) => f.at_ms,
    });
    Ok(all)
}

/// Feeds events until a verdict: its signals' names, and the files destroyed by then.
fn replay(detector: &mut Detector, events: &[Event], root: &str) -> (Option<String>, usize) {
    let mut destroyed = std::collections::HashSet::new();
    for event in events {
        if let Event::File(f) = event
            && f.path.starts_with(root)
            && matches!(f.op, Op::Write | Op::Delete)
            && !f.path.ends_with(".enc")
            && !f.path.ends_with(simulate::attack::NOTE)
        {
            destroyed.insert(f.path.trim_end_matches(".locked").to_string());
        }
        if let Some(v) = detector.feed(event) {
            let names: Vec<&str> = v.signals.iter().map(|s| s.name).collect();
            return (Some(names.join(",")), destroyed.len());
        }
    }
    (None, destroyed.len())
}

/// The detector's CPU per event and memory over a long benign stream: 64 processes
/// saving text and office files whose content keeps its promise.
fn detector_cost(events: usize) {
    let text = Sample {
        size: 40_000,
        head: b"Quarterly figure".to_vec(),
        entropy: vec![4.6, 4.7, 4.5, 4.6],
    };
    let docx = Sample {
        size: 60_000,
        head: b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        entropy: vec![7.6, 7.98, 7.97, 7.9],
    };
    let mut stream = Vec::with_capacity(events + 64);
    for pid in 0..64u32 {
        stream.push(Event::Process(ProcessInfo {
            pid: 10_000 + pid,
            ppid: 1,
            name: "worker".into(),
            exe: "/usr/bin/worker".into(),
            uid: 1000,
            ancestors: vec!["systemd".into()],
        }));
    }
    for i in 0..events {
        let pid = 10_000 + (i % 64) as u32;
        let (path, sample) = if i % 3 == 0 {
            (
                format!("/srv/share/d{}/f{}.docx", i % 97, i % 5000),
                docx.clone(),
            )
        } else {
            (
                format!("/srv/share/d{}/f{}.txt", i % 89, i % 7000),
                text.clone(),
            )
        };
        // Saved the way editors save: a temporary file written, renamed over the real one;
        // now and then a temporary file deleted.
        let (op, path, to) = match i % 10 {
            0 => (Op::Delete, format!("{path}.tmp"), None),
            1 => (Op::Create, format!("{path}.tmp"), None),
            2 => (Op::Rename, format!("{path}.tmp"), Some(path)),
            _ => (Op::Write, path, None),
        };
        stream.push(Event::File(FileEvent {
            at_ms: i as u64 / 20,
            pid,
            op,
            path,
            sample: matches!(op, Op::Write | Op::Rename).then_some(sample),
            to,
        }));
    }
    let pid = std::process::id();
    let (rss_before, _) = rss_kib(pid).unwrap_or_default();
    let mut detector = Detector::new(Config::default());
    let started = Instant::now();
    let mut verdicts = 0;
    let mut first = None;
    for event in &stream {
        if let Some(v) = detector.feed(event) {
            verdicts += 1;
            first.get_or_insert(v.summary);
        }
    }
    let took = started.elapsed();
    let (rss_after, _) = rss_kib(pid).unwrap_or_default();
    println!(
        "detector: {} benign events in {:.0} ms: {:.2} µs per event ({:.0} events/s), {verdicts} \
         verdicts (target 0); bench RSS {rss_before} → {rss_after} KiB with the events held",
        stream.len(),
        took.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1e6 / stream.len() as f64,
        stream.len() as f64 / took.as_secs_f64()
    );
    if let Some(first) = first {
        println!("  the first false alarm: {first}");
    }
    drop(stream);
}

fn percentile(sorted: &[usize], p: usize) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}
