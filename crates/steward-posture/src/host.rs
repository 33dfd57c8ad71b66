//! What a check may read: a file, or a command's output. The [`Host`] trait is the one door,
//! so a check never touches the machine itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A command's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub status: i32,
    pub stdout: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The file or command could not be read for a reason other than its absence (no
    /// permission, a timeout): the check is unknown, not failed.
    #[error("{0}")]
    Unreadable(String),
}

/// The machine as checks see it.
pub trait Host {
    /// A file's text; `None` when it does not exist.
    fn read(&self, path: &str) -> Result<Option<String>, HostError>;

    /// Runs `command` (a program and its arguments, split on spaces); `None` when the
    /// program is not installed.
    fn run(&self, command: &str) -> Result<Option<CommandOutput>, HostError>;
}

/// A recorded machine: files under `root/`, and command outputs in `commands.toml`
/// (`[[command]] run = "sshd -T"`, `stdout = "…"`, `status = 0`, or `missing = true`).
/// A command the fixture does not record is an error, so a fixture cannot pass by leaving
/// something out.
pub struct FixtureHost {
    root: PathBuf,
    commands: HashMap<String, Option<CommandOutput>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    #[serde(default)]
    command: Vec<RecordedCommand>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedCommand {
    run: String,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    status: i32,
    #[serde(default)]
    missing: bool,
}

impl FixtureHost {
    /// The fixture in `dir` (`dir/root/…`, `dir/commands.toml`; both optional).
    pub fn open(dir: &Path) -> Result<Self, String> {
        let listed = dir.join("commands.toml");
        let recorded: Recorded = match std::fs::read_to_string(&listed) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", listed.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Recorded {
                command: Vec::new(),
            },
            Err(e) => return Err(format!("{}: {e}", listed.display())),
        };
        let commands = recorded
            .command
            .into_iter()
            .map(|c| {
                let output = (!c.missing).then_some(CommandOutput {
                    status: c.status,
                    stdout: c.stdout,
                });
                (c.run, output)
            })
            .collect();
        Ok(Self {
            root: dir.join("root"),
            commands,
        })
    }
}

impl Host for FixtureHost {
    fn read(&self, path: &str) -> Result<Option<String>, HostError> {
        let inside = self.root.join(path.trim_start_matches('/'));
        match std::fs::read_to_string(&inside) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::Unreadable(format!("{path}: {e}"))),
        }
    }

    fn run(&self, command: &str) -> Result<Option<CommandOutput>, HostError> {
        self.commands.get(command).cloned().ok_or_else(|| {
            HostError::Unreadable(format!("the fixture does not record `{command}`"))
        })
    }
}
