//! The detection engine: a thread of its own that reads the sensor, feeds the detector and
//! responds at once. Stopping an attack is a race against its next file, so nothing between
//! the kernel's event and the SIGSTOP waits on the async runtime, the network or the disk;
//! the record goes to the server afterwards, through [`DetectionFeed`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use steward_core::detection::{DetectionPolicy, ResponseStep};
use steward_detect::{Config, Detector, Event, Verdict};

use super::feed::DetectionFeed;
use super::record;

/// How long one read of the sensor waits for events: the engine looks at its policy and
/// its stop flag at least this often.
const READ_TIMEOUT: Duration = Duration::from_millis(250);
/// How long to wait before opening the sensor again after it failed.
const REOPEN_AFTER: Duration = Duration::from_secs(30);
/// How long events may gather between two reads while the detector is not concerned
/// ([`Detector::concerned`]). Benign work makes its writes one by one: read as they come,
/// each costs the engine a wake-up (two context switches, a poll and a read), which was
/// most of its CPU; gathered for five milliseconds, dozens share one (2 ms left the
/// engine a fifth busier in the benign suite). What an attack by a writer already known as
/// calm can do in that time is all it gains: a new writer is read at once, and so is
/// everything after a damaged file. Only after a read
/// that brought a few events (fewer than [`GATHERED`]; more mean they are gathering on
/// their own): the first event after a quiet spell (a canary touched) is read at once.
const GATHER: Duration = Duration::from_millis(5);
/// A read that brought this many events needs no gathering.
const GATHERED: usize = 32;

/// Where file events come from (the fanotify or inotify sensor; a recorded trace in tests).
pub trait EventSource: Send {
    /// Hands each event that arrives within `timeout` to `each` as soon as it is known
    /// (returns earlier when some did), pausing `gather` between wake-ups that brought
    /// nothing of the protected folders.
    fn read(
        &mut self,
        timeout: Duration,
        gather: Duration,
        each: &mut dyn FnMut(Event),
    ) -> std::io::Result<()>;
    /// `fanotify`, `inotify`, …: said in the log and the agent's figures.
    fn kind(&self) -> &'static str;
}

/// What the engine needs from the device: a sensor on some folders, canaries placed by a
/// policy, and the responses.
pub trait Device: Send {
    /// A sensor on `folders` (existing ones; a folder that does not exist is skipped).
    fn open_sensor(&mut self, folders: &[PathBuf]) -> std::io::Result<Box<dyn EventSource>>;
    /// Places (or removes) canary files as `policy` says; returns the canaries' paths.
    fn place_canaries(&mut self, policy: &DetectionPolicy) -> Vec<String>;
    /// Stops (SIGSTOP) the processes and their descendants.
    fn stop(&mut self, pids: &[u32]) -> ResponseStep;
    /// Cuts the device off from the network except for the Steward server.
    fn isolate(&mut self) -> ResponseStep;
}

/// The engine thread's nice value, where real-time is refused ([`super::realtime`]). The
/// kernel tends to wake the engine on the CPU of the process whose write woke it, behind
/// that process: at the default priority an attack at full speed ran a couple of
/// milliseconds (a few dozen files) before the engine read its first event. Raised, the
/// engine runs sooner; it sleeps between reads, so it takes nothing from the machine when
/// nothing is written.
const NICE: i32 = -10;

/// Raises this thread's priority to [`NICE`] (only root may: elsewhere it stays as it is).
fn raise_priority() {
    // On Linux, `setpriority(PRIO_PROCESS, tid)` sets one thread's nice value.
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), NICE) {
        tracing::debug!(error = %e, "the detection engine keeps its priority");
    }
}

/// Runs the engine until `stop` is set. Meant for a thread of its own.
pub fn run(feed: Arc<DetectionFeed>, mut device: Box<dyn Device>, stop: Arc<AtomicBool>) {
    raise_priority();
    if let Err(e) = super::realtime::enter() {
        tracing::debug!(error = %e, "the detection engine runs at its nice value, not real-time");
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let mut detector = Detector::new(Config {
        ignore_pids: vec![std::process::id()],
        ..Config::default()
    });
    let mut applied = 0;
    let mut source: Option<Box<dyn EventSource>> = None;
    let mut failed_at: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let version = feed.version();
        let retry = failed_at.is_some_and(|at| at.elapsed() >= REOPEN_AFTER);
        if version != applied || retry {
            applied = version;
            failed_at = None;
            let (policy, drills) = feed.watched();
            detector.set_canaries(device.place_canaries(&policy));
            let folders = watched_folders(&policy, &drills);
            source = match device.open_sensor(&folders) {
                Ok(s) => {
                    tracing::info!(sensor = s.kind(), folders = ?folders, "watching for ransomware");
                    feed.set_applied(version);
                    Some(s)
                }
                Err(e) => {
                    feed.set_applied(0);
                    tracing::error!(error = %e, folders = ?folders,
                        "the detection sensor could not start; trying again in 30 s");
                    failed_at = Some(Instant::now());
                    None
                }
            };
        }
        let Some(sensor) = source.as_mut() else {
            std::thread::sleep(READ_TIMEOUT);
            continue;
        };
        // Each event is judged as soon as the sensor has it, and a verdict answered at once:
        // the rest of the read waits.
        let mut events = 0usize;
        let gather = if detector.concerned(super::sensor::clock_ms()) {
            Duration::ZERO
        } else {
            GATHER
        };
        let read = sensor.read(READ_TIMEOUT, gather, &mut |event| {
            events += 1;
            if let Some(verdict) = detector.feed(&event) {
                respond(&feed, device.as_mut(), &verdict, &passwd);
            }
        });
        if let Err(e) = read {
            tracing::error!(error = %e, "reading the detection sensor failed; reopening it");
            source = None;
            failed_at = Some(Instant::now());
            continue;
        }
        // What waits on time alone (deletions past their grace), on the sensor's clock.
        let now = super::sensor::clock_ms();
        for verdict in detector.tick(now) {
            respond(&feed, device.as_mut(), &verdict, &passwd);
        }
        let trickle = events > 0 && events < GATHERED;
        if trickle && !detector.concerned(now) {
            std::thread::sleep(GATHER);
        }
    }
}

/// The folders to watch: the policy's that exist, and the drills' scratch folders.
fn watched_folders(policy: &DetectionPolicy, drills: &[PathBuf]) -> Vec<PathBuf> {
    policy
        .folders
        .iter()
        .map(PathBuf::from)
        .chain(drills.iter().cloned())
        .filter(|f| Path::new(f).is_dir())
        .collect()
}

/// Acts on a verdict: stops the process tree where the policy (or a drill) says so,
/// isolates where the policy says so, and hands the record to the agent.
fn respond(feed: &Arc<DetectionFeed>, device: &mut dyn Device, verdict: &Verdict, passwd: &str) {
    let seen = Instant::now();
    let policy = feed.policy();
    let drill = feed.drill_of(verdict.files.iter().map(|f| f.path.as_str()));
    let mut steps = Vec::new();
    // A drill's attack is always stopped: it is the agent's own child and the point of
    // the drill is to measure how much it destroyed before that.
    if policy.auto_stop || drill.is_some() {
        steps.push(device.stop(&verdict.pids));
    }
    if policy.auto_isolate && drill.is_none() {
        steps.push(device.isolate());
    }
    // Opened before anything else can end the process: its executable stays readable.
    let exe = record::open_executable(verdict.pid);
    let detected = record::detected(
        verdict,
        crate::runner::now(),
        steps,
        drill.as_ref().map(|(job, _)| job.clone()),
        passwd,
    );
    tracing::warn!(summary = %detected.summary, id = %detected.local_id,
        responses = ?detected.responses.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        "detection");
    if let Some((_, tell)) = drill {
        let _ = tell.send((seen, detected.clone()));
    }
    // The record goes to the server once its executable is hashed, off this thread.
    let feed = feed.clone();
    record::hash_then(exe, detected, move |d| feed.push(d));
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use steward_core::detection::{Detected, ResponseAction};
    use steward_detect::{FileEvent, Op, ProcessInfo, Sample};

    use super::*;

    /// A pid no process has (above the kernel's default `pid_max`): the record reads
    /// nothing of a real process.
    const ATTACKER: u32 = 4_194_400;

    /// Hands out an attack once: four documents overwritten with random bytes.
    struct Attack(Option<Vec<Event>>);

    impl EventSource for Attack {
        fn read(
            &mut self,
            timeout: Duration,
            _gather: Duration,
            each: &mut dyn FnMut(Event),
        ) -> std::io::Result<()> {
            match self.0.take() {
                Some(events) => events.into_iter().for_each(each),
                None => std::thread::sleep(timeout.min(Duration::from_millis(20))),
            }
            Ok(())
        }

        fn kind(&self) -> &'static str {
            "scripted"
        }
    }

    fn attack() -> Vec<Event> {
        let mut events = vec![Event::Process(ProcessInfo {
            pid: ATTACKER,
            ppid: 1,
            name: "locker".into(),
            exe: "/tmp/locker".into(),
            uid: 1000,
            ancestors: vec!["systemd".into()],
        })];
        let mut keys = steward_detect::simulate::Keystream::new(7);
        for i in 0..4u64 {
            let mut bytes = vec![0u8; 16_384];
            keys.fill(&mut bytes);
            events.push(Event::File(FileEvent {
                at_ms: super::super::sensor::clock_ms() + i,
                pid: ATTACKER,
                op: Op::Write,
                path: format!("/srv/share/report-{i}.docx"),
                to: None,
                sample: Some(Sample::of_bytes(&bytes)),
            }));
        }
        events
    }

    /// Records what the engine asked of the device.
    struct Recording(Arc<Mutex<Vec<String>>>);

    impl Device for Recording {
        fn open_sensor(&mut self, _: &[PathBuf]) -> std::io::Result<Box<dyn EventSource>> {
            Ok(Box::new(Attack(Some(attack()))))
        }
        fn place_canaries(&mut self, _: &DetectionPolicy) -> Vec<String> {
            vec![]
        }
        fn stop(&mut self, pids: &[u32]) -> ResponseStep {
            self.0.lock().unwrap().push(format!("stop {pids:?}"));
            step(ResponseAction::Stop)
        }
        fn isolate(&mut self) -> ResponseStep {
            self.0.lock().unwrap().push("isolate".into());
            step(ResponseAction::Isolate)
        }
    }

    fn step(action: ResponseAction) -> ResponseStep {
        ResponseStep {
            action,
            at: crate::runner::now(),
            ok: true,
            message: "done".into(),
            job: None,
        }
    }

    /// Runs the engine on the attack under a policy; what the device was asked, and the
    /// record sent to the server.
    fn respond_with(auto_stop: bool, auto_isolate: bool) -> (Vec<String>, Detected) {
        let state = tempfile::tempdir().expect("state dir");
        let feed = Arc::new(DetectionFeed::open(state.path()));
        feed.set_policy(DetectionPolicy {
            folders: vec![state.path().to_string_lossy().into_owned()],
            canaries: false,
            auto_stop,
            auto_isolate,
        });
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let engine = {
            let (feed, device, stop) = (feed.clone(), Recording(asked.clone()), stop.clone());
            std::thread::spawn(move || run(feed, Box::new(device), stop))
        };
        let started = Instant::now();
        let detected = loop {
            if let Some(d) = feed.take().pop() {
                break d;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no detection");
            std::thread::sleep(Duration::from_millis(5));
        };
        stop.store(true, Ordering::Relaxed);
        engine.join().expect("engine thread");
        let asked = asked.lock().unwrap().clone();
        (asked, detected)
    }

    #[test]
    fn without_automatic_responses_the_detection_only_alerts() {
        let (asked, detected) = respond_with(false, false);
        assert!(asked.is_empty(), "{asked:?}");
        assert!(detected.responses.is_empty(), "{:?}", detected.responses);
        assert_eq!(detected.process.map(|p| p.pid), Some(ATTACKER));
    }

    #[test]
    fn the_policys_automatic_stop_and_isolation_are_carried_out_and_recorded() {
        let (asked, detected) = respond_with(true, true);
        assert_eq!(asked, [format!("stop {:?}", [ATTACKER]), "isolate".into()]);
        let actions: Vec<_> = detected.responses.iter().map(|r| r.action).collect();
        assert_eq!(actions, [ResponseAction::Stop, ResponseAction::Isolate]);
    }
}
