//! The check form: one set of fields for every kind (the page shows those of the chosen
//! kind), turned into the API's [`CreateCheck`] — so the console's checks are validated by
//! the same service as the API's — and filled back from a check for editing.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use steward_proto::monitoring::{CheckInfo, CreateCheck};

use super::parse::{duration, format_duration, number};
use super::targets;

/// The kinds offered, as (value, label, device check or network monitor).
pub const KINDS: &[(&str, &str, bool)] = &[
    ("disk", "Disk space", true),
    ("memory", "Memory", true),
    ("cpu", "CPU", true),
    ("load", "Load average", true),
    ("unit", "Systemd unit active", true),
    ("failed_units", "No failed systemd units", true),
    ("process", "Process running", true),
    ("heartbeat", "Agent heartbeat", true),
    ("backup", "Backups late or failed", true),
    ("drill", "Restore drills failed or overdue", true),
    (
        "patching",
        "Install failed or security updates overdue",
        true,
    ),
    ("detection", "Ransomware or intrusion detected", true),
    ("http", "HTTP(S)", false),
    ("tcp", "TCP port", false),
    ("tls", "TLS certificate", false),
    ("dns", "DNS record", false),
    ("icmp", "Ping (ICMP)", false),
];

/// Kinds a capability installs and judges itself, not offered in the form.
const INSTALLED_KINDS: &[(&str, &str)] = &[
    ("posture", "Security posture regressed"),
    ("posture_reviews", "Checklist reviews overdue"),
];

/// The label of a kind (the kind itself when unknown).
pub fn kind_label(kind: &str) -> &str {
    KINDS
        .iter()
        .map(|(k, label, _)| (k, label))
        .chain(INSTALLED_KINDS.iter().map(|(k, label)| (k, label)))
        .find(|(k, _)| **k == kind)
        .map_or(kind, |(_, label)| label)
}

pub fn is_device_kind(kind: &str) -> bool {
    KINDS.iter().any(|(k, _, device)| *k == kind && *device)
}

/// The form's fields, as typed (every one a string, so bad input is shown back as it was).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CheckForm {
    pub name: String,
    pub kind: String,
    /// `all`, `group:ID`, `device:ID` or `tag` (then `tag` names it).
    pub target: String,
    pub tag: String,
    // Thresholds: percent for disk, memory and CPU; the load average for load.
    pub mount: String,
    pub warn: String,
    pub critical: String,
    /// How long a problem must last before anyone is told ("10m").
    pub sustain: String,
    pub unit: String,
    pub process: String,
    pub min_count: String,
    pub missed_after: String,
    // Network monitors.
    pub url: String,
    pub expect_status: String,
    pub keyword: String,
    pub json_pointer: String,
    pub json_value: String,
    pub warn_ms: String,
    pub critical_ms: String,
    pub cert_warn_days: String,
    pub cert_critical_days: String,
    pub host: String,
    pub port: String,
    pub server_name: String,
    pub dns_name: String,
    pub record_type: String,
    pub dns_server: String,
    pub expect: String,
    pub count: String,
    pub interval: String,
    pub timeout: String,
    /// Network monitors: `server`, or `device:ID` for that device's agent.
    pub runner: String,
    // Every kind.
    pub retries: String,
    /// Between reminders of an unacknowledged problem; "0" for none.
    pub renotify: String,
    pub parent_id: String,
    pub runbook: String,
    /// A ticked box sends "on"; an unticked one nothing.
    pub enabled: String,
}

impl Default for CheckForm {
    /// A new check's form: a disk check of every device, enabled.
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: "disk".into(),
            target: "all".into(),
            tag: String::new(),
            mount: String::new(),
            warn: String::new(),
            critical: String::new(),
            sustain: String::new(),
            unit: String::new(),
            process: String::new(),
            min_count: String::new(),
            missed_after: String::new(),
            url: String::new(),
            expect_status: String::new(),
            keyword: String::new(),
            json_pointer: String::new(),
            json_value: String::new(),
            warn_ms: String::new(),
            critical_ms: String::new(),
            cert_warn_days: String::new(),
            cert_critical_days: String::new(),
            host: String::new(),
            port: String::new(),
            server_name: String::new(),
            dns_name: String::new(),
            record_type: "A".into(),
            dns_server: String::new(),
            expect: String::new(),
            count: String::new(),
            interval: "1m".into(),
            timeout: String::new(),
            runner: "server".into(),
            retries: String::new(),
            renotify: String::new(),
            parent_id: String::new(),
            runbook: String::new(),
            enabled: "on".into(),
        }
    }
}

/// Sets `key` to the number in `text`, when there is one.
fn put_number<T>(
    check: &mut Map<String, Value>,
    key: &str,
    field: &str,
    text: &str,
) -> Result<(), String>
where
    T: std::str::FromStr + Into<Value>,
{
    if let Some(n) = number::<T>(field, text)? {
        check.insert(key.into(), n.into());
    }
    Ok(())
}

/// Sets `key` to the trimmed text, when there is some.
fn put_text(check: &mut Map<String, Value>, key: &str, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        check.insert(key.into(), text.into());
    }
}

impl CheckForm {
    /// The request the service takes; an error names the field.
    pub fn to_request(&self) -> Result<CreateCheck, String> {
        let kind = self.kind.trim();
        let mut c = Map::new();
        c.insert("kind".into(), kind.into());
        match kind {
            "disk" | "memory" | "cpu" => {
                if kind == "disk" {
                    put_text(&mut c, "mount", &self.mount);
                }
                put_number::<f64>(&mut c, "warn_percent", "warning threshold", &self.warn)?;
                put_number::<f64>(
                    &mut c,
                    "critical_percent",
                    "critical threshold",
                    &self.critical,
                )?;
            }
            "load" => {
                put_number::<f64>(&mut c, "warn", "warning threshold", &self.warn)?;
                put_number::<f64>(&mut c, "critical", "critical threshold", &self.critical)?;
            }
            "unit" => {
                c.insert("unit".into(), self.unit.trim().into());
            }
            "failed_units" | "backup" | "drill" | "patching" | "detection" => {}
            "process" => {
                c.insert("name".into(), self.process.trim().into());
                put_number::<u32>(&mut c, "min_count", "at least", &self.min_count)?;
            }
            "heartbeat" => {
                let secs = duration("missed after", &self.missed_after)?
                    .ok_or("missed after: how long without a check-in (say 10m)")?;
                c.insert("missed_after_secs".into(), secs.into());
            }
            "http" => {
                c.insert("url".into(), self.url.trim().into());
                put_number::<u16>(
                    &mut c,
                    "expect_status",
                    "expected status",
                    &self.expect_status,
                )?;
                put_text(&mut c, "keyword", &self.keyword);
                put_text(&mut c, "json_pointer", &self.json_pointer);
                let value = self.json_value.trim();
                if !value.is_empty() {
                    // JSON when it reads as JSON (`true`, `42`, `"up"`), else the text itself.
                    let parsed = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
                    c.insert("json_value".into(), parsed);
                }
                put_number::<u64>(&mut c, "warn_ms", "slow (warning) after", &self.warn_ms)?;
                put_number::<u64>(
                    &mut c,
                    "critical_ms",
                    "slow (critical) after",
                    &self.critical_ms,
                )?;
                put_number::<u32>(
                    &mut c,
                    "cert_warn_days",
                    "certificate warning",
                    &self.cert_warn_days,
                )?;
                put_number::<u32>(
                    &mut c,
                    "cert_critical_days",
                    "certificate critical",
                    &self.cert_critical_days,
                )?;
            }
            "tcp" | "tls" => {
                c.insert("host".into(), self.host.trim().into());
                match (kind, number::<u16>("port", &self.port)?) {
                    (_, Some(port)) => {
                        c.insert("port".into(), port.into());
                    }
                    ("tcp", None) => return Err("port: which port to connect to".into()),
                    _ => {}
                }
                if kind == "tls" {
                    put_text(&mut c, "server_name", &self.server_name);
                    put_number::<u32>(
                        &mut c,
                        "warn_days",
                        "certificate warning",
                        &self.cert_warn_days,
                    )?;
                    put_number::<u32>(
                        &mut c,
                        "critical_days",
                        "certificate critical",
                        &self.cert_critical_days,
                    )?;
                }
            }
            "dns" => {
                c.insert("name".into(), self.dns_name.trim().into());
                put_text(
                    &mut c,
                    "record_type",
                    &self.record_type.to_ascii_uppercase(),
                );
                put_text(&mut c, "server", &self.dns_server);
                put_text(&mut c, "expect", &self.expect);
            }
            "icmp" => {
                c.insert("host".into(), self.host.trim().into());
                put_number::<u16>(&mut c, "count", "requests", &self.count)?;
            }
            "" => return Err("kind: choose what to check".into()),
            other => return Err(format!("kind: {other:?} is not a kind of check")),
        }
        let device = is_device_kind(kind);
        Ok(CreateCheck {
            name: self.name.clone(),
            check: Value::Object(c),
            target: device.then(|| targets::value(&self.target, &self.tag)),
            interval_secs: if device {
                None
            } else {
                duration("interval", &self.interval)?
            },
            timeout_secs: if device {
                None
            } else {
                duration("timeout", &self.timeout)?
            },
            retries: number("retries", &self.retries)?,
            sustain_secs: duration("sustained for", &self.sustain)?,
            renotify_minutes: duration("remind every", &self.renotify)?.map(|s| s.div_ceil(60)),
            parent_id: Some(self.parent_id.trim().to_string()).filter(|p| !p.is_empty()),
            runbook: Some(self.runbook.clone()),
            enabled: Some(self.enabled == "on"),
            runner: (!device)
                .then(|| self.runner.trim().to_string())
                .filter(|r| !r.is_empty()),
        })
    }

    /// The form filled in from a check, for editing it.
    pub fn from_info(info: &CheckInfo) -> CheckForm {
        let c = &info.check;
        let text = |key: &str| -> String {
            match c.get(key) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            }
        };
        let (target, tag) = targets::split(info.target.as_deref().unwrap_or("all"));
        let mut form = CheckForm {
            name: info.name.clone(),
            kind: info.kind.clone(),
            target,
            tag,
            sustain: match info.sustain_secs {
                0 => String::new(),
                s => format_duration(s),
            },
            retries: info.retries.to_string(),
            renotify: info
                .renotify_minutes
                .map_or("0".into(), |m| format_duration(m * 60)),
            parent_id: info.parent_id.clone().unwrap_or_default(),
            runner: info.runner.clone(),
            runbook: info.runbook.clone(),
            enabled: if info.enabled {
                "on".into()
            } else {
                String::new()
            },
            ..CheckForm::default()
        };
        match info.kind.as_str() {
            "disk" | "memory" | "cpu" => {
                form.mount = text("mount");
                form.warn = text("warn_percent");
                form.critical = text("critical_percent");
            }
            "load" => {
                form.warn = text("warn");
                form.critical = text("critical");
            }
            "unit" => form.unit = text("unit"),
            "process" => {
                form.process = text("name");
                form.min_count = text("min_count");
            }
            "heartbeat" => {
                form.missed_after = c
                    .get("missed_after_secs")
                    .and_then(Value::as_u64)
                    .map(format_duration)
                    .unwrap_or_default();
            }
            "http" => {
                form.url = text("url");
                form.expect_status = text("expect_status");
                form.keyword = text("keyword");
                form.json_pointer = text("json_pointer");
                form.json_value = c
                    .get("json_value")
                    .map(Value::to_string)
                    .unwrap_or_default();
                form.warn_ms = text("warn_ms");
                form.critical_ms = text("critical_ms");
                form.cert_warn_days = text("cert_warn_days");
                form.cert_critical_days = text("cert_critical_days");
            }
            "tcp" | "tls" => {
                form.host = text("host");
                form.port = text("port");
                form.server_name = text("server_name");
                form.cert_warn_days = text("warn_days");
                form.cert_critical_days = text("critical_days");
            }
            "dns" => {
                form.dns_name = text("name");
                form.record_type = text("record_type");
                form.dns_server = text("server");
                form.expect = text("expect");
            }
            "icmp" => {
                form.host = text("host");
                form.count = text("count");
            }
            _ => {}
        }
        if !is_device_kind(&info.kind) {
            form.interval = format_duration(info.interval_secs);
        }
        form
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(form: &CheckForm) -> CheckInfo {
        let req = form.to_request().unwrap();
        CheckInfo {
            id: "c1".into(),
            name: req.name,
            kind: form.kind.clone(),
            check: req.check,
            target: req.target,
            interval_secs: req.interval_secs.unwrap_or(60),
            retries: req.retries.unwrap_or(0),
            sustain_secs: req.sustain_secs.unwrap_or(0),
            renotify_minutes: req.renotify_minutes.filter(|m| *m > 0),
            parent_id: req.parent_id,
            runbook: req.runbook.unwrap_or_default(),
            source: "console".into(),
            enabled: req.enabled.unwrap_or(true),
            runner: req.runner.unwrap_or_else(|| "server".into()),
            updated_at: steward_core::Timestamp(0),
        }
    }

    #[test]
    fn a_disk_check_of_a_tag_round_trips() {
        let form = CheckForm {
            name: "Data disk".into(),
            kind: "disk".into(),
            target: "tag".into(),
            tag: " db ".into(),
            mount: "/srv".into(),
            warn: "80".into(),
            critical: "95.5".into(),
            sustain: "10m".into(),
            retries: "1".into(),
            renotify: "2h".into(),
            runbook: "Clean **/srv/tmp**".into(),
            ..CheckForm::default()
        };
        let req = form.to_request().unwrap();
        assert_eq!(
            req.check,
            json!({"kind": "disk", "mount": "/srv", "warn_percent": 80.0, "critical_percent": 95.5})
        );
        assert_eq!(req.target.as_deref(), Some("tag:db"));
        assert_eq!(req.interval_secs, None);
        assert_eq!(req.sustain_secs, Some(600));
        assert_eq!(req.renotify_minutes, Some(120));
        let back = CheckForm::from_info(&info(&form));
        assert_eq!((back.target.as_str(), back.tag.as_str()), ("tag", "db"));
        assert_eq!(
            (back.warn.as_str(), back.critical.as_str()),
            ("80.0", "95.5")
        );
        assert_eq!(
            (back.sustain.as_str(), back.renotify.as_str()),
            ("10m", "2h")
        );
        assert_eq!(back.enabled, "on");
    }

    #[test]
    fn network_monitors_take_their_settings() {
        let form = CheckForm {
            name: "shop".into(),
            kind: "http".into(),
            url: "https://shop.example.com/health".into(),
            expect_status: "200".into(),
            json_pointer: "/status".into(),
            json_value: "\"up\"".into(),
            critical_ms: "2000".into(),
            interval: "30s".into(),
            timeout: "5s".into(),
            enabled: String::new(),
            ..CheckForm::default()
        };
        let req = form.to_request().unwrap();
        assert_eq!(req.target, None, "a network monitor has no target");
        assert_eq!(req.interval_secs, Some(30));
        assert_eq!(req.timeout_secs, Some(5));
        assert_eq!(req.enabled, Some(false));
        assert_eq!(req.check["json_value"], json!("up"));
        assert_eq!(req.check["expect_status"], json!(200));
        let back = CheckForm::from_info(&info(&form));
        assert_eq!(back.url, "https://shop.example.com/health");
        assert_eq!(back.json_value, "\"up\"");
        assert_eq!(back.interval, "30s");
        assert_eq!(back.enabled, "");

        let tcp = CheckForm {
            kind: "tcp".into(),
            host: "db.internal".into(),
            port: "5432".into(),
            ..CheckForm::default()
        };
        assert_eq!(
            tcp.to_request().unwrap().check,
            json!({"kind": "tcp", "host": "db.internal", "port": 5432})
        );
        let dns = CheckForm {
            kind: "dns".into(),
            dns_name: "example.com".into(),
            record_type: "mx".into(),
            ..CheckForm::default()
        };
        assert_eq!(dns.to_request().unwrap().check["record_type"], "MX");
    }

    #[test]
    fn bad_input_names_the_field() {
        let bad = |f: CheckForm| f.to_request().unwrap_err();
        assert!(
            bad(CheckForm {
                warn: "lots".into(),
                ..CheckForm::default()
            })
            .starts_with("warning threshold:")
        );
        assert!(
            bad(CheckForm {
                kind: "tcp".into(),
                host: "h".into(),
                ..CheckForm::default()
            })
            .starts_with("port:")
        );
        assert!(
            bad(CheckForm {
                kind: "heartbeat".into(),
                ..CheckForm::default()
            })
            .starts_with("missed after:")
        );
        assert!(
            bad(CheckForm {
                kind: "http".into(),
                interval: "soon".into(),
                ..CheckForm::default()
            })
            .starts_with("interval:")
        );
        assert!(
            bad(CheckForm {
                kind: "rm -rf".into(),
                ..CheckForm::default()
            })
            .starts_with("kind:")
        );
        assert!(
            bad(CheckForm {
                kind: String::new(),
                ..CheckForm::default()
            })
            .starts_with("kind:")
        );
    }
}
