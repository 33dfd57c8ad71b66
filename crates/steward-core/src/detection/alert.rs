//! The `detection` device check's verdict: critical while any detection of the device is
//! open, naming what a person needs to act at once (the process, its executable's hash,
//! the files touched and the last backup of them); ok once every detection is decided.

use super::{DetectionKind, ProcessFacts};
use crate::Timestamp;
use crate::alerting::CheckStatus;

/// Files named in the alert's summary; the page has them all.
const FILES_NAMED: usize = 3;

/// What the server knows of a device's detections when it judges the check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetectionFacts {
    /// The open detections, newest first.
    pub open: Vec<OpenDetection>,
}

/// One open detection, as the alert names it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenDetection {
    pub kind: DetectionKind,
    pub summary: String,
    pub process: Option<ProcessFacts>,
    /// The paths touched, in order (the first few are named).
    pub files: Vec<String>,
    /// When the newest backup of the device that covers those files finished, where the
    /// backup capability knows one.
    pub last_backup: Option<Timestamp>,
}

/// The check's result: critical with the newest open detection named, or ok.
pub fn verdict(facts: &DetectionFacts) -> (CheckStatus, String) {
    let Some(newest) = facts.open.first() else {
        return (CheckStatus::Ok, "no open detection".into());
    };
    let mut parts = vec![format!("{}: {}", newest.kind.describe(), newest.summary)];
    if let Some(p) = &newest.process {
        let hash = if p.exe_sha256.is_empty() {
            "hash unknown".to_owned()
        } else {
            format!("sha256 {}", p.exe_sha256)
        };
        parts.push(format!("process {} (pid {}, {hash})", p.exe, p.pid));
    }
    if !newest.files.is_empty() {
        let named: Vec<&str> = newest
            .files
            .iter()
            .take(FILES_NAMED)
            .map(String::as_str)
            .collect();
        let more = newest.files.len().saturating_sub(FILES_NAMED);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!("files {}{tail}", named.join(", ")));
        parts.push(match newest.last_backup {
            Some(at) => format!("last backup of them {}", when(at)),
            None => "no backup of them is known".to_owned(),
        });
    }
    if facts.open.len() > 1 {
        parts.push(format!("{} open detections", facts.open.len()));
    }
    (CheckStatus::Critical, parts.join("; "))
}

/// `2026-12-31 08:05 UTC`.
fn when(at: Timestamp) -> String {
    let minutes = at.0.div_euclid(60_000).rem_euclid(24 * 60);
    format!(
        "{} {:02}:{:02} UTC",
        crate::time::date(at),
        minutes / 60,
        minutes % 60
    )
}

/// Where a detection's response steps left the device: whether its process tree is
/// stopped now, and whether the device is isolated now (each the last successful step of
/// its kind decides).
pub fn left_by(steps: &[super::ResponseStep]) -> (bool, bool) {
    use super::ResponseAction::*;
    let mut stopped = false;
    let mut isolated = false;
    for s in steps.iter().filter(|s| s.ok) {
        match s.action {
            Stop => stopped = true,
            Kill | Continue => stopped = false,
            Isolate => isolated = true,
            Lift => isolated = false,
        }
    }
    (stopped, isolated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::{ResponseAction, ResponseStep};

    fn open(files: usize, backup: Option<i64>) -> OpenDetection {
        OpenDetection {
            kind: DetectionKind::Ransomware,
            summary: "python3 changed 9 files".into(),
            process: Some(ProcessFacts {
                pid: 42,
                exe: "/usr/bin/python3".into(),
                exe_sha256: "ab12".into(),
                cmdline: String::new(),
                user: "anna".into(),
            }),
            files: (0..files).map(|i| format!("/srv/f{i}.docx")).collect(),
            last_backup: backup.map(Timestamp),
        }
    }

    #[test]
    fn critical_while_open_naming_process_hash_files_and_backup() {
        let (status, text) = verdict(&DetectionFacts {
            open: vec![open(5, Some(0))],
        });
        assert_eq!(status, CheckStatus::Critical);
        assert!(text.contains("Ransomware behaviour"), "{text}");
        assert!(
            text.contains("/usr/bin/python3 (pid 42, sha256 ab12)"),
            "{text}"
        );
        assert!(
            text.contains("/srv/f0.docx, /srv/f1.docx, /srv/f2.docx and 2 more"),
            "{text}"
        );
        assert!(
            text.contains("last backup of them 1970-01-01 00:00 UTC"),
            "{text}"
        );
        let (_, none) = verdict(&DetectionFacts {
            open: vec![open(1, None), open(0, None)],
        });
        assert!(none.contains("no backup of them is known"), "{none}");
        assert!(none.contains("2 open detections"), "{none}");
        assert_eq!(verdict(&DetectionFacts::default()).0, CheckStatus::Ok);
    }

    #[test]
    fn the_last_successful_step_of_each_kind_decides() {
        let step = |action, ok| ResponseStep {
            action,
            at: Timestamp(0),
            ok,
            message: String::new(),
            job: None,
        };
        assert_eq!(left_by(&[step(ResponseAction::Stop, true)]), (true, false));
        assert_eq!(
            left_by(&[
                step(ResponseAction::Stop, true),
                step(ResponseAction::Isolate, true),
                step(ResponseAction::Kill, true),
                step(ResponseAction::Lift, false),
            ]),
            (false, true)
        );
    }
}
