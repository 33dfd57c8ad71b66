//! Steward's storage: one [`Store`] over SQLite (embedded, the default) and PostgreSQL (for
//! larger fleets and several server replicas), chosen once from the database URL.
//!
//! Both backends run through sqlx's `Any` driver with runtime queries, so every query is
//! written once; the schema keeps to types both dialects share (BIGINT unix milliseconds,
//! TEXT, JSON as TEXT). Each migration is one file for both; where dialects differ (identity
//! columns) it marks each backend's lines (see `migrate`). The contract tests in
//! `tests/contract/` run every method on both and compare the schemas they migrate to.
//!
//! Architecture invariant: the store persists and reads; it makes no domain decisions (which
//! token is valid, what a delta means, which changes matter) — those arrive already decided
//! from `steward-core` through the server. Every multi-row write is one transaction, except
//! a large software-list change, written in short steps after the ingest commit (see
//! `ingest`), and the bulk writes of many independent rows (checks declared in the
//! configuration, a large fleet's daily posture scores), written a chunk to a transaction
//! so the writer is never held long (`monitoring::bulk`, `posture::scores`). A job batch is
//! the exception the other way: a thousand jobs and their batch in one transaction, so a
//! request is queued whole or not at all (`patching::batches`).

/// `format!` for SQL text built only from constants in this crate (column lists, numbered
/// placeholders, sort keys chosen from an enum): never from user input, which is always bound.
macro_rules! safe_sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

mod accounts;
mod alert_rules;
mod audit;
mod backups;
mod credentials;
mod detection;
mod devices;
mod enrollment;
mod error;
mod groups;
mod history;
mod ingest;
mod jobs;
mod leases;
mod migrate;
mod monitoring;
mod patching;
mod posture;
mod rows;
pub(crate) mod scoped;
mod security;
mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
mod throttle;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

pub use accounts::{ApiTokenRecord, NewUser, SessionRecord, UserRecord, UserUpdate};
pub use alert_rules::{AckWrite, DeviceMembership, RouteRecord, WindowRecord};
pub use audit::AuditRecord;
pub use backups::{
    BackupDrillRecord, BackupDue, BackupMaintenanceRecord, BackupPolicyRecord,
    BackupRepositoryRecord, BackupScheduleRecord, BackupSnapshotRecord, DeclaredPolicies,
    DrillFinish, DrillOutcome, NewBackupPolicy, SnapshotSummary,
};
pub use detection::{
    DetectionFilter, DetectionFull, DetectionPolicyRecord, DetectionRecord, DetectionWrite,
    DrillFinishWrite, DrillRecord,
};
pub use devices::{
    DeviceFilter, DeviceRecord, DeviceSortKey, FleetStats, InventoryDoc, SoftwareRecord,
};
pub use enrollment::{EnrollTokenRecord, NewDevice};
pub use error::StoreError;
pub use groups::GroupRecord;
pub use history::{
    DeviceSamples, MAX_SERIES_PER_DEVICE, MetricHistoryWrite, RollupClaim, RollupWrite,
    SeriesCatalog,
};
pub use ingest::{
    ChangeRecord, DeviceIngestState, IngestCommit, InventoryWrite, STEP_ROWS, SoftwareWrite,
};
pub use jobs::{JobRecord, JobUpdateOutcome};
pub use monitoring::{
    ChannelRecord, CheckHistoryRecord, CheckRecord, CheckResultWrite, CheckStateRecord,
    NoticeWrite, NotificationRecord, Recorded, TrackWrite,
};
pub use patching::{
    BatchRecord, PatchApprovalRecord, PatchPolicyRecord, PatchPolicyWrite, PendingUpdateRecord,
    ScriptRecord, ScriptVersionRecord, ScriptWrite, UpdateStatusRecord, UpdateSummary,
};
pub use posture::{
    AttachmentChange, NewPostureException, PostureAnswerRecord, PostureAnswerWrite,
    PostureAttachment, PostureAttachmentInfo, PostureDeviceRecord, PostureExceptionRecord,
    PostureResultRecord, PostureResultWrite, PostureScoreRecord, PostureScoreWrite,
    PostureTransition, SCORE_DAYS_KEPT,
};
pub use scoped::ScopedStore;
pub use scoped::alerts::{AlertRecord, ResolvedRecord};
pub use scoped::backups::BackupOverviewRecord;
pub use security::PendingSignIn;
pub use telemetry::QueueDepths;
pub use throttle::{FailureWindow, KnownDevice};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database a store talks to; its name is logged at start and reported by the API.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::VariantArray,
)]
#[strum(serialize_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::BadUrl(format!(
                "unsupported database URL (expected sqlite://PATH or postgres://…): {}",
                redact(url)
            )))
        }
    }
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Backend> {
        s.parse().ok()
    }
}

/// The URL of a data directory's embedded database (`DATA_DIR/steward.db`, made if missing):
/// what `steward server --data-dir DIR` opens, so tools can open the same one.
pub fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("steward.db").display()
    )
}

/// The database file of an `sqlite:` URL (None for other URLs and in-memory databases),
/// so the caller can keep it and SQLite's `-wal`/`-shm` files private.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if Backend::from_url(url).ok()? != Backend::Sqlite
        || url.contains(":memory:")
        || url.contains("mode=memory")
    {
        return None;
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let file = opts.get_filename();
    (!file.as_os_str().is_empty()).then(|| file.to_path_buf())
}

/// A URL with any password replaced, safe for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The storage handle, cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Reads. For SQLite a pool of readers (WAL lets them run beside the writer).
    read: AnyPool,
    /// Writes. For SQLite exactly one connection, so writers queue in the pool instead of
    /// fighting over the database lock; for PostgreSQL the same pool as `read`.
    write: AnyPool,
    /// Devices' metric series lists, as this process last saw them (see `history`).
    series_cache: std::sync::Arc<history::SeriesCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// How to size the pools.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a request waits for a free connection before the store answers `Busy`.
    pub acquire_timeout: Duration,
    /// SQLite: how long a write waits for another process's write lock (the CLI beside a
    /// running server) before the store answers `Busy`.
    pub busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, PoolOptions::default()).await
    }

    pub async fn connect_with(url: &str, opts: PoolOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let connect_opts = AnyConnectOptions::from_str(url).map_err(|e| {
            StoreError::BadUrl(format!("cannot parse database URL {}: {e}", redact(url)))
        })?;
        let store = match backend {
            Backend::Sqlite => {
                let write = sqlite_pool(1, &opts)
                    .connect_with(connect_opts.clone())
                    .await
                    .map_err(|e| StoreError::connect(url, e))?;
                let read = sqlite_pool(opts.max_connections.clamp(1, 8), &opts)
                    .connect_with(connect_opts)
                    .await
                    .map_err(|e| StoreError::connect(url, e))?;
                Store {
                    backend,
                    read,
                    write,
                    series_cache: Default::default(),
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_with(connect_opts)
                    .await
                    .map_err(|e| StoreError::connect(url, e))?;
                Store {
                    backend,
                    read: pool.clone(),
                    write: pool,
                    series_cache: Default::default(),
                }
            }
        };
        migrate::run(&store.write, backend).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A trivial query: is the database answering?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Starts a write transaction. On SQLite it begins IMMEDIATE: the write lock is taken
    /// at once, waiting (busy_timeout) if another process — the CLI beside a running server —
    /// holds it. A deferred transaction that reads first and writes later would instead fail
    /// at once with "database is locked" when another writer committed in between, because
    /// SQLite cannot upgrade a stale read snapshot and does not consult the busy timeout.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        };
        Ok(tx)
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

fn sqlite_pool(max: u32, opts: &PoolOptions) -> AnyPoolOptions {
    let pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
        opts.busy_timeout.as_millis()
    );
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(opts.acquire_timeout)
        // A SQLite connection is an open file, not a socket a network can drop: the ping sqlx
        // otherwise sends before lending a pooled connection (a round trip to that
        // connection's worker thread, on every query) finds nothing to catch.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                // WAL: readers never block the writer. synchronous=NORMAL in WAL mode keeps
                // every committed transaction across a process crash (only an OS crash or
                // power loss may lose the last ones). busy_timeout covers the CLI writing
                // while a server runs.
                conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                Ok(())
            })
        })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn sqlite_file_names_the_database_file() {
        assert_eq!(
            super::sqlite_file("sqlite:///srv/steward/steward.db?mode=rwc"),
            Some(PathBuf::from("/srv/steward/steward.db"))
        );
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn backends_round_trip_through_their_names() {
        use super::Backend;
        use strum::VariantArray;
        let names = [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")];
        assert_eq!(Backend::VARIANTS.len(), names.len());
        for (backend, text) in names {
            assert_eq!(backend.as_str(), text);
            assert_eq!(Backend::parse(text), Some(backend));
        }
        for backend in Backend::VARIANTS {
            assert_eq!(Backend::parse(backend.as_str()), Some(*backend));
        }
        assert_eq!(Backend::parse("mysql"), None);
    }
}
