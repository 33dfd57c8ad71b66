//! The detection sensor on real files and real processes: what a child process does in a
//! protected folder is seen with its pid, path, operation and a sample of the content; what
//! the agent itself does, and what happens outside the folders, is not. The inotify
//! fallback sees the same operations, attributed to pid 0.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use steward_agent::detection::sensor::Sensor;
use steward_detect::{Event, FileEvent, Op};

/// A tempdir under /tmp (a real filesystem, not a tmpfs-only quirk of `TMPDIR`).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("steward-sensor-")
        .tempdir_in("/tmp")
        .unwrap()
}

/// Runs `script` in `sh` and returns its pid once it has exited.
fn sh(script: &str) -> u32 {
    let mut child = Command::new("sh").arg("-c").arg(script).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "{script}");
    pid
}

/// Reads until `done` holds of the events so far, or 5 s pass.
fn read_until(sensor: &mut Sensor, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !done(&events) {
        sensor
            .read(Duration::from_millis(100), &mut events)
            .unwrap();
    }
    events
}

fn files(events: &[Event]) -> Vec<&FileEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::File(f) => Some(f),
            Event::Process(_) => None,
        })
        .collect()
}

fn has(events: &[Event], op: Op, path: &Path) -> bool {
    files(events)
        .iter()
        .any(|f| f.op == op && Path::new(&f.path) == path)
}

/// 64 KiB that look random (xorshift): a stand-in for encrypted content.
fn noise() -> Vec<u8> {
    let mut x: u64 = 0x9E3779B97F4A7C15;
    (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The fanotify sensor on `dir`, ignoring this process; `None` (said on stderr) where the
/// kernel refuses fanotify: without `CAP_SYS_ADMIN` the fallback is what there is, and the
/// inotify tests cover it.
fn fanotify_on(dir: &Path) -> Option<Sensor> {
    let sensor = Sensor::open(&[dir.to_path_buf()], std::process::id()).unwrap();
    if sensor.kind() != "fanotify" {
        eprintln!("fanotify refused here: {:?}", sensor.fallback_reason());
        return None;
    }
    Some(sensor)
}

/// Everything one child process does in the folder, and the checks common to both sensors.
fn a_childs_operations_are_seen(sensor: &mut Sensor, dir: &Path, expect_pid: bool) {
    let outside = scratch();
    let text = "Quarterly figures for the shoe factory. ".repeat(500);
    let plain = dir.join("report.txt");
    let secret = dir.join("photo.jpg");
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    // The agent's own write (this process), and a write outside the folders.
    std::fs::write(dir.join("agent-own.txt"), "the agent's own file").unwrap();
    std::fs::write(outside.path().join("elsewhere.txt"), "not protected").unwrap();
    std::fs::write(outside.path().join("noise.bin"), noise()).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // Two steps, each read before the next, so a write is sampled before its file moves
    // on (the sensor reads the content when it hears of the write).
    let pid = sh(&format!(
        "printf '%s' '{text}' > '{plain}'; cp '{noise}' '{secret}'",
        plain = plain.display(),
        noise = outside.path().join("noise.bin").display(),
        secret = secret.display(),
    ));
    let mut events = read_until(sensor, |e| {
        has(e, Op::Write, &plain) && has(e, Op::Write, &secret)
    });
    let locked = dir.join("photo.jpg.locked");
    let nested = sub.join("new.txt");
    sh(&format!(
        "mv '{secret}' '{locked}'; rm '{plain}'; : > '{nested}'",
        secret = secret.display(),
        locked = locked.display(),
        plain = plain.display(),
        nested = nested.display(),
    ));
    events.extend(read_until(sensor, |e| {
        has(e, Op::Delete, &plain) && has(e, Op::Create, &nested) && has(e, Op::Rename, &secret)
    }));
    let seen = files(&events);
    let want_pid = if expect_pid { pid } else { 0 };

    let write = seen
        .iter()
        .find(|f| f.op == Op::Write && Path::new(&f.path) == plain)
        .unwrap_or_else(|| panic!("the text's write: {events:#?}"));
    let sample = write.sample.as_ref().expect("a write carries a sample");
    assert!(sample.entropy.iter().all(|e| *e < 5.0), "{sample:?}");
    assert_eq!(sample.size, text.len() as u64);
    // printf is a builtin: the shell itself wrote the file.
    assert_eq!(write.pid, want_pid);

    let noisy = seen
        .iter()
        .find(|f| f.op == Op::Write && Path::new(&f.path) == secret)
        .unwrap_or_else(|| panic!("the noise's write: {events:#?}"));
    assert!(
        noisy.sample.as_ref().unwrap().random_regions() >= 3,
        "{noisy:?}"
    );

    let rename = seen
        .iter()
        .find(|f| f.op == Op::Rename && Path::new(&f.path) == secret)
        .unwrap();
    assert_eq!(rename.to.as_deref(), Some(locked.to_str().unwrap()));
    assert!(
        rename.sample.as_ref().unwrap().random_regions() >= 3,
        "a rename samples its target: {rename:?}"
    );
    // The shells and the programs they ran (cp and rm: children that were gone before
    // the sensor could read /proc, so their parents are not known here): a real pid, never
    // this process's.
    for f in &seen {
        if expect_pid {
            assert!(f.pid != 0 && f.pid != std::process::id(), "{f:?}");
        } else {
            assert_eq!(f.pid, 0, "{f:?}");
        }
        assert!(Path::new(&f.path).starts_with(dir), "outside: {f:?}");
        assert!(
            !f.path.ends_with("agent-own.txt") || !expect_pid,
            "own: {f:?}"
        );
    }
    assert!(has(&events, Op::Create, &plain));
    assert!(has(&events, Op::Delete, &plain));
    let rm = seen
        .iter()
        .find(|f| f.op == Op::Delete && Path::new(&f.path) == plain)
        .unwrap();
    if expect_pid {
        // rm, run by the second shell: neither the first shell nor this process.
        assert!(rm.pid != pid && rm.pid != std::process::id(), "{rm:?}");
    } else {
        assert_eq!(rm.pid, 0);
    }
    assert!(has(&events, Op::Create, &nested));

    if expect_pid {
        // The process is announced before its first file event.
        let first_file = events
            .iter()
            .position(|e| matches!(e, Event::File(_)))
            .unwrap();
        let announced = events
            .iter()
            .position(|e| matches!(e, Event::Process(p) if p.pid == pid))
            .expect("the child is announced");
        assert!(announced < first_file, "{events:#?}");
    }
}

#[test]
fn fanotify_sees_a_childs_files_with_its_pid_and_not_the_agents_own() {
    let dir = scratch();
    let Some(mut sensor) = fanotify_on(dir.path()) else {
        return;
    };
    a_childs_operations_are_seen(&mut sensor, dir.path(), true);
    assert_eq!(sensor.overflows(), 0);
}

#[test]
fn the_agents_own_files_in_the_rehearsal_folder_are_read_as_another_processs() {
    let dir = scratch();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let rehearsal = state.join("detection-rehearsal");
    let me = std::process::id();
    let mut sensor = Sensor::open_rehearsed(std::slice::from_ref(&share), me, &rehearsal).unwrap();
    if sensor.kind() != "fanotify" {
        eprintln!("fanotify refused here: {:?}", sensor.fallback_reason());
        return;
    }
    assert!(rehearsal.is_dir(), "the sensor makes the rehearsal folder");
    let sub = rehearsal.join("1");
    std::fs::create_dir(&sub).unwrap();
    let written = sub.join("offer.docx");
    std::fs::write(&written, noise()).unwrap();
    std::fs::write(
        share.join("mine.txt"),
        b"the agent's own, in a protected folder",
    )
    .unwrap();
    let locked = sub.join("offer.docx.locked");
    std::fs::rename(&written, &locked).unwrap();
    let events = read_until(&mut sensor, |e| has(e, Op::Rename, &written));
    let write = files(&events)
        .into_iter()
        .find(|f| f.op == Op::Write && Path::new(&f.path) == written)
        .cloned();
    let write = write.unwrap_or_else(|| panic!("the rehearsal's write was not read: {events:?}"));
    assert_eq!(write.pid, me);
    let sample = write.sample.expect("the write is sampled");
    assert_eq!(sample.random_regions(), sample.entropy.len(), "{sample:?}");
    // Elsewhere the agent's own events are left out, as always.
    assert!(
        !files(&events).iter().any(|f| f.path.ends_with("mine.txt")),
        "{events:?}"
    );
}

#[test]
fn inotify_sees_the_same_operations_without_a_pid() {
    let dir = scratch();
    let folders: Vec<PathBuf> = vec![dir.path().to_path_buf()];
    let mut sensor = Sensor::open_inotify(&folders).unwrap();
    assert_eq!(sensor.kind(), "inotify");
    a_childs_operations_are_seen(&mut sensor, dir.path(), false);
}

#[test]
fn a_missing_folder_is_left_out_and_none_at_all_is_an_error() {
    let dir = scratch();
    let folders = [dir.path().join("not-there"), dir.path().to_path_buf()];
    let sensor = Sensor::open(&folders, std::process::id()).unwrap();
    // Where fanotify works here, a missing folder does not make it fall back.
    if Sensor::open(&[dir.path().to_path_buf()], 0).unwrap().kind() == "fanotify" {
        assert_eq!(sensor.kind(), "fanotify");
    }
    assert!(Sensor::open(&folders[..1], std::process::id()).is_err());
}

#[test]
fn a_read_with_nothing_to_say_returns_at_its_timeout() {
    let dir = scratch();
    let mut sensor = Sensor::open(&[dir.path().to_path_buf()], std::process::id()).unwrap();
    let started = Instant::now();
    let mut events = Vec::new();
    sensor
        .read(Duration::from_millis(150), &mut events)
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn the_sensor_can_run_on_a_thread_of_its_own() {
    let dir = scratch();
    let path = dir.path().to_path_buf();
    let mut sensor = Sensor::open(std::slice::from_ref(&path), std::process::id()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let events = read_until(&mut sensor, |e| !files(e).is_empty());
        tx.send(events).unwrap();
    });
    std::thread::sleep(Duration::from_millis(100));
    sh(&format!(
        "echo hello > '{}'",
        path.join("from-a-child.txt").display()
    ));
    let events = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    reader.join().unwrap();
    assert!(!files(&events).is_empty());
}

/// The whole path on this machine: canaries placed, the sensor, the detector. A child that
/// writes to a canary is named in a verdict within 200 ms of starting (the target
/// for a canary alert), with its own pid.
#[test]
fn a_canary_touched_by_a_child_is_a_verdict_within_200_ms() {
    canary_verdict(false);
}

/// The same with inotify: the verdict comes as fast, without the process (pid 0).
#[test]
fn with_inotify_a_canary_is_a_verdict_too() {
    canary_verdict(true);
}

fn canary_verdict(inotify: bool) {
    use steward_agent::detection::canaries;
    use steward_core::detection::DetectionPolicy;
    use steward_detect::{Config, Detector};

    let state = scratch();
    let share = scratch();
    std::fs::write(share.path().join("orders.txt"), "order 1\n").unwrap();
    let policy = DetectionPolicy {
        folders: vec![share.path().to_string_lossy().into_owned()],
        canaries: true,
        auto_stop: false,
        auto_isolate: false,
    };
    let placed = canaries::apply(state.path(), &policy).unwrap();
    let canary = placed[0].clone();
    let mut detector = Detector::new(Config {
        canaries: placed
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        ignore_pids: vec![std::process::id()],
        ..Config::default()
    });
    let folders = [share.path().to_path_buf()];
    let mut sensor = if inotify {
        Sensor::open_inotify(&folders).unwrap()
    } else {
        Sensor::open(&folders, std::process::id()).unwrap()
    };
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo encrypted >> '{}'; exec sleep 5",
            canary.display()
        ))
        .spawn()
        .unwrap();
    let mut verdict = None;
    let mut events = Vec::new();
    while verdict.is_none() && started.elapsed() < Duration::from_secs(5) {
        events.clear();
        sensor.read(Duration::from_millis(50), &mut events).unwrap();
        verdict = events.iter().find_map(|e| detector.feed(e));
    }
    let took = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    let verdict = verdict.expect("a verdict for the canary");
    println!("canary verdict after {took:?} ({})", sensor.kind());
    assert!(took < Duration::from_millis(200), "{took:?}");
    if sensor.kind() == "fanotify" {
        assert_eq!(verdict.pid, child.id());
    } else {
        assert_eq!(verdict.pid, 0);
    }
}

/// A file moved in from outside the folders is a create (with a sample of what came in);
/// a file moved out is a delete: the folder lost it.
fn moves_across_the_boundary(sensor: &mut Sensor, dir: &Path, outside: &Path) {
    let arriving = outside.join("arriving.bin");
    std::fs::write(&arriving, noise()).unwrap();
    let leaving = dir.join("leaving.txt");
    std::fs::write(&leaving, "a letter").unwrap();
    // This process's own writes, read and set aside (inotify sees them).
    let mut ignored = Vec::new();
    sensor
        .read(Duration::from_millis(300), &mut ignored)
        .unwrap();
    let arrived = dir.join("arrived.bin");
    let left = outside.join("left.txt");
    sh(&format!(
        "mv '{}' '{}'; mv '{}' '{}'",
        arriving.display(),
        arrived.display(),
        leaving.display(),
        left.display()
    ));
    let events = read_until(sensor, |e| {
        has(e, Op::Create, &arrived) && has(e, Op::Delete, &leaving)
    });
    let created = files(&events)
        .into_iter()
        .find(|f| f.op == Op::Create && Path::new(&f.path) == arrived)
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert!(created.sample.as_ref().unwrap().random_regions() >= 3);
    assert!(has(&events, Op::Delete, &leaving), "{events:#?}");
    assert!(
        files(&events)
            .iter()
            .all(|f| !f.path.contains("left.txt") && f.op != Op::Rename),
        "{events:#?}"
    );
}

#[test]
fn moves_in_and_out_are_creates_and_deletes() {
    let dir = scratch();
    let outside = scratch();
    let folders = [dir.path().to_path_buf()];
    let mut sensor = Sensor::open(&folders, std::process::id()).unwrap();
    moves_across_the_boundary(&mut sensor, dir.path(), outside.path());
    let mut sensor = Sensor::open_inotify(&folders).unwrap();
    moves_across_the_boundary(&mut sensor, dir.path(), outside.path());
}

/// The sensor remembers directories' paths by their handles: a directory's move must not
/// leave files in it reported under its old name, and a deleted directory must not
/// confuse the names of the others.
#[test]
fn files_in_a_moved_directory_are_named_by_its_new_path() {
    let dir = scratch();
    let Some(mut sensor) = fanotify_on(dir.path()) else {
        return;
    };
    let old = dir.path().join("projects/2026");
    let new = dir.path().join("archive/2026");
    let before = old.join("before.txt");
    sh(&format!(
        "mkdir -p '{old}' '{parent}' '{gone}'; echo first > '{before}'; rmdir '{gone}'",
        old = old.display(),
        parent = dir.path().join("archive").display(),
        gone = dir.path().join("projects/empty").display(),
        before = before.display(),
    ));
    read_until(&mut sensor, |e| has(e, Op::Write, &before));
    let after = new.join("after.txt");
    let beside = dir.path().join("projects/beside.txt");
    sh(&format!(
        "mv '{old}' '{new}'; echo second > '{after}'; echo third > '{beside}'",
        old = old.display(),
        new = new.display(),
        after = after.display(),
        beside = beside.display(),
    ));
    let events = read_until(&mut sensor, |e| {
        has(e, Op::Write, &after) && has(e, Op::Write, &beside)
    });
    assert!(has(&events, Op::Write, &after), "{events:#?}");
    assert!(
        files(&events)
            .iter()
            .all(|f| !f.path.contains("projects/2026/after")),
        "a file named by its directory's old path: {events:#?}"
    );
    let written = files(&events)
        .into_iter()
        .find(|f| f.op == Op::Write && Path::new(&f.path) == after)
        .unwrap();
    assert_eq!(written.sample.as_ref().unwrap().size, 7);
}

/// A rename right after a write reuses the write's sample; a write the sensor does not
/// report (the agent's own) must not leave that sample behind for a later rename.
#[test]
fn a_rename_is_judged_by_what_the_file_holds_now() {
    let dir = scratch();
    let Some(mut sensor) = fanotify_on(dir.path()) else {
        return;
    };
    let text = "Minutes of the board meeting. ".repeat(600);
    let (letter, moved) = (dir.path().join("letter.txt"), dir.path().join("letter.old"));
    let (report, locked) = (
        dir.path().join("report.txt"),
        dir.path().join("report.locked"),
    );
    sh(&format!(
        "printf '%s' '{text}' > '{letter}'; printf '%s' '{text}' > '{report}'",
        letter = letter.display(),
        report = report.display(),
    ));
    read_until(&mut sensor, |e| has(e, Op::Write, &report));
    // The agent itself (an ignored pid) puts random bytes in one of them.
    std::fs::write(&report, noise()).unwrap();
    sh(&format!(
        "mv '{}' '{}'; mv '{}' '{}'",
        letter.display(),
        moved.display(),
        report.display(),
        locked.display()
    ));
    let events = read_until(&mut sensor, |e| {
        has(e, Op::Rename, &letter) && has(e, Op::Rename, &report)
    });
    let sample_of = |from: &Path| {
        files(&events)
            .into_iter()
            .find(|f| f.op == Op::Rename && Path::new(&f.path) == from)
            .and_then(|f| f.sample.clone())
            .unwrap_or_else(|| panic!("{from:?}: {events:#?}"))
    };
    assert_eq!(sample_of(&letter).size, text.len() as u64);
    assert_eq!(sample_of(&letter).random_regions(), 0);
    let report = sample_of(&report);
    assert_eq!(report.size, 65_536, "{report:?}");
    assert!(report.random_regions() >= 3, "{report:?}");
}
