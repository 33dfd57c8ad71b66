//! [`SystemHost`]: the machine itself, as the agent sees it. Commands run without a shell,
//! with a fixed `PATH` and `LC_ALL=C` (so their output is parseable and a caller's
//! environment cannot choose which program runs), no input, a cap on what is kept of their
//! output, and a deadline after which they are killed. Each command's answer is kept for
//! the life of the host, so checks that share a command (three read `ss`, two decompress
//! the security suite's lists) run it once: make one `SystemHost` per evaluation run.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::host::{CommandOutput, FileStat, Host, HostError};

/// Where programs are looked for: the system's directories only, `sbin` included (a
/// non-root agent's own `PATH` often lacks them).
const SEARCH_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Programs that resolve the whole package set (a simulated upgrade): seconds of work on a
/// small machine, so they get [`SystemHost::slow_timeout`].
const SLOW_PROGRAMS: &[&str] = &["apt-get", "dnf", "zypper"];

/// Programs that print a whole package list (apt's helper decompressing a security
/// suite's Packages file: a few MB), so they may print up to [`LIST_OUTPUT`]: a list cut
/// at the usual cap would silently hide the packages after the cut.
const LIST_PROGRAMS: &[&str] = &["/usr/lib/apt/apt-helper"];
const LIST_OUTPUT: usize = 64 * 1024 * 1024;

type Answer = Result<Option<CommandOutput>, HostError>;

/// The machine the agent runs on.
#[derive(Debug)]
pub struct SystemHost {
    /// How long a command may run before it is killed and read as unreadable.
    pub timeout: Duration,
    /// The same for the package managers' simulations.
    pub slow_timeout: Duration,
    /// How much of a command's standard output is kept; the rest is read and dropped.
    pub max_output: usize,
    answers: Mutex<HashMap<String, Answer>>,
}

impl Default for SystemHost {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            slow_timeout: Duration::from_secs(60),
            max_output: 1024 * 1024,
            answers: Mutex::new(HashMap::new()),
        }
    }
}

impl SystemHost {
    /// How long `program` may run.
    pub fn timeout_of(&self, program: &str) -> Duration {
        if SLOW_PROGRAMS.contains(&program) {
            self.slow_timeout
        } else {
            self.timeout
        }
    }

    /// How much of `program`'s output is kept.
    pub fn max_output_of(&self, program: &str) -> usize {
        if LIST_PROGRAMS.contains(&program) {
            self.max_output.max(LIST_OUTPUT)
        } else {
            self.max_output
        }
    }

    /// Runs `command` once, for real.
    fn execute(&self, command: &str) -> Answer {
        let mut words = command.split_whitespace();
        let Some(program) = words.next() else {
            return Err(HostError::Unreadable("an empty command".into()));
        };
        let spawned = Command::new(program)
            .args(words)
            .env_clear()
            .env("PATH", SEARCH_PATH)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(&format!("`{command}`"), e)),
        };
        let Some(stdout) = child.stdout.take() else {
            return Err(HostError::Unreadable(format!(
                "`{command}`: no output pipe"
            )));
        };
        let cap = self.max_output_of(program);
        let (sender, receiver) = mpsc::channel();
        // A thread reads, so the deadline holds even while the program is silent. If a
        // grandchild keeps the pipe open after the kill, the thread ends when it does.
        std::thread::spawn(move || {
            let _ = sender.send(read_capped(stdout, cap));
        });
        let timeout = self.timeout_of(program);
        let deadline = Instant::now() + timeout;
        let too_slow = || {
            HostError::Unreadable(format!(
                "`{command}` did not finish within {} s",
                timeout.as_secs_f32()
            ))
        };
        let output = match receiver.recv_timeout(timeout) {
            Ok(read) => read.map_err(|e| unreadable(&format!("`{command}`"), e))?,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(too_slow());
            }
        };
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Ok(Some(CommandOutput {
                        // A program killed by a signal has no exit code.
                        status: status.code().unwrap_or(-1),
                        stdout: String::from_utf8_lossy(&output).into_owned(),
                    }));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(too_slow());
                }
                Err(e) => return Err(unreadable(&format!("`{command}`"), e)),
            }
        }
    }
}

fn unreadable(what: &str, e: impl std::fmt::Display) -> HostError {
    HostError::Unreadable(format!("{what}: {e}"))
}

/// Reads `from` to its end, keeping the first `cap` bytes, so a chatty program never
/// blocks on a full pipe and never fills memory.
fn read_capped(mut from: impl Read, cap: usize) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let n = from.read(&mut buffer)?;
        if n == 0 {
            return Ok(kept);
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..n.min(room)]);
    }
}

impl Host for SystemHost {
    fn read(&self, path: &str) -> Result<Option<String>, HostError> {
        // A pipe or a device would block or never end (logind keeps FIFOs beside its
        // session files): only regular files are read.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(HostError::Unreadable(format!(
                    "{path} is not a regular file"
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(path, e)),
        }
        match std::fs::read(path) {
            // Files checks read are text; a stray byte is not a reason to know nothing.
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unreadable(path, e)),
        }
    }

    fn run(&self, command: &str) -> Result<Option<CommandOutput>, HostError> {
        let remembered = self
            .answers
            .lock()
            .ok()
            .and_then(|answers| answers.get(command).cloned());
        if let Some(answer) = remembered {
            return answer;
        }
        let answer = self.execute(command);
        if let Ok(mut answers) = self.answers.lock() {
            answers.insert(command.to_owned(), answer.clone());
        }
        answer
    }

    fn stat(&self, path: &str) -> Result<Option<FileStat>, HostError> {
        match std::fs::metadata(path) {
            Ok(meta) => Ok(Some(FileStat {
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: meta.mtime(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unreadable(path, e)),
        }
    }

    fn list(&self, dir: &str) -> Result<Option<Vec<String>>, HostError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| unreadable(dir, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(Some(names))
    }

    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_a_program_without_a_shell_and_keeps_its_status() {
        let host = SystemHost::default();
        let out = host.run("/bin/echo hello   world $HOME").unwrap().unwrap();
        assert_eq!(out.stdout, "hello world $HOME\n");
        assert_eq!(out.status, 0);
        let failed = host.run("/bin/false").unwrap().unwrap();
        assert_eq!(failed.status, 1, "a non-zero exit is still an answer");
        assert_eq!(host.run("no-such-program-here --version").unwrap(), None);
    }

    #[test]
    fn a_slow_program_is_killed_at_the_deadline() {
        let host = SystemHost {
            timeout: Duration::from_millis(300),
            ..SystemHost::default()
        };
        let started = Instant::now();
        let error = host.run("/bin/sleep 5").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{error}");
        assert!(error.to_string().contains("did not finish"), "{error}");
    }

    #[test]
    fn a_command_runs_once_per_host() {
        let host = SystemHost::default();
        let first = host.run("/bin/date +%s%N").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(host.run("/bin/date +%s%N").unwrap(), first);
        assert_ne!(SystemHost::default().run("/bin/date +%s%N").unwrap(), first);
    }

    #[test]
    fn output_is_capped() {
        let host = SystemHost {
            max_output: 10,
            ..SystemHost::default()
        };
        let out = host.run("/bin/echo 0123456789abcdef").unwrap().unwrap();
        assert_eq!(out.stdout, "0123456789");
    }

    #[test]
    fn files_directories_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "text").unwrap();
        let host = SystemHost::default();
        let path = file.to_str().unwrap();
        assert_eq!(host.read(path).unwrap().as_deref(), Some("text"));
        assert!(host.stat(path).unwrap().unwrap().mtime > 0);
        let names = host.list(dir.path().to_str().unwrap()).unwrap().unwrap();
        assert_eq!(names, ["f"]);
        let error = host.read(dir.path().to_str().unwrap()).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let gone = dir.path().join("gone");
        assert_eq!(host.read(gone.to_str().unwrap()).unwrap(), None);
        assert_eq!(host.stat(gone.to_str().unwrap()).unwrap(), None);
        assert_eq!(host.list(gone.to_str().unwrap()).unwrap(), None);
        assert!(host.now() > 1_700_000_000);
    }
}
