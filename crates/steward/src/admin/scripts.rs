//! `steward admin script …` and `steward admin batch …`, through the scripts and batches
//! services the API and the console use, so the rules, refusals and audit entries are the
//! same.

use std::time::Duration;

use anyhow::{Context, bail};
use steward_core::Escaped;
use steward_core::scripts::{Interpreter, Platform};
use steward_proto::scripts::{Batch, BatchDetail, RunScript, ScriptInput};
use steward_server::AppState;
use steward_server::batches::service as batches;
use steward_server::scripts::service::{self, parse_params};
use steward_server::service::Caller;

use super::monitoring::table::Table;
use super::posture::stored_target;
use crate::cli::{BatchCommand, ScriptCommand};

/// How often `run --wait` looks at the batch again.
const WAIT_POLL: Duration = Duration::from_secs(2);

fn interpreter(name: &str) -> anyhow::Result<Interpreter> {
    Interpreter::parse(name).with_context(|| format!("--interpreter: sh or python3, not {name:?}"))
}

fn content(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("--file {}", path.display()))
}

pub async fn run(state: &AppState, caller: &Caller, command: ScriptCommand) -> anyhow::Result<()> {
    match command {
        ScriptCommand::List { json } => {
            let scripts = service::list(state, caller).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&scripts)?);
                return Ok(());
            }
            let mut table = Table::new(&["NAME", "VERSION", "INTERPRETER", "SHA-256", "ID"]);
            for s in &scripts {
                table.row(vec![
                    s.name.clone(),
                    format!("v{}", s.version),
                    s.interpreter.as_str().into(),
                    s.content_sha256.chars().take(12).collect(),
                    s.id.clone(),
                ]);
            }
            print!("{}", table.render());
        }
        ScriptCommand::Show { script, json } => {
            let found = service::get(state, caller, &script).await?;
            let versions = service::versions(state, caller, &found.id).await?;
            if json {
                let doc = serde_json::json!({ "script": found, "versions": versions });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(());
            }
            println!(
                "{} v{} ({} on {}), sha256:{}",
                Escaped(&found.name),
                found.version,
                found.interpreter.as_str(),
                found.platform.as_str(),
                found.content_sha256
            );
            for p in &found.params {
                println!(
                    "param {}{}",
                    Escaped(&p.name),
                    if p.required { " (required)" } else { "" }
                );
            }
            for v in &versions {
                println!(
                    "version {} sha256:{} by {}",
                    v.version,
                    v.content_sha256,
                    Escaped(&v.created_by)
                );
            }
            println!("---");
            print!("{}", found.content);
        }
        ScriptCommand::Add {
            name,
            file,
            interpreter: interp,
            description,
            params,
        } => {
            let input = ScriptInput {
                name,
                description,
                platform: Platform::Linux,
                interpreter: interpreter(&interp)?,
                params: parse_params(&params.join("\n"))?,
                content: content(&file)?,
            };
            let script = service::create(state, caller, &input).await?;
            println!("{}", script.id);
            eprintln!(
                "Added {} v1 (sha256:{}).",
                Escaped(&script.name),
                script.content_sha256
            );
        }
        ScriptCommand::Edit {
            script,
            file,
            interpreter: interp,
            description,
            params,
            no_params,
        } => {
            let current = service::get(state, caller, &script).await?;
            let input = ScriptInput {
                name: current.name.clone(),
                description: description.unwrap_or(current.description.clone()),
                platform: current.platform,
                interpreter: match interp {
                    Some(i) => interpreter(&i)?,
                    None => current.interpreter,
                },
                params: if no_params {
                    Vec::new()
                } else if params.is_empty() {
                    current.params.clone()
                } else {
                    parse_params(&params.join("\n"))?
                },
                content: content(&file)?,
            };
            let saved =
                service::update(state, caller, &current.id, current.version, &input).await?;
            eprintln!(
                "Saved {} v{} (sha256:{}).",
                Escaped(&saved.name),
                saved.version,
                saved.content_sha256
            );
        }
        ScriptCommand::Archive { script } => {
            service::archive(state, caller, &script).await?;
            eprintln!("Archived {}.", Escaped(&script));
        }
        ScriptCommand::Run {
            script,
            on,
            params,
            timeout,
            expires_in_hours,
            wait,
        } => {
            let request = RunScript {
                target: stored_target(state, caller, &on).await?,
                params: service::params_from_pairs(&params)?,
                timeout_secs: timeout,
                expires_in_secs: expires_in_hours.map(|h| h.saturating_mul(3600)),
            };
            let batch = service::run(state, caller, &script, &request).await?;
            println!("{}", batch.id);
            describe(&batch);
            if wait {
                wait_for(state, caller, &batch.id).await?;
            }
        }
    }
    Ok(())
}

pub(super) fn describe(batch: &Batch) {
    eprintln!(
        "Sent {} to {} device(s); {} skipped.",
        Escaped(&batch.label),
        batch.progress.total,
        batch.skipped.len()
    );
    for s in &batch.skipped {
        eprintln!(
            "  skipped {}: {}",
            Escaped(&s.device_name),
            Escaped(&s.reason)
        );
    }
}

/// Polls the batch until no job is queued or running, then prints each result; fails when
/// any device's job did not succeed.
async fn wait_for(state: &AppState, caller: &Caller, id: &str) -> anyhow::Result<()> {
    loop {
        let detail = batches::detail(state, caller, id).await?;
        let p = detail.batch.progress;
        if p.queued + p.offline + p.running == 0 {
            print_jobs(&detail);
            if p.failed + p.expired > 0 {
                bail!(
                    "{} of {} device(s) did not succeed",
                    p.failed + p.expired,
                    p.total
                );
            }
            return Ok(());
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}

fn print_jobs(detail: &BatchDetail) {
    let mut table = Table::new(&["DEVICE", "STATE", "RESULT"]);
    for j in &detail.jobs {
        table.row(vec![
            j.device_name.clone(),
            j.state.clone(),
            j.message.clone(),
        ]);
    }
    print!("{}", table.render());
}

pub async fn batch(state: &AppState, caller: &Caller, command: BatchCommand) -> anyhow::Result<()> {
    match command {
        BatchCommand::List { json } => {
            let list = batches::list(state, caller, 50).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            let mut table = Table::new(&["ID", "WHAT", "ON", "TOTAL", "OK", "FAILED", "WAITING"]);
            for b in &list {
                let p = b.progress;
                table.row(vec![
                    b.id.clone(),
                    b.label.clone(),
                    b.target.clone(),
                    p.total.to_string(),
                    p.succeeded.to_string(),
                    (p.failed + p.expired).to_string(),
                    (p.queued + p.offline + p.running).to_string(),
                ]);
            }
            print!("{}", table.render());
        }
        BatchCommand::Show { id, json } => {
            let detail = batches::detail(state, caller, &id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
                return Ok(());
            }
            eprintln!(
                "{} on {}: {}",
                Escaped(&detail.batch.label),
                Escaped(&detail.batch.target),
                batches::progress_line(&detail.batch)
            );
            print_jobs(&detail);
        }
    }
    Ok(())
}
