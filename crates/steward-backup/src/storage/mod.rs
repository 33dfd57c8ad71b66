//! Where a repository's objects live, seen as restic sees them: a `config` object and named
//! objects in five kinds. Two users share this view: the server's REST endpoint (which adds
//! the append-only rule on top) and rustic_core (through [`crate::backend`]).
//!
//! The storage itself enforces one rule of its own: an object, once written, is never
//! replaced. [`Storage::put`] refuses a name that exists, so no caller, however confused,
//! can overwrite a pack or a snapshot.

mod local;
mod lock;
mod s3;

pub use local::LocalDir;
pub use lock::ObjectLock;
pub use s3::{S3Bucket, S3Config, S3Storage};

use std::fmt;

/// The kinds of object in a restic repository, with restic's directory names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// The repository's one `config` object (its chunker parameters and id), written once.
    Config,
    /// Key files: the master key sealed with a password.
    Key,
    Snapshot,
    Index,
    /// Pack files (restic calls the directory `data`).
    Data,
    /// Lock files: the only kind an agent may remove.
    Lock,
}

impl ObjectKind {
    pub const NAMED: [ObjectKind; 5] = [
        Self::Key,
        Self::Snapshot,
        Self::Index,
        Self::Data,
        Self::Lock,
    ];

    /// The directory (or, for config, the file) name in a restic repository and in its REST URLs.
    pub const fn dirname(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Key => "keys",
            Self::Snapshot => "snapshots",
            Self::Index => "index",
            Self::Data => "data",
            Self::Lock => "locks",
        }
    }

    pub fn from_dirname(name: &str) -> Option<Self> {
        [
            Self::Config,
            Self::Key,
            Self::Snapshot,
            Self::Index,
            Self::Data,
            Self::Lock,
        ]
        .into_iter()
        .find(|kind| kind.dirname() == name)
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dirname())
    }
}

/// An object's name: 64 lowercase hex digits (restic names objects by the SHA-256 of their
/// content), or empty for the config object. Checked once here so that no name from a request
/// ever reaches a file path or a bucket key unchecked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName(String);

impl ObjectName {
    pub fn parse(name: &str) -> Result<Self, StorageError> {
        if name.len() == 64
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(name.to_owned()))
        } else {
            Err(StorageError::BadName(name.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One object: its kind and, unless it is the config object, its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub name: Option<ObjectName>,
}

impl ObjectRef {
    pub fn config() -> Self {
        Self {
            kind: ObjectKind::Config,
            name: None,
        }
    }

    pub fn named(kind: ObjectKind, name: ObjectName) -> Self {
        Self {
            kind,
            name: Some(name),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{name}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} exists already and objects are never replaced")]
    Exists(String),
    #[error("not an object name: {0:?} (expected 64 lowercase hex digits)")]
    BadName(String),
    #[error("the backup storage is full: {0}")]
    Full(String),
    #[error("backup storage: {0}")]
    Io(String),
}

impl StorageError {
    /// An IO error about `what` (an object, a file), with a full disk told apart.
    pub fn from_io(what: &str, error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::NotFound => Self::NotFound(what.to_owned()),
            std::io::ErrorKind::AlreadyExists => Self::Exists(what.to_owned()),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Self::Full(format!("{what}: {error}"))
            }
            _ => Self::Io(format!("{what}: {error}")),
        }
    }
}

/// A byte range of an object, for reading part of a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub offset: u64,
    pub length: u64,
}

/// One repository's objects. Blocking: callers in async code use the blocking pool.
pub trait Storage: Send + Sync + 'static {
    /// Where the repository is, for messages.
    fn location(&self) -> String;

    /// The kind of storage, as the store records it: `local`, `s3` (or `rest`, an agent's
    /// view of the server's endpoint).
    fn kind(&self) -> &'static str;

    /// Make ready for a new repository (directories, for a local one). Idempotent.
    fn create(&self) -> Result<(), StorageError>;

    /// The names and sizes of the objects of one kind (not config).
    fn list(&self, kind: ObjectKind) -> Result<Vec<(ObjectName, u64)>, StorageError>;

    /// The size of an object, or `None` when it does not exist.
    fn size(&self, object: &ObjectRef) -> Result<Option<u64>, StorageError>;

    /// An object's content, whole or a range of it.
    fn read(&self, object: &ObjectRef, range: Option<Range>) -> Result<Vec<u8>, StorageError>;

    /// Store a new object from its parts. Refuses ([`StorageError::Exists`]) when it exists:
    /// objects are never replaced. A write that fails leaves nothing under the name.
    fn put(&self, object: &ObjectRef, parts: &[&[u8]]) -> Result<(), StorageError>;

    /// [`Storage::put`] of parts the caller hands over, as rustic_core holds a finished pack
    /// (a list of blobs). A storage that sends the parts one after the other overrides this,
    /// so that a pack is never joined into one more copy of itself on the way out.
    fn put_parts(&self, object: &ObjectRef, parts: Vec<bytes::Bytes>) -> Result<(), StorageError> {
        let slices: Vec<&[u8]> = parts.iter().map(|b| b.as_ref()).collect();
        self.put(object, &slices)
    }

    /// A temporary file to receive an object into before it is stored with
    /// [`Storage::put_spooled`]: an upload of tens of MiB is written there as it arrives
    /// rather than held in memory. Dropped, it is deleted.
    fn spool(&self) -> Result<tempfile::NamedTempFile, StorageError> {
        tempfile::NamedTempFile::new().map_err(|e| StorageError::from_io("a spool file", e))
    }

    /// Store a new object from a file of [`Storage::spool`] written whole, as [`Storage::put`]
    /// would: refused when the object exists, nothing under the name if it fails.
    fn put_spooled(
        &self,
        object: &ObjectRef,
        file: tempfile::NamedTempFile,
    ) -> Result<(), StorageError> {
        let content = std::fs::read(file.path())
            .map_err(|e| StorageError::from_io(&object.to_string(), e))?;
        self.put(object, &[&content])
    }

    /// Remove an object. The endpoint decides who may; forget and prune on the server call it.
    fn remove(&self, object: &ObjectRef) -> Result<(), StorageError>;

    /// Remove the spool files of this storage's own last written more than `older_than`
    /// ago — left by a process stopped mid-upload, since a finished or failed upload removes
    /// its own — and answer how many. `older_than` must exceed the longest an upload may
    /// leave its file unwritten. The default spool (the system's temporary directory) is
    /// not this storage's to sweep: none.
    fn remove_stale_spool(&self, older_than: std::time::Duration) -> Result<usize, StorageError> {
        let _ = older_than;
        Ok(0)
    }
}
