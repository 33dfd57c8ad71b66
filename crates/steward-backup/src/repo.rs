//! The repository operations Steward needs, over rustic_core. Each call blocks (it reads
//! files, hashes, compresses, encrypts on rustic's threads): run it off async workers.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustic_core::repofile::{MasterKey, NodeType, SnapshotFile, SnapshotId};
use rustic_core::{
    BackupOptions, CheckOptions, ConfigOptions, Credentials, Excludes, IndexedFullStatus,
    KeyOptions, LocalDestination, LsOptions, OpenStatus, PathList, PruneOptions, ReadSubsetOption,
    Repository, RepositoryBackends, RepositoryOptions, RestoreOptions, SnapshotOptions,
};

use bytesize::ByteSize;

use crate::backend::StorageBackend;
use crate::key;
use crate::progress::{CounterBars, ProgressCounter};
use crate::storage::{ObjectRef, Storage};

/// The largest pack Steward's repositories write (rustic's default grows without bound with
/// the repository): restic's 16 MiB. A backup holds a few packs at once (the one filling,
/// the ones queued for upload), so this bounds the worker's memory; the server's endpoint
/// takes uploads far larger. Written into the repository's config at init: repositories
/// made before keep the limit they were made with (64 MiB until this changed).
pub const DATA_PACK_LIMIT: u64 = 16 << 20;
const TREE_PACK_LIMIT: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Repository(String),
}

fn failed(error: impl std::fmt::Display) -> BackupError {
    BackupError::Repository(error.to_string())
}

/// What to back up.
#[derive(Debug, Clone, Default)]
pub struct BackupRequest {
    pub paths: Vec<String>,
    /// restic-style exclude globs (`*.tmp`, `/home/*/.cache`).
    pub excludes: Vec<String>,
    /// The host name written into the snapshot (the device's name).
    pub host: String,
    pub tags: Vec<String>,
}

/// A snapshot as Steward shows it. Times and sizes written inside are the device's word.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    /// The time written inside the snapshot, unix ms (shown, never trusted for retention).
    pub written_at: i64,
    pub paths: Vec<String>,
    pub hostname: String,
    pub tags: Vec<String>,
    pub files: Option<u64>,
    pub bytes: Option<u64>,
    /// New data this snapshot added, before and after compression.
    pub added_bytes: Option<u64>,
    pub stored_bytes: Option<u64>,
    pub duration_ms: Option<u64>,
}

/// One entry of a snapshot's tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The path inside the snapshot, `/`-separated, without a leading slash.
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mode: Option<u32>,
    pub mtime_ms: Option<i64>,
    /// Where a symlink points.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// How much of a snapshot's tree [`IndexedRepo::ls`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListScope {
    /// Everything under the path, or only its direct entries.
    pub recursive: bool,
    /// The most entries listed: the listing stops there.
    pub limit: usize,
}

impl ListScope {
    /// A folder's direct entries, at most `limit`.
    pub const fn children(limit: usize) -> Self {
        Self {
            recursive: false,
            limit,
        }
    }

    /// Everything under a folder, at most `limit` entries.
    pub const fn subtree(limit: usize) -> Self {
        Self {
            recursive: true,
            limit,
        }
    }

    /// The whole tree, however large: only for a caller that needs every file (a drill's
    /// sample) and accepts holding them all.
    pub const UNBOUNDED: Self = Self::subtree(usize::MAX);
}

/// What [`IndexedRepo::ls`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// The listing stopped at its limit with entries left: `entries` is the first part.
    pub cut: bool,
}

impl Listing {
    /// The first `limit` of `items`, and whether any is left after them.
    fn bounded(
        mut items: impl Iterator<Item = Result<Entry, BackupError>>,
        limit: usize,
    ) -> Result<Listing, BackupError> {
        let mut entries = Vec::new();
        while entries.len() < limit {
            match items.next() {
                Some(item) => entries.push(item?),
                None => {
                    return Ok(Listing {
                        entries,
                        cut: false,
                    });
                }
            }
        }
        // One step further says whether anything was left out (even one that fails to
        // read: it is still more than was listed).
        let cut = items.next().is_some();
        Ok(Listing { entries, cut })
    }
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

/// What a check found: errors make the repository unsound, warnings do not.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    pub errors: Vec<String>,
}

fn repository(
    storage: Arc<dyn Storage>,
    progress: Arc<ProgressCounter>,
) -> Result<Repository<()>, BackupError> {
    let backends = RepositoryBackends::new(Arc::new(StorageBackend::new(storage)), None);
    // No local cache: the server reads its own disk, and an agent's cache would be one
    // more copy of the index to keep right; the index travels over loopback or LAN.
    let options = RepositoryOptions::default().no_cache(true);
    Repository::new_with_progress(&options, &backends, CounterBars(progress)).map_err(failed)
}

/// Create a new repository in `storage`, sealed with `password`. Refuses when one exists.
pub fn init(storage: Arc<dyn Storage>, password: &str) -> Result<(), BackupError> {
    let config = ConfigOptions::default()
        .set_datapack_size_limit(ByteSize::b(DATA_PACK_LIMIT))
        .set_treepack_size_limit(ByteSize::b(TREE_PACK_LIMIT));
    if storage
        .size(&ObjectRef::config())
        .map_err(failed)?
        .is_some()
    {
        return Err(failed(format!(
            "a repository exists already at {}",
            storage.location()
        )));
    }
    // The key file first, as rustic_core orders it, then the config sealed with the master
    // key: rustic's own key would cost 128 MiB at every opening (see `key`).
    let master = MasterKey::new();
    key::write(storage.as_ref(), &master, password)?;
    repository(storage, ProgressCounter::new())?
        .init(
            &Credentials::Masterkey(master),
            &KeyOptions::default(),
            &config,
        )
        .map(|_| ())
        .map_err(failed)
}

/// An open repository.
pub struct Repo {
    open: Repository<OpenStatus>,
}

impl Repo {
    /// Open the repository in `storage`; `progress` receives the byte progress of the
    /// operations run on it.
    pub fn open(
        storage: Arc<dyn Storage>,
        password: &str,
        progress: Arc<ProgressCounter>,
    ) -> Result<Repo, BackupError> {
        let open = repository(storage, progress)?
            .open(&Credentials::password(password))
            .map_err(failed)?;
        Ok(Repo { open })
    }

    /// Load the full index, for browsing and restoring.
    pub fn into_indexed(self) -> Result<IndexedRepo, BackupError> {
        Ok(IndexedRepo {
            indexed: self.open.to_indexed().map_err(failed)?,
        })
    }

    /// Back up `request.paths` as one new snapshot, deduplicated against the latest snapshot
    /// of the same host and paths. The snapshot object is written last, so a backup cut off
    /// halfway leaves no snapshot, only packs that the next one reuses.
    ///
    /// A path that does not exist on this machine is left out (a policy's paths are the
    /// same on many machines, not all of which have each); none existing is an error.
    pub fn backup(self, request: &BackupRequest) -> Result<SnapshotInfo, BackupError> {
        self.backup_written_at(request, None)
    }

    /// [`Repo::backup`] with the time written inside the snapshot set to `written_at_ms`
    /// (unix ms) rather than now, as a device with a wrong clock — or a forger — writes it.
    /// Nothing in Steward trusts that time; tests use this to show so.
    pub fn backup_written_at(
        self,
        request: &BackupRequest,
        written_at_ms: Option<i64>,
    ) -> Result<SnapshotInfo, BackupError> {
        if request.paths.is_empty() {
            return Err(BackupError::Invalid("nothing to back up: no paths".into()));
        }
        let present: Vec<PathBuf> = request
            .paths
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.symlink_metadata().is_ok())
            .collect();
        if present.is_empty() {
            return Err(BackupError::Invalid(format!(
                "nothing to back up: none of {} exists",
                request.paths.join(", ")
            )));
        }
        let source = PathList::from_iter(present)
            .sanitize()
            .map_err(|e| BackupError::Invalid(format!("paths: {e}")))?;
        let mut excludes = Excludes::default();
        // rustic's globs include; a leading `!` makes one exclude, as restic's --exclude does.
        excludes.globs = request.excludes.iter().map(|g| format!("!{g}")).collect();
        let options = BackupOptions::default().excludes(excludes);
        let mut snapshot = SnapshotOptions::default().host(request.host.clone());
        for tag in &request.tags {
            snapshot = snapshot
                .add_tags(tag)
                .map_err(|e| BackupError::Invalid(format!("tag {tag:?}: {e}")))?;
        }
        if let Some(ms) = written_at_ms {
            let at = rustic_core::jiff::Timestamp::from_millisecond(ms)
                .map_err(|e| BackupError::Invalid(format!("snapshot time: {e}")))?;
            snapshot = snapshot.time(at.to_zoned(rustic_core::jiff::tz::TimeZone::UTC));
        }
        let snapshot = snapshot.to_snapshot().map_err(failed)?;
        // Only the ids of the blobs stored: the least memory that deduplication needs.
        let indexed = self.open.to_indexed_ids().map_err(failed)?;
        let written = indexed
            .backup(&options, &source, snapshot)
            .map_err(failed)?;
        Ok(info(&written))
    }

    /// Every snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>, BackupError> {
        let mut all: Vec<SnapshotInfo> = self
            .open
            .get_all_snapshots()
            .map_err(failed)?
            .iter()
            .map(info)
            .collect();
        all.sort_by_key(|s| s.written_at);
        Ok(all)
    }

    /// Check the repository's structure and read back `read_percent` of its pack data
    /// (0 reads none, 100 every pack). A share below 100 is packs picked at random while
    /// they fit in it, so it reads at most that much (a repository of one large pack may
    /// read none at 10 %).
    pub fn check(&self, read_percent: f64) -> Result<CheckReport, BackupError> {
        let mut options = CheckOptions::default();
        if read_percent > 0.0 {
            // rustic picks a percentage's packs while the remaining share is strictly
            // larger than the next pack, so "100 %" leaves one random pack unread: ask for
            // all of them by name.
            let subset = if read_percent >= 100.0 {
                ReadSubsetOption::All
            } else {
                ReadSubsetOption::Percentage(read_percent)
            };
            options = options.read_data(true).read_data_subset(subset);
        }
        let results = self.check_retrying_a_lost_race(options)?;
        Ok(CheckReport {
            errors: results
                .0
                .iter()
                .filter(|(level, _)| format!("{level:?}") == "Error")
                .map(|(_, error)| error.to_string())
                .collect(),
        })
    }

    /// rustic_core 0.13's check walks the trees with loader threads that each hold the index,
    /// then, to read data, takes the index back, waiting 100 ms for the threads to let go
    /// and panicking ("index still in use") if one has not. On a loaded machine a thread can
    /// take longer to notice that the walk ended, so the panic is caught here and the check
    /// run again after a pause: a drill must not fail, and raise an alert, because the
    /// server was busy. A panic of another kind, or the same race lost three times, is an
    /// error.
    fn check_retrying_a_lost_race(
        &self,
        options: CheckOptions,
    ) -> Result<rustic_core::CheckResults, BackupError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let run =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.open.check(options)));
            match run {
                Ok(results) => return results.map_err(failed),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    if !message.contains("index still in use") || attempt == 3 {
                        // An `expect` message carries the Debug of what it unwrapped (here:
                        // the whole index), so only its start is worth keeping.
                        let short: String = message
                            .split(": ")
                            .next()
                            .unwrap_or_default()
                            .chars()
                            .take(200)
                            .collect();
                        return Err(BackupError::Repository(format!(
                            "checking the repository failed inside rustic_core: {short}"
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_secs(attempt));
                }
            }
        }
    }

    /// Remove the snapshot objects `ids` (the server's retention decides which). Their data
    /// stays until [`Repo::prune`].
    pub fn forget(&self, ids: &[String]) -> Result<(), BackupError> {
        let ids = ids
            .iter()
            .map(|id| rustic_core::Id::from_str(id).map(SnapshotId::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| BackupError::Invalid(format!("snapshot id: {e}")))?;
        self.open.delete_snapshots(&ids).map_err(failed)
    }

    /// Remove the data no snapshot refers to any more.
    pub fn prune(&self) -> Result<(), BackupError> {
        let options = PruneOptions::default();
        let plan = self.open.prune_plan(&options).map_err(failed)?;
        self.open.prune(&options, plan).map_err(failed)
    }
}

/// A repository with its full index loaded: what browsing and restoring need.
pub struct IndexedRepo {
    indexed: Repository<IndexedFullStatus>,
}

impl IndexedRepo {
    /// The entries of snapshot `id` (a full id or a unique prefix) under `path` ("" for all),
    /// in tree order, as far as `scope` reaches. A `path` that is a file lists as that one
    /// file. Trees are read as the listing goes, so one stopped at its limit has read only
    /// the folders it reached (and one more entry, to tell whether it was cut).
    pub fn ls(&self, id: &str, path: &str, scope: ListScope) -> Result<Listing, BackupError> {
        let indexed = &self.indexed;
        let folder = Path::new(path.trim_matches('/'));
        let node = node_of(indexed, id, path)?;
        if !node.is_dir() {
            // rustic lists a file as itself under its bare name: give it its whole path.
            let file = std::iter::once(Ok(entry(folder, &node)));
            return Listing::bounded(file, scope.limit);
        }
        let options = LsOptions::default().recursive(scope.recursive);
        let items = indexed.ls(&node, &options).map_err(failed)?.map(|item| {
            item.map(|(relative, node)| entry(&folder.join(relative), &node))
                .map_err(failed)
        });
        Listing::bounded(items, scope.limit)
    }

    /// Restore `path` of snapshot `id` ("" for the whole snapshot) under `target`, with
    /// contents, modes, modification times and symlinks as they were.
    pub fn restore(
        &self,
        id: &str,
        path: &str,
        target: &Path,
    ) -> Result<RestoreSummary, BackupError> {
        let indexed = &self.indexed;
        let node = node_of(indexed, id, path)?;
        let options = LsOptions::default().recursive(true);
        let listing = indexed.ls(&node, &options).map_err(failed)?;
        // rustic reads a trailing slash as "a folder", whatever the node: a single file must
        // be named without one, or it lands inside a folder of its own name.
        let target_text = if node.is_dir() {
            format!("{}/", target.display())
        } else {
            target.display().to_string()
        };
        let destination =
            LocalDestination::new(&target_text, true, !node.is_dir()).map_err(failed)?;
        let restore = RestoreOptions::default();
        let plan = indexed
            .prepare_restore(&restore, listing.clone(), &destination, false)
            .map_err(failed)?;
        let summary = RestoreSummary {
            files: plan.stats.files.restore,
            dirs: plan.stats.dirs.restore,
            bytes: plan.restore_size,
        };
        indexed
            .restore(plan, &restore, listing, &destination)
            .map_err(failed)?;
        Ok(summary)
    }
}

/// A file's size and SHA-256, as a drill compares them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digest {
    pub size: u64,
    pub sha256: String,
}

impl IndexedRepo {
    /// The size and SHA-256 of file `path` of snapshot `id`, read from the repository: what
    /// a restore of it must produce.
    pub fn digest(&self, id: &str, path: &str) -> Result<Digest, BackupError> {
        let node = node_of(&self.indexed, id, path)?;
        if !node.is_file() {
            return Err(BackupError::Invalid(format!(
                "{path} is not a file in snapshot {id}"
            )));
        }
        let mut hashing = Hashing::default();
        self.indexed.dump(&node, &mut hashing).map_err(failed)?;
        Ok(Digest {
            size: hashing.size,
            sha256: hex::encode(sha2::Digest::finalize(hashing.hasher)),
        })
    }
}

/// A writer that only hashes what it is given.
#[derive(Default)]
struct Hashing {
    hasher: sha2::Sha256,
    size: u64,
}

impl std::io::Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        self.hasher.update(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size and SHA-256 of a file on disk, as a drill's restore produced it.
pub fn digest_of_file(path: &Path) -> std::io::Result<Digest> {
    let mut hashing = Hashing::default();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hashing)?;
    Ok(Digest {
        size: hashing.size,
        sha256: hex::encode(sha2::Digest::finalize(hashing.hasher)),
    })
}

fn node_of(
    indexed: &Repository<IndexedFullStatus>,
    id: &str,
    path: &str,
) -> Result<rustic_core::repofile::Node, BackupError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BackupError::Invalid(format!("not a snapshot id: {id:?}")));
    }
    let snapshot = indexed
        .get_snapshot_from_str(id, |_| true)
        .map_err(failed)?;
    indexed
        .node_from_snapshot_and_path(&snapshot, path)
        .map_err(failed)
}

fn info(snapshot: &SnapshotFile) -> SnapshotInfo {
    let summary = snapshot.summary.as_ref();
    SnapshotInfo {
        id: snapshot.id.to_hex().to_string(),
        written_at: snapshot.time.timestamp().as_millisecond(),
        paths: snapshot.paths.iter().map(|p| p.to_string()).collect(),
        hostname: snapshot.hostname.clone(),
        tags: snapshot.tags.iter().map(|t| t.to_string()).collect(),
        files: summary.map(|s| s.total_files_processed),
        bytes: summary.map(|s| s.total_bytes_processed),
        added_bytes: summary.map(|s| s.data_added),
        stored_bytes: summary.map(|s| s.data_added_packed),
        duration_ms: summary.map(|s| (s.total_duration * 1000.0) as u64),
    }
}

fn entry(path: &Path, node: &rustic_core::repofile::Node) -> Entry {
    let (kind, link) = match &node.node_type {
        NodeType::File => (EntryKind::File, None),
        NodeType::Dir => (EntryKind::Dir, None),
        NodeType::Symlink { linktarget, .. } => (EntryKind::Symlink, Some(linktarget.clone())),
        _ => (EntryKind::Other, None),
    };
    Entry {
        path: path.to_string_lossy().trim_start_matches('/').to_owned(),
        kind,
        size: node.meta.size,
        mode: node.meta.mode,
        mtime_ms: node.meta.mtime.map(|t| t.as_millisecond()),
        link,
    }
}
