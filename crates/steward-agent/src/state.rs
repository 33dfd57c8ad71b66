//! The agent's persistent state: who it is (device id, credential, server), the next report
//! sequence number, and the last inventory it queued for the server.
//!
//! Everything lives in one state directory:
//! - `agent.json`: [`AgentState`], mode 0600 because it holds the device's credential;
//! - `inventory.json`: the last inventory queued, the base of the next delta;
//! - `agent.lock`: held while an agent runs, so two agents never share one identity;
//! - `outbox/`: the report queue (see [`crate::outbox`]).
//!
//! Every file is replaced atomically ([`write_atomic`]: temp file in the same directory,
//! fsync, rename, fsync of the directory), so a crash or power loss leaves either the old or
//! the new version, never half of one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use steward_core::{CertFingerprint, Inventory};

const STATE_FILE: &str = "agent.json";
const INVENTORY_FILE: &str = "inventory.json";
const LOCK_FILE: &str = "agent.lock";
/// Suffix of files being written; anything carrying it after a crash is garbage.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Who this agent is and where it reports. Written at enrollment, updated as sequence
/// numbers are used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// Base URL of the server, without a trailing slash.
    pub server_url: String,
    pub device_id: String,
    /// `<device-id>.<secret>`, the bearer token for every request. Never logged.
    pub credential: String,
    pub checkin_interval_secs: u64,
    /// Sequence number of the next report (reports start at 1).
    pub next_seq: u64,
    /// Over HTTPS, the fingerprint of the server's certificate: the only one the agent
    /// accepts. Absent over loopback HTTP, and in state written before pinning existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cert_pin: Option<CertFingerprint>,
}

impl std::fmt::Debug for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentState")
            .field("server_url", &self.server_url)
            .field("device_id", &self.device_id)
            .field("credential", &"<redacted>")
            .field("checkin_interval_secs", &self.checkin_interval_secs)
            .field("next_seq", &self.next_seq)
            .field("server_cert_pin", &self.server_cert_pin)
            .finish()
    }
}

impl AgentState {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    /// Whether `state_dir` holds an enrolled agent's state.
    pub fn exists(state_dir: &Path) -> bool {
        Self::path(state_dir).exists()
    }

    /// Reads the state; a missing file is the "not enrolled" error, with the command to run.
    pub fn load(state_dir: &Path) -> anyhow::Result<AgentState> {
        let path = Self::path(state_dir);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "this agent is not enrolled (no {}): run `STEWARD_ENROLL_TOKEN=T steward agent enroll --server URL`",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut state: AgentState = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is damaged: remove it and enroll again with `STEWARD_ENROLL_TOKEN=T steward agent enroll --server URL`",
                path.display()
            )
        })?;
        state.next_seq = state.next_seq.max(1);
        Ok(state)
    }

    /// Writes the state atomically, readable by its owner only.
    pub fn save(&self, state_dir: &Path) -> anyhow::Result<()> {
        ensure_dir(state_dir)?;
        let bytes = serde_json::to_vec_pretty(self).context("encoding the agent state")?;
        write_atomic(&Self::path(state_dir), &bytes)
    }

    /// Hands out the next sequence number, saving the state before returning it, so a number
    /// is never used twice even if the agent crashes right after.
    pub fn take_seq(&mut self, state_dir: &Path) -> anyhow::Result<u64> {
        let seq = self.next_seq.max(1);
        self.next_seq = seq + 1;
        self.save(state_dir)?;
        Ok(seq)
    }
}

/// The last inventory the agent queued, or `None` when there is none (first run) or the file
/// is unreadable (then the caller sends a full inventory, which repairs everything).
pub fn load_inventory(state_dir: &Path) -> anyhow::Result<Option<Inventory>> {
    let path = state_dir.join(INVENTORY_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    match serde_json::from_slice::<Inventory>(&bytes) {
        Ok(inv) => Ok(Some(inv)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e,
                "last inventory is unreadable; a full inventory will be sent");
            Ok(None)
        }
    }
}

/// Records `inventory` as the last one queued (the base of the next delta).
pub fn save_inventory(state_dir: &Path, inventory: &Inventory) -> anyhow::Result<()> {
    ensure_dir(state_dir)?;
    let bytes = serde_json::to_vec(inventory).context("encoding the inventory")?;
    write_atomic(&state_dir.join(INVENTORY_FILE), &bytes)
}

/// Forgets the last inventory: the next one collected is sent whole.
pub fn remove_inventory(state_dir: &Path) -> anyhow::Result<()> {
    let path = state_dir.join(INVENTORY_FILE);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Creates the directory (and parents) if needed; a new directory is private (0700).
pub(crate) fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Replaces `path` with `bytes` atomically: a temp file in the same directory (mode 0600),
/// fsync, rename over `path`, fsync of the directory so the rename itself is durable.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".{:08x}{TEMP_SUFFIX}", rand::random::<u32>()));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

/// Makes renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// An exclusive lock on the state directory, held while the agent runs; released on drop.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Fails at once (does not wait) if another agent holds the directory.
    pub fn acquire(state_dir: &Path) -> anyhow::Result<StateLock> {
        ensure_dir(state_dir)?;
        let path = state_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => bail!(
                "another agent is already running with the state directory {}",
                state_dir.display()
            ),
            Err(fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AgentState {
        AgentState {
            server_url: "https://steward.example".into(),
            device_id: "dev-1".into(),
            credential: "dev-1.s3cret".into(),
            checkin_interval_secs: 60,
            next_seq: 1,
            server_cert_pin: Some(CertFingerprint::of_der(b"cert")),
        }
    }

    #[test]
    fn state_from_before_pinning_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            AgentState::path(dir.path()),
            r#"{"server_url":"http://127.0.0.1:8080","device_id":"d","credential":"d.s",
                "checkin_interval_secs":60,"next_seq":5}"#,
        )
        .unwrap();
        let st = AgentState::load(dir.path()).unwrap();
        assert_eq!(st.server_cert_pin, None);
        assert_eq!(st.next_seq, 5);
    }

    #[test]
    fn round_trip_and_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = state();
        st.save(dir.path()).unwrap();
        assert_eq!(AgentState::load(dir.path()).unwrap(), st);
        assert_eq!(st.take_seq(dir.path()).unwrap(), 1);
        assert_eq!(st.take_seq(dir.path()).unwrap(), 2);
        assert_eq!(AgentState::load(dir.path()).unwrap().next_seq, 3);
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["agent.json".to_string()]);
    }

    #[cfg(unix)]
    #[test]
    fn state_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("state");
        state().save(&sub).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&AgentState::path(&sub)), 0o600);
        assert_eq!(mode(&sub), 0o700);
    }

    #[test]
    fn missing_state_says_how_to_enroll() {
        let dir = tempfile::tempdir().unwrap();
        let err = AgentState::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not enrolled"), "{err}");
        assert!(err.contains("steward agent enroll"), "{err}");
    }

    #[test]
    fn debug_hides_the_credential() {
        let shown = format!("{:?}", state());
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn inventory_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_inventory(dir.path()).unwrap(), None);
        let inv = Inventory {
            hostname: "h".into(),
            ..Default::default()
        };
        save_inventory(dir.path(), &inv).unwrap();
        assert_eq!(load_inventory(dir.path()).unwrap(), Some(inv));
        fs::write(dir.path().join(INVENTORY_FILE), b"{not json").unwrap();
        assert_eq!(load_inventory(dir.path()).unwrap(), None);
        remove_inventory(dir.path()).unwrap();
        remove_inventory(dir.path()).unwrap();
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StateLock::acquire(dir.path()).unwrap();
        assert!(StateLock::acquire(dir.path()).is_err());
        drop(lock);
        StateLock::acquire(dir.path()).unwrap();
    }
}
