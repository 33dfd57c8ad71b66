//! The config file as written ([`RawFile`]: sections plus the flat keys of earlier versions)
//! and as read ([`FileConfig`]: one value per setting), with the checks on the way.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use super::TlsMode;

/// The config file, each setting taken from its section or from its flat alias. Every key
/// is optional.
#[derive(Debug, Default)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    /// A file holding the database URL (it may carry a password).
    pub database_url_file: Option<PathBuf>,
    pub checkin_interval_secs: Option<u64>,
    /// Mark session cookies Secure (set when the console is reached over HTTPS).
    pub secure_cookies: Option<bool>,
    pub session_idle_minutes: Option<i64>,
    pub session_max_hours: Option<i64>,
    /// The key sealing second-factor secrets (default `DATA_DIR/secret.key`); replicas on
    /// one PostgreSQL database share one.
    pub sealing_key_file: Option<PathBuf>,
    /// `auto` (HTTPS off loopback), `on` (HTTPS everywhere) or `off` (behind a TLS proxy).
    pub tls: Option<TlsMode>,
    /// PEM certificate chain and key to serve HTTPS with.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Change history older than this is deleted (default 365; 0 keeps it for ever).
    pub change_retention_days: Option<u32>,
    /// Metrics history: every sample kept this many hours (default 48)…
    pub metrics_raw_hours: Option<u32>,
    /// …5-minute roll-ups this many days (default 30)…
    pub metrics_five_minute_days: Option<u32>,
    /// …and hourly roll-ups this many days (default 365).
    pub metrics_hourly_days: Option<u32>,
    /// Report deliveries one device may make at once, and per minute after that.
    pub report_rate_burst: Option<u32>,
    pub report_rate_per_minute: Option<u32>,
    /// KiB one device may deliver at once, and per minute after that.
    pub report_kib_burst: Option<u32>,
    pub report_kib_per_minute: Option<u32>,
    /// Names the server is reached by (besides its addresses, `localhost`, this host's name
    /// and the certificate's names); other names get 421.
    pub public_names: Option<Vec<String>>,
    /// Reverse proxies (addresses or CIDR networks) whose forwarding headers are believed.
    pub trusted_proxies: Option<Vec<String>>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub header_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub tls_handshake_timeout_secs: Option<u64>,
    /// Seconds an answer may wait for a client that does not read it.
    pub write_stall_timeout_secs: Option<u64>,
    pub max_request_body_bytes: Option<usize>,
    /// The bearer token that opens `/metrics`, or a file holding it.
    pub metrics_token: Option<String>,
    pub metrics_token_file: Option<PathBuf>,
    /// Networks whose clients may read `/metrics`.
    pub metrics_allow: Option<Vec<String>>,
    /// `[backup_storage]`: where backup repositories are kept (resolved with the data
    /// directory, `BackupStorageSection::resolve`).
    pub backup_storage: super::backup_storage::BackupStorageSection,
    /// `[[checks]]`, `[[notifications]]`, `[[routes]]`, `[[maintenance]]` and `[[backups]]`:
    /// the entries that are right, and what was wrong with the others (each left out,
    /// reported at start).
    pub declared: crate::declared::Declared,
}

/// The file as written: sections, plus the flat keys of earlier versions, each an alias of
/// one key in a section (docs/CONFIGURATION.md has the table). Giving a setting both ways is
/// an error, since one of the two would be silently ignored. Unknown keys, at the top or in
/// a section, are errors too, so a typo is caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    server: Option<ServerSection>,
    database: Option<DatabaseSection>,
    /// `tls = "off"` (the flat alias of `[tls] mode`) or the `[tls]` section.
    tls: Option<TlsKey>,
    sessions: Option<SessionsSection>,
    limits: Option<LimitsSection>,
    retention: Option<RetentionSection>,
    metrics: Option<MetricsSection>,
    backup_storage: Option<super::backup_storage::BackupStorageSection>,
    // Flat aliases.
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    checkin_interval_secs: Option<u64>,
    public_names: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    sealing_key_file: Option<PathBuf>,
    database_url: Option<String>,
    database_url_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    secure_cookies: Option<bool>,
    session_idle_minutes: Option<i64>,
    session_max_hours: Option<i64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    tls_handshake_timeout_secs: Option<u64>,
    write_stall_timeout_secs: Option<u64>,
    max_request_body_bytes: Option<usize>,
    report_rate_burst: Option<u32>,
    report_rate_per_minute: Option<u32>,
    report_kib_burst: Option<u32>,
    report_kib_per_minute: Option<u32>,
    change_retention_days: Option<u32>,
    metrics_token: Option<String>,
    metrics_token_file: Option<PathBuf>,
    metrics_allow: Option<Vec<String>>,
    /// Kept as tables here and validated entry by entry (`declared::read`), so one bad
    /// entry neither stops the start nor takes the good ones with it.
    checks: Option<Vec<crate::declared::RawEntry>>,
    notifications: Option<Vec<crate::declared::RawEntry>>,
    routes: Option<Vec<crate::declared::RawEntry>>,
    maintenance: Option<Vec<crate::declared::RawEntry>>,
    backups: Option<Vec<crate::declared::RawEntry>>,
}

/// Where the server lives and who reaches it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    checkin_interval_secs: Option<u64>,
    public_names: Option<Vec<String>>,
    trusted_proxies: Option<Vec<String>>,
    sealing_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    url: Option<String>,
    url_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    mode: Option<TlsMode>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsSection {
    secure_cookies: Option<bool>,
    idle_minutes: Option<i64>,
    max_hours: Option<i64>,
}

/// What one client or device may hold or send; the keys are the same as the flat ones.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    tls_handshake_timeout_secs: Option<u64>,
    write_stall_timeout_secs: Option<u64>,
    max_request_body_bytes: Option<usize>,
    report_rate_burst: Option<u32>,
    report_rate_per_minute: Option<u32>,
    report_kib_burst: Option<u32>,
    report_kib_per_minute: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionSection {
    change_days: Option<u32>,
    metrics_raw_hours: Option<u32>,
    metrics_five_minute_days: Option<u32>,
    metrics_hourly_days: Option<u32>,
}

/// Who may read `/metrics` (see docs/CONFIGURATION.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    token: Option<String>,
    token_file: Option<PathBuf>,
    allow: Option<Vec<String>>,
}

/// The top-level `tls` key: a mode (the flat form) or the `[tls]` section.
#[derive(Debug)]
enum TlsKey {
    Mode(TlsMode),
    Section(TlsSection),
}

impl<'de> Deserialize<'de> for TlsKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, value};
        struct Either;
        impl<'de> de::Visitor<'de> for Either {
            type Value = TlsKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\", \"on\", \"off\" or a [tls] section")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TlsKey, E> {
                TlsMode::deserialize(value::StrDeserializer::<E>::new(v)).map(TlsKey::Mode)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<TlsKey, A::Error> {
                TlsSection::deserialize(value::MapAccessDeserializer::new(map)).map(TlsKey::Section)
            }
        }
        d.deserialize_any(Either)
    }
}

/// One setting from its section (`key`) or its flat alias; both is an error.
fn either<T>(
    alias: &str,
    flat: Option<T>,
    key: &str,
    nested: Option<T>,
) -> anyhow::Result<Option<T>> {
    match (flat, nested) {
        (Some(_), Some(_)) => {
            bail!("`{alias}` and `{key}` are the same setting, given twice: keep one")
        }
        (flat, nested) => Ok(nested.or(flat)),
    }
}

impl RawFile {
    fn resolve(self, text: &str) -> anyhow::Result<FileConfig> {
        let declared = crate::declared::read(
            text,
            crate::declared::Sections {
                checks: self.checks.as_deref().unwrap_or_default(),
                notifications: self.notifications.as_deref().unwrap_or_default(),
                routes: self.routes.as_deref().unwrap_or_default(),
                maintenance: self.maintenance.as_deref().unwrap_or_default(),
                backups: self.backups.as_deref().unwrap_or_default(),
            },
        );
        let RawFile {
            max_connections,
            max_connections_per_address,
            header_timeout_secs,
            body_timeout_secs,
            tls_handshake_timeout_secs,
            write_stall_timeout_secs,
            max_request_body_bytes,
            report_rate_burst,
            report_rate_per_minute,
            report_kib_burst,
            report_kib_per_minute,
            ..
        } = self;
        let server = self.server.unwrap_or_default();
        let database = self.database.unwrap_or_default();
        let (tls_mode, tls) = match self.tls {
            None => (None, TlsSection::default()),
            Some(TlsKey::Mode(mode)) => (Some(mode), TlsSection::default()),
            Some(TlsKey::Section(section)) => (None, section),
        };
        let sessions = self.sessions.unwrap_or_default();
        let limits = self.limits.unwrap_or_default();
        let retention = self.retention.unwrap_or_default();
        let metrics = self.metrics.unwrap_or_default();
        macro_rules! limit {
            ($name:ident) => {
                either(
                    stringify!($name),
                    $name,
                    concat!("[limits] ", stringify!($name)),
                    limits.$name,
                )?
            };
        }
        Ok(FileConfig {
            declared,
            backup_storage: self.backup_storage.unwrap_or_default(),
            data_dir: either(
                "data_dir",
                self.data_dir,
                "[server] data_dir",
                server.data_dir,
            )?,
            listen: either("listen", self.listen, "[server] listen", server.listen)?,
            checkin_interval_secs: either(
                "checkin_interval_secs",
                self.checkin_interval_secs,
                "[server] checkin_interval_secs",
                server.checkin_interval_secs,
            )?,
            public_names: either(
                "public_names",
                self.public_names,
                "[server] public_names",
                server.public_names,
            )?,
            trusted_proxies: either(
                "trusted_proxies",
                self.trusted_proxies,
                "[server] trusted_proxies",
                server.trusted_proxies,
            )?,
            sealing_key_file: either(
                "sealing_key_file",
                self.sealing_key_file,
                "[server] sealing_key_file",
                server.sealing_key_file,
            )?,
            database_url: either(
                "database_url",
                self.database_url,
                "[database] url",
                database.url,
            )?,
            database_url_file: either(
                "database_url_file",
                self.database_url_file,
                "[database] url_file",
                database.url_file,
            )?,
            tls: either("tls", tls_mode, "[tls] mode", tls.mode)?,
            tls_cert: either("tls_cert", self.tls_cert, "[tls] cert", tls.cert)?,
            tls_key: either("tls_key", self.tls_key, "[tls] key", tls.key)?,
            secure_cookies: either(
                "secure_cookies",
                self.secure_cookies,
                "[sessions] secure_cookies",
                sessions.secure_cookies,
            )?,
            session_idle_minutes: either(
                "session_idle_minutes",
                self.session_idle_minutes,
                "[sessions] idle_minutes",
                sessions.idle_minutes,
            )?,
            session_max_hours: either(
                "session_max_hours",
                self.session_max_hours,
                "[sessions] max_hours",
                sessions.max_hours,
            )?,
            change_retention_days: either(
                "change_retention_days",
                self.change_retention_days,
                "[retention] change_days",
                retention.change_days,
            )?,
            metrics_raw_hours: retention.metrics_raw_hours,
            metrics_five_minute_days: retention.metrics_five_minute_days,
            metrics_hourly_days: retention.metrics_hourly_days,
            metrics_token: either(
                "metrics_token",
                self.metrics_token,
                "[metrics] token",
                metrics.token,
            )?,
            metrics_token_file: either(
                "metrics_token_file",
                self.metrics_token_file,
                "[metrics] token_file",
                metrics.token_file,
            )?,
            metrics_allow: either(
                "metrics_allow",
                self.metrics_allow,
                "[metrics] allow",
                metrics.allow,
            )?,
            max_connections: limit!(max_connections),
            max_connections_per_address: limit!(max_connections_per_address),
            header_timeout_secs: limit!(header_timeout_secs),
            body_timeout_secs: limit!(body_timeout_secs),
            tls_handshake_timeout_secs: limit!(tls_handshake_timeout_secs),
            write_stall_timeout_secs: limit!(write_stall_timeout_secs),
            max_request_body_bytes: limit!(max_request_body_bytes),
            report_rate_burst: limit!(report_rate_burst),
            report_rate_per_minute: limit!(report_rate_per_minute),
            report_kib_burst: limit!(report_kib_burst),
            report_kib_per_minute: limit!(report_kib_per_minute),
        })
    }
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let mut file = FileConfig::parse(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        file.declared.locate(path);
        Ok(file)
    }

    pub fn parse(text: &str) -> anyhow::Result<FileConfig> {
        toml::from_str::<RawFile>(text)?.resolve(text)
    }

    /// The database URL the file gives, directly or from `database_url_file`.
    pub(super) fn database_url(&self) -> anyhow::Result<Option<String>> {
        crate::secret_file::pick(
            "database_url (config file)",
            self.database_url.clone(),
            self.database_url_file.as_deref(),
        )
    }
}
