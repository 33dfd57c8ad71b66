//! A verdict made into the record the server stores: the process read from `/proc` (its
//! executable's path and SHA-256, command line, user, ancestors), the signals, the files in
//! order with their times, and what the response did.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use steward_core::Timestamp;
use steward_core::detection::{
    Detected, DetectionKind, FileOp, FileTouch, MAX_FILES, MAX_SIGNALS, ProcessFacts, ResponseStep,
    SignalValue, limits::MAX_ANCESTORS,
};
use steward_core::limits::clean_text;
use steward_detect::{Op, Verdict, VerdictKind};

/// Largest executable hashed (a bigger one is named without a hash): about a second of
/// reading, on a thread of its own ([`hash_then`]), so the engine never waits on it.
const MAX_HASHED_BYTES: u64 = 1024 * 1024 * 1024;

/// The record of `verdict`, given at `now` (the verdict's time on the sensor's clock is
/// `verdict.at_ms`: earlier events are dated back from `now`).
pub fn detected(
    verdict: &Verdict,
    now: Timestamp,
    responses: Vec<ResponseStep>,
    drill: Option<String>,
    passwd: &str,
) -> Detected {
    let kind = match verdict.kind {
        VerdictKind::Ransomware => DetectionKind::Ransomware,
        VerdictKind::MassDeletion => DetectionKind::MassDeletion,
    };
    let mut process = process_facts(verdict.pid, passwd, false).or_else(|| {
        verdict.process.as_ref().map(|p| ProcessFacts {
            pid: p.pid,
            exe: p.exe.clone(),
            exe_sha256: String::new(),
            cmdline: p.name.clone(),
            user: user_name(p.uid, passwd),
        })
    });
    let mut ancestors = ancestors_of(verdict.pid, passwd);
    let mut summary = verdict.summary.clone();
    let mut signals: Vec<SignalValue> = verdict
        .signals
        .iter()
        .take(MAX_SIGNALS)
        .map(|s| SignalValue {
            name: s.name.to_string(),
            value: s.value,
            detail: s.detail.clone(),
        })
        .collect();
    let mut files: Vec<FileTouch> = verdict
        .files
        .iter()
        .take(MAX_FILES)
        .map(|t| FileTouch {
            at: now.plus_millis(-(verdict.at_ms.saturating_sub(t.at_ms) as i64)),
            op: match t.op {
                Op::Create => FileOp::Create,
                Op::Write => FileOp::Write,
                Op::Rename => FileOp::Rename,
                Op::Delete => FileOp::Delete,
            },
            path: t.path.clone(),
            to: t.to.clone(),
            damaged: t.damaged,
        })
        .collect();
    // Within the server's limits: paths and command lines may hold anything.
    clean_text(&mut summary);
    for p in process.iter_mut().chain(ancestors.iter_mut()) {
        clean_text(&mut p.exe);
        clean_text(&mut p.cmdline);
        clean_text(&mut p.user);
    }
    ancestors.truncate(MAX_ANCESTORS);
    for s in &mut signals {
        clean_text(&mut s.detail);
    }
    let mut responses = responses;
    for r in &mut responses {
        clean_text(&mut r.message);
    }
    for f in &mut files {
        clean_text(&mut f.path);
        if let Some(to) = &mut f.to {
            clean_text(to);
        }
    }
    Detected {
        local_id: uuid::Uuid::new_v4().to_string(),
        kind,
        detected_at: now,
        summary,
        process,
        ancestors,
        signals,
        files,
        responses,
        drill,
    }
}

/// A process as `/proc` shows it now (a stopped process still shows); `None` once gone.
/// With `hash`, its executable's SHA-256 (the offender's; its ancestors are named only).
pub fn process_facts(pid: u32, passwd: &str, hash: bool) -> Option<ProcessFacts> {
    let dir = Path::new("/proc").join(pid.to_string());
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .unwrap_or(u32::MAX);
    let exe = std::fs::read_link(dir.join("exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cmdline = std::fs::read(dir.join("cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    Some(ProcessFacts {
        pid,
        exe_sha256: if hash {
            hash_file(&dir.join("exe")).unwrap_or_default()
        } else {
            String::new()
        },
        exe,
        cmdline: cmdline.chars().take(1024).collect(),
        user: user_name(uid, passwd),
    })
}

/// The process's ancestors, nearest first, up to (not including) pid 1, and up to this
/// agent itself when the process is its own (a drill's attack): what started the agent is
/// none of the detection's business.
pub fn ancestors_of(pid: u32, passwd: &str) -> Vec<ProcessFacts> {
    let me = std::process::id();
    let mut out = Vec::new();
    let mut current = pid;
    while out.len() < MAX_ANCESTORS {
        let Some(parent) = parent_of(current) else {
            break;
        };
        if parent <= 1 {
            break;
        }
        match process_facts(parent, passwd, false) {
            Some(facts) => out.push(facts),
            None => break,
        }
        if parent == me {
            break;
        }
        current = parent;
    }
    out
}

/// The executable of `pid`, opened now: it stays readable for hashing after the process
/// exits or is killed.
pub fn open_executable(pid: u32) -> Option<std::fs::File> {
    std::fs::File::open(format!("/proc/{pid}/exe")).ok()
}

/// Fills in the SHA-256 of `exe` (the offender's executable, opened at the verdict) and
/// hands the record to `done`, on a thread of its own: a large executable takes a while to
/// read, and the engine must go back to the sensor at once. Inline if no thread starts.
pub fn hash_then(
    exe: Option<std::fs::File>,
    mut detected: Detected,
    done: impl FnOnce(Detected) + Send + 'static,
) {
    let Some(exe) = exe else {
        done(detected);
        return;
    };
    let work = move || {
        if let Some(p) = detected.process.as_mut() {
            p.exe_sha256 = hash_open_file(exe).unwrap_or_default();
        }
        done(detected);
    };
    // The work waits in a slot the thread takes it from, so it is still here to do inline
    // when no thread starts.
    type Work = Box<dyn FnOnce() + Send>;
    let slot: std::sync::Arc<std::sync::Mutex<Option<Work>>> =
        std::sync::Arc::new(std::sync::Mutex::new(Some(Box::new(work))));
    let take = |slot: &std::sync::Mutex<Option<Work>>| {
        slot.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    };
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("detection-hash".into())
        .spawn(move || {
            if let Some(work) = take(&theirs) {
                work();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no thread to hash the executable on; hashing here");
        if let Some(work) = take(&slot) {
            work();
        }
    }
}

/// The parent's pid (the sensor's reading of `/proc/PID/stat`).
pub fn parent_of(pid: u32) -> Option<u32> {
    super::sensor::procs::stat(pid).map(|s| s.ppid)
}

/// SHA-256 of a file, hex; `None` when unreadable or too large.
fn hash_file(path: &Path) -> Option<String> {
    hash_open_file(std::fs::File::open(path).ok()?)
}

fn hash_open_file(mut file: std::fs::File) -> Option<String> {
    if file.metadata().ok()?.len() > MAX_HASHED_BYTES {
        return None;
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(hex::encode(hasher.finalize()))
}

/// The user's name from the text of `/etc/passwd`, or the uid as a number.
pub fn user_name(uid: u32, passwd: &str) -> String {
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let _ = fields.next()?;
            (fields.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| {
            if uid == u32::MAX {
                String::new()
            } else {
                uid.to_string()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_with_its_hash_and_user() {
        let me = process_facts(std::process::id(), "root:x:0:0::/root:/bin/sh\n", true).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(!me.exe.is_empty());
        assert_eq!(me.exe_sha256.len(), 64);
        assert!(!me.user.is_empty());
        assert_eq!(
            parent_of(std::process::id()),
            Some(std::os::unix::process::parent_id())
        );
    }

    #[test]
    fn the_record_is_handed_over_once_its_executable_is_hashed() {
        let me = std::process::id();
        let facts = process_facts(me, "", true).unwrap();
        let record = |exe_sha256: &str| Detected {
            local_id: "l-1".into(),
            kind: DetectionKind::Ransomware,
            detected_at: Timestamp(0),
            summary: String::new(),
            process: Some(ProcessFacts {
                exe_sha256: exe_sha256.into(),
                ..facts.clone()
            }),
            ancestors: vec![],
            signals: vec![],
            files: vec![],
            responses: vec![],
            drill: None,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let tell = tx.clone();
        hash_then(open_executable(me), record(""), move |d| {
            let _ = tell.send(d);
        });
        let hashed = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        assert_eq!(hashed.process.unwrap().exe_sha256, facts.exe_sha256);
        // No executable to read (the process was gone): handed over at once, as it is.
        hash_then(None, record(""), move |d| {
            let _ = tx.send(d);
        });
        let as_is = rx.try_recv().unwrap();
        assert_eq!(as_is.process.unwrap().exe_sha256, "");
    }

    #[test]
    fn users_are_named_from_passwd_or_by_number() {
        let passwd = "root:x:0:0::/root:/bin/sh\nanna:x:1000:1000::/home/anna:/bin/bash\n";
        assert_eq!(user_name(1000, passwd), "anna");
        assert_eq!(user_name(1234, passwd), "1234");
    }

    #[test]
    fn a_verdict_becomes_a_record_within_the_servers_limits() {
        let verdict = Verdict {
            kind: VerdictKind::Ransomware,
            pid: u32::MAX - 1,
            pids: vec![u32::MAX - 1],
            process: None,
            at_ms: 5_000,
            signals: vec![steward_detect::signals::Fired {
                name: "content_mismatch",
                value: 3.0,
                detail: "a\nb".into(),
            }],
            files: vec![steward_detect::Touched {
                at_ms: 4_000,
                op: Op::Write,
                path: "/srv/x\u{1b}.docx".into(),
                to: None,
                damaged: true,
            }],
            damaged: 3,
            summary: "attack".into(),
        };
        let now = Timestamp::from_secs(1_000);
        let d = detected(&verdict, now, vec![], None, "");
        assert_eq!(d.kind, DetectionKind::Ransomware);
        assert_eq!(d.files[0].at, Timestamp::from_secs(999));
        assert!(!d.files[0].path.contains('\u{1b}'));
        assert_eq!(d.local_id.len(), 36);
        steward_core::detection::check_detections(&[d]).unwrap();
    }
}
