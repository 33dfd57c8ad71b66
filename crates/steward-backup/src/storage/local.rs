//! A repository in a local directory, laid out exactly as restic's local backend lays it
//! out, so that `restic -r <dir>` opens it.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{ObjectKind, ObjectName, ObjectRef, Range, Storage, StorageError};

/// Where half-written objects wait until they are complete. restic and rustic read only
/// their own directories, so nothing here is ever taken for an object. What a stopped
/// process leaves here is removed by [`Storage::remove_stale_spool`].
const TEMP_DIR: &str = ".steward-tmp";

#[derive(Clone, Debug)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, object: &ObjectRef) -> PathBuf {
        match (&object.kind, &object.name) {
            (ObjectKind::Data, Some(name)) => self
                .root
                .join("data")
                .join(&name.as_str()[..2])
                .join(name.as_str()),
            (kind, Some(name)) => self.root.join(kind.dirname()).join(name.as_str()),
            (kind, None) => self.root.join(kind.dirname()),
        }
    }

    fn list_dir(dir: &Path, out: &mut Vec<(ObjectName, u64)>) -> Result<(), StorageError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(StorageError::from_io(&dir.display().to_string(), error)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::from_io(&dir.display().to_string(), e))?;
            // Anything that is not an object (a stray file, a subdirectory) is not listed.
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| ObjectName::parse(n).ok())
            else {
                continue;
            };
            let metadata = entry
                .metadata()
                .map_err(|e| StorageError::from_io(&entry.path().display().to_string(), e))?;
            if metadata.is_file() {
                out.push((name, metadata.len()));
            }
        }
        Ok(())
    }
}

impl Storage for LocalDir {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn create(&self) -> Result<(), StorageError> {
        let mut dirs = vec![self.root.join(TEMP_DIR)];
        dirs.extend(
            ObjectKind::NAMED
                .iter()
                .map(|kind| self.root.join(kind.dirname())),
        );
        // restic's local layout has all 256 pack subdirectories from the start.
        dirs.extend((0..=255u8).map(|byte| self.root.join("data").join(format!("{byte:02x}"))));
        for dir in dirs {
            fs::create_dir_all(&dir)
                .map_err(|e| StorageError::from_io(&dir.display().to_string(), e))?;
        }
        Ok(())
    }

    fn list(&self, kind: ObjectKind) -> Result<Vec<(ObjectName, u64)>, StorageError> {
        let mut out = Vec::new();
        let dir = self.root.join(kind.dirname());
        if kind == ObjectKind::Data {
            let subdirs = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(error) => return Err(StorageError::from_io(&dir.display().to_string(), error)),
            };
            for subdir in subdirs {
                let subdir =
                    subdir.map_err(|e| StorageError::from_io(&dir.display().to_string(), e))?;
                Self::list_dir(&subdir.path(), &mut out)?;
            }
        } else if kind != ObjectKind::Config {
            Self::list_dir(&dir, &mut out)?;
        }
        Ok(out)
    }

    fn size(&self, object: &ObjectRef) -> Result<Option<u64>, StorageError> {
        match fs::metadata(self.path_of(object)) {
            Ok(metadata) if metadata.is_file() => Ok(Some(metadata.len())),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StorageError::from_io(&object.to_string(), error)),
        }
    }

    fn read(&self, object: &ObjectRef, range: Option<Range>) -> Result<Vec<u8>, StorageError> {
        let what = object.to_string();
        let mut file =
            File::open(self.path_of(object)).map_err(|e| StorageError::from_io(&what, e))?;
        let mut content = Vec::new();
        match range {
            None => {
                file.read_to_end(&mut content)
                    .map_err(|e| StorageError::from_io(&what, e))?;
            }
            Some(range) => {
                file.seek(SeekFrom::Start(range.offset))
                    .map_err(|e| StorageError::from_io(&what, e))?;
                content.reserve(usize::try_from(range.length.min(64 << 20)).unwrap_or(0));
                file.take(range.length)
                    .read_to_end(&mut content)
                    .map_err(|e| StorageError::from_io(&what, e))?;
            }
        }
        Ok(content)
    }

    fn put(&self, object: &ObjectRef, parts: &[&[u8]]) -> Result<(), StorageError> {
        let what = object.to_string();
        if self.path_of(object).exists() {
            return Err(StorageError::Exists(what));
        }
        let mut temp = self.spool()?;
        for part in parts {
            temp.write_all(part)
                .map_err(|e| StorageError::from_io(&what, e))?;
        }
        self.put_spooled(object, temp)
    }

    /// Beside the repository, so that [`Storage::put_spooled`] links it into place without a
    /// copy.
    fn spool(&self) -> Result<tempfile::NamedTempFile, StorageError> {
        let temp_dir = self.root.join(TEMP_DIR);
        let io = |e| StorageError::from_io(&temp_dir.display().to_string(), e);
        fs::create_dir_all(&temp_dir).map_err(io)?;
        tempfile::NamedTempFile::new_in(&temp_dir).map_err(io)
    }

    fn put_spooled(
        &self,
        object: &ObjectRef,
        temp: tempfile::NamedTempFile,
    ) -> Result<(), StorageError> {
        let what = object.to_string();
        let io = |e| StorageError::from_io(&what, e);
        let path = self.path_of(object);
        if path.exists() {
            return Err(StorageError::Exists(what));
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        // Written whole and synced beside the repository, then linked into place: the name
        // appears complete or not at all, and the link refuses a name that exists (restic's
        // objects are content-addressed, so a second writer would add nothing).
        temp.as_file().sync_all().map_err(io)?;
        temp.persist_noclobber(&path).map_err(|e| io(e.error))?;
        if let Some(parent) = path.parent() {
            // The new name is durable once its directory is.
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }

    fn remove(&self, object: &ObjectRef) -> Result<(), StorageError> {
        fs::remove_file(self.path_of(object))
            .map_err(|e| StorageError::from_io(&object.to_string(), e))
    }

    /// Aged by modification time: a spool file in use is written as its upload arrives,
    /// so its time is that of its last write (or its making). Should one still in use be
    /// removed all the same, its upload fails when it links the file into place and the
    /// client sends it again: never a wrong object.
    fn remove_stale_spool(&self, older_than: Duration) -> Result<usize, StorageError> {
        let temp_dir = self.root.join(TEMP_DIR);
        let io = |e| StorageError::from_io(&temp_dir.display().to_string(), e);
        let entries = match fs::read_dir(&temp_dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(io(error)),
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(io)?;
            // Gone meanwhile (its upload finished), or not a file: not ours to remove.
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            // A time ahead of now (a clock set back) is not old.
            let stale = metadata.is_file()
                && metadata
                    .modified()
                    .ok()
                    .and_then(|written| now.duration_since(written).ok())
                    .is_some_and(|age| age > older_than);
            if !stale {
                continue;
            }
            match fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(io(error)),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(byte: char) -> ObjectName {
        ObjectName::parse(&byte.to_string().repeat(64)).unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn objects_are_written_once_listed_and_read_in_ranges() -> Result<(), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let storage = LocalDir::new(dir.path());
        storage.create()?;
        assert!(
            dir.path().join("data/ab").is_dir(),
            "restic's pack subdirectories exist"
        );

        let pack = ObjectRef::named(ObjectKind::Data, name('a'));
        storage.put(&pack, &[b"hello ", b"world"])?;
        assert!(
            dir.path()
                .join("data/aa")
                .join(name('a').as_str())
                .is_file()
        );
        assert_eq!(storage.read(&pack, None)?, b"hello world");
        assert_eq!(
            storage.read(
                &pack,
                Some(Range {
                    offset: 6,
                    length: 3
                })
            )?,
            b"wor"
        );
        assert_eq!(storage.size(&pack)?, Some(11));
        assert_eq!(storage.list(ObjectKind::Data)?, vec![(name('a'), 11)]);
        assert!(storage.list(ObjectKind::Snapshot)?.is_empty());

        let replaced = storage.put(&pack, &[b"other"]);
        assert!(
            matches!(replaced, Err(StorageError::Exists(_))),
            "{replaced:?}"
        );
        assert_eq!(
            storage.read(&pack, None)?,
            b"hello world",
            "the first content stays"
        );

        storage.put(&ObjectRef::config(), &[b"cfg"])?;
        assert_eq!(storage.read(&ObjectRef::config(), None)?, b"cfg");
        assert!(matches!(
            storage.put(&ObjectRef::config(), &[b"x"]),
            Err(StorageError::Exists(_))
        ));

        storage.remove(&pack)?;
        assert_eq!(storage.size(&pack)?, None);
        assert!(matches!(
            storage.read(&pack, None),
            Err(StorageError::NotFound(_))
        ));
        assert_eq!(
            fs::read_dir(dir.path().join(TEMP_DIR))
                .map(|d| d.count())
                .unwrap_or(99),
            0,
            "no temporary file is left behind"
        );
        Ok(())
    }

    #[test]
    fn a_spooled_object_is_linked_into_place_once() -> Result<(), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::Io(e.to_string()))?;
        let storage = LocalDir::new(dir.path());
        let snapshot = ObjectRef::named(ObjectKind::Snapshot, name('b'));
        let mut spooled = storage.spool()?;
        spooled
            .write_all(b"snapshot")
            .map_err(|e| StorageError::Io(e.to_string()))?;
        storage.put_spooled(&snapshot, spooled)?;
        assert_eq!(storage.read(&snapshot, None)?, b"snapshot");

        let mut again = storage.spool()?;
        again
            .write_all(b"forged")
            .map_err(|e| StorageError::Io(e.to_string()))?;
        let replaced = storage.put_spooled(&snapshot, again);
        assert!(
            matches!(replaced, Err(StorageError::Exists(_))),
            "{replaced:?}"
        );
        assert_eq!(storage.read(&snapshot, None)?, b"snapshot");
        assert_eq!(
            fs::read_dir(dir.path().join(TEMP_DIR))
                .map(|d| d.count())
                .unwrap_or(99),
            0,
            "a refused spool file is deleted"
        );
        Ok(())
    }

    #[test]
    fn spool_files_left_behind_are_removed_and_those_in_use_kept() -> Result<(), StorageError> {
        let io = |e: std::io::Error| StorageError::Io(e.to_string());
        let dir = tempfile::tempdir().map_err(io)?;
        let storage = LocalDir::new(dir.path());
        let hour = Duration::from_secs(3_600);
        assert_eq!(
            storage.remove_stale_spool(hour)?,
            0,
            "no spool directory yet"
        );
        storage.create()?;

        // A server stopped mid-upload: its spool file stays, last written long ago.
        let (_, left) = storage.spool()?.keep().map_err(|e| io(e.error))?;
        File::options()
            .write(true)
            .open(&left)
            .and_then(|f| f.set_modified(SystemTime::now() - 2 * hour))
            .map_err(io)?;
        // An upload arriving now, and one that has been slow for most of an hour.
        let mut arriving = storage.spool()?;
        arriving.write_all(b"part of a pack").map_err(io)?;
        let slow = storage.spool()?;
        slow.as_file()
            .set_modified(SystemTime::now() - hour + Duration::from_secs(60))
            .map_err(io)?;
        fs::create_dir(dir.path().join(TEMP_DIR).join("a-folder")).map_err(io)?;

        assert_eq!(storage.remove_stale_spool(hour)?, 1);
        assert!(!left.exists(), "the one left behind is gone");
        assert!(arriving.path().exists() && slow.path().exists());
        assert!(dir.path().join(TEMP_DIR).join("a-folder").is_dir());
        // Both uploads still finish.
        arriving.write_all(b", the rest").map_err(io)?;
        let pack = ObjectRef::named(ObjectKind::Data, name('c'));
        storage.put_spooled(&pack, arriving)?;
        assert_eq!(storage.read(&pack, None)?, b"part of a pack, the rest");
        storage.put_spooled(&ObjectRef::named(ObjectKind::Index, name('d')), slow)?;
        assert_eq!(storage.remove_stale_spool(hour)?, 0);
        Ok(())
    }

    #[test]
    fn names_from_outside_are_checked() {
        assert!(ObjectName::parse("../../etc/passwd").is_err());
        assert!(
            ObjectName::parse(&"A".repeat(64)).is_err(),
            "restic names are lowercase"
        );
        assert!(ObjectName::parse(&"a".repeat(63)).is_err());
        assert!(ObjectName::parse(&"0".repeat(64)).is_ok());
        assert_eq!(ObjectKind::from_dirname("data"), Some(ObjectKind::Data));
        assert_eq!(ObjectKind::from_dirname("../x"), None);
    }
}
