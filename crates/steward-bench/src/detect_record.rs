//! `steward-bench detect --record DIR`: what the real sensor (fanotify as root) sees of each
//! attack mode of the simulator and of each workload of the benign suite, written as traces
//! (`attack-MODE.jsonl`, `benign-WORKLOAD.jsonl`) with the temp folder's paths rewritten to
//! `/srv/share`. Nothing responds: each attack runs to its end. The detector's tests replay
//! these recordings (`steward-detect/tests/recorded/`, gzipped) without privileges, so the
//! real sensor's order of events (renames sampled late, processes gone before they were
//! read) is tested on every run, not only on a root machine.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use steward_agent::detection::recorder::{self, Rewrite};
use steward_detect::simulate::{self, Mode, benign::Workload};

use super::detect_live::{attack, end};

/// Where recordings say the files were.
const SHARE: &str = "/srv/share";
/// How long the sensor keeps listening after the work is over.
const LINGER: Duration = Duration::from_millis(500);

pub fn run(steward: &super::server::Steward, out: &Path, files: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let scratch = tempfile::Builder::new()
        .prefix("steward-record-")
        .tempdir()?;
    let exe = Rewrite {
        from: steward.path().to_string_lossy().into_owned(),
        to: "/usr/bin/steward".into(),
    };
    for mode in Mode::ALL {
        // One file a second: replayed from the synthetic sensor instead (a recording would
        // take minutes and say nothing the others do not).
        if mode == Mode::Slow {
            continue;
        }
        let share = scratch.path().join(mode.as_str());
        simulate::generate(&share, files, 3000)?;
        let child: RefCell<Option<Child>> = RefCell::new(None);
        let path = out.join(format!("attack-{}.jsonl", mode.as_str()));
        let recorded = record(
            &share,
            &path,
            std::slice::from_ref(&exe),
            || {
                *child.borrow_mut() = attack(steward, &share, mode, false, false).ok();
            },
            || {
                child
                    .borrow_mut()
                    .as_mut()
                    .is_none_or(|c| !matches!(c.try_wait(), Ok(None)))
            },
        )?;
        if let Some(c) = child.into_inner() {
            end(c);
        }
        say(&path, recorded);
    }
    for w in Workload::ALL {
        let share = scratch.path().join(w.as_str());
        let tools = scratch.path().join(format!("{}-tools", w.as_str()));
        w.prepare(&share, &tools)?;
        let worker: RefCell<Option<std::thread::JoinHandle<std::io::Result<()>>>> =
            RefCell::new(None);
        let path = out.join(format!("benign-{}.jsonl", w.as_str()));
        let recorded = record(
            &share,
            &path,
            std::slice::from_ref(&exe),
            || {
                let (share, tools) = (share.clone(), tools.clone());
                *worker.borrow_mut() = Some(std::thread::spawn(move || w.run(&share, &tools)));
            },
            || worker.borrow().as_ref().is_none_or(|t| t.is_finished()),
        )?;
        if let Some(t) = worker.into_inner() {
            t.join()
                .map_err(|_| anyhow::anyhow!("the {} workload panicked", w.as_str()))??;
        }
        say(&path, recorded);
    }
    Ok(())
}

fn record(
    share: &Path,
    path: &Path,
    extra: &[Rewrite],
    started: impl FnOnce(),
    stop: impl FnMut() -> bool,
) -> anyhow::Result<recorder::Recorded> {
    let mut rewrites = vec![Rewrite {
        from: share.to_string_lossy().into_owned(),
        to: SHARE.into(),
    }];
    rewrites.extend_from_slice(extra);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let begun = Instant::now();
    let mut stop = stop;
    // The bench's own writes (the camera import copies in this process) are kept: no pid
    // is left out.
    let recorded = recorder::record(
        &[PathBuf::from(share)],
        u32::MAX,
        &rewrites,
        &mut out,
        started,
        || stop() || begun.elapsed() > Duration::from_secs(300),
        LINGER,
    )?;
    Ok(recorded)
}

fn say(path: &Path, recorded: recorder::Recorded) {
    println!(
        "{}: {} events ({}){}",
        path.display(),
        recorded.events,
        recorded.sensor,
        if recorded.overflows > 0 {
            " — the kernel's queue OVERFLOWED: events are missing"
        } else {
            ""
        }
    );
}
