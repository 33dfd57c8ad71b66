//! Recordings of the real sensor (fanotify as root, made with `steward-bench detect
//! --record`, gzipped in `tests/recorded/`), replayed without privileges: every attack mode
//! of the simulator is caught within five files, and no workload of the benign suite draws
//! a verdict. Unlike the synthetic sensor's traces, these have what the real sensor does:
//! its order of events, renames sampled after the file moved on, processes gone before
//! they were read, events of the whole filesystem filtered by folder. (Recorded with the
//! single-queue sensor of 2026-11-30; the delete-before-copy order of the older two-queue
//! sensor is kept in `benign_patterns.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::io::BufReader;
use std::path::PathBuf;

use steward_detect::{Config, Detector, Event, Op, Verdict, simulate, trace};

fn recordings(prefix: &str) -> Vec<(String, Vec<Event>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recorded");
    let mut found: Vec<(String, Vec<Event>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jsonl.gz"))
        })
        .map(|p| {
            let file = std::fs::File::open(&p).unwrap();
            let events =
                trace::read_events(BufReader::new(flate2::read::GzDecoder::new(file))).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, events)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Feeds the events (and the clock they carry) until a verdict; with how many of the
/// tree's files had been destroyed by then (written over or deleted, by original name).
fn replay(events: &[Event]) -> (Option<Verdict>, usize) {
    let mut detector = Detector::new(Config::default());
    let mut destroyed = HashSet::new();
    for event in events {
        if let Event::File(f) = event {
            let destroys = matches!(f.op, Op::Write | Op::Delete);
            if destroys && !f.path.ends_with(".enc") && !f.path.ends_with(simulate::attack::NOTE) {
                destroyed.insert(f.path.trim_end_matches(".locked").to_string());
            }
        }
        if let Some(v) = detector.feed(event) {
            return (Some(v), destroyed.len());
        }
        if let Event::File(f) = event
            && let Some(v) = detector.tick(f.at_ms).into_iter().next()
        {
            return (Some(v), destroyed.len());
        }
    }
    let end = events
        .iter()
        .filter_map(|e| match e {
            Event::File(f) => Some(f.at_ms),
            Event::Process(_) => None,
        })
        .max()
        .unwrap_or(0);
    let late = detector.tick(end + 10_000).into_iter().next();
    (late, destroyed.len())
}

#[test]
fn every_recorded_attack_is_caught_within_five_files() {
    let attacks = recordings("attack-");
    assert!(
        attacks.len() >= 7,
        "the recordings are there: {}",
        attacks.len()
    );
    for (name, events) in &attacks {
        assert!(events.len() > 100, "{name}: {} events", events.len());
        let (verdict, lost) = replay(events);
        let verdict = verdict.unwrap_or_else(|| panic!("{name} was not detected"));
        println!("{name}: {lost} lost; {}", verdict.summary);
        assert!(lost <= 5, "{name}: {lost} files lost: {}", verdict.summary);
        assert!(
            verdict
                .files
                .iter()
                .all(|f| f.path.starts_with("/srv/share/")),
            "{name}: the recording's paths are rewritten"
        );
    }
}

#[test]
fn no_recorded_benign_workload_draws_a_verdict() {
    let benign = recordings("benign-");
    assert!(
        benign.len() >= 9,
        "the recordings are there: {}",
        benign.len()
    );
    for (name, events) in &benign {
        let files = events
            .iter()
            .filter(|e| matches!(e, Event::File(_)))
            .count();
        assert!(files > 0, "{name}: no file event recorded");
        let (verdict, _) = replay(events);
        assert!(
            verdict.is_none(),
            "{name}: {}",
            verdict.map(|v| v.summary).unwrap_or_default()
        );
    }
}

/// The agent's engine lets events gather between reads while the detector is not
/// concerned, and reads at once while it is: every attack must make it concerned within
/// its first few files, and the heavy benign work (git, packages, compression, log
/// rotation) must leave it calm for most of its events, or the gathering saves nothing.
#[test]
fn attacks_concern_the_detector_at_once_and_benign_work_mostly_does_not() {
    for (name, events) in &recordings("attack-") {
        let mut detector = Detector::new(Config::default());
        let mut destroyed = HashSet::new();
        let concerned_after = events.iter().find_map(|event| {
            if let Event::File(f) = event {
                destroyed.insert(f.path.trim_end_matches(".locked").to_string());
            }
            detector.feed(event);
            match event {
                Event::File(f) if detector.concerned(f.at_ms) => Some(destroyed.len()),
                _ => None,
            }
        });
        let files = concerned_after.unwrap_or_else(|| panic!("{name}: never concerned"));
        assert!(files <= 2, "{name}: concerned only after {files} files");
    }
    for (name, events) in &recordings("benign-") {
        let mut detector = Detector::new(Config::default());
        let (mut files, mut calm) = (0, 0);
        for event in events {
            detector.feed(event);
            if let Event::File(f) = event {
                files += 1;
                calm += usize::from(!detector.concerned(f.at_ms));
            }
        }
        println!("{name}: calm for {calm} of {files} events");
        if files >= 500 {
            assert!(
                calm * 10 >= files * 9,
                "{name}: concerned for {} of {files} events",
                files - calm
            );
        }
    }
}
