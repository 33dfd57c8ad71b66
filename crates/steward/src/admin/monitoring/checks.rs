//! `steward admin checks list|show|add|remove`.

use anyhow::{Context, anyhow, bail};
use steward_core::Escaped;
use steward_proto::monitoring::{AlertInfo, AlertQuery, CheckInfo, CreateCheck};
use steward_server::monitoring::{alerts, checks, windows};
use steward_server::service::Caller;
use steward_server::{AppState, devices};

use super::table::Table;
use super::{ago, covers, find, print_json, span_secs};
use crate::cli::{AddCheck, CheckSettings, ChecksCommand};
use crate::declared::checks::{CheckDefinition, definition};

pub async fn run(state: &AppState, caller: &Caller, cmd: ChecksCommand) -> anyhow::Result<()> {
    match cmd {
        ChecksCommand::List { json } => list(state, caller, json).await,
        ChecksCommand::Show { check, json } => show(state, caller, &check, json).await,
        ChecksCommand::Add(add) => {
            let record = checks::create(state, caller, &input(state, caller, &add).await?).await?;
            println!("{}", record.id);
            eprintln!(
                "Added check {} ({}, {}).",
                Escaped(&record.name),
                record.kind,
                Escaped(&covers(state, caller, &record.target).await)
            );
            Ok(())
        }
        ChecksCommand::Remove { check } => {
            let all = checks::list(state, caller).await?;
            let found = find(&all, &check, "check", |c| &c.name, |c| &c.id)?;
            checks::delete(state, caller, &found.id).await?;
            eprintln!("Removed check {}.", Escaped(&found.name));
            Ok(())
        }
    }
}

async fn list(state: &AppState, caller: &Caller, json: bool) -> anyhow::Result<()> {
    let infos: Vec<CheckInfo> = checks::list(state, caller)
        .await?
        .iter()
        .map(checks::info)
        .collect();
    if json {
        return print_json(&infos);
    }
    if infos.is_empty() {
        println!("no checks");
        return Ok(());
    }
    let open = alerts::view(state, caller, &AlertQuery::default())
        .await?
        .open;
    let mut table = Table::new(&["NAME", "KIND", "COVERS", "EVERY", "STATUS", "SOURCE"]);
    for c in &infos {
        let every = match c.target {
            None => span_secs(c.interval_secs),
            Some(_) => "each report".into(),
        };
        table.row(vec![
            c.name.clone(),
            c.kind.clone(),
            check_covers(state, caller, c).await,
            every,
            standing(c, &open),
            c.source.clone(),
        ]);
    }
    table.print();
    Ok(())
}

/// What a check covers: its devices, or for a network monitor the network, probed by the
/// server or by a device's agent (`network, from device web-1`).
async fn check_covers(state: &AppState, caller: &Caller, c: &CheckInfo) -> String {
    match (&c.target, c.runner.strip_prefix("device:")) {
        (Some(target), _) => covers(state, caller, target).await,
        (None, Some(_)) => format!("network, from {}", covers(state, caller, &c.runner).await),
        (None, None) => "network".into(),
    }
}

/// How a check stands, from the open alerts (worst first): `ok`, `critical`, `warning
/// (3 devices)`, `disabled`.
fn standing(c: &CheckInfo, open: &[AlertInfo]) -> String {
    if !c.enabled {
        return "disabled".into();
    }
    let mine: Vec<&AlertInfo> = open.iter().filter(|a| a.check_id == c.id).collect();
    match (mine.first(), c.target.is_some()) {
        (None, _) => "ok".into(),
        (Some(worst), false) => worst.status.as_str().into(),
        (Some(worst), true) => format!(
            "{} ({} device{})",
            worst.status.as_str(),
            mine.len(),
            if mine.len() == 1 { "" } else { "s" }
        ),
    }
}

#[derive(serde::Serialize)]
struct Shown {
    check: CheckInfo,
    /// A network monitor's state; a device check's open problems.
    alerts: Vec<AlertInfo>,
}

async fn show(state: &AppState, caller: &Caller, wanted: &str, json: bool) -> anyhow::Result<()> {
    let all = checks::list(state, caller).await?;
    let record = find(&all, wanted, "check", |c| &c.name, |c| &c.id)?;
    let check = checks::info(record);
    let alerts = alerts::of_check(state, caller, &check.id).await?;
    if json {
        return print_json(&Shown { check, alerts });
    }
    let mut lines = vec![
        ("name", check.name.clone()),
        ("id", check.id.clone()),
        ("kind", check.kind.clone()),
        ("covers", check_covers(state, caller, &check).await),
    ];
    if let serde_json::Value::Object(settings) = &check.check {
        for (key, value) in settings.iter().filter(|(k, _)| *k != "kind") {
            lines.push(("setting", format!("{key} = {value}")));
        }
    }
    if check.target.is_none() {
        lines.push(("every", span_secs(check.interval_secs)));
    }
    lines.push(("retries", check.retries.to_string()));
    if check.sustain_secs > 0 {
        lines.push(("sustain", span_secs(check.sustain_secs)));
    }
    let reminders = match check.renotify_minutes {
        Some(m) if m > 0 => format!("every {}", span_secs(m * 60)),
        _ => "none".into(),
    };
    lines.push(("reminders", reminders));
    if let Some(parent) = &check.parent_id {
        lines.push((
            "depends on",
            covers(state, caller, &format!("check:{parent}")).await,
        ));
    }
    lines.push(("source", check.source.clone()));
    lines.push(("enabled", if check.enabled { "yes" } else { "no" }.into()));
    if !check.runbook.is_empty() {
        lines.push(("runbook", check.runbook.clone()));
    }
    for (key, value) in lines {
        println!("{:<11} {}", format!("{key}:"), Escaped(&value));
    }
    println!();
    if alerts.is_empty() {
        let nothing = match check.target {
            None => "not run yet",
            Some(_) => "no device has a problem",
        };
        println!("{nothing}");
        return Ok(());
    }
    let per_device = check.target.is_some();
    let mut table = if per_device {
        Table::new(&["DEVICE", "STATUS", "SINCE", "SUMMARY"])
    } else {
        Table::new(&["STATUS", "SINCE", "SUMMARY"])
    };
    for a in &alerts {
        let mut row = vec![
            a.status.as_str().to_string(),
            ago(caller.now, a.since),
            a.summary.clone(),
        ];
        if per_device {
            row.insert(0, a.device.clone().unwrap_or_default());
        }
        table.row(row);
    }
    table.print();
    Ok(())
}

/// What the API would be given: the check described by `--toml` and the flags, read by the
/// config file's parser, its devices looked up by name.
async fn input(state: &AppState, caller: &Caller, add: &AddCheck) -> anyhow::Result<CreateCheck> {
    let mut table = match (&add.toml, &add.toml_file) {
        (Some(text), _) => snippet(text).context("--toml")?,
        (None, Some(path)) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
            };
            snippet(&text).with_context(|| format!("--toml-file {}", path.display()))?
        }
        (None, None) => toml::Table::new(),
    };
    let mut given = settings(&add.settings)?;
    if let Some(name) = &add.name {
        given.insert("name".into(), toml::Value::String(name.clone()));
    }
    for (key, value) in given {
        if table.contains_key(&key) {
            bail!("{key} is given both in the TOML and as a flag: give it once");
        }
        table.insert(key, value);
    }
    if !table.contains_key("name") {
        bail!("name the check: steward admin checks add NAME --kind …");
    }
    if !table.contains_key("kind") {
        bail!(
            "say what to check with --kind ({})",
            crate::declared::checks::kinds().join(", ")
        );
    }
    let label = table
        .get("name")
        .and_then(toml::Value::as_str)
        .unwrap_or_default()
        .to_string();
    let def = definition(&table).map_err(|reason| anyhow!("check {label:?}: {reason}"))?;
    let secs = |d: std::time::Duration| u64::try_from(d.as_millis().div_ceil(1000)).ok();
    let runner = match (add.runner.as_deref(), &def) {
        (None, _) => None,
        (Some(_), CheckDefinition::Device(_)) => {
            bail!("--runner is for network monitors: a device check is judged on each device")
        }
        (Some("server"), _) => Some("server".to_string()),
        (Some(device), _) => Some(format!(
            "device:{}",
            devices::find_by_name_or_id(state, caller, device).await?.id
        )),
    };
    Ok(match def {
        CheckDefinition::Monitor(c) => CreateCheck {
            name: c.name,
            check: serde_json::to_value(&c.probe)?,
            target: None,
            interval_secs: secs(c.interval),
            timeout_secs: secs(c.timeout),
            retries: Some(c.retries),
            sustain_secs: None,
            renotify_minutes: None,
            parent_id: None,
            runbook: Some(c.runbook),
            enabled: None,
            runner,
        },
        CheckDefinition::Device(d) => CreateCheck {
            target: Some(windows::target_of(state, caller.scope(), &d.covers).await?),
            name: d.name,
            check: serde_json::to_value(&d.check)?,
            interval_secs: None,
            timeout_secs: None,
            retries: Some(d.retries),
            sustain_secs: secs(d.sustain),
            renotify_minutes: None,
            parent_id: None,
            runbook: Some(d.runbook),
            enabled: None,
            runner: None,
        },
    })
}

/// A check as TOML: keys on lines (a `[[checks]]` header is allowed), or one inline table.
fn snippet(text: &str) -> anyhow::Result<toml::Table> {
    let trimmed = text.trim();
    let mut table: toml::Table = if trimmed.starts_with('{') {
        let mut outer: toml::Table = toml::from_str(&format!("check = {trimmed}"))?;
        match outer.remove("check") {
            Some(toml::Value::Table(t)) => t,
            _ => bail!("not a table"),
        }
    } else {
        toml::from_str(trimmed)?
    };
    if let Some(toml::Value::Array(entries)) = table.get("checks") {
        match (table.len(), entries.as_slice()) {
            (1, [toml::Value::Table(one)]) => table = one.clone(),
            _ => bail!("give one check"),
        }
    }
    Ok(table)
}

/// The flags given, as the config file's keys.
fn settings(s: &CheckSettings) -> anyhow::Result<toml::Table> {
    let mut t = toml::Table::new();
    let mut put = |key: &str, value: Option<toml::Value>| {
        if let Some(v) = value {
            t.insert(key.to_string(), v);
        }
    };
    let text = |v: &Option<String>| v.clone().map(toml::Value::String);
    let int = |v: Option<u32>| v.map(|n| toml::Value::Integer(n.into()));
    let float = |v: Option<f64>| v.map(toml::Value::Float);
    put("kind", text(&s.kind));
    put("retries", int(s.retries));
    put("runbook", text(&s.runbook));
    put("interval", text(&s.interval));
    put("timeout", text(&s.timeout));
    put("url", text(&s.url));
    put("host", text(&s.host));
    put("port", int(s.port.map(u32::from)));
    put("expect_status", int(s.expect_status.map(u32::from)));
    put("keyword", text(&s.keyword));
    put("json_pointer", text(&s.json_pointer));
    put("warn_ms", int(s.warn_ms));
    put("critical_ms", int(s.critical_ms));
    put("cert_warn_days", int(s.cert_warn_days));
    put("cert_critical_days", int(s.cert_critical_days));
    put("ca_file", text(&s.ca_file));
    put("server_name", text(&s.server_name));
    put("warn_days", int(s.warn_days));
    put("critical_days", int(s.critical_days));
    put("record_type", text(&s.record_type));
    put("server", text(&s.server));
    put("expect", text(&s.expect));
    put("count", int(s.count.map(u32::from)));
    put("device", text(&s.device));
    put("group", text(&s.group));
    put("tag", text(&s.tag));
    put("sustain", text(&s.sustain));
    put("mount", text(&s.mount));
    put("warn_percent", float(s.warn_percent));
    put("critical_percent", float(s.critical_percent));
    put("warn", float(s.warn));
    put("critical", float(s.critical));
    put("missed_after", text(&s.missed_after));
    put("unit", text(&s.unit));
    put("process", text(&s.process));
    put("min_count", int(s.min_count));
    if let Some(v) = &s.json_value {
        // JSON when it reads as JSON (42, true, "ok"), else the text itself.
        let value = match serde_json::from_str::<serde_json::Value>(v) {
            Ok(serde_json::Value::Null) => bail!("--json-value: null cannot be expected"),
            Ok(json) => toml::Value::try_from(json).context("--json-value")?,
            Err(_) => toml::Value::String(v.clone()),
        };
        put("json_value", Some(value));
    }
    Ok(t)
}
