//! Repeated failed SSH logins from one source: a brute force. Lines come from the journal
//! (`journalctl -u ssh -u sshd -o cat`) or, where there is no journal, from the auth log
//! (`/var/log/auth.log` on Debian and Ubuntu, `/var/log/secure` on Red Hat's family).
//!
//! - [`parse`] (pure) reads one line: `Failed password for invalid user x from 1.2.3.4
//!   port 22 ssh2`, `Invalid user x from 1.2.3.4 port 22`, syslog's `message repeated 5
//!   times: [ … ]`. PAM's `authentication failure; … rhost=…` lines are recognised but not
//!   counted: sshd logs a `Failed …` line for the same attempt.
//! - [`FailedLogins`] counts per source and yields one [`Detected`] of kind
//!   [`DetectionKind::FailedLogins`] when a source reaches [`THRESHOLD`] failures within
//!   [`WINDOW_MS`], then stays quiet about that source for [`QUIET_MS`].
//! - [`LogSource`] reads the lines written since its last call, bounded.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use steward_core::Timestamp;
use steward_core::detection::{Detected, DetectionKind, SignalValue};

/// Failures from one source that make a detection.
pub const THRESHOLD: usize = 10;
/// Within this long.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// After a detection, the same source is not reported again for this long.
pub const QUIET_MS: i64 = 60 * 60 * 1000;
/// Most sources tracked at once (a distributed attack from many addresses keeps the most
/// recent).
pub const MAX_SOURCES: usize = 4096;
/// Most user names remembered per source.
pub const MAX_USERS: usize = 16;
/// Most bytes read from the log at one call.
pub const MAX_READ: u64 = 1024 * 1024;
/// A `message repeated N times` counts at most this many.
const MAX_REPEAT: u32 = 1000;

/// What one line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub source: IpAddr,
    /// The user name tried, when the line gives it.
    pub user: Option<String>,
    pub kind: AttemptKind,
    /// How many times (syslog's `message repeated N times`).
    pub times: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind {
    /// `Failed password|publickey|keyboard-interactive/pam for [invalid user] U from S`.
    Failed { invalid_user: bool },
    /// `Invalid user U from S`: a connection for a user that does not exist.
    InvalidUser,
    /// PAM's `authentication failure; … rhost=S  user=U`.
    PamFailure,
}

/// Reads one log line (with or without its syslog prefix); `None` when it says nothing of
/// a failed login from a network address.
pub fn parse(line: &str) -> Option<Attempt> {
    if let Some(start) = line.find("message repeated ") {
        let rest = &line[start + "message repeated ".len()..];
        let (n, rest) = rest.split_once(" times: [")?;
        let times: u32 = n.trim().parse().ok()?;
        let inner = rest.trim_end().trim_end_matches(']').trim();
        let mut attempt = parse(inner)?;
        attempt.times = times.clamp(1, MAX_REPEAT);
        return Some(attempt);
    }
    if let Some(start) = line.find("Failed ") {
        let rest = &line[start + "Failed ".len()..];
        let (_method, rest) = rest.split_once(" for ")?;
        let (invalid_user, rest) = match rest.strip_prefix("invalid user ") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let (user, source) = user_and_source(rest)?;
        return Some(Attempt {
            source,
            user,
            kind: AttemptKind::Failed { invalid_user },
            times: 1,
        });
    }
    if let Some(start) = line.find("Invalid user ") {
        let rest = &line[start + "Invalid user ".len()..];
        let (user, source) = user_and_source(rest)?;
        return Some(Attempt {
            source,
            user,
            kind: AttemptKind::InvalidUser,
            times: 1,
        });
    }
    if line.contains("authentication failure;") {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .filter(|v| !v.is_empty())
        };
        let source = field("rhost=")?.parse().ok()?;
        return Some(Attempt {
            source,
            user: field("user=").map(str::to_string),
            kind: AttemptKind::PamFailure,
            times: 1,
        });
    }
    None
}

/// `U from S port P …` → (U, S). The user name may be empty (`Invalid user  from S`) or
/// hold spaces; the source is the word after the last ` from `.
fn user_and_source(rest: &str) -> Option<(Option<String>, IpAddr)> {
    let at = rest
        .rfind(" from ")
        .or_else(|| rest.starts_with("from ").then_some(0))?;
    let user = rest[..at].trim();
    let after = if at == 0 && rest.starts_with("from ") {
        &rest["from ".len()..]
    } else {
        &rest[at + " from ".len()..]
    };
    let source: IpAddr = after.split_whitespace().next()?.parse().ok()?;
    let user = (!user.is_empty()).then(|| user.chars().take(64).collect());
    Some((user, source))
}

#[derive(Debug, Default)]
struct Source {
    /// When each counted failure happened, oldest first (at most [`THRESHOLD`] × 4 kept).
    failures: VecDeque<i64>,
    users: BTreeSet<String>,
    last_detection: Option<i64>,
    /// An `Invalid user U` line whose `Failed … for invalid user U` may follow: the same
    /// attempt, counted once.
    invalid_pending: Option<String>,
    last_seen: i64,
}

/// Counts failures per source.
#[derive(Debug, Default)]
pub struct FailedLogins {
    sources: HashMap<IpAddr, Source>,
}

impl FailedLogins {
    pub fn new() -> FailedLogins {
        FailedLogins::default()
    }

    /// Counts `line`, read at `at`; a detection when its source has just reached the
    /// threshold.
    pub fn observe(&mut self, at: Timestamp, line: &str) -> Option<Detected> {
        let attempt = parse(line)?;
        self.count(at, &attempt)
    }

    /// Counts one attempt.
    pub fn count(&mut self, at: Timestamp, attempt: &Attempt) -> Option<Detected> {
        if attempt.kind == AttemptKind::PamFailure {
            return None;
        }
        if !self.sources.contains_key(&attempt.source) && self.sources.len() >= MAX_SOURCES {
            self.forget_oldest();
        }
        let now = at.millis();
        let source = self.sources.entry(attempt.source).or_default();
        source.last_seen = now;
        let mut times = attempt.times;
        match attempt.kind {
            AttemptKind::InvalidUser => {
                source.invalid_pending = attempt.user.clone();
            }
            // Already counted at its `Invalid user` line: the same attempt.
            AttemptKind::Failed { invalid_user: true }
                if source.invalid_pending.is_some() && source.invalid_pending == attempt.user =>
            {
                source.invalid_pending = None;
                times = times.saturating_sub(1);
            }
            _ => {}
        }
        if let Some(user) = &attempt.user
            && source.users.len() < MAX_USERS
        {
            source.users.insert(user.clone());
        }
        for _ in 0..times.min(THRESHOLD as u32 * 4) {
            source.failures.push_back(now);
        }
        while source
            .failures
            .front()
            .is_some_and(|t| now - *t > WINDOW_MS)
        {
            source.failures.pop_front();
        }
        while source.failures.len() > THRESHOLD * 4 {
            source.failures.pop_front();
        }
        let count = source.failures.len();
        let quiet = source
            .last_detection
            .is_some_and(|last| now - last < QUIET_MS);
        if count < THRESHOLD || quiet {
            return None;
        }
        source.last_detection = Some(now);
        let users: Vec<&str> = source.users.iter().map(String::as_str).collect();
        let tried = if users.is_empty() {
            String::new()
        } else {
            format!(" (users tried: {})", users.join(", "))
        };
        let summary = format!(
            "{count} failed SSH logins from {} within 10 minutes{tried}",
            attempt.source
        );
        Some(Detected {
            local_id: format!("failed-logins-{}-{now}", attempt.source),
            kind: DetectionKind::FailedLogins,
            detected_at: at,
            summary,
            process: None,
            ancestors: vec![],
            signals: vec![SignalValue {
                name: "failed_logins_10min".into(),
                value: count as f64,
                detail: format!("source {}{tried}", attempt.source),
            }],
            files: vec![],
            responses: vec![],
            drill: None,
        })
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) = self
            .sources
            .iter()
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(ip, _)| *ip)
        {
            self.sources.remove(&oldest);
        }
    }

    /// How many sources are tracked.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }
}

/// Where the lines come from: the journal when `journalctl` is there, else the auth log.
#[derive(Debug)]
pub enum LogSource {
    /// The journal, read from this time (seconds since the epoch) on.
    Journal { since_secs: i64 },
    /// A log file, read from this offset on (back to the start when the file shrank: it
    /// was rotated).
    File { path: PathBuf, offset: u64 },
}

impl LogSource {
    /// The journal if `journalctl` runs, else the first auth log that exists, starting now
    /// (what was logged before is not read).
    pub fn detect(now: Timestamp) -> Option<LogSource> {
        let journal = Command::new("journalctl")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if journal {
            return Some(LogSource::Journal {
                since_secs: now.secs(),
            });
        }
        ["/var/log/auth.log", "/var/log/secure"]
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .map(|p| LogSource::File {
                offset: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                path: p.to_path_buf(),
            })
    }

    /// The lines logged since the last call (at most [`MAX_READ`] bytes of them).
    pub fn read_new(&mut self, now: Timestamp) -> std::io::Result<Vec<String>> {
        match self {
            LogSource::Journal { since_secs } => {
                let out = Command::new("journalctl")
                    .args(["-u", "ssh", "-u", "sshd", "-o", "cat", "--no-pager", "-q"])
                    .arg(format!("--since=@{since_secs}"))
                    .arg(format!("--until=@{}", now.secs()))
                    .stderr(Stdio::null())
                    .output()?;
                *since_secs = now.secs();
                let text = String::from_utf8_lossy(&out.stdout);
                let bounded = &text[..text.len().min(MAX_READ as usize)];
                Ok(bounded.lines().map(str::to_string).collect())
            }
            LogSource::File { path, offset } => {
                let mut file = std::fs::File::open(&*path)?;
                let len = file.metadata()?.len();
                if len < *offset {
                    *offset = 0;
                }
                file.seek(SeekFrom::Start(*offset))?;
                let mut bytes = Vec::new();
                file.take(MAX_READ).read_to_end(&mut bytes)?;
                // Only whole lines; a partial last line is read next time.
                let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                *offset += whole as u64;
                Ok(String::from_utf8_lossy(&bytes[..whole])
                    .lines()
                    .map(str::to_string)
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as sshd and PAM wrote them on Debian 12 and Rocky 9 (addresses from the
    /// documentation ranges).
    const RECORDED: &str = "\
Nov 30 04:12:01 web1 sshd[2211]: Invalid user admin from 203.0.113.9 port 50122
Nov 30 04:12:01 web1 sshd[2211]: pam_unix(sshd:auth): check pass; user unknown
Nov 30 04:12:01 web1 sshd[2211]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9
Nov 30 04:12:03 web1 sshd[2211]: Failed password for invalid user admin from 203.0.113.9 port 50122 ssh2
Nov 30 04:12:04 web1 sshd[2213]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
Nov 30 04:12:06 web1 sshd[2213]: Failed password for root from 203.0.113.9 port 50130 ssh2
Nov 30 04:12:08 web1 sshd[2213]: message repeated 2 times: [ Failed password for root from 203.0.113.9 port 50130 ssh2]
Nov 30 04:12:09 web1 sshd[2215]: Failed publickey for deploy from 2001:db8::7 port 40022 ssh2: ED25519 SHA256:abc
Nov 30 04:12:10 web1 sshd[2216]: Accepted publickey for deploy from 198.51.100.4 port 40100 ssh2: ED25519 SHA256:def
Nov 30 04:12:11 web1 sshd[2217]: Connection closed by invalid user admin 203.0.113.9 port 50140 [preauth]
Failed password for invalid user oracle from 203.0.113.9 port 50150 ssh2";

    #[test]
    fn recorded_lines_are_read() {
        let attempts: Vec<Option<Attempt>> = RECORDED.lines().map(parse).collect();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            attempts[0],
            Some(Attempt {
                source: ip,
                user: Some("admin".into()),
                kind: AttemptKind::InvalidUser,
                times: 1
            })
        );
        assert_eq!(attempts[1], None);
        assert_eq!(attempts[2].as_ref().unwrap().kind, AttemptKind::PamFailure);
        assert_eq!(attempts[2].as_ref().unwrap().user, None);
        assert_eq!(
            attempts[3].as_ref().unwrap().kind,
            AttemptKind::Failed { invalid_user: true }
        );
        assert_eq!(attempts[4].as_ref().unwrap().user.as_deref(), Some("root"));
        assert_eq!(attempts[5].as_ref().unwrap().user.as_deref(), Some("root"));
        assert_eq!(attempts[6].as_ref().unwrap().times, 2);
        let v6 = attempts[7].as_ref().unwrap();
        assert_eq!(v6.source, "2001:db8::7".parse::<IpAddr>().unwrap());
        assert_eq!(v6.user.as_deref(), Some("deploy"));
        assert_eq!(attempts[8], None, "an accepted login is no failure");
        assert_eq!(
            attempts[9], None,
            "a closed connection is not counted again"
        );
        // The journal's `-o cat` has no prefix.
        assert_eq!(
            attempts[10].as_ref().unwrap().user.as_deref(),
            Some("oracle")
        );
    }

    #[test]
    fn each_attempt_counts_once() {
        let mut tracker = FailedLogins::new();
        let at = Timestamp::from_secs(1_000);
        for line in RECORDED.lines() {
            assert!(tracker.observe(at, line).is_none());
        }
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        // admin (Invalid user + Failed: one), root ×3, oracle: 5.
        assert_eq!(tracker.sources[&ip].failures.len(), 5);
    }

    #[test]
    fn ten_failures_in_ten_minutes_make_one_detection_an_hour() {
        let mut tracker = FailedLogins::new();
        let line = |user: &str| {
            format!("Failed password for invalid user {user} from 192.0.2.50 port 22 ssh2")
        };
        let start = Timestamp::from_secs(1_700_000_000);
        // Nine failures spread over more than ten minutes: the first ones age out.
        for i in 0..9 {
            let at = start.plus_millis(i * 90_000);
            assert!(tracker.observe(at, &line("a")).is_none());
        }
        // Ten within ten minutes.
        let later = start.plus_millis(30 * 60_000);
        let mut found = None;
        for (i, user) in [
            "root", "admin", "test", "ubuntu", "pi", "oracle", "git", "ftp", "www", "guest",
        ]
        .iter()
        .enumerate()
        {
            let d = tracker.observe(later.plus_millis(i as i64 * 1_000), &line(user));
            if i < 9 {
                assert!(d.is_none(), "at {i}");
            } else {
                found = d;
            }
        }
        let d = found.expect("the tenth failure is a detection");
        assert_eq!(d.kind, DetectionKind::FailedLogins);
        assert!(
            d.summary
                .starts_with("10 failed SSH logins from 192.0.2.50"),
            "{}",
            d.summary
        );
        assert!(
            d.summary.contains("root") && d.summary.contains("guest"),
            "{}",
            d.summary
        );
        assert_eq!(d.signals[0].value, 10.0);

        // More failures within the hour: quiet.
        for i in 0..20 {
            let at = later.plus_millis(30_000 + i * 1_000);
            assert!(tracker.observe(at, &line("x")).is_none());
        }
        // An hour later, still at it: a new detection.
        let hour_on = later.plus_millis(QUIET_MS + 60_000);
        let mut again = None;
        for i in 0..10 {
            again = again.or(tracker.observe(hour_on.plus_millis(i * 1_000), &line("y")));
        }
        assert!(again.is_some());
    }

    #[test]
    fn sources_are_bounded() {
        let mut tracker = FailedLogins::new();
        for i in 0..(MAX_SOURCES as u32 + 10) {
            let ip = std::net::Ipv4Addr::from(0x0A00_0000 + i);
            let line = format!("Failed password for root from {ip} port 22 ssh2");
            tracker.observe(Timestamp::from_millis(i as i64), &line);
        }
        assert_eq!(tracker.sources(), MAX_SOURCES);
    }

    #[test]
    fn an_auth_log_is_read_by_whole_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.log");
        std::fs::write(&path, "old line\n").unwrap();
        let mut source = LogSource::File {
            offset: 9,
            path: path.clone(),
        };
        let now = Timestamp::from_secs(1);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(f, "first\nsecond\npart").unwrap();
        assert_eq!(source.read_new(now).unwrap(), ["first", "second"]);
        writeln!(f, "ial").unwrap();
        assert_eq!(source.read_new(now).unwrap(), ["partial"]);
        // Rotated: a new, shorter file is read from its start.
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(source.read_new(now).unwrap(), ["new"]);
    }
}

/// The failed-login watch the agent runs every minute: new lines from the device's log,
/// counted per source.
#[derive(Debug, Default)]
pub struct LoginWatch {
    source: Option<LogSource>,
    tracker: FailedLogins,
}

impl LoginWatch {
    /// Reads what was logged since the last poll (from now on, at the first) and returns
    /// the detections it makes. A device without a journal or an auth log has none.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Detected> {
        let Some(source) = self.source.as_mut() else {
            self.source = LogSource::detect(now);
            return Vec::new();
        };
        match source.read_new(now) {
            Ok(lines) => lines
                .iter()
                .filter_map(|line| self.tracker.observe(now, line))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading the login log failed");
                Vec::new()
            }
        }
    }
}
