//! Steward's backups: restic repositories, written and read through rustic_core.
//!
//! rustic_core's API is young, so it is used only here, behind Steward's own small
//! interface: [`storage`] (where a repository's objects live: a local directory, later a
//! bucket), [`backend`] (that storage as rustic_core sees it) and [`repo`] (the operations
//! Steward needs: init, backup, snapshots, ls, restore, check, forget, prune). Every call
//! blocks; the server runs them in its blocking pool, the agent in a child process.

pub mod backend;
mod key;
pub mod progress;
pub mod repo;
pub mod storage;

pub use progress::{ProgressCounter, ProgressReading};
pub use repo::{
    BackupError, BackupRequest, CheckReport, Digest, Entry, EntryKind, IndexedRepo, ListScope,
    Listing, Repo, RestoreSummary, SnapshotInfo, digest_of_file,
};
