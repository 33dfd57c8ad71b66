//! `steward admin maintenance list|add|remove`. A window is described by the keys of a
//! `[[maintenance]]` entry, read by the config file's parser.

use anyhow::{Context, anyhow};
use steward_core::{Escaped, Timestamp};
use steward_proto::monitoring::CreateWindow;
use steward_server::AppState;
use steward_server::monitoring::windows;
use steward_server::service::Caller;

use super::table::Table;
use super::{covers, find, print_json};
use crate::cli::{AddWindow, MaintenanceCommand};
use crate::declared::maintenance::{describe, utc, window};

pub async fn run(state: &AppState, caller: &Caller, cmd: MaintenanceCommand) -> anyhow::Result<()> {
    match cmd {
        MaintenanceCommand::List { json } => {
            let list = windows::list(state, caller).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no maintenance windows");
                return Ok(());
            }
            let mut table = Table::new(&["NAME", "COVERS", "WHEN", "NOW", "SOURCE", "REASON"]);
            for w in &list {
                table.row(vec![
                    w.name.clone(),
                    window_covers(state, caller, &w.target).await,
                    describe(&w.schedule),
                    if w.open { "open" } else { "closed" }.into(),
                    w.source.clone(),
                    w.comment.clone(),
                ]);
            }
            table.print();
            Ok(())
        }
        MaintenanceCommand::Add(add) => {
            let declared = window(&entry(&add, caller.now)?, String::new())
                .map_err(|reason| anyhow!("maintenance {:?}: {reason}", add.name))?;
            let input = CreateWindow {
                target: windows::target_of(state, caller.scope(), &declared.covers).await?,
                name: declared.name,
                schedule: declared.schedule,
                comment: declared.reason,
            };
            let created = windows::create(state, caller, &input).await?;
            println!("{}", created.id);
            eprintln!(
                "Added maintenance window {} for {}: {}{}.",
                Escaped(&created.name),
                Escaped(&window_covers(state, caller, &created.target).await),
                describe(&created.schedule),
                if created.open { " (open now)" } else { "" }
            );
            Ok(())
        }
        MaintenanceCommand::Remove { window } => {
            let list = windows::list(state, caller).await?;
            let found = find(&list, &window, "maintenance window", |w| &w.name, |w| &w.id)?;
            windows::delete(state, caller, &found.id).await?;
            eprintln!("Removed maintenance window {}.", Escaped(&found.name));
            Ok(())
        }
    }
}

/// What a window covers: a window for all devices holds back network monitors too.
async fn window_covers(state: &AppState, caller: &Caller, target: &str) -> String {
    match target {
        "all" => "everything".into(),
        other => covers(state, caller, other).await,
    }
}

/// The flags as a `[[maintenance]]` entry. A one-off window opens now unless `--from`
/// says otherwise; `now` and `+DURATION` are made times here, as the file has none.
fn entry(add: &AddWindow, now: Timestamp) -> anyhow::Result<toml::Table> {
    let mut t = toml::Table::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            t.insert(key.into(), toml::Value::String(v.clone()));
        }
    };
    put("name", &Some(add.name.clone()));
    put("device", &add.device);
    put("group", &add.group);
    put("tag", &add.tag);
    put("check", &add.check);
    put("duration", &add.for_);
    put("at", &add.at);
    put("reason", &add.reason);
    if add.days.is_none() {
        let from = add.from.as_deref().unwrap_or("now");
        put("start", &Some(moment("--from", from, now)?));
        let until = add
            .until
            .as_deref()
            .map(|u| moment("--until", u, now))
            .transpose()?;
        put("end", &until);
    }
    if let Some(days) = &add.days {
        t.insert("days".into(), toml::Value::String(days.clone()));
    }
    Ok(t)
}

/// `now`, `+2h` (from now) or a time as the file takes it.
fn moment(flag: &str, text: &str, now: Timestamp) -> anyhow::Result<String> {
    if text == "now" {
        return Ok(iso(now));
    }
    if let Some(later) = text.strip_prefix('+') {
        let d = humantime::parse_duration(later)
            .with_context(|| format!("{flag} {text}: a duration after + such as +2h"))?;
        return Ok(iso(Timestamp(now.0.saturating_add(
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        ))));
    }
    Ok(text.to_string())
}

/// A time to the second, for the parser: `2026-05-01 22:00:07Z`.
fn iso(t: Timestamp) -> String {
    let minute = utc(t).trim_end_matches(" UTC").to_string();
    format!("{minute}:{:02}Z", t.0.div_euclid(1_000).rem_euclid(60))
}
