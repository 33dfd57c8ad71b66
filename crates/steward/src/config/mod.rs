//! Configuration: defaults, overridden by the TOML file, overridden by environment variables
//! and flags (clap reads both). Unknown keys in the file are an error, so a typo is caught.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use steward_store::sqlite_url;

use crate::cli::{AdminTarget, ServerArgs};

/// When to serve HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// HTTPS unless the listen address is loopback.
    #[default]
    Auto,
    /// HTTPS even on loopback.
    On,
    /// Plain HTTP: for a server behind a proxy that terminates TLS.
    Off,
}

/// How the server speaks, decided from the listen address and the TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP on loopback: nothing leaves this machine.
    Plain,
    /// Plain HTTP off loopback, because a TLS-terminating proxy is said to be in front.
    BehindProxy,
    /// HTTPS with the administrator's certificate.
    Files { cert: PathBuf, key: PathBuf },
    /// HTTPS with a self-signed certificate kept in `dir` (made on first start).
    SelfSigned { dir: PathBuf },
}

/// The TLS rule: a certificate given → HTTPS with it; `off` → plain HTTP; `on` or a
/// non-loopback address → HTTPS with a self-signed certificate; loopback → plain HTTP.
pub fn decide_tls(
    listen: IpAddr,
    mode: TlsMode,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    data_dir: &Path,
) -> anyhow::Result<Tls> {
    match (cert, key, mode) {
        (Some(_), None, _) => bail!("--tls-cert needs --tls-key (the certificate's private key)"),
        (None, Some(_), _) => bail!("--tls-key needs --tls-cert (the certificate it belongs to)"),
        (Some(_), Some(_), TlsMode::Off) => {
            bail!(
                "--no-tls (tls = \"off\") and a TLS certificate contradict each other: choose one"
            )
        }
        (Some(cert), Some(key), _) => Ok(Tls::Files { cert, key }),
        (None, None, TlsMode::Off) if listen.is_loopback() => Ok(Tls::Plain),
        (None, None, TlsMode::Off) => Ok(Tls::BehindProxy),
        (None, None, TlsMode::Auto) if listen.is_loopback() => Ok(Tls::Plain),
        (None, None, TlsMode::Auto | TlsMode::On) => Ok(Tls::SelfSigned {
            dir: data_dir.join("tls"),
        }),
    }
}

/// The database URL from flags and environment (`--database`, `STEWARD_DATABASE_URL`, or a
/// file: `--database-file`, `STEWARD_DATABASE_URL_FILE`), else from the config file. A file
/// is read only when its level is the one that decides.
fn database_url(
    flag: Option<String>,
    flag_file: Option<&Path>,
    file: &FileConfig,
) -> anyhow::Result<Option<String>> {
    match crate::secret_file::pick("database_url", flag, flag_file)? {
        Some(url) => Ok(Some(url)),
        None => file.database_url(),
    }
}

/// Everything `up` and `server` need, resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: String,
    pub sealing_key_file: PathBuf,
    pub server: steward_server::ServerConfig,
    pub tls: Tls,
}

pub const DEFAULT_DATA_DIR: &str = "steward-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub fn resolve_server(args: &ServerArgs) -> anyhow::Result<Resolved> {
    let file = FileConfig::load(args.config.as_deref())?;
    let metrics = metrics::access(args, &file)?;
    let defaults = steward_server::ServerConfig::default();
    let net = net_limits(args, &file, &defaults.net)?;
    let chosen_database =
        database_url(args.database.clone(), args.database_file.as_deref(), &file)?;
    let metrics_history = metrics_history(&file, &defaults.metrics_history)?;
    let data_dir = args
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let listen_text = args
        .listen
        .clone()
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text.parse().with_context(|| {
        format!("--listen must be ADDRESS:PORT such as 127.0.0.1:8080, not {listen_text:?}")
    })?;
    let database_url = chosen_database.unwrap_or_else(|| sqlite_url(&data_dir));
    let interval = args
        .checkin_interval
        .or(file.checkin_interval_secs)
        .unwrap_or(60);
    if !(5..=86_400).contains(&interval) {
        bail!("the check-in interval must be between 5 and 86400 seconds, not {interval}");
    }
    let mode = if args.no_tls {
        TlsMode::Off
    } else {
        file.tls.unwrap_or_default()
    };
    let tls = decide_tls(
        listen.ip(),
        mode,
        args.tls_cert.clone().or(file.tls_cert),
        args.tls_key.clone().or(file.tls_key),
        &data_dir,
    )?;
    let report_rate = steward_core::rate::RateRule {
        burst: file.report_rate_burst.unwrap_or(defaults.report_rate.burst),
        per_minute: file
            .report_rate_per_minute
            .unwrap_or(defaults.report_rate.per_minute),
    };
    if report_rate.burst == 0 || report_rate.per_minute == 0 {
        bail!("report_rate_burst and report_rate_per_minute must be at least 1");
    }
    let report_kib_rate = steward_core::rate::RateRule {
        burst: file
            .report_kib_burst
            .unwrap_or(defaults.report_kib_rate.burst),
        per_minute: file
            .report_kib_per_minute
            .unwrap_or(defaults.report_kib_rate.per_minute),
    };
    let largest_kib = (steward_core::limits::MAX_DELIVERY_BYTES / 1024) as u32;
    if report_kib_rate.burst < largest_kib || report_kib_rate.per_minute == 0 {
        bail!(
            "report_kib_burst must be at least {largest_kib} (one delivery of the largest size) \
             and report_kib_per_minute at least 1"
        );
    }
    let (backups_dir, backup_bucket) = match file.backup_storage.resolve(&data_dir)? {
        backup_storage::BackupStorage::Local(dir) => (Some(dir), None),
        backup_storage::BackupStorage::S3(bucket) => (None, Some(bucket)),
    };
    let server = steward_server::ServerConfig {
        metrics_history,
        report_rate,
        report_kib_rate,
        change_retention_days: file
            .change_retention_days
            .unwrap_or(defaults.change_retention_days),
        checkin_interval_secs: interval,
        // Secure cookies whenever the browser reaches us over HTTPS: our own, or a proxy's
        // in front of a non-loopback address.
        secure_cookies: file.secure_cookies.unwrap_or(
            !listen.ip().is_loopback() || matches!(tls, Tls::Files { .. } | Tls::SelfSigned { .. }),
        ),
        session_idle_secs: file
            .session_idle_minutes
            .map_or(defaults.session_idle_secs, |m| m * 60),
        session_max_secs: file
            .session_max_hours
            .map_or(defaults.session_max_secs, |h| h * 3600),
        max_request_body_bytes: positive(
            "max_request_body_bytes",
            args.max_request_body_bytes.or(file.max_request_body_bytes),
            defaults.max_request_body_bytes,
        )?,
        net,
        host_names: host_names(first_non_empty(&args.public_names, &file.public_names))?,
        trusted_proxies: trusted_proxies(first_non_empty(
            &args.trusted_proxies,
            &file.trusted_proxies,
        ))?,
        metrics,
        declared_checks: file.declared.checks.clone(),
        declared_device_checks: file.declared.device_checks.clone(),
        declared_channels: file.declared.channels.clone(),
        declared_windows: file.declared.windows.clone(),
        declared_routes: file.declared.routes.clone(),
        declared_backups: file.declared.backups.clone(),
        backups_dir,
        backup_bucket,
        ..defaults
    };
    // A bad entry is left out and said loudly; the others run.
    for problem in &file.declared.problems {
        tracing::error!("config: {problem}; this entry is left out");
    }
    Ok(Resolved {
        sealing_key_file: file
            .sealing_key_file
            .unwrap_or_else(|| data_dir.join("secret.key")),
        data_dir,
        listen,
        database_url,
        server,
        tls,
    })
}

/// How long metrics history is kept: the file's `[retention] metrics_*` settings, else the
/// defaults; settings that cannot work together are refused, naming them.
fn metrics_history(
    file: &FileConfig,
    defaults: &steward_core::history::History,
) -> anyhow::Result<steward_core::history::History> {
    const HOUR_MS: i64 = 3_600_000;
    let days = |d: Option<u32>, default: i64| d.map_or(default, |d| i64::from(d) * 24 * HOUR_MS);
    let history = steward_core::history::History {
        raw_ms: file
            .metrics_raw_hours
            .map_or(defaults.raw_ms, |h| i64::from(h) * HOUR_MS),
        five_minutes_ms: days(file.metrics_five_minute_days, defaults.five_minutes_ms),
        hourly_ms: days(file.metrics_hourly_days, defaults.hourly_ms),
    };
    history.validate()?;
    Ok(history)
}

/// Connection limits and timeouts: flag or environment, else file, else default.
fn net_limits(
    args: &ServerArgs,
    file: &FileConfig,
    defaults: &steward_server::NetLimits,
) -> anyhow::Result<steward_server::NetLimits> {
    let secs = |name: &str, flag: Option<u64>, key: Option<u64>, default: Duration| {
        positive(name, flag.or(key), default.as_secs()).map(Duration::from_secs)
    };
    Ok(steward_server::NetLimits {
        max_connections: positive(
            "max_connections",
            args.max_connections.or(file.max_connections),
            defaults.max_connections,
        )?,
        max_connections_per_address: positive(
            "max_connections_per_address",
            args.max_connections_per_address
                .or(file.max_connections_per_address),
            defaults.max_connections_per_address,
        )?,
        header_timeout: secs(
            "header_timeout_secs",
            args.header_timeout,
            file.header_timeout_secs,
            defaults.header_timeout,
        )?,
        body_timeout: secs(
            "body_timeout_secs",
            args.body_timeout,
            file.body_timeout_secs,
            defaults.body_timeout,
        )?,
        backup_body_timeout: defaults.backup_body_timeout,
        tls_handshake_timeout: secs(
            "tls_handshake_timeout_secs",
            args.tls_handshake_timeout,
            file.tls_handshake_timeout_secs,
            defaults.tls_handshake_timeout,
        )?,
        write_stall_timeout: secs(
            "write_stall_timeout_secs",
            None,
            file.write_stall_timeout_secs,
            defaults.write_stall_timeout,
        )?,
    })
}

/// `value` (or `default`), which must not be 0: a zero limit or timeout would refuse everyone.
fn positive<T: PartialEq + Default + std::fmt::Display>(
    name: &str,
    value: Option<T>,
    default: T,
) -> anyhow::Result<T> {
    let value = value.unwrap_or(default);
    if value == T::default() {
        bail!("{name} must be at least 1, not {value}");
    }
    Ok(value)
}

/// A list from the flag or environment if given, else from the file.
fn first_non_empty(flag: &[String], file: &Option<Vec<String>>) -> Vec<String> {
    if flag.is_empty() {
        file.clone().unwrap_or_default()
    } else {
        flag.to_vec()
    }
}

/// The names the `Host` check accepts before the certificate's are added: `localhost`, this
/// host's name, and the configured public names.
fn host_names(public: Vec<String>) -> anyhow::Result<Vec<String>> {
    let mut names = vec!["localhost".to_string()];
    names.extend(crate::tls::hostname());
    for name in public {
        let name = name.trim().to_ascii_lowercase();
        let bare = name.strip_prefix("*.").unwrap_or(&name);
        if bare.is_empty()
            || !bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        {
            bail!(
                "public name {name:?} is not a host name (letters, digits, '-' and '.', optionally starting with '*.')"
            );
        }
        names.push(name);
    }
    names.dedup();
    Ok(names)
}

/// Trusted proxies as networks: `10.0.0.5` is `10.0.0.5/32`.
fn trusted_proxies(list: Vec<String>) -> anyhow::Result<Vec<ipnet::IpNet>> {
    list.iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "trusted proxy {entry:?} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                    )
                })
        })
        .collect()
}

/// The database an admin command works on.
pub fn resolve_admin(target: &AdminTarget) -> anyhow::Result<String> {
    let file = FileConfig::load(target.config.as_deref())?;
    if let Some(url) = database_url(
        target.database.clone(),
        target.database_file.as_deref(),
        &file,
    )? {
        return Ok(url);
    }
    let data_dir = target
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let db = data_dir.join("steward.db");
    if !db.exists() {
        bail!(
            "no Steward database at {}: pass --data-dir DIR of an installation, or --database URL",
            db.display()
        );
    }
    Ok(sqlite_url(&data_dir))
}

pub mod backup_storage;
mod file;
mod metrics;

pub use file::FileConfig;
#[cfg(test)]
mod tests;
