//! The installation's sealing key (for TOTP secrets at rest): a 0600 file of 64 hex digits,
//! made on first start. It lives beside the database but not in it, so a database dump or
//! backup alone opens no second factor; server replicas on one PostgreSQL database must be
//! given the same file (`sealing_key_file`).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use steward_server::mfa::SealingKey;

pub fn load_or_create(path: &Path) -> anyhow::Result<SealingKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => SealingKey::from_hex(&text)
            .with_context(|| format!("the sealing key file {} is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SealingKey::generate();
            write_new(path, &key.to_hex())
                .with_context(|| format!("creating the sealing key file {}", path.display()))?;
            tracing::info!(path = %path.display(), "created the sealing key for second-factor secrets");
            Ok(key)
        }
        Err(e) => {
            Err(e).with_context(|| format!("reading the sealing key file {}", path.display()))
        }
    }
}

/// Writes the file only if it does not exist (two replicas starting at once must not
/// overwrite each other's key), readable by the owner only, synced before use.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused_and_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.to_hex(), b.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").unwrap();
        let err = format!("{:#}", load_or_create(&path).err().unwrap());
        assert!(err.contains("damaged"), "{err}");
    }
}
