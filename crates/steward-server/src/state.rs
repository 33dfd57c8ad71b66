use std::sync::Arc;

use steward_core::Timestamp;
use steward_store::Store;

use crate::clock::Clock;
use crate::dispatch::Dispatcher;

/// Server settings that handlers need. The binary builds it from flags, environment and the
/// config file.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// How often agents check in.
    pub checkin_interval_secs: u64,
    /// A console session ends after this long without a request…
    pub session_idle_secs: i64,
    /// …and after this long in any case.
    pub session_max_secs: i64,
    /// Mark cookies `Secure` (the console is served over HTTPS or not from loopback).
    pub secure_cookies: bool,
    /// Largest request body an authenticated agent may upload (reports, job output).
    pub max_body_bytes: usize,
    /// Largest request body everywhere else: sign-in, enrollment, console forms, the API.
    pub max_request_body_bytes: usize,
    /// Connection limits and timeouts of the listener.
    pub net: crate::net::NetLimits,
    /// Host names the server answers to (the `Host` header), besides any IP address:
    /// `localhost`, this host's name, the configured public names and the certificate's
    /// names. `*.example.com` matches one label. Another name gets 421.
    pub host_names: Vec<String>,
    /// Reverse proxies whose `Forwarded`/`X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Longest long-poll an agent may ask for.
    pub max_job_wait_secs: u64,
    /// Argon2id cost; production values unless a test asks for cheap ones.
    pub password_hashing: crate::secrets::PasswordHashing,
    /// Seals TOTP secrets at rest. The binary loads it from the data directory (every
    /// replica must share it); the default is a fresh key, for tests.
    pub sealing_key: crate::mfa::SealingKey,
    /// The fingerprint of the certificate served over HTTPS (`sha256:…`), for the enroll
    /// command the console shows; `None` over plain HTTP.
    pub tls_fingerprint: Option<String>,
    /// How often one device may deliver reports: a burst, then so many a minute.
    pub report_rate: steward_core::rate::RateRule,
    /// How many KiB one device may deliver: a burst, then so many a minute.
    pub report_kib_rate: steward_core::rate::RateRule,
    /// Change history older than this many days is deleted (0 keeps it for ever).
    pub change_retention_days: u32,
    /// How long metrics history is kept at each resolution (full, 5-minute, hourly).
    pub metrics_history: steward_core::history::History,
    /// Checks and notification channels declared in the configuration file, put in the
    /// store at start (`monitoring::sync_declared`).
    pub declared_checks: Vec<crate::monitoring::DeclaredCheck>,
    /// Device checks declared in the configuration file (`monitoring::declared_devices`).
    pub declared_device_checks: Vec<crate::monitoring::DeclaredDeviceCheck>,
    pub declared_channels: Vec<crate::monitoring::DeclaredChannel>,
    /// Maintenance windows and routes declared in the configuration file, stored at start
    /// (`monitoring::windows::sync_declared`, `monitoring::channels::sync_declared_routes`).
    pub declared_windows: Vec<crate::monitoring::windows::DeclaredWindow>,
    pub declared_routes: Vec<crate::monitoring::channels::DeclaredRoute>,
    /// Who may read `/metrics` (by default: loopback clients only).
    pub metrics: crate::telemetry::MetricsAccess,
    /// Where devices' backup repositories are kept, one directory each (`backup::storage_for`):
    /// `<data-dir>/backups`, set by the binary. `None` (the default, so that nothing writes
    /// where no one asked): this server stores no backups and its endpoint says so (503).
    pub backups_dir: Option<std::path::PathBuf>,
    /// An S3-compatible bucket to keep devices' repositories in instead, one folder each
    /// (`[backup_storage]` in the config file).
    pub backup_bucket: Option<steward_backup::storage::S3Config>,
    /// Backup policies declared in the configuration file (`[[backups]]`), stored at start
    /// (`backup::declared::sync`).
    pub declared_backups: Vec<crate::backup::declared::DeclaredPolicy>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            checkin_interval_secs: 60,
            session_idle_secs: 30 * 60,
            session_max_secs: 12 * 3600,
            secure_cookies: false,
            max_body_bytes: steward_core::limits::MAX_DELIVERY_BYTES,
            max_request_body_bytes: 64 * 1024,
            net: crate::net::NetLimits::default(),
            host_names: vec!["localhost".to_string()],
            trusted_proxies: Vec::new(),
            max_job_wait_secs: 60,
            password_hashing: crate::secrets::PasswordHashing::Production,
            sealing_key: crate::mfa::SealingKey::generate(),
            tls_fingerprint: None,
            // An agent delivers once a minute; after an outage its queue (at most 1,440
            // reports, 100 a delivery) drains in one burst of fifteen.
            report_rate: steward_core::rate::RateRule {
                burst: 30,
                per_minute: 20,
            },
            // Two of the largest deliveries at once, then one every four minutes; an honest
            // agent sends a few KiB a minute and a full inventory (well under 1 MiB) rarely.
            report_kib_rate: steward_core::rate::RateRule {
                burst: 8 * 1024,
                per_minute: 1024,
            },
            change_retention_days: 365,
            metrics_history: steward_core::history::History::default(),
            declared_checks: Vec::new(),
            declared_device_checks: Vec::new(),
            declared_channels: Vec::new(),
            declared_windows: Vec::new(),
            declared_routes: Vec::new(),
            metrics: crate::telemetry::MetricsAccess::default(),
            backups_dir: None,
            backup_bucket: None,
            declared_backups: Vec::new(),
        }
    }
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ServerConfig>,
    /// This server process among the replicas on one database: the holder named on the
    /// monitoring work it claims (`monitoring::leases`). Its process id, for an operator
    /// reading the database, and a random part, unique across hosts and restarts.
    pub instance: Arc<str>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// Password checks running at once: each takes 64 MiB, so a burst of sign-ins cannot
    /// take the server's memory.
    pub(crate) password_checks: Arc<tokio::sync::Semaphore>,
    /// Bounds the CPU work of report ingest running at once (see `ingest`).
    pub(crate) ingest_lanes: Arc<crate::ingest::IngestLanes>,
    pub(crate) report_rate: Arc<crate::ingest::ReportRate>,
    /// Authorisation denials being counted rather than recorded one by one.
    pub(crate) denials: Arc<std::sync::Mutex<steward_core::denials::DenialAggregator>>,
    /// What a sign-in for an unknown name is checked against (see `secrets::dummy_hash`).
    pub(crate) dummy_hash: Arc<str>,
    /// Monitoring's parsed definitions (checks, channels, routes, windows), cached.
    pub(crate) monitoring: Arc<crate::monitoring::catalog::CatalogCache>,
    /// Devices' check states as last read, judged against at each check-in.
    pub(crate) device_states: Arc<crate::monitoring::devices::StatesCache>,
    /// Steward's own metrics, served at `/metrics`.
    pub(crate) telemetry: Arc<crate::telemetry::Telemetry>,
    /// The stored detection policies, as the check-ins read them.
    pub(crate) detection_policies: Arc<crate::detection::policies::PolicyCache>,
    /// Wakes the backup alerts' judgement (`backup::alerts::wake`).
    pub(crate) backup_alerts: Arc<tokio::sync::Notify>,
    /// Wakes the posture alerts' judgement (`posture::alerts::wake`).
    pub(crate) posture_alerts: Arc<tokio::sync::Notify>,
    /// Wakes the patching alerts' judgement (`patching::alerts::wake`).
    pub(crate) patching_alerts: Arc<tokio::sync::Notify>,
    /// The bucket of `config.backup_bucket`, reached once for every repository in it.
    pub(crate) backup_bucket: Option<steward_backup::storage::S3Bucket>,
    /// What was last seen of the backup storage (`backup::storage::watch`).
    pub(crate) backup_storage: crate::backup::storage::SharedStatus,
}

impl AppState {
    /// Fails when the password hashing cannot be set up (its parameters are refused), so
    /// that shows at start rather than at the first sign-in, and when the backup bucket's
    /// settings are refused. Making the dummy hash costs one password check. Must be called
    /// within a tokio runtime (the bucket's client runs on it).
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: ServerConfig) -> anyhow::Result<Self> {
        let dummy_hash = crate::secrets::dummy_hash(config.password_hashing)?;
        let backup_bucket = match &config.backup_bucket {
            Some(bucket) => Some(
                steward_backup::storage::S3Bucket::connect(bucket)
                    .map_err(|e| anyhow::anyhow!("the backup bucket ({bucket:?}): {e}"))?,
            ),
            None => None,
        };
        Ok(Self {
            store,
            clock,
            dispatcher: Arc::new(Dispatcher::default()),
            password_checks: Arc::new(tokio::sync::Semaphore::new(4)),
            ingest_lanes: Arc::new(crate::ingest::IngestLanes::for_this_machine()),
            report_rate: Arc::new(crate::ingest::ReportRate::new(
                config.report_rate,
                config.report_kib_rate,
            )),
            denials: Arc::default(),
            dummy_hash: dummy_hash.into(),
            monitoring: Arc::default(),
            detection_policies: Arc::default(),
            backup_alerts: Arc::default(),
            posture_alerts: Arc::default(),
            patching_alerts: Arc::default(),
            backup_bucket,
            backup_storage: Arc::default(),
            device_states: Arc::default(),
            instance: format!(
                "{}.{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
            .into(),
            telemetry: Arc::new(crate::telemetry::Telemetry::new()),
            config: Arc::new(config),
        })
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
