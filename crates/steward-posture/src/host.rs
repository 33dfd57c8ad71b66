//! What a check may read: a file, or a command's output. The [`Host`] trait is the one door,
//! so a check never touches the machine itself.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A file's mode bits (`0o640`), owner, group and last modification (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
}

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

    /// A file's mode, owner and age (following symbolic links); `None` when it does not
    /// exist.
    fn stat(&self, path: &str) -> Result<Option<FileStat>, HostError>;

    /// The names in a directory (unsorted); `None` when the directory does not exist.
    fn list(&self, dir: &str) -> Result<Option<Vec<String>>, HostError>;

    /// The host's clock, in Unix seconds: age checks compare against it, and a fixture
    /// fixes it so they are deterministic.
    fn now(&self) -> i64;
}

/// A recorded machine: files under `root/`, command outputs in `commands.toml`
/// (`[[command]] run = "sshd -T"`, `stdout = "…"`, `status = 0`, or `missing = true`),
/// file modes, owners and times in `stat.toml` (`[[file]] path = "/etc/shadow"`,
/// `mode = 0o640`, `uid = 0`, `gid = 42`, `mtime = 1764000000`), and the clock in
/// `clock.toml` (`now = 1764400000`). Git keeps neither modes nor times, so both are
/// recorded rather than read from the checkout.
///
/// A command the fixture does not record is an error, and so is the stat of a file under
/// `root/` that `stat.toml` does not record, so a fixture cannot pass by leaving something
/// out. A file recorded only in `stat.toml` exists (for checks that look at a file's age,
/// not its content) and is listed in its directory.
pub struct FixtureHost {
    root: PathBuf,
    commands: HashMap<String, Option<CommandOutput>>,
    stats: HashMap<String, FileStat>,
    now: i64,
}

/// The clock of a fixture without `clock.toml`: 2026-01-01T00:00:00Z.
pub const FIXTURE_DEFAULT_NOW: i64 = 1_767_225_600;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedStats {
    #[serde(default)]
    file: Vec<RecordedStat>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedStat {
    path: String,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedClock {
    now: i64,
}

/// `dir/name` parsed, or `None` when the fixture does not have it.
fn recorded<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>, String> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
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
        let commands = recorded::<Recorded>(dir, "commands.toml")?
            .map_or_else(Vec::new, |r| r.command)
            .into_iter()
            .map(|c| {
                let output = (!c.missing).then_some(CommandOutput {
                    status: c.status,
                    stdout: c.stdout,
                });
                (c.run, output)
            })
            .collect();
        let stats = recorded::<RecordedStats>(dir, "stat.toml")?
            .map_or_else(Vec::new, |r| r.file)
            .into_iter()
            .map(|f| {
                let stat = FileStat {
                    mode: f.mode,
                    uid: f.uid,
                    gid: f.gid,
                    mtime: f.mtime,
                };
                (f.path, stat)
            })
            .collect();
        let now =
            recorded::<RecordedClock>(dir, "clock.toml")?.map_or(FIXTURE_DEFAULT_NOW, |c| c.now);
        Ok(Self {
            root: dir.join("root"),
            commands,
            stats,
            now,
        })
    }
}

impl Host for FixtureHost {
    fn read(&self, path: &str) -> Result<Option<String>, HostError> {
        match std::fs::read_to_string(self.inside(path)) {
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

    fn stat(&self, path: &str) -> Result<Option<FileStat>, HostError> {
        if let Some(stat) = self.stats.get(path) {
            return Ok(Some(*stat));
        }
        if self.inside(path).exists() {
            return Err(HostError::Unreadable(format!(
                "the fixture does not record the mode of {path} (stat.toml)"
            )));
        }
        Ok(None)
    }

    fn list(&self, dir: &str) -> Result<Option<Vec<String>>, HostError> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let mut names: Vec<String> = self
            .stats
            .keys()
            .filter_map(|path| path.strip_prefix(&prefix))
            .filter(|name| !name.contains('/'))
            .map(str::to_owned)
            .collect();
        let found = match std::fs::read_dir(self.inside(dir)) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|e| HostError::Unreadable(format!("{dir}: {e}")))?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => !names.is_empty(),
            Err(e) => return Err(HostError::Unreadable(format!("{dir}: {e}"))),
        };
        names.sort();
        names.dedup();
        Ok(found.then_some(names))
    }

    fn now(&self) -> i64 {
        self.now
    }
}

impl FixtureHost {
    fn inside(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}
