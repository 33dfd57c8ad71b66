//! Every attack mode of the simulator, run on a generated tree and seen through the
//! synthetic sensor, is caught within a few files; canaries catch it at the first touch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use std::time::Duration;

use steward_detect::simulate::{self, Mode, Options, Synthetic, attack};
use steward_detect::{Config, Detector, Event, ProcessInfo, Verdict};

const FILES: usize = 120;

fn process(pid: u32, ppid: u32, name: &str, ancestors: &[&str]) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid,
        name: name.into(),
        exe: format!("/usr/bin/{name}"),
        uid: 1000,
        ancestors: ancestors.iter().map(|s| s.to_string()).collect(),
    }
}

/// The events of one attack, the workers' interleaved as they would be when they run at once.
fn attack_events(root: &Path, mode: Mode) -> Vec<Event> {
    let step = if mode == Mode::Slow { 1000 } else { 2 };
    let workers = mode.workers();
    let mut per_worker = Vec::new();
    for w in 0..workers {
        let info = if workers == 1 {
            process(4000, 900, "python3", &["bash", "sshd"])
        } else {
            process(
                4001 + w as u32,
                4000,
                "python3",
                &["python3", "bash", "sshd"],
            )
        };
        let mut sensor = Synthetic::new(info).stepping(0, step);
        // The slow mode's second per file is the synthetic clock's, not a real wait.
        let options = Options {
            key: 7,
            part: (w, workers),
            pace: Duration::ZERO,
            walk: false,
        };
        attack(root, mode, options, &mut sensor).unwrap();
        per_worker.push(sensor.events);
    }
    if workers == 1 {
        return per_worker.pop().unwrap();
    }
    // Round-robin by time: each worker's events keep their order.
    let mut all: Vec<Event> = per_worker.into_iter().flatten().collect();
    all.sort_by_key(|e| match e {
        Event::Process(_) => 0,
        Event::File(f) => f.at_ms,
    });
    all
}

/// Feeds events until a verdict; the verdict and how many files of the tree had been
/// destroyed by then (each file counted once, by its original path).
fn replay(detector: &mut Detector, events: &[Event], root: &Path) -> (Option<Verdict>, usize) {
    let root = root.to_string_lossy();
    let mut destroyed = std::collections::HashSet::new();
    for event in events {
        if let Event::File(f) = event
            && f.path.starts_with(&*root)
            && !f.path.ends_with(simulate::attack::NOTE)
        {
            let original = f.path.trim_end_matches(".locked").trim_end_matches(".enc");
            // An operation that changes or removes content destroys the file (a rename
            // alone, before the write, does not).
            let destroys = matches!(f.op, steward_detect::Op::Write | steward_detect::Op::Delete);
            if destroys && !f.path.ends_with(".enc") {
                destroyed.insert(original.to_string());
            }
        }
        if let Some(v) = detector.feed(event) {
            return (Some(v), destroyed.len());
        }
    }
    (None, destroyed.len())
}

#[test]
fn every_mode_is_caught_within_five_files() {
    let mut report = Vec::new();
    for mode in Mode::ALL {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("share");
        simulate::generate(&root, FILES, 11).unwrap();
        // Through the trace format, as a recorded trace is replayed.
        let mut recorded = Vec::new();
        for event in attack_events(&root, mode) {
            steward_detect::trace::write_event(&mut recorded, &event).unwrap();
        }
        let events = steward_detect::trace::read_events(recorded.as_slice()).unwrap();
        let mut detector = Detector::new(Config::default());
        let (verdict, lost) = replay(&mut detector, &events, &root);
        let verdict = verdict.unwrap_or_else(|| panic!("{} was not detected", mode.as_str()));
        report.push(format!(
            "{}: {lost} lost, {}",
            mode.as_str(),
            verdict.summary
        ));
        assert!(
            lost <= 5,
            "{}: {lost} files lost: {}",
            mode.as_str(),
            verdict.summary
        );
        if mode == Mode::Workers {
            assert_eq!(verdict.pid, 4000, "the workers' parent is the offender");
            assert!(verdict.pids.len() >= 2, "{:?}", verdict.pids);
        }
    }
    println!("{}", report.join("\n"));
}

#[test]
fn a_canary_sorting_first_stops_the_attack_before_any_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("share");
    simulate::generate(&root, FILES, 3).unwrap();
    let events = attack_events(&root, Mode::InPlace);
    let first = events
        .iter()
        .find_map(|e| match e {
            Event::File(f) => Some(f.path.clone()),
            _ => None,
        })
        .unwrap();
    let mut detector = Detector::new(Config {
        canaries: vec![first.clone()],
        ..Config::default()
    });
    let (verdict, lost) = replay(&mut detector, &events, &root);
    let verdict = verdict.unwrap();
    assert_eq!(lost, 1, "the canary itself");
    assert_eq!(verdict.signals[0].name, "canary");
    assert!(verdict.summary.contains("canary"), "{}", verdict.summary);
}

#[test]
fn copies_are_matched_to_deleted_originals_whichever_the_sensor_reports_first() {
    // A sensor with two queues (writes, names) may report a delete first.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("share");
    simulate::generate(&root, FILES, 5).unwrap();
    let mut events = attack_events(&root, Mode::CopyThenDelete);
    let mut i = 1;
    while i + 1 < events.len() {
        let swap = matches!(
            (&events[i], &events[i + 1]),
            (Event::File(w), Event::File(d))
                if w.op == steward_detect::Op::Write && d.op == steward_detect::Op::Delete
        );
        if swap {
            events.swap(i, i + 1);
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut detector = Detector::new(Config::default());
    let (verdict, lost) = replay(&mut detector, &events, &root);
    let verdict = verdict.expect("detected");
    assert!(lost <= 4, "{lost}: {}", verdict.summary);
    assert!(
        verdict
            .signals
            .iter()
            .any(|s| s.name == "replaced_originals"),
        "{:?}",
        verdict.signals
    );
}

#[test]
fn a_damaged_trace_is_refused_with_its_line() {
    let err = steward_detect::trace::read_events(&b"{\"type\":\"process\"}\n"[..]).unwrap_err();
    assert!(err.to_string().contains("trace line 1"), "{err}");
}
