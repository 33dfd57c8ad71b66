//! Files are private: the data directory (database with password hashes, sessions,
//! inventories, the audit log; the sealing key; TLS keys) and the agent's state directory
//! are the owner's alone — directories 0700, database files 0600 — whatever the umask.
//!
//! New directories are made 0700. The SQLite database file is made 0600 before SQLite
//! opens it, and SQLite gives the `-wal` and `-shm` files it creates later the mode of the
//! database file (os_unix.c, `findCreateFileMode` and the shm open), so they are 0600 too
//! without touching the process umask. An existing install made before this (0755/0644) is
//! fixed at start, with a warning naming each path and its old mode.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) as 0700, or makes an existing one 0700.
pub fn dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        builder
            .create(dir)
            .with_context(|| format!("creating directory {}", dir.display()))?;
    }
    restrict(dir, DIR_MODE)
}

/// Makes the SQLite database at `db` and its `-wal`/`-shm` files 0600, creating an empty
/// database file (a valid empty SQLite database) if there is none yet, so that SQLite's
/// own files inherit its mode.
pub fn sqlite_files(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
        options
            .open(db)
            .with_context(|| format!("creating {}", db.display()))?;
    }
    for path in [
        db.to_path_buf(),
        with_suffix(db, "-wal"),
        with_suffix(db, "-shm"),
    ] {
        if path.exists() {
            restrict(&path, FILE_MODE)?;
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Takes every permission for group and others away from `path` (a directory keeps its
/// owner's search bit), warning when there was any to take.
#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let old = std::fs::metadata(path)
        .with_context(|| format!("reading the mode of {}", path.display()))?
        .permissions()
        .mode()
        & 0o7777;
    if old == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("making {} private (mode {mode:o})", path.display()))?;
    if old & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            old_mode = %format!("{old:o}"),
            new_mode = %format!("{mode:o}"),
            "was readable by other users; made private"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    // Windows: the data directory inherits its parent's ACL (the user's profile or
    // ProgramData, set by the installer).
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_install_is_private() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("a/steward-data");
        dir(&data).unwrap();
        sqlite_files(&data.join("steward.db")).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("steward.db")), 0o600);
    }

    #[test]
    fn an_existing_open_install_is_fixed() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("steward-data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = data.join("steward.db");
        for p in [
            &db,
            &data.join("steward.db-wal"),
            &data.join("steward.db-shm"),
        ] {
            std::fs::write(p, b"").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        dir(&data).unwrap();
        sqlite_files(&db).unwrap();
        assert_eq!(mode(&data), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            assert_eq!(mode(&with_suffix(&db, suffix)), 0o600, "{suffix}");
        }
    }
}
