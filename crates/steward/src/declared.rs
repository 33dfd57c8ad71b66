//! Checks and notification channels declared in the config file (`[[checks]]`,
//! `[[notifications]]`): each entry is validated into a typed value on its own, so a bad
//! entry is reported — with the line it starts on and the reason — and left out, while the
//! entries that are right still run.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use steward_server::monitoring::{DeclaredChannel, DeclaredCheck};

/// The entries of a file that were right, and what was wrong with the others.
#[derive(Debug, Default, Clone)]
pub struct Declared {
    pub checks: Vec<DeclaredCheck>,
    pub channels: Vec<DeclaredChannel>,
    /// "line 12: check \"shop\": interval: …", one per entry left out.
    pub problems: Vec<String>,
}

/// An entry as the file holds it, with where it starts.
pub type RawEntry = toml::Spanned<toml::Table>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckEntry {
    name: String,
    kind: String,
    url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    expect_status: Option<u16>,
    keyword: Option<String>,
    interval: Option<String>,
    timeout: Option<String>,
    retries: Option<u32>,
    #[serde(default)]
    runbook: String,
}

/// Reads the entries of a file whose text is `text` (for line numbers).
pub fn read(text: &str, checks: &[RawEntry], channels: &[RawEntry]) -> Declared {
    let mut out = Declared::default();
    // The line of the entry's `[[…]]` header.
    let line = |entry: &RawEntry| {
        text[..entry.span().start.min(text.len())]
            .matches('\n')
            .count()
            + 1
    };
    for entry in checks {
        match check(entry.get_ref()) {
            Ok(c) if out.checks.iter().any(|x| x.name == c.name) => out.problems.push(format!(
                "line {}: check {:?}: another check has this name",
                line(entry),
                c.name
            )),
            Ok(c) => out.checks.push(c),
            Err(reason) => out.problems.push(format!(
                "line {}: check {}: {reason}",
                line(entry),
                name_of(entry.get_ref())
            )),
        }
    }
    for entry in channels {
        match channel(entry.get_ref()) {
            Ok(c) if out.channels.iter().any(|x| x.name == c.name) => out.problems.push(format!(
                "line {}: notification {:?}: another notification has this name",
                line(entry),
                c.name
            )),
            Ok(c) => out.channels.push(c),
            Err(reason) => out.problems.push(format!(
                "line {}: notification {}: {reason}",
                line(entry),
                name_of(entry.get_ref())
            )),
        }
    }
    out
}

fn name_of(table: &toml::Table) -> String {
    table
        .get("name")
        .and_then(toml::Value::as_str)
        .map_or_else(|| "(without a name)".to_string(), |n| format!("{n:?}"))
}

fn duration(key: &str, text: Option<&str>, default: Duration) -> Result<Duration, String> {
    match text {
        None => Ok(default),
        Some(t) => humantime::parse_duration(t)
            .map_err(|_| format!("{key} takes a duration such as 5s, 1m or 1h, not {t:?}")),
    }
}

fn check(table: &toml::Table) -> Result<DeclaredCheck, String> {
    let e: CheckEntry = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let name = e.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a name is 1 to 100 characters".into());
    }
    let probe = match e.kind.as_str() {
        "http" => {
            let url = e.url.ok_or("an http check needs url")?;
            let parsed = reqwest::Url::parse(&url).map_err(|_| format!("not a URL: {url:?}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("url must be http:// or https://, not {url:?}"));
            }
            steward_probes::Probe::Http {
                url,
                expect_status: e.expect_status,
                keyword: e.keyword,
            }
        }
        "tcp" => steward_probes::Probe::Tcp {
            host: e.host.ok_or("a tcp check needs host")?,
            port: e.port.ok_or("a tcp check needs port")?,
        },
        other => return Err(format!("kind must be http or tcp, not {other:?}")),
    };
    let interval = duration("interval", e.interval.as_deref(), Duration::from_secs(60))?;
    if interval < Duration::from_secs(1) || interval > Duration::from_secs(86_400) {
        return Err("interval is 1 second to 1 day".into());
    }
    let timeout = duration("timeout", e.timeout.as_deref(), Duration::from_secs(10))?;
    if timeout.is_zero() || timeout > Duration::from_secs(60) {
        return Err("timeout is at most a minute".into());
    }
    let retries = e.retries.unwrap_or(2);
    if retries > 10 {
        return Err("retries is 0 to 10".into());
    }
    Ok(DeclaredCheck {
        name,
        probe,
        interval,
        timeout,
        retries,
        runbook: e.runbook,
    })
}

/// A `[[notifications]]` entry: `name`, `kind` and the kind's settings as
/// `steward_notify::Channel` names them. A secret setting (`password`, `token`, …) may
/// instead come from a private file, `<setting>_file`; mail's `ca_cert` (PEM) from
/// `ca_cert_file`, which need not be private.
fn channel(table: &toml::Table) -> Result<DeclaredChannel, String> {
    let mut table = table.clone();
    let name = match table.remove("name") {
        Some(toml::Value::String(name)) => name.trim().to_string(),
        Some(_) => return Err("name is a string".into()),
        None => return Err("missing field `name`".into()),
    };
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a name is 1 to 100 characters".into());
    }
    let kind = match table.get("kind").map(toml::Value::as_str) {
        Some(Some(kind)) if steward_notify::Channel::KINDS.contains(&kind) => kind.to_string(),
        Some(Some(other)) => {
            return Err(format!(
                "kind must be one of {}, not {other:?}",
                steward_notify::Channel::KINDS.join(", ")
            ));
        }
        _ => return Err("missing field `kind`".into()),
    };
    for &field in steward_notify::Channel::secret_fields(&kind) {
        from_file(&mut table, field, |path| {
            crate::secret_file::read(path, field).map_err(|e| format!("{e:#}"))
        })?;
    }
    if kind == "email" {
        from_file(&mut table, "ca_cert", |path| {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("ca_cert_file: cannot read {}: {e}", path.display()))?;
            if text.len() > 64 * 1024 {
                return Err(format!("ca_cert_file: {} is over 64 KiB", path.display()));
            }
            Ok(text)
        })?;
    }
    let channel: steward_notify::Channel = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    channel.check().map_err(|e| e.to_string())?;
    Ok(DeclaredChannel { name, channel })
}

/// Replaces `<field>_file` in `table` by `field`, read with `read`; both at once is an
/// error, since one would be silently ignored.
fn from_file(
    table: &mut toml::Table,
    field: &str,
    read: impl FnOnce(&Path) -> Result<String, String>,
) -> Result<(), String> {
    let file_key = format!("{field}_file");
    let Some(file) = table.remove(&file_key) else {
        return Ok(());
    };
    let path = file
        .as_str()
        .ok_or_else(|| format!("{file_key} is the path of a file"))?;
    if table.contains_key(field) {
        return Err(format!(
            "{field} is given both directly and as a file ({path}): give one"
        ));
    }
    table.insert(
        field.to_string(),
        toml::Value::String(read(Path::new(path))?),
    );
    Ok(())
}

#[cfg(test)]
mod tests;
