//! Checks and notification channels declared in the config file (`[[checks]]`,
//! `[[notifications]]`): each entry is validated into a typed value on its own, so a bad
//! entry is reported — with the line it starts on and the reason — and left out, while the
//! entries that are right still run.

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
    interval: Option<String>,
    timeout: Option<String>,
    retries: Option<u32>,
    #[serde(default)]
    runbook: String,
    // What to probe; which of these a kind takes is in `SETTINGS`.
    url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    expect_status: Option<u16>,
    keyword: Option<String>,
    json_pointer: Option<String>,
    json_value: Option<toml::Value>,
    warn_ms: Option<u64>,
    critical_ms: Option<u64>,
    cert_warn_days: Option<u32>,
    cert_critical_days: Option<u32>,
    server_name: Option<String>,
    warn_days: Option<u32>,
    critical_days: Option<u32>,
    ca_pem: Option<String>,
    ca_file: Option<String>,
    record_type: Option<steward_probes::RecordKind>,
    server: Option<String>,
    expect: Option<String>,
    count: Option<u16>,
}

/// The settings every check takes.
const COMMON: &[&str] = &["name", "kind", "interval", "timeout", "retries", "runbook"];

/// The kinds of check, and the settings of each beyond `COMMON`.
const SETTINGS: &[(&str, &[&str])] = &[
    (
        "http",
        &[
            "url",
            "expect_status",
            "keyword",
            "json_pointer",
            "json_value",
            "warn_ms",
            "critical_ms",
            "cert_warn_days",
            "cert_critical_days",
            "ca_pem",
            "ca_file",
        ],
    ),
    ("tcp", &["host", "port"]),
    (
        "tls",
        &[
            "host",
            "port",
            "server_name",
            "warn_days",
            "critical_days",
            "ca_pem",
            "ca_file",
        ],
    ),
    ("dns", &["host", "record_type", "server", "expect"]),
    ("icmp", &["host", "count"]),
];

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
        match channels::channel(entry.get_ref()) {
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
    let mut e: CheckEntry = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let name = e.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a name is 1 to 100 characters".into());
    }
    let (interval, timeout, retries, runbook) = (
        e.interval.take(),
        e.timeout.take(),
        e.retries,
        std::mem::take(&mut e.runbook),
    );
    let probe = probe(table, e)?;
    probe.check()?;
    let interval = duration("interval", interval.as_deref(), Duration::from_secs(60))?;
    if interval < Duration::from_secs(1) || interval > Duration::from_secs(86_400) {
        return Err("interval is 1 second to 1 day".into());
    }
    let timeout = duration("timeout", timeout.as_deref(), Duration::from_secs(10))?;
    if timeout.is_zero() || timeout > Duration::from_secs(60) {
        return Err("timeout is at most a minute".into());
    }
    let retries = retries.unwrap_or(2);
    if retries > 10 {
        return Err("retries is 0 to 10".into());
    }
    Ok(DeclaredCheck {
        name,
        probe,
        interval,
        timeout,
        retries,
        runbook,
    })
}

/// The probe an entry describes: its kind's settings, and none of another kind's.
fn probe(table: &toml::Table, e: CheckEntry) -> Result<steward_probes::Probe, String> {
    use steward_probes::{Dns, Http, Icmp, Probe, Tcp, Tls};
    let Some((kind, settings)) = SETTINGS.iter().find(|(k, _)| *k == e.kind) else {
        let kinds: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "kind must be one of {}, not {:?}",
            kinds.join(", "),
            e.kind
        ));
    };
    if let Some(other) = table
        .keys()
        .find(|key| !COMMON.contains(&key.as_str()) && !settings.contains(&key.as_str()))
    {
        return Err(format!("{other} is not a setting of {kind} checks"));
    }
    let needs = |what: &str| format!("a {kind} check needs {what}");
    let ca_pem = match (e.ca_pem, e.ca_file) {
        (Some(_), Some(_)) => {
            return Err("ca_pem and ca_file are the same setting: keep one".into());
        }
        (pem, None) => pem,
        (None, Some(file)) => Some(
            std::fs::read_to_string(&file)
                .map_err(|err| format!("ca_file {file:?} cannot be read: {err}"))?,
        ),
    };
    Ok(match *kind {
        "http" => Probe::Http(Http {
            url: e.url.ok_or_else(|| needs("url"))?,
            expect_status: e.expect_status,
            keyword: e.keyword,
            json_pointer: e.json_pointer,
            json_value: e
                .json_value
                .map(serde_json::to_value)
                .transpose()
                .map_err(|err| format!("json_value: {err}"))?,
            warn_ms: e.warn_ms,
            critical_ms: e.critical_ms,
            cert_warn_days: e.cert_warn_days,
            cert_critical_days: e.cert_critical_days,
            ca_pem,
        }),
        "tcp" => Probe::Tcp(Tcp {
            host: e.host.ok_or_else(|| needs("host"))?,
            port: e.port.ok_or_else(|| needs("port"))?,
        }),
        "tls" => {
            let defaults = Tls::default();
            Probe::Tls(Tls {
                host: e.host.ok_or_else(|| needs("host"))?,
                port: e.port.unwrap_or(defaults.port),
                server_name: e.server_name,
                warn_days: e.warn_days.unwrap_or(defaults.warn_days),
                critical_days: e.critical_days.unwrap_or(defaults.critical_days),
                ca_pem,
            })
        }
        "dns" => Probe::Dns(Dns {
            name: e.host.ok_or_else(|| needs("host (the name to look up)"))?,
            record_type: e.record_type.unwrap_or(steward_probes::RecordKind::A),
            server: e.server.as_deref().map(dns_server).transpose()?,
            expect: e.expect,
        }),
        _ => Probe::Icmp(Icmp {
            host: e.host.ok_or_else(|| needs("host"))?,
            count: e.count.unwrap_or(Icmp::default().count),
        }),
    })
}

/// A DNS server: "ADDRESS:PORT", or an address alone for port 53.
fn dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("server is an address, with a port or without (53): not {text:?}"))
}

mod channels;
#[cfg(test)]
mod tests;
