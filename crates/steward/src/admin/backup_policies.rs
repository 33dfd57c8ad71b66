//! `steward admin backup policy list|add|remove`: backup policies from the shell, through
//! the policies service the API uses (`steward_server::backup::policies`), so the rules,
//! refusals and audit entries are the same.

use anyhow::bail;
use steward_core::Escaped;
use steward_core::backup::retention::Keep;
use steward_proto::backup::{BackupPolicy, SaveBackupPolicy};
use steward_server::AppState;
use steward_server::backup::policies;
use steward_server::service::Caller;

use super::monitoring::covers;
use super::monitoring::table::Table;
use crate::cli::{AddPolicy, PolicyCommand};

pub async fn run(state: &AppState, caller: &Caller, command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::List { json } => list(state, caller, json).await,
        PolicyCommand::Add(add) => {
            let record = policies::create(state, caller, &input(&add)?).await?;
            println!("{}", record.id);
            eprintln!(
                "Added backup policy {}: {} on {}, {}; keeps {}.",
                Escaped(&record.name),
                Escaped(&record.paths.join(", ")),
                Escaped(&covers(state, caller, &record.target).await),
                record.schedule,
                policies::keep_text(&record.keep)
            );
            Ok(())
        }
        PolicyCommand::Remove { policy } => {
            let found = policies::get(state, caller, &policy).await?;
            policies::delete(state, caller, &found.id).await?;
            eprintln!(
                "Removed backup policy {}; its snapshots stay.",
                Escaped(&found.name)
            );
            Ok(())
        }
    }
}

async fn list(state: &AppState, caller: &Caller, json: bool) -> anyhow::Result<()> {
    let all: Vec<BackupPolicy> = policies::list(state, caller)
        .await?
        .iter()
        .map(policies::view)
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    if all.is_empty() {
        println!("no backup policies");
        return Ok(());
    }
    let mut table = Table::new(&[
        "NAME",
        "DEVICES",
        "SCHEDULE",
        "KEEP",
        "PROTECTED",
        "SOURCE",
        "PATHS",
    ]);
    for p in &all {
        let name = if p.enabled {
            p.name.clone()
        } else {
            format!("{} (disabled)", p.name)
        };
        table.row(vec![
            name,
            covers(state, caller, &p.target).await,
            p.schedule.clone(),
            policies::keep_text(&p.keep),
            format!("{} days", p.protection_days),
            p.source.clone(),
            p.paths.join(", "),
        ]);
    }
    table.print();
    Ok(())
}

/// The policy the flags describe; what they leave out takes the service's defaults.
fn input(add: &AddPolicy) -> anyhow::Result<SaveBackupPolicy> {
    Ok(SaveBackupPolicy {
        name: add.name.clone(),
        target: Some(add.devices.clone()),
        preset: add.preset.clone(),
        paths: (!add.paths.is_empty()).then(|| add.paths.clone()),
        excludes: if add.no_excludes {
            Some(Vec::new())
        } else {
            (!add.excludes.is_empty()).then(|| add.excludes.clone())
        },
        schedule: add.schedule.clone(),
        keep: add.keep.as_deref().map(keep).transpose()?,
        protection_days: add.protection_days,
        bandwidth_kib: add.bandwidth_kib,
        enabled: Some(!add.disabled),
    })
}

/// `daily=7,weekly=4` (or `all`: keep every snapshot).
pub fn keep(text: &str) -> anyhow::Result<Keep> {
    let mut keep = Keep::default();
    if matches!(text.trim(), "all" | "everything") {
        return Ok(keep);
    }
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((kind, count)) = part.split_once('=') else {
            bail!("--keep takes kind=count pairs such as daily=7,weekly=4, not {part:?}");
        };
        let Ok(count) = count.trim().parse::<u32>() else {
            bail!("--keep: {count:?} is not a count");
        };
        let slot = match kind.trim() {
            "last" => &mut keep.last,
            "hourly" => &mut keep.hourly,
            "daily" => &mut keep.daily,
            "weekly" => &mut keep.weekly,
            "monthly" => &mut keep.monthly,
            "yearly" => &mut keep.yearly,
            other => bail!(
                "--keep: {other:?} is not a kind (last, hourly, daily, weekly, monthly, yearly)"
            ),
        };
        *slot = count;
    }
    if keep == Keep::default() {
        bail!("--keep names what to keep (daily=7,…), or `all` to keep every snapshot");
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_reads_pairs_and_refuses_the_rest() {
        assert_eq!(
            keep("daily=7, weekly=4,monthly=12").ok(),
            Some(Keep {
                daily: 7,
                weekly: 4,
                monthly: 12,
                ..Keep::default()
            })
        );
        assert_eq!(keep("all").ok(), Some(Keep::default()));
        for bad in ["daily", "daily=x", "dayly=7", "", "daily=0"] {
            assert!(keep(bad).is_err(), "{bad:?}");
        }
    }
}
