//! The device's own decision about scripts, kept in files only someone on the device can
//! change: `agent.toml` (`allow_scripts`, off unless it says `true`) and `script_key` (the
//! server's script signing key, pinned at enrollment). Nothing the server sends writes
//! either file: the agent protocol has no message for it.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::state::{ensure_dir, write_atomic};

/// The agent's own config file in its state directory.
pub const CONFIG_FILE: &str = "agent.toml";
/// The pinned public key of the server's script signing key (base64 of 32 bytes).
pub const SCRIPT_KEY_FILE: &str = "script_key";

/// Whether this device runs scripts at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptPolicy {
    pub allow_scripts: bool,
}

impl ScriptPolicy {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    /// The policy in `dir/agent.toml`. An absent file, or a file without `allow_scripts`,
    /// means off. A file that is not TOML, or an `allow_scripts` that is not `true` or
    /// `false`, is an error (the executor then refuses): a typo must not turn scripts on,
    /// and silently treating it as off would hide it.
    pub fn load(dir: &Path) -> anyhow::Result<ScriptPolicy> {
        let path = ScriptPolicy::path(dir);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ScriptPolicy::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        let allow_scripts = match table.get("allow_scripts") {
            None => false,
            Some(toml::Value::Boolean(allowed)) => *allowed,
            Some(other) => bail!(
                "{}: allow_scripts is true or false, not {other}",
                path.display()
            ),
        };
        Ok(ScriptPolicy { allow_scripts })
    }

    /// Writes the policy into `dir/agent.toml`, keeping any other settings the file holds.
    /// Enrollment calls it (`steward agent enroll --allow-scripts`); so may an administrator
    /// on the device.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = ScriptPolicy::path(dir);
        let mut table = match fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<toml::Table>(&text)
                .with_context(|| format!("reading {}", path.display()))?,
            Err(e) if e.kind() == ErrorKind::NotFound => toml::Table::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        table.insert(
            "allow_scripts".into(),
            toml::Value::Boolean(self.allow_scripts),
        );
        let text =
            toml::to_string(&table).with_context(|| format!("writing {}", path.display()))?;
        ensure_dir(dir)?;
        write_atomic(&path, text.as_bytes())
    }
}

fn script_key_path(dir: &Path) -> PathBuf {
    dir.join(SCRIPT_KEY_FILE)
}

/// Pins the server's script signing key, given in its text form (base64 of the 32-byte
/// Ed25519 public key, as the enrollment answer carries it). Enrollment calls it.
pub fn pin_script_key(dir: &Path, public_key: &str) -> anyhow::Result<()> {
    steward_core::scripts::decode_public_key(public_key)
        .context("the server's script signing key")?;
    ensure_dir(dir)?;
    write_atomic(
        &script_key_path(dir),
        format!("{}\n", public_key.trim()).as_bytes(),
    )
}

/// The pinned script key's 32 bytes, or `None` when none is pinned.
pub fn pinned_script_key(dir: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let path = script_key_path(dir);
    match fs::read_to_string(&path) {
        Ok(text) => steward_core::scripts::decode_public_key(&text)
            .map(Some)
            .with_context(|| format!("reading {}", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_off_unless_the_file_says_true() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!ScriptPolicy::load(dir.path()).unwrap().allow_scripts);
        fs::write(dir.path().join(CONFIG_FILE), "# nothing yet\n").unwrap();
        assert!(!ScriptPolicy::load(dir.path()).unwrap().allow_scripts);
        fs::write(dir.path().join(CONFIG_FILE), "allow_scripts = false\n").unwrap();
        assert!(!ScriptPolicy::load(dir.path()).unwrap().allow_scripts);
        fs::write(dir.path().join(CONFIG_FILE), "allow_scripts = true\n").unwrap();
        assert!(ScriptPolicy::load(dir.path()).unwrap().allow_scripts);
    }

    #[test]
    fn a_malformed_setting_is_an_error_not_a_yes() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONFIG_FILE), "allow_scripts = \"yes\"\n").unwrap();
        let err = ScriptPolicy::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("allow_scripts"), "{err}");
        fs::write(dir.path().join(CONFIG_FILE), "allow_scripts = \n").unwrap();
        assert!(ScriptPolicy::load(dir.path()).is_err());
    }

    #[test]
    fn saving_keeps_other_settings() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONFIG_FILE), "other = 3\n").unwrap();
        ScriptPolicy {
            allow_scripts: true,
        }
        .save(dir.path())
        .unwrap();
        assert!(ScriptPolicy::load(dir.path()).unwrap().allow_scripts);
        let text = fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap();
        assert!(text.contains("other = 3"), "{text}");
        ScriptPolicy::default().save(dir.path()).unwrap();
        assert!(!ScriptPolicy::load(dir.path()).unwrap().allow_scripts);
    }

    #[test]
    fn the_script_key_is_pinned_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pinned_script_key(dir.path()).unwrap(), None);
        let text = steward_core::scripts::encode_public_key(&[7; 32]);
        pin_script_key(dir.path(), &text).unwrap();
        assert_eq!(pinned_script_key(dir.path()).unwrap(), Some(vec![7; 32]));
        assert!(pin_script_key(dir.path(), "AAAA").is_err());
        fs::write(dir.path().join(SCRIPT_KEY_FILE), "garbage").unwrap();
        assert!(pinned_script_key(dir.path()).is_err());
    }
}
