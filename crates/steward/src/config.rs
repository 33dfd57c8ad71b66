//! Configuration: defaults, overridden by the TOML file, overridden by environment variables
//! and flags (clap reads both). Unknown keys in the file are an error, so a typo is caught.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::cli::{AdminTarget, ServerArgs};

/// The config file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub checkin_interval_secs: Option<u64>,
    /// Mark session cookies Secure (set when the console is reached over HTTPS).
    pub secure_cookies: Option<bool>,
    pub session_idle_minutes: Option<i64>,
    pub session_max_hours: Option<i64>,
    /// The key sealing second-factor secrets (default `DATA_DIR/secret.key`); replicas on
    /// one PostgreSQL database share one.
    pub sealing_key_file: Option<PathBuf>,
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
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
}

pub const DEFAULT_DATA_DIR: &str = "steward-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

pub fn resolve_server(args: &ServerArgs) -> anyhow::Result<Resolved> {
    let file = FileConfig::load(args.config.as_deref())?;
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
    let database_url = match args.database.clone().or(file.database_url) {
        Some(url) => url,
        None => sqlite_url(&data_dir),
    };
    let interval = args
        .checkin_interval
        .or(file.checkin_interval_secs)
        .unwrap_or(60);
    if !(5..=86_400).contains(&interval) {
        bail!("the check-in interval must be between 5 and 86400 seconds, not {interval}");
    }
    let defaults = steward_server::ServerConfig::default();
    let server = steward_server::ServerConfig {
        checkin_interval_secs: interval,
        secure_cookies: file.secure_cookies.unwrap_or(!listen.ip().is_loopback()),
        session_idle_secs: file
            .session_idle_minutes
            .map_or(defaults.session_idle_secs, |m| m * 60),
        session_max_secs: file
            .session_max_hours
            .map_or(defaults.session_max_secs, |h| h * 3600),
        ..defaults
    };
    Ok(Resolved {
        sealing_key_file: file
            .sealing_key_file
            .unwrap_or_else(|| data_dir.join("secret.key")),
        data_dir,
        listen,
        database_url,
        server,
    })
}

/// The database an admin command works on.
pub fn resolve_admin(target: &AdminTarget) -> anyhow::Result<String> {
    let file = FileConfig::load(target.config.as_deref())?;
    if let Some(url) = target.database.clone().or(file.database_url) {
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

pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("steward.db").display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("steward.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ncheckin_interval_secs = 30\n",
        )
        .unwrap();
        let args = ServerArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let r = resolve_server(&args).unwrap();
        assert_eq!(r.listen.port(), 9000);
        assert_eq!(r.server.checkin_interval_secs, 30);
        assert_eq!(r.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        let args = ServerArgs {
            config: Some(file),
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        assert_eq!(resolve_server(&args).unwrap().listen.port(), 9100);
    }

    #[test]
    fn bad_config_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("steward.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let args = ServerArgs {
            config: Some(file),
            ..Default::default()
        };
        let err = format!("{:#}", resolve_server(&args).unwrap_err());
        assert!(
            err.contains("unknown field") && err.contains("listen"),
            "{err}"
        );
        let args = ServerArgs {
            listen: Some("localhost".into()),
            ..Default::default()
        };
        let err = format!("{:#}", resolve_server(&args).unwrap_err());
        assert!(err.contains("ADDRESS:PORT"), "{err}");
    }
}
