//! The installation's sealing key (for TOTP secrets at rest): a 0600 file of 64 hex digits,
//! made on first start. It lives beside the database but not in it, so a database dump or
//! backup alone opens no second factor; server replicas on one PostgreSQL database must be
//! given the same file (`sealing_key_file`).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use steward_server::mfa::SealingKey;

/// The key in `path`, if there is one (`steward admin` reads it, never makes one).
pub fn load(path: &Path) -> anyhow::Result<Option<SealingKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => SealingKey::from_hex(&text)
            .map(Some)
            .with_context(|| format!("the sealing key file {} is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            Err(e).with_context(|| format!("reading the sealing key file {}", path.display()))
        }
    }
}

pub fn load_or_create(path: &Path) -> anyhow::Result<SealingKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => SealingKey::from_hex(&text)
            .with_context(|| format!("the sealing key file {} is damaged", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SealingKey::generate();
            match write_new(path, &key.to_hex()) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "created the sealing key for second-factor secrets");
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(e)
                    if e.downcast_ref::<std::io::Error>()
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists) =>
                {
                    load_or_create(path)
                }
                Err(e) => Err(e)
                    .with_context(|| format!("creating the sealing key file {}", path.display())),
            }
        }
        Err(e) => {
            Err(e).with_context(|| format!("reading the sealing key file {}", path.display()))
        }
    }
}

/// Writes the file only if it does not exist (two replicas starting at once must not
/// overwrite each other's key), readable by the owner only, and never half-written: the key
/// goes to a temporary file, is synced, and is then linked into place, which fails if a key
/// got there first. A crash leaves either no key file or a whole one.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    std::fs::hard_link(tmp.path(), path)?;
    // The temporary name is removed when `tmp` drops; the key stays under `path`.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
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
        // No temporary file is left beside the key.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        std::fs::write(&path, "not hex").unwrap();
        let err = format!("{:#}", load_or_create(&path).err().unwrap());
        assert!(err.contains("damaged"), "{err}");
    }

    #[test]
    fn processes_starting_together_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let keys: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(&path).unwrap().to_hex()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| k == &keys[0]), "one key for all");
    }
}
