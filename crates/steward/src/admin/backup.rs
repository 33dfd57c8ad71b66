//! `steward admin backup …`: backups from the shell, through the backup service the API
//! uses (`steward_server::backup`), so the rules and audit entries are the same. `run` and
//! `restore` queue a job and follow it to its end with a progress line.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use steward_core::{Escaped, JobState};
use steward_server::service::Caller;
use steward_server::{AppState, backup, devices};

use steward_server::ServerConfig;

use crate::cli::{AdminTarget, BackupCommand};
use crate::config::backup_storage::BackupStorage;
use crate::config::{DEFAULT_DATA_DIR, FileConfig};

/// What the backup commands need besides the database: the sealing key (repository
/// passwords are sealed with it) and where repositories are stored.
pub fn configure(target: &AdminTarget, config: &mut ServerConfig) -> anyhow::Result<()> {
    config.sealing_key = super::monitoring::sealing_key(target)?;
    let file = FileConfig::load(target.config.as_deref())?;
    let data_dir = target
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    match file.backup_storage.resolve(&data_dir)? {
        BackupStorage::Local(dir) => config.backups_dir = Some(dir),
        BackupStorage::S3(bucket) => config.backup_bucket = Some(bucket),
    }
    Ok(())
}

pub async fn run(state: &AppState, caller: &Caller, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Run {
            device,
            paths,
            excludes,
            no_wait,
        } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            let job = backup::run_now(state, caller, &device.id, paths, excludes).await?;
            eprintln!("Queued backup job {} on {}.", job.id, Escaped(&device.name));
            if !no_wait {
                follow(state, &job.id).await?;
            }
        }
        BackupCommand::List { device, json } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            let snapshots = backup::snapshots(state, caller, &device.id).await?;
            if json {
                let rows: Vec<_> = snapshots
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.snapshot_id, "received_at": s.received_at, "written_at": s.written_at,
                            "paths": s.paths, "files": s.files, "bytes": s.bytes,
                            "added_bytes": s.added_bytes, "stored_bytes": s.stored_bytes,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if snapshots.is_empty() {
                println!("{} has no snapshots", Escaped(&device.name));
            } else {
                println!(
                    "{:<10} {:<20} {:>8} {:>12} {:>12}  PATHS",
                    "ID", "RECEIVED", "FILES", "SIZE", "ADDED"
                );
                for s in &snapshots {
                    println!(
                        "{:<10} {:<20} {:>8} {:>12} {:>12}  {}",
                        &s.snapshot_id[..8.min(s.snapshot_id.len())],
                        crate::declared::maintenance::utc(s.received_at),
                        s.files.map(|f| f.to_string()).unwrap_or_default(),
                        s.bytes.map(size).unwrap_or_default(),
                        s.added_bytes.map(size).unwrap_or_default(),
                        s.paths.as_deref().unwrap_or_default().join(", ")
                    );
                }
            }
        }
        BackupCommand::Files {
            device,
            snapshot,
            path,
            no_recursive,
            limit,
        } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            let scope = backup::ListScope {
                recursive: !no_recursive,
                limit,
            };
            let listing = backup::files(state, caller, &device.id, &snapshot, &path, scope).await?;
            for entry in &listing.entries {
                let kind = format!("{:?}", entry.kind).to_lowercase();
                match &entry.link {
                    Some(link) => println!("{kind:<8} {:>12}  /{} -> {link}", "", entry.path),
                    None => println!("{kind:<8} {:>12}  /{}", size(entry.size as i64), entry.path),
                }
            }
            if listing.cut {
                eprintln!(
                    "The listing stopped after {} entries; there are more. Name a folder further \
                     down with --path, list one level with --no-recursive, or raise --limit (at \
                     most {}).",
                    listing.entries.len(),
                    backup::MAX_LISTED
                );
            }
        }
        BackupCommand::Restore {
            device,
            snapshot,
            paths,
            to_device,
            target,
            no_wait,
        } => {
            let source = devices::find_by_name_or_id(state, caller, &device).await?;
            let target_device = match to_device {
                Some(name) => devices::find_by_name_or_id(state, caller, &name).await?,
                None => source.clone(),
            };
            let request = backup::RestoreRequest {
                source: source.id.clone(),
                snapshot,
                paths,
                target_device: target_device.id.clone(),
                target_path: target,
            };
            let job = backup::restore(state, caller, request).await?;
            eprintln!(
                "Queued restore job {} on {}.",
                job.id,
                Escaped(&target_device.name)
            );
            if !no_wait {
                follow(state, &job.id).await?;
            }
        }
        BackupCommand::Drill {
            device,
            runner,
            no_wait,
        } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            let runner = match runner {
                Some(name) => Some(devices::find_by_name_or_id(state, caller, &name).await?.id),
                None => None,
            };
            let drill = backup::drills::start(state, caller, &device.id, runner.as_deref()).await?;
            eprintln!(
                "Started restore drill {} of {}.",
                drill.id,
                Escaped(&device.name)
            );
            if !no_wait {
                follow_drill(state, caller, &device.id, &drill.id).await?;
            }
        }
        BackupCommand::Drills { device } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            for d in backup::drills::list(state, caller, &device.id).await? {
                println!("{}", drill_line(&d));
            }
        }
        BackupCommand::Policy { command } => {
            super::backup_policies::run(state, caller, command).await?;
        }
        BackupCommand::Password { device } => {
            let device = devices::find_by_name_or_id(state, caller, &device).await?;
            let (_, location, password) =
                backup::reveal_password(state, caller, &device.id).await?;
            println!("{password}");
            eprintln!(
                "Open the repository with: restic -r {location}  (this was recorded in the audit log)"
            );
        }
    }
    Ok(())
}

/// Follows a job until it ends, redrawing one progress line, and fails when it failed.
async fn follow(state: &AppState, job_id: &str) -> anyhow::Result<()> {
    let mut shown = String::new();
    loop {
        let Some(job) = state.store.job(job_id).await? else {
            bail!("job {job_id} disappeared");
        };
        let line = format!("{}: {}", job.state.as_str(), job.message);
        if line != shown && !job.state.is_final() {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            shown = line.clone();
        }
        if job.state.is_final() {
            eprintln!("\r\x1b[2K{}", line);
            return match job.state {
                JobState::Succeeded => Ok(()),
                other => bail!("the job {}: {}", other.as_str(), job.message),
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `2026-11-29 13:00 UTC  passed  20 files, 3.1 MiB in 1.2 s` (or the error).
fn drill_line(d: &steward_store::BackupDrillRecord) -> String {
    let what = match (&d.outcome, &d.error) {
        (steward_store::DrillOutcome::Failed, Some(error)) => error.clone(),
        (steward_store::DrillOutcome::Running, _) => String::new(),
        _ => format!(
            "{} files, {} in {:.1} s",
            d.files_checked,
            size(d.bytes_checked),
            d.duration_ms.unwrap_or(0) as f64 / 1000.0
        ),
    };
    format!(
        "{}  {:<7} {what}",
        crate::declared::maintenance::utc(d.started_at),
        d.outcome.as_str()
    )
}

/// Waits for drill `id` to end; fails when it failed.
async fn follow_drill(
    state: &AppState,
    caller: &Caller,
    device: &str,
    id: &str,
) -> anyhow::Result<()> {
    loop {
        let drills = backup::drills::list(state, caller, device).await?;
        let Some(drill) = drills.iter().find(|d| d.id == id) else {
            bail!("drill {id} disappeared");
        };
        match drill.outcome {
            steward_store::DrillOutcome::Running => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            steward_store::DrillOutcome::Passed => {
                println!("{}", drill_line(drill));
                return Ok(());
            }
            steward_store::DrillOutcome::Failed => bail!(
                "the restore drill failed: {}",
                drill.error.clone().unwrap_or_default()
            ),
        }
    }
}

fn size(bytes: i64) -> String {
    let mut value = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if value < 1024.0 {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{value:.1} {unit}")
            };
        }
        value /= 1024.0;
    }
    format!("{value:.1} TiB")
}
