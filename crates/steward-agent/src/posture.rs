//! Security posture on the agent: the built-in checks (and the local pack, if the agent is
//! given one) evaluated on this machine every few hours and at start, off the async workers,
//! and handed to the next check-in as the report's `posture` section. Nothing is kept
//! between runs: the pack is parsed, the checks read the machine, and all of it is dropped
//! once the results are queued.

use std::path::{Path, PathBuf};
use std::time::Duration;

use steward_core::Timestamp;
use steward_core::limits::clean_text;
use steward_core::posture::{PostureReport, PostureResult, PostureState};
use steward_posture::{Host, Pack, PackError, State};

/// How often the checks run by default.
pub const DEFAULT_POSTURE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Files read from a local pack directory, and the size of each.
const MAX_PACK_FILES: usize = 64;
const MAX_PACK_FILE_BYTES: u64 = 256 * 1024;

/// Whether and how the agent evaluates its posture.
#[derive(Debug, Clone)]
pub struct PostureConfig {
    pub every: Duration,
    /// A directory of the user's own `*.toml` pack files, added to the built-in checks.
    pub pack_dir: Option<PathBuf>,
    /// The command of a worker process that evaluates and prints the report as JSON (the
    /// binary's `steward agent posture --json`); `None`: evaluated in the agent's own
    /// process (tests, library users).
    pub worker: Option<Vec<std::ffi::OsString>>,
}

impl Default for PostureConfig {
    fn default() -> Self {
        Self {
            every: DEFAULT_POSTURE_EVERY,
            pack_dir: None,
            worker: None,
        }
    }
}

/// The checks to run: the built-in pack, and the local pack when it reads cleanly. A local
/// pack that is malformed (or names a check the built-in pack has) is refused whole with its
/// file, line and reason, and the built-in checks run anyway.
pub fn checks(pack_dir: Option<&Path>) -> Pack {
    let mut pack = steward_posture::builtin();
    let Some(dir) = pack_dir else {
        return pack;
    };
    match read_pack(dir).and_then(|local| merge(&mut pack, local)) {
        Ok(()) => {}
        Err(e) => {
            tracing::error!(error = %e, "the local posture pack is refused; running the built-in checks only")
        }
    }
    pack
}

fn read_pack(dir: &Path) -> Result<Pack, PackError> {
    let refused = |file: &Path, reason: String| PackError {
        file: file.display().to_string(),
        line: 0,
        reason,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| refused(dir, e.to_string()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.len() > MAX_PACK_FILES {
        return Err(refused(
            dir,
            format!("{} pack files, at most {MAX_PACK_FILES}", paths.len()),
        ));
    }
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        let size = std::fs::metadata(path)
            .map_err(|e| refused(path, e.to_string()))?
            .len();
        if size > MAX_PACK_FILE_BYTES {
            return Err(refused(
                path,
                format!("{size} bytes, at most {MAX_PACK_FILE_BYTES}"),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| refused(path, e.to_string()))?;
        files.push((path.display().to_string(), text));
    }
    Pack::parse(files.iter().map(|(f, t)| (f.as_str(), t.as_str())))
}

fn merge(pack: &mut Pack, local: Pack) -> Result<(), PackError> {
    if let Some(clash) = local
        .checks
        .iter()
        .find(|c| pack.checks.iter().any(|b| b.id == c.id))
    {
        return Err(PackError {
            file: "local pack".into(),
            line: 0,
            reason: format!("check {:?} is a built-in check's id", clash.id),
        });
    }
    pack.checks.extend(local.checks);
    Ok(())
}

/// Evaluates the checks (the built-in pack and the local one in `pack_dir`) on this
/// machine. Blocking: it runs commands and reads files.
/// The largest report a worker may print (its results are bounded; this bounds the read).
const MAX_WORKER_OUTPUT: u64 = 4 * 1024 * 1024;
/// How long a worker may take: every command it runs has its own timeout of at most 60 s.
const WORKER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Evaluates in a short-lived child process (`worker`, with `--posture-pack DIR` added when
/// a local pack is configured), so that what an evaluation reads — dpkg's status file, the
/// security suite's lists, command outputs, several MiB — goes back to the system when the
/// worker exits instead of staying in the resident agent's heap (the allocator keeps freed
/// memory). Measured: the agent's steady memory with posture on stays that of an agent
/// without it (docs/PERFORMANCE.md).
pub async fn evaluate_in_worker(
    worker: &[std::ffi::OsString],
    pack_dir: Option<&Path>,
) -> anyhow::Result<PostureReport> {
    use anyhow::Context;
    use tokio::io::AsyncReadExt;
    let (program, args) = worker
        .split_first()
        .context("the posture worker's command is empty")?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .arg("--json")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    if let Some(dir) = pack_dir {
        command.arg("--posture-pack").arg(dir);
    }
    let mut child = command.spawn().context("starting the posture worker")?;
    let mut stdout = child.stdout.take().context("the posture worker's output")?;
    let run = async {
        let mut out = Vec::new();
        (&mut stdout)
            .take(MAX_WORKER_OUTPUT)
            .read_to_end(&mut out)
            .await?;
        let status = child.wait().await?;
        anyhow::Ok((status, out))
    };
    let (status, out) = tokio::time::timeout(WORKER_TIMEOUT, run)
        .await
        .context("the posture worker timed out")??;
    anyhow::ensure!(status.success(), "the posture worker failed ({status})");
    serde_json::from_slice(&out).context("reading the posture worker's report")
}

pub fn evaluate_this_machine(pack_dir: Option<&Path>) -> PostureReport {
    let pack = checks(pack_dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    evaluate(
        &pack,
        &steward_posture::SystemHost::default(),
        Timestamp(now),
    )
}

/// Evaluates every check of `pack` on `host`.
pub fn evaluate(pack: &Pack, host: &dyn Host, now: Timestamp) -> PostureReport {
    let results = pack
        .checks
        .iter()
        .take(steward_core::posture::report::MAX_POSTURE_RESULTS)
        .map(|check| {
            let outcome = steward_posture::evaluate(check, host);
            PostureResult {
                check: check.id.clone(),
                state: match outcome.state {
                    State::Pass => PostureState::Pass,
                    State::Fail => PostureState::Fail,
                    State::NotApplicable => PostureState::NotApplicable,
                    State::Unknown => PostureState::Unknown,
                },
                evidence: one_line(outcome.evidence),
                reason: one_line(outcome.reason),
            }
        })
        .collect();
    PostureReport {
        evaluated_at: now,
        results,
    }
}

/// Evidence is often several lines of a file: joined with " | " so the server, which
/// refuses control characters, takes it as it was seen.
fn one_line(text: String) -> String {
    let mut line = if text.contains('\n') {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    } else {
        text
    };
    clean_text(&mut line);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in worker: `sh -c SCRIPT` (the runner's `--json` becomes `$0`).
    fn worker(script: &str) -> Vec<std::ffi::OsString> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[tokio::test]
    async fn a_worker_s_report_is_read_and_its_failures_are_errors() {
        let report = evaluate_in_worker(
            &worker(r#"printf '%s' '{"evaluated_at": 5, "results": []}'"#),
            None,
        )
        .await
        .unwrap();
        assert_eq!(report.evaluated_at, Timestamp(5));
        let err = evaluate_in_worker(&worker("exit 3"), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("failed"), "{err}");
        let err = evaluate_in_worker(&worker("echo not a report"), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("report"), "{err}");
        assert!(evaluate_in_worker(&[], None).await.is_err());
    }

    #[test]
    fn multi_line_evidence_becomes_one_clean_line() {
        assert_eq!(one_line("a\n\n b \nc".into()), "a | b | c");
        assert_eq!(one_line("tab\there".into()), "tab\u{FFFD}here");
    }

    #[test]
    fn a_malformed_local_pack_is_refused_and_the_builtin_checks_still_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), "[[check]]\nid = \"x\"\n").unwrap();
        let builtin = steward_posture::builtin();
        assert_eq!(checks(Some(dir.path())), builtin);
        let err = read_pack(dir.path()).unwrap_err();
        assert!(err.file.ends_with("mine.toml"), "{err}");
    }

    #[test]
    fn a_local_check_may_not_take_a_builtin_id() {
        let mut pack = steward_posture::builtin();
        let local = steward_posture::builtin();
        let err = merge(&mut pack, local).unwrap_err();
        assert!(err.reason.contains("built-in"), "{err}");
    }
}
