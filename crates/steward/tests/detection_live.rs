//! Detection on a live machine: the real sensor (fanotify as root, inotify otherwise), the
//! detector and the response in the agent's engine, against the simulator's attacks run as
//! processes of their own (`steward agent simulate-attack`) and the benign suite done by the
//! real tools. Everything happens in temp dirs; the engine watches only them.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use steward_agent::detection::{DetectionFeed, SystemDevice, engine};
use steward_core::detection::{Detected, DetectionPolicy, FileOp, ResponseAction};
use steward_detect::simulate::{self, Mode, benign::Workload};

/// The agent's detection engine on one folder, stopped when dropped.
struct Engine {
    feed: Arc<DetectionFeed>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    fn start(state: &Path, folder: &Path, canaries: bool) -> Engine {
        std::fs::create_dir_all(state).unwrap();
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
        let thread = {
            let (feed, stop) = (feed.clone(), stop.clone());
            std::thread::spawn(move || engine::run(feed, Box::new(device), stop))
        };
        let asked = Instant::now();
        while !feed.applied(version) {
            assert!(
                asked.elapsed() < Duration::from_secs(10),
                "the engine did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Engine {
            feed,
            stop,
            thread: Some(thread),
        }
    }

    /// The first detection within `within`, or `None`, polling every millisecond.
    fn wait(
        &self,
        within: Duration,
        mut done: impl FnMut() -> bool,
    ) -> Option<(Instant, Detected)> {
        let start = Instant::now();
        loop {
            if let Some(d) = self.feed.take().into_iter().next() {
                return Some((Instant::now(), d));
            }
            if start.elapsed() > within || done() {
                // One more look: the last events may still be on their way.
                std::thread::sleep(Duration::from_millis(500));
                return self
                    .feed
                    .take()
                    .into_iter()
                    .next()
                    .map(|d| (Instant::now(), d));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
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

fn attack(dir: &Path, mode: Mode, walk: bool) -> Child {
    let mut command = Command::new(common::BIN);
    command
        .args(["agent", "simulate-attack", "--mode", mode.as_str(), "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if walk {
        command.arg("--walk");
    }
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    command.spawn().unwrap()
}

/// Ends the attack for good (the engine only froze it), workers included.
fn end(mut child: Child) {
    let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    let _ = child.wait();
}

/// Files of the tree whose content was destroyed by the operations a detection names (the
/// files lost before the alert): written or deleted, each counted once by its original name.
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

fn workspace(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::Builder::new().prefix(name).tempdir().unwrap();
    let share = dir.path().join("share");
    let state = dir.path().join("state");
    (dir, share, state)
}

#[test]
fn every_attack_mode_is_stopped_within_a_few_files() {
    let mut rows = Vec::new();
    let mut lost = Vec::new();
    for (i, mode) in Mode::ALL.into_iter().enumerate() {
        let (_dir, share, state) = workspace("steward-attack-");
        let manifest = simulate::generate(&share, 200, 500 + i as u64).unwrap();
        let engine = Engine::start(&state, &share, false);
        let started = Instant::now();
        let mut child = attack(&share, mode, false);
        let found = engine.wait(Duration::from_secs(60), || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        let (at, detected) = found.unwrap_or_else(|| panic!("{} was not detected", mode.as_str()));
        let stopped = detected
            .responses
            .iter()
            .any(|r| r.action == ResponseAction::Stop && r.ok);
        // Give a frozen attack a moment: nothing more may change while it is stopped.
        std::thread::sleep(Duration::from_millis(200));
        let at_stop = simulate::lost_files(&share, &manifest).len();
        end(child);
        let at_alert = lost_before_alert(&detected);
        rows.push(format!(
            "{:<20} detected after {:>5} ms, {at_alert:>3} lost before the alert, {at_stop:>3} before the stop ({})",
            mode.as_str(),
            at.duration_since(started).as_millis(),
            detected.summary
        ));
        assert!(
            stopped,
            "{}: not stopped: {:?}",
            mode.as_str(),
            detected.responses
        );
        assert!(at_stop <= 25, "{}: {at_stop} files lost", mode.as_str());
        lost.push(at_stop);
    }
    println!("{}", rows.join("\n"));
    lost.sort_unstable();
    let median = lost[lost.len() / 2];
    assert!(
        median <= 5,
        "median files lost {median}: {lost:?}\n{}",
        rows.join("\n")
    );
}

#[test]
fn a_canary_stops_a_walking_attack_within_200_ms_before_any_real_file() {
    let (_dir, share, state) = workspace("steward-canary-");
    let manifest = simulate::generate(&share, 200, 77).unwrap();
    let engine = Engine::start(&state, &share, true);
    let canaries = std::fs::read_dir(&share)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('!')
        })
        .count();
    assert!(canaries > 0, "canaries were placed in the protected folder");
    let mut child = attack(&share, Mode::InPlace, true);
    let (_, detected) = engine
        .wait(Duration::from_secs(30), || {
            matches!(child.try_wait(), Ok(Some(_)))
        })
        .expect("the canary was touched and nothing was detected");
    let seen = std::time::SystemTime::now();
    std::thread::sleep(Duration::from_millis(200));
    let lost = simulate::lost_files(&share, &manifest).len();
    end(child);
    // From the canary's overwrite (its modification time, set by the kernel at the write)
    // to the detection in the agent.
    let canary = &detected.files[0].path;
    let written = std::fs::metadata(canary)
        .or_else(|_| std::fs::metadata(format!("{canary}.locked")))
        .unwrap()
        .modified()
        .unwrap();
    let took = seen.duration_since(written).unwrap_or_default();
    let ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
    };
    let verdict_ms = detected.detected_at.millis() - ms(written);
    println!(
        "canary: detected {verdict_ms} ms after {canary} was overwritten (stopped after {} \
         ms; the record, its executable hashed, ready after {} ms), {lost} real files lost",
        detected.responses[0].at.millis() - ms(written),
        took.as_millis(),
    );
    assert_eq!(detected.signals[0].name, "canary", "{:?}", detected.signals);
    // The verdict and the stop: what the target is about. The record then waits for its
    // executable's hash (this test's attacker is the whole debug binary, 150 MB).
    assert!((0..200).contains(&verdict_ms), "{verdict_ms} ms");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Frozen within milliseconds of its first write: a few files at most (the target is
    // the time; the files lost are the measure of it).
    assert!(lost <= 5, "{lost} real files lost");
}

#[test]
fn the_benign_suite_raises_no_alert_and_an_attack_after_it_does() {
    let (dir, share, state) = workspace("steward-benign-");
    std::fs::create_dir_all(&share).unwrap();
    let scratch = dir.path().join("scratch");
    for w in Workload::ALL {
        w.prepare(&share.join(w.as_str()), &scratch.join(w.as_str()))
            .unwrap();
    }
    let engine = Engine::start(&state, &share, true);
    for w in Workload::ALL {
        let started = Instant::now();
        w.run(&share.join(w.as_str()), &scratch.join(w.as_str()))
            .unwrap_or_else(|e| panic!("{}: {e}", w.as_str()));
        println!("{:<16} {:>6} ms", w.as_str(), started.elapsed().as_millis());
        let alerts = engine.feed.take();
        assert!(
            alerts.is_empty(),
            "{} raised {:?}",
            w.as_str(),
            alerts.iter().map(|d| &d.summary).collect::<Vec<_>>()
        );
    }
    // The sensor was watching all along: an attack in the same folder is caught.
    let target = share.join("attacked");
    simulate::generate(&target, 100, 9).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(engine.feed.take().is_empty(), "making the tree is benign");
    let mut child = attack(&target, Mode::InPlace, false);
    let found = engine.wait(Duration::from_secs(30), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    end(child);
    assert!(
        found.is_some(),
        "the attack after the benign suite was not detected"
    );
}
