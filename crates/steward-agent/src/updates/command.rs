//! Running a package manager: no shell, a fixed `PATH` and `LC_ALL=C` (parseable output;
//! the caller's environment cannot choose the program), no input, a deadline after which
//! the whole process group is killed, and its output handed over line by line (standard
//! output and error as they come) while only the first [`Command::keep`] bytes are kept.
//! The same rules as `steward_posture::SystemHost`, with streaming for install logs.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process_group::{SYSTEM_PATH, group_of, signal_group};

/// A longer line is cut: a package manager never prints one, and a runaway program
/// must not fill memory.
const MAX_LINE: usize = 8 * 1024;

/// One run of a program.
#[derive(Debug, Clone)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    /// Variables set besides `PATH` and `LC_ALL`.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// How many bytes of output [`Finished::output`] keeps.
    pub keep: usize,
}

/// How a program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit code; -1 when a signal ended it.
    pub status: i32,
    /// Its output lines (standard output and error, as they came), up to the cap.
    pub output: Vec<String>,
    /// Whether lines were dropped at the cap.
    pub cut: bool,
}

impl Finished {
    /// The output as one text, cut lines marked.
    pub fn text(&self) -> String {
        let mut text = self.output.join("\n");
        if self.cut {
            text.push_str("\n… (output cut)");
        }
        text
    }
}

impl Command {
    pub fn new(program: &str, timeout: Duration) -> Command {
        Command {
            program: program.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            timeout,
            keep: 1024 * 1024,
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Command {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Command {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `program arg…`, for messages.
    pub fn describe(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the program to its end, handing every line to `on_line` as it comes. An error
    /// when it cannot start (`NotFound` kept as the cause, so a caller can tell a missing
    /// package manager) or does not finish within the timeout.
    pub fn run(&self, on_line: &mut dyn FnMut(&str)) -> anyhow::Result<Finished> {
        let mut command = std::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", SYSTEM_PATH)
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so a timeout kills dpkg and the maintainer scripts
            // apt started, not only apt.
            .process_group(0);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run {}", self.program))?;
        let (sender, lines) = mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sender = sender.clone();
            std::thread::spawn(move || forward_lines(pipe, &sender));
        }
        drop(sender);

        let deadline = Instant::now() + self.timeout;
        let mut finished = Finished {
            status: -1,
            output: Vec::new(),
            cut: false,
        };
        let mut kept = 0usize;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    on_line(&line);
                    if kept + line.len() < self.keep {
                        kept += line.len() + 1;
                        finished.output.push(line);
                    } else {
                        finished.cut = true;
                    }
                }
                // Both pipes closed: the program (and anything that held them) is done.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    kill_group(&mut child);
                    bail!(
                        "`{}` did not finish within {} s",
                        self.describe(),
                        self.timeout.as_secs()
                    );
                }
            }
        }
        loop {
            if let Some(status) = child.try_wait()? {
                finished.status = status.code().unwrap_or(-1);
                return Ok(finished);
            }
            if Instant::now() >= deadline {
                kill_group(&mut child);
                bail!(
                    "`{}` did not finish within {} s",
                    self.describe(),
                    self.timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Sends each line of `pipe` (lossily decoded, cut at [`MAX_LINE`]) until it closes.
fn forward_lines(pipe: Box<dyn Read + Send>, sender: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(pipe);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                buffer.truncate(MAX_LINE);
                let line = String::from_utf8_lossy(&buffer);
                let line = line.trim_end_matches(['\n', '\r']);
                if sender.send(line.to_owned()).is_err() {
                    return;
                }
            }
        }
    }
}

/// Kills the child's process group (it leads it: `process_group(0)`), then the child.
fn kill_group(child: &mut std::process::Child) {
    if let Some(group) = group_of(child.id()) {
        signal_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_both_outputs_without_a_shell_and_keeps_the_status() {
        let mut seen = Vec::new();
        let finished = Command::new("sh", Duration::from_secs(10))
            .args(["-c", "echo out; echo err >&2; echo $LC_ALL; exit 3"])
            .run(&mut |line| seen.push(line.to_owned()))
            .unwrap();
        assert_eq!(finished.status, 3);
        seen.sort();
        assert_eq!(seen, ["C", "err", "out"]);
        // The arguments reach the program as they are: no shell splits or expands them.
        let finished = Command::new("echo", Duration::from_secs(10))
            .args(["$HOME", "a b"])
            .run(&mut |_| {})
            .unwrap();
        assert_eq!(finished.output, ["$HOME a b"]);
    }

    #[test]
    fn output_is_capped_and_marked() {
        let mut all = 0;
        let mut command = Command::new("seq", Duration::from_secs(10)).args(["1", "1000"]);
        command.keep = 20;
        let finished = command.run(&mut |_| all += 1).unwrap();
        assert_eq!(all, 1000, "every line is still streamed");
        assert!(finished.cut);
        assert!(finished.output.len() < 10);
        assert!(finished.text().ends_with("(output cut)"));
    }

    #[test]
    fn a_slow_program_is_killed_with_its_children() {
        let started = Instant::now();
        let err = Command::new("sh", Duration::from_millis(300))
            .args(["-c", "sleep 30 & sleep 30"])
            .run(&mut |_| {})
            .unwrap_err();
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_program_says_so() {
        let err = Command::new("no-such-program-here", Duration::from_secs(1))
            .run(&mut |_| {})
            .unwrap_err();
        let io = err.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    }
}
