//! Ransomware detection on this machine, through the agent's own engine (the fanotify or
//! inotify sensor, the detector, the response): files lost per attack mode before the alert
//! and before the attack was stopped, the time from a canary's overwrite to the detection,
//! and the engine's CPU during the benign suite's heavy work and at idle.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use steward_agent::detection::{DetectionFeed, SystemDevice, engine};
use steward_core::detection::{Detected, DetectionPolicy, FileOp};
use steward_detect::simulate::{self, Mode, benign::Workload};

use super::stats::own_and_children_cpu_time;

/// The engine on one folder, on a thread named `detection` (whose CPU is read from
/// `/proc/self/task`), stopped when dropped.
struct Engine {
    feed: Arc<DetectionFeed>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    tid: u32,
}

impl Engine {
    fn start(state: &Path, folder: &Path, canaries: bool) -> anyhow::Result<Engine> {
        std::fs::create_dir_all(state)?;
        let feed = Arc::new(DetectionFeed::open(state));
        feed.set_policy(DetectionPolicy {
            folders: vec![folder.to_string_lossy().into_owned()],
            canaries,
            auto_stop: true,
            auto_isolate: false,
        });
        let version = feed.version();
        let device = SystemDevice {
            state_dir: state.to_path_buf(),
            server_url: "http://127.0.0.1:9".into(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = {
            let (feed, stop) = (feed.clone(), stop.clone());
            std::thread::Builder::new()
                .name("detection".into())
                .spawn(move || {
                    let _ = tid_tx.send(rustix::thread::gettid().as_raw_nonzero().get() as u32);
                    engine::run(feed, Box::new(device), stop)
                })?
        };
        let tid = tid_rx.recv()?;
        let asked = Instant::now();
        while !feed.applied(version) {
            anyhow::ensure!(
                asked.elapsed() < Duration::from_secs(10),
                "the detection engine did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Engine {
            feed,
            stop,
            thread: Some(thread),
            tid,
        })
    }

    /// With `page_out`, what `steward agent run` does after a burst of work: the idle code
    /// paged out, then the engine's response rehearsed back in. The attack that follows
    /// finds the engine as a device's would be at any time.
    fn page_out_if(&self, page_out: Option<PageOut>) {
        if page_out.is_some() {
            let _ = steward_agent::residency::release_idle_memory();
        }
        if page_out == Some(PageOut::Rehearsed) {
            steward_agent::detection::rehearsal::rehearse(&self.feed);
        }
        if page_out.is_some() {
            // On a device the attack comes at any time after the release, not within the
            // second: by then the engine's loop (a read every 250 ms) has run again.
            std::thread::sleep(SETTLE);
        }
    }

    fn wait(&self, within: Duration, mut done: impl FnMut() -> bool) -> Option<Detected> {
        let start = Instant::now();
        loop {
            if let Some(d) = self.feed.take().into_iter().next() {
                return Some(d);
            }
            if start.elapsed() > within || done() {
                std::thread::sleep(Duration::from_millis(500));
                return self.feed.take().into_iter().next();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The engine thread's CPU time so far: from `schedstat` in nanoseconds where the kernel
    /// keeps it (a workload of 300 ms makes the engine work a few ms, below `stat`'s 10 ms
    /// ticks), else from `stat`.
    fn cpu(&self) -> Duration {
        let ns = std::fs::read_to_string(format!("/proc/self/task/{}/schedstat", self.tid))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
        if let Some(ns) = ns.filter(|ns| *ns > 0) {
            return Duration::from_nanos(ns);
        }
        Duration::from_millis((self.stat_field(11) + self.stat_field(12)) * 10)
    }

    /// The engine thread's major page faults so far: code or data read back from disk
    /// while it ran.
    fn major_faults(&self) -> u64 {
        self.stat_field(9)
    }

    /// Field `i` (0: the state) of the engine thread's `/proc` stat line, after its name.
    fn stat_field(&self, i: usize) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{}/stat", self.tid))
            .unwrap_or_default();
        stat.rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().nth(i)?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long after a page-out the attack starts.
const SETTLE: Duration = Duration::from_secs(1);

/// How the bench's idle code is paged out before each attack (`--page-out`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PageOut {
    /// Paged out, nothing rehearsed: the engine's response path is read back from disk
    /// during the attack.
    Bare,
    /// Paged out, then the engine's response rehearsed, as `steward agent run` does.
    Rehearsed,
}

/// One part of the live bench, to measure it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The attack modes at LockBit's pace and at full speed.
    Attacks,
    /// Walking attacks that reach a canary.
    Canaries,
    /// The benign suite's alerts and CPU, and the engine at idle.
    Benign,
}

pub fn run(
    steward: &super::server::Steward,
    rounds: u64,
    only: Option<Part>,
    page_out: Option<PageOut>,
) -> anyhow::Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("steward-detect-")
        .tempdir()?;
    let part = |p: Part| only.is_none_or(|o| o == p);
    if part(Part::Attacks) {
        attack_modes(steward, scratch.path(), rounds, false, page_out)?;
        attack_modes(steward, scratch.path(), rounds, true, page_out)?;
    }
    if part(Part::Canaries) {
        canaries(steward, scratch.path(), rounds, page_out)?;
    }
    if part(Part::Benign) {
        benign_cpu(scratch.path(), rounds)?;
    }
    Ok(())
}

pub(crate) fn attack(
    steward: &super::server::Steward,
    dir: &Path,
    mode: Mode,
    walk: bool,
    unthrottled: bool,
) -> std::io::Result<std::process::Child> {
    let mut command = std::process::Command::new(steward.path());
    command
        .args(["agent", "simulate-attack", "--mode", mode.as_str(), "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if walk {
        command.arg("--walk");
    }
    if unthrottled {
        command.arg("--unthrottled");
    }
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn()
}

pub(crate) fn end(mut child: std::process::Child) {
    if let Some(group) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.wait();
}

/// Files destroyed by the operations the detection names: lost before the alert.
fn lost_before_alert(detected: &Detected) -> usize {
    let mut names: Vec<String> = detected
        .files
        .iter()
        .filter(|f| matches!(f.op, FileOp::Write | FileOp::Delete))
        .filter(|f| !f.path.ends_with(".enc") && !f.path.ends_with(simulate::attack::NOTE))
        .map(|f| f.path.trim_end_matches(".locked").to_string())
        .collect();
    names.sort();
    names.dedup();
    names.len()
}

fn attack_modes(
    steward: &super::server::Steward,
    scratch: &Path,
    rounds: u64,
    unthrottled: bool,
    page_out: Option<PageOut>,
) -> anyhow::Result<()> {
    println!(
        "live attacks {}: 200 files per tree, {rounds} per mode, no canaries, the engine \
         stopping the attack{}; target: median ≤ 5 files lost, p95 ≤ 25",
        if unthrottled {
            "at this machine's full speed"
        } else {
            "at LockBit's pace (25,000 files a minute per process)"
        },
        match page_out {
            None => "",
            Some(PageOut::Bare) => ", idle code paged out before each attack",
            Some(PageOut::Rehearsed) => {
                ", idle code paged out and the response rehearsed before each attack"
            }
        }
    );
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8}",
        "mode", "alert p50", "alert p95", "stop p50", "stop p95", "detect ms", "faults"
    );
    let (mut all_alert, mut all_stop) = (Vec::new(), Vec::new());
    for mode in Mode::ALL {
        let (mut at_alert, mut at_stop, mut ms) = (Vec::new(), Vec::new(), Vec::new());
        // The engine thread's major page faults during each attack (`--page-out`: what it
        // read back from disk).
        let mut faults = Vec::new();
        let rounds = if mode == Mode::Slow {
            rounds.min(2)
        } else {
            rounds
        };
        for round in 0..rounds {
            let dir = scratch.join(format!("{}-{round}-{unthrottled}", mode.as_str()));
            let share = dir.join("share");
            let manifest = simulate::generate(&share, 200, 1000 + round)?;
            let engine = Engine::start(&dir.join("state"), &share, false)?;
            engine.page_out_if(page_out);
            let faults_before = engine.major_faults();
            let started = Instant::now();
            let mut child = attack(steward, &share, mode, false, unthrottled)?;
            let found = engine.wait(Duration::from_secs(60), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            let took = started.elapsed();
            faults.push((engine.major_faults() - faults_before) as usize);
            std::thread::sleep(Duration::from_millis(200));
            let lost = simulate::lost_files(&share, &manifest).len();
            end(child);
            drop(engine);
            let _ = std::fs::remove_dir_all(&dir);
            match found {
                Some(d) => {
                    at_alert.push(lost_before_alert(&d));
                    at_stop.push(lost);
                    ms.push(took.as_millis() as usize);
                }
                None => {
                    println!(
                        "{}: round {round} NOT DETECTED ({lost} files lost)",
                        mode.as_str()
                    );
                    at_alert.push(lost);
                    at_stop.push(lost);
                }
            }
        }
        for v in [&mut at_alert, &mut at_stop, &mut ms, &mut faults] {
            v.sort_unstable();
        }
        println!(
            "{:<20} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8}",
            mode.as_str(),
            pct(&at_alert, 50),
            pct(&at_alert, 95),
            pct(&at_stop, 50),
            pct(&at_stop, 95),
            pct(&ms, 50),
            pct(&faults, 50)
        );
        all_alert.extend(at_alert);
        all_stop.extend(at_stop);
    }
    all_alert.sort_unstable();
    all_stop.sort_unstable();
    println!(
        "{:<20} {:>12} {:>12} {:>12} {:>12}",
        "all modes",
        pct(&all_alert, 50),
        pct(&all_alert, 95),
        pct(&all_stop, 50),
        pct(&all_stop, 95)
    );
    Ok(())
}

fn canaries(
    steward: &super::server::Steward,
    scratch: &Path,
    rounds: u64,
    page_out: Option<PageOut>,
) -> anyhow::Result<()> {
    let mut latencies = Vec::new();
    let mut ready = Vec::new();
    let mut lost_real = Vec::new();
    for round in 0..rounds {
        let dir = scratch.join(format!("canary-{round}"));
        let share = dir.join("share");
        let manifest = simulate::generate(&share, 200, 2000 + round)?;
        let engine = Engine::start(&dir.join("state"), &share, true)?;
        engine.page_out_if(page_out);
        let mut child = attack(steward, &share, Mode::InPlace, true, false)?;
        let found = engine.wait(Duration::from_secs(30), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        let seen = SystemTime::now();
        std::thread::sleep(Duration::from_millis(200));
        let lost = simulate::lost_files(&share, &manifest).len();
        end(child);
        drop(engine);
        let Some(detected) = found else {
            println!("canary round {round}: NOT DETECTED");
            continue;
        };
        let canary = PathBuf::from(&detected.files[0].path);
        let written = std::fs::metadata(&canary)
            .or_else(|_| std::fs::metadata(format!("{}.locked", canary.display())))
            .and_then(|m| m.modified())?;
        let at_ms = |t: SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as i64
        };
        latencies.push((detected.detected_at.millis() - at_ms(written)).max(0) as usize);
        ready.push(seen.duration_since(written).unwrap_or_default().as_millis() as usize);
        lost_real.push(lost);
        let _ = std::fs::remove_dir_all(&dir);
    }
    latencies.sort_unstable();
    ready.sort_unstable();
    lost_real.sort_unstable();
    println!(
        "canary: overwrite → detection p50 {} ms, max {} ms (target 200 ms); → record ready \
         for the server (executable hashed) p50 {} ms, max {} ms; real files lost max {} over \
         {rounds} walking attacks",
        pct(&latencies, 50),
        latencies.last().copied().unwrap_or(0),
        pct(&ready, 50),
        ready.last().copied().unwrap_or(0),
        lost_real.last().copied().unwrap_or(0)
    );
    Ok(())
}

fn benign_cpu(scratch: &Path, rounds: u64) -> anyhow::Result<()> {
    let share = scratch.join("benign");
    let tools = scratch.join("benign-scratch");
    println!(
        "benign suite, {rounds} rounds: the engine's CPU during each workload, as a share of \
         the workload's own CPU (target ≤ 2 %), summed over the rounds; alerts (target 0)"
    );
    println!(
        "{:<16} {:>9} {:>12} {:>11} {:>9} {:>7}",
        "workload", "wall ms", "work CPU ms", "engine ms", "of work", "alerts"
    );
    let rounds = rounds.max(1);
    for round in 0..rounds {
        for w in Workload::ALL {
            let name = format!("{}-{round}", w.as_str());
            w.prepare(&share.join(&name), &tools.join(&name))?;
        }
    }
    let engine = Engine::start(&scratch.join("benign-state"), &share, true)?;
    let (mut work_total, mut engine_total) = (Duration::ZERO, Duration::ZERO);
    let mut rows = Vec::new();
    for w in Workload::ALL {
        rows.push((w, Duration::ZERO, Duration::ZERO, Duration::ZERO, 0usize));
    }
    for round in 0..rounds {
        for (w, wall_sum, work_sum, spent_sum, alerts_sum) in rows.iter_mut() {
            let name = format!("{}-{round}", w.as_str());
            let (_, kids0) = own_and_children_cpu_time().unwrap_or_default();
            let cpu0 = engine.cpu();
            let started = Instant::now();
            w.run(&share.join(&name), &tools.join(&name))?;
            // Let the engine drain what the workload made it read.
            std::thread::sleep(Duration::from_millis(300));
            *wall_sum += started.elapsed();
            let (_, kids1) = own_and_children_cpu_time().unwrap_or_default();
            *work_sum += kids1.saturating_sub(kids0);
            *spent_sum += engine.cpu().saturating_sub(cpu0);
            *alerts_sum += engine.feed.take().len();
        }
    }
    for (w, wall, work, spent, alerts) in rows {
        work_total += work;
        engine_total += spent;
        // A share of almost no work (a copy of a few files) says nothing.
        let share = if work >= Duration::from_millis(100) {
            format!("{:.1}%", spent.as_secs_f64() * 100.0 / work.as_secs_f64())
        } else {
            "-".into()
        };
        println!(
            "{:<16} {:>9} {:>12} {:>11} {:>9} {:>7}",
            w.as_str(),
            wall.as_millis(),
            work.as_millis(),
            spent.as_millis(),
            share,
            alerts
        );
    }
    println!(
        "{:<16} {:>9} {:>12} {:>11} {:>8.1}%",
        "all",
        "",
        work_total.as_millis(),
        engine_total.as_millis(),
        engine_total.as_secs_f64() * 100.0 / work_total.as_secs_f64().max(0.001)
    );
    let idle_for = Duration::from_secs(20);
    let cpu0 = engine.cpu();
    std::thread::sleep(idle_for);
    let idle = engine.cpu().saturating_sub(cpu0);
    println!(
        "idle: the engine used {} ms of CPU in {} s ({:.3} % of one core; the filesystem \
         mark hears of every write elsewhere on the filesystem too)",
        idle.as_millis(),
        idle_for.as_secs(),
        idle.as_secs_f64() * 100.0 / idle_for.as_secs_f64()
    );
    Ok(())
}

fn pct(sorted: &[usize], p: usize) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}
