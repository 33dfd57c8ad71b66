//! A check described in TOML — a `[[checks]]` entry, or what `steward admin checks add` is
//! given as flags or `--toml` — read into a typed definition. One description for both, so
//! a check written once works in either place.

use std::time::Duration;

use serde::Deserialize;
use steward_core::checks::DeviceCheck;
use steward_server::monitoring::DeclaredCheck;
use steward_server::monitoring::windows::Named;

/// A check, checked: a network monitor (run by the server every interval) or a device
/// check (judged at each report of the devices it covers).
#[derive(Debug, Clone, PartialEq)]
pub enum CheckDefinition {
    Monitor(DeclaredCheck),
    Device(DeviceCheckDefinition),
}

impl CheckDefinition {
    pub fn name(&self) -> &str {
        match self {
            CheckDefinition::Monitor(c) => &c.name,
            CheckDefinition::Device(c) => &c.name,
        }
    }
}

/// A device check and the devices it covers, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCheckDefinition {
    pub name: String,
    pub check: DeviceCheck,
    /// Every device, or one device, group or tag.
    pub covers: Named,
    /// A problem counts once it has lasted this long (zero: at once).
    pub sustain: Duration,
    pub retries: u32,
    pub runbook: String,
}

impl DeviceCheckDefinition {
    /// As the server stores the file's device checks: a group or device still by the name
    /// written (looked up at start, `monitoring::checks::resolve_declared`).
    pub fn declared(self) -> steward_server::monitoring::DeclaredDeviceCheck {
        use steward_core::checks::Target;
        steward_server::monitoring::DeclaredDeviceCheck {
            target: match self.covers {
                Named::All | Named::Check(_) => Target::All,
                Named::Device(d) => Target::Device(d),
                Named::Group(g) => Target::Group(g),
                Named::Tag(t) => Target::Tag(t),
            },
            name: self.name,
            check: self.check,
            sustain: self.sustain,
            retries: self.retries,
            runbook: self.runbook,
        }
    }
}

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
    // What to judge on a device.
    device: Option<String>,
    group: Option<String>,
    tag: Option<String>,
    sustain: Option<String>,
    mount: Option<String>,
    warn_percent: Option<f64>,
    critical_percent: Option<f64>,
    warn: Option<f64>,
    critical: Option<f64>,
    missed_after: Option<String>,
    unit: Option<String>,
    process: Option<String>,
    min_count: Option<u32>,
}

/// The settings every check takes.
const COMMON: &[&str] = &["name", "kind", "retries", "runbook"];
/// …every network monitor…
const MONITOR: &[&str] = &["interval", "timeout"];
/// …and every device check.
const DEVICE: &[&str] = &["device", "group", "tag", "sustain"];

/// The kinds of network monitor, and the settings of each beyond `COMMON` and `MONITOR`.
const MONITORS: &[(&str, &[&str])] = &[
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

/// The kinds of device check, and the settings of each beyond `COMMON` and `DEVICE`.
const DEVICE_CHECKS: &[(&str, &[&str])] = &[
    ("disk", &["mount", "warn_percent", "critical_percent"]),
    ("memory", &["warn_percent", "critical_percent"]),
    ("cpu", &["warn_percent", "critical_percent"]),
    ("load", &["warn", "critical"]),
    ("heartbeat", &["missed_after"]),
    ("unit", &["unit"]),
    ("failed_units", &[]),
    ("process", &["process", "min_count"]),
    ("backup", &[]),
    ("drill", &[]),
    ("patching", &[]),
    ("detection", &[]),
];

/// Every kind, network monitors first.
pub fn kinds() -> Vec<&'static str> {
    MONITORS
        .iter()
        .chain(DEVICE_CHECKS)
        .map(|(k, _)| *k)
        .collect()
}

pub(super) fn duration(
    key: &str,
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, String> {
    match text {
        None => Ok(default),
        Some(t) => humantime::parse_duration(t)
            .map_err(|_| format!("{key} takes a duration such as 5s, 1m or 1h, not {t:?}")),
    }
}

/// Reads one check.
pub fn definition(table: &toml::Table) -> Result<CheckDefinition, String> {
    let mut e: CheckEntry = table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let name = e.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("a name is 1 to 100 characters".into());
    }
    let retries = e.retries.take();
    let runbook = std::mem::take(&mut e.runbook);
    if runbook.chars().count() > 20_000 {
        return Err("runbook is at most 20,000 characters".into());
    }
    let (kind, extra, common) = match MONITORS.iter().find(|(k, _)| *k == e.kind) {
        Some((kind, settings)) => (*kind, *settings, MONITOR),
        None => match DEVICE_CHECKS.iter().find(|(k, _)| *k == e.kind) {
            Some((kind, settings)) => (*kind, *settings, DEVICE),
            None => {
                return Err(format!(
                    "kind must be one of {}, not {:?}",
                    kinds().join(", "),
                    e.kind
                ));
            }
        },
    };
    if let Some(other) = table.keys().find(|key| {
        let key = key.as_str();
        !COMMON.contains(&key) && !common.contains(&key) && !extra.contains(&key)
    }) {
        return Err(format!("{other} is not a setting of {kind} checks"));
    }
    if common == DEVICE {
        let retries = retries.unwrap_or(0);
        if retries > 10 {
            return Err("retries is 0 to 10".into());
        }
        let sustain = duration("sustain", e.sustain.take().as_deref(), Duration::ZERO)?;
        if sustain > Duration::from_secs(7 * 86_400) {
            return Err("sustain is at most 7 days".into());
        }
        let covers = super::named(e.device.take(), e.group.take(), e.tag.take(), None)?;
        let check = device_check(kind, e)?;
        check.check().map_err(|err| err.to_string())?;
        return Ok(CheckDefinition::Device(DeviceCheckDefinition {
            name,
            check,
            covers,
            sustain,
            retries,
            runbook,
        }));
    }
    let (interval, timeout) = (e.interval.take(), e.timeout.take());
    let probe = probe(kind, e)?;
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
    Ok(CheckDefinition::Monitor(DeclaredCheck {
        name,
        probe,
        interval,
        timeout,
        retries,
        runbook,
    }))
}

/// The device check an entry of `kind` describes.
fn device_check(kind: &str, e: CheckEntry) -> Result<DeviceCheck, String> {
    let needs = |what: &str| format!("a {kind} check needs {what}");
    Ok(match kind {
        "disk" => DeviceCheck::Disk {
            mount: e.mount,
            warn_percent: e.warn_percent,
            critical_percent: e.critical_percent,
        },
        "memory" => DeviceCheck::Memory {
            warn_percent: e.warn_percent,
            critical_percent: e.critical_percent,
        },
        "cpu" => DeviceCheck::Cpu {
            warn_percent: e.warn_percent,
            critical_percent: e.critical_percent,
        },
        "load" => DeviceCheck::Load {
            warn: e.warn,
            critical: e.critical,
        },
        "heartbeat" => {
            let after = duration(
                "missed_after",
                e.missed_after.as_deref(),
                Duration::from_secs(600),
            )?;
            DeviceCheck::Heartbeat {
                missed_after_secs: after.as_secs(),
            }
        }
        "unit" => DeviceCheck::Unit {
            unit: e
                .unit
                .ok_or_else(|| needs("unit (such as nginx.service)"))?,
        },
        "failed_units" => DeviceCheck::FailedUnits,
        "backup" => DeviceCheck::Backup,
        "drill" => DeviceCheck::Drill,
        "patching" => DeviceCheck::Patching,
        "detection" => DeviceCheck::Detection,
        _ => DeviceCheck::Process {
            name: e
                .process
                .ok_or_else(|| needs("process (the executable's name)"))?,
            min_count: e.min_count.unwrap_or(1),
        },
    })
}

/// The probe an entry of `kind` describes.
fn probe(kind: &str, e: CheckEntry) -> Result<steward_probes::Probe, String> {
    use steward_probes::{Dns, Http, Icmp, Probe, Tcp, Tls};
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
    Ok(match kind {
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
