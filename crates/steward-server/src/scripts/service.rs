//! The script library and runs. The API, the console and the CLI call these; none of them
//! decides anything itself.

use std::collections::BTreeMap;

use steward_core::scripts::{
    BindError, MAX_TIMEOUT_SECS, ParamKind, ParamSpec, RunOrder, Script as CoreScript, ScriptError,
    bind_params, content_hash,
};
use steward_core::{Action, JobKind};
use steward_proto::agent::RunScriptParams;
use steward_proto::scripts::{Batch, RunScript, Script, ScriptInput, ScriptVersion};
use steward_store::{ScriptRecord, ScriptVersionRecord, ScriptWrite, StoreError};

use super::signing::{self, KeyUnavailable};
use crate::batches::service::{self as batches, BatchError, Eligibility, Fanout};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

/// How long a script runs by default before it is stopped.
pub const DEFAULT_TIMEOUT_SECS: u64 = 300;
/// How long an offline device may still start a run by default.
pub const DEFAULT_EXPIRES_IN_SECS: u64 = 24 * 3600;
/// The longest a run may wait for an offline device.
pub const MAX_EXPIRES_IN_SECS: u64 = 7 * 24 * 3600;
/// Most devices one run reaches.
const MAX_RUN_DEVICES: usize = 10_000;
/// Most bytes of content one run stores in its jobs (each job carries the signed content):
/// a 4 KiB script reaches 10,000 devices at once, the largest (256 KiB) 256.
const MAX_RUN_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ScriptsError {
    #[error("no script {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error("params: {0}")]
    Params(#[from] BindError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "the script was changed by someone else since version {0}: read it again and redo your change"
    )]
    Stale(i64),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Key(#[from] KeyUnavailable),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for ScriptsError {
    fn refusal(&self) -> Refusal {
        match self {
            ScriptsError::NotFound(_) => Refusal::NotFound,
            ScriptsError::Script(_) | ScriptsError::Params(_) | ScriptsError::Invalid(_) => {
                Refusal::Invalid
            }
            ScriptsError::Stale(_) => Refusal::Conflict,
            ScriptsError::Batch(e) => e.refusal(),
            ScriptsError::Key(_) => Refusal::Internal,
            ScriptsError::Denied(d) => d.refusal(),
            ScriptsError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, ScriptsError>;

fn checked(input: &ScriptInput, caller: &Caller) -> Result<ScriptWrite> {
    let script = CoreScript {
        name: input.name.trim().to_owned(),
        description: input.description.trim().to_owned(),
        platform: input.platform,
        interpreter: input.interpreter,
        params: input.params.clone(),
        content: input.content.clone(),
    };
    script.check()?;
    Ok(ScriptWrite {
        name: script.name,
        description: script.description,
        platform: script.platform.as_str().to_owned(),
        interpreter: script.interpreter.as_str().to_owned(),
        params: serde_json::to_string(&script.params)
            .map_err(|e| ScriptsError::Invalid(e.to_string()))?,
        content: script.content,
        at: caller.now,
        by: caller.label(),
    })
}

/// Changes to the library need the admin role and a recent re-authentication: a library
/// script runs on every device that allows scripts.
fn may_change_library(caller: &Caller) -> Result<()> {
    caller.require(Action::ManageScripts)?;
    caller.require_step_up()?;
    Ok(())
}

/// The library, current versions, archived scripts left out.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Script>> {
    caller.require(Action::ViewDevices)?;
    state
        .store
        .scripts()
        .await?
        .into_iter()
        .filter(|s| s.archived_at.is_none())
        .map(to_script)
        .collect()
}

/// One script by id or exact name.
pub async fn get(state: &AppState, caller: &Caller, id_or_name: &str) -> Result<Script> {
    caller.require(Action::ViewDevices)?;
    to_script(find(state, id_or_name).await?)
}

async fn find(state: &AppState, id_or_name: &str) -> Result<ScriptRecord> {
    if let Some(found) = state.store.script(id_or_name).await? {
        return Ok(found);
    }
    state
        .store
        .scripts()
        .await?
        .into_iter()
        .find(|s| s.name == id_or_name && s.archived_at.is_none())
        .ok_or_else(|| ScriptsError::NotFound(id_or_name.to_owned()))
}

/// Every saved version of a script, newest first.
pub async fn versions(
    state: &AppState,
    caller: &Caller,
    id_or_name: &str,
) -> Result<Vec<ScriptVersion>> {
    caller.require(Action::ViewDevices)?;
    let script = find(state, id_or_name).await?;
    state
        .store
        .script_versions(&script.id)
        .await?
        .into_iter()
        .map(to_version)
        .collect()
}

/// Adds a script to the library (version 1).
pub async fn create(state: &AppState, caller: &Caller, input: &ScriptInput) -> Result<Script> {
    may_change_library(caller)?;
    let write = checked(input, caller)?;
    let record = state.store.create_script(&write).await?;
    caller
        .audit(
            &state.store,
            "script_created",
            &record.id,
            &format!("{} v1 sha256:{}", record.name, record.content_sha256),
        )
        .await;
    to_script(record)
}

/// Saves a new version of a script; refused when someone else saved one since
/// `expected_version`.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id_or_name: &str,
    expected_version: i64,
    input: &ScriptInput,
) -> Result<Script> {
    may_change_library(caller)?;
    let write = checked(input, caller)?;
    let current = find(state, id_or_name).await?;
    let record = match state
        .store
        .update_script(&current.id, expected_version, &write)
        .await
    {
        Err(StoreError::Conflict(_)) if current.version != expected_version => {
            return Err(ScriptsError::Stale(expected_version));
        }
        other => other?,
    };
    caller
        .audit(
            &state.store,
            "script_changed",
            &record.id,
            &format!(
                "{} v{} sha256:{}",
                record.name, record.version, record.content_sha256
            ),
        )
        .await;
    to_script(record)
}

/// Takes a script out of the library (its versions and runs stay on record).
pub async fn archive(state: &AppState, caller: &Caller, id_or_name: &str) -> Result<()> {
    may_change_library(caller)?;
    let script = find(state, id_or_name).await?;
    state
        .store
        .archive_script(&script.id, caller.now, &caller.label())
        .await?;
    caller
        .audit(&state.store, "script_archived", &script.id, &script.name)
        .await;
    Ok(())
}

/// Runs a library script's current version on the devices `run.target` names within the
/// caller's scope: one signed order per device, sent as a batch. Devices whose agent does
/// not allow scripts are skipped and named in the answer.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    id_or_name: &str,
    run: &RunScript,
) -> Result<Batch> {
    caller.require(Action::RunScripts)?;
    let script = find(state, id_or_name).await?;
    if script.archived_at.is_some() {
        return Err(ScriptsError::Invalid(format!(
            "{} is archived: it no longer runs",
            script.name
        )));
    }
    let spec = to_script(script.clone())?;
    let params = bind_params(&spec.params, &run.params)?;
    let timeout_secs = run.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout_secs == 0 || timeout_secs > MAX_TIMEOUT_SECS {
        return Err(ScriptsError::Invalid(format!(
            "timeout_secs: 1 to {MAX_TIMEOUT_SECS}"
        )));
    }
    let expires_in = run.expires_in_secs.unwrap_or(DEFAULT_EXPIRES_IN_SECS);
    if !(60..=MAX_EXPIRES_IN_SECS).contains(&expires_in) {
        return Err(ScriptsError::Invalid(format!(
            "expires_in_secs: 60 to {MAX_EXPIRES_IN_SECS}"
        )));
    }
    let expires_at = caller.now.plus_millis((expires_in * 1000) as i64);
    let key = signing::key(state).await?;
    let sha = content_hash(&script.content);
    let label = format!("{} v{}", script.name, script.version);
    let batch = batches::send(
        state,
        caller,
        Fanout {
            kind: JobKind::RunScript,
            target: &run.target,
            label: label.clone(),
            // The job outlives the order by the run's timeout: an order started just
            // before it expires may still report its result.
            deadline_at: expires_at.plus_millis((timeout_secs * 1000) as i64 + 60_000),
            // Every job carries the content: bound what one run stores at once.
            max_jobs: (MAX_RUN_BYTES / script.content.len().max(1)).clamp(1, MAX_RUN_DEVICES),
        },
        |candidate| {
            if candidate.scripts_allowed {
                Eligibility::Yes
            } else {
                Eligibility::No(
                    "the device does not allow scripts (allow_scripts in its agent.toml)".into(),
                )
            }
        },
        |job_id, device| {
            let order = RunOrder {
                job_id: job_id.to_owned(),
                device_id: device.device_id.clone(),
                interpreter: spec.interpreter,
                content_sha256: sha.clone(),
                params: params.clone(),
                timeout_secs,
                expires_at,
            };
            let signature = signing::sign(&key, &order);
            serde_json::to_value(RunScriptParams {
                order,
                signature,
                content: script.content.clone(),
            })
            .unwrap_or_default()
        },
    )
    .await?;
    caller
        .audit(
            &state.store,
            "script_run",
            &script.id,
            &format!(
                "{label} sha256:{sha} on {} ({} devices, {} skipped; batch {})",
                run.target,
                batch.progress.total,
                batch.skipped.len(),
                batch.id
            ),
        )
        .await;
    Ok(batch)
}

fn to_script(r: ScriptRecord) -> Result<Script> {
    let bad = |what: &str| ScriptsError::Invalid(format!("stored script {}: {what}", r.id));
    Ok(Script {
        platform: steward_core::scripts::Platform::parse(&r.platform)
            .ok_or_else(|| bad("platform"))?,
        interpreter: steward_core::scripts::Interpreter::parse(&r.interpreter)
            .ok_or_else(|| bad("interpreter"))?,
        params: serde_json::from_str(&r.params).map_err(|_| bad("params"))?,
        id: r.id,
        name: r.name,
        description: r.description,
        version: r.version,
        content_sha256: r.content_sha256,
        content: r.content,
        updated_at: r.updated_at,
        updated_by: r.updated_by,
    })
}

fn to_version(v: ScriptVersionRecord) -> Result<ScriptVersion> {
    let bad = |what: &str| ScriptsError::Invalid(format!("stored version {}: {what}", v.version));
    Ok(ScriptVersion {
        interpreter: steward_core::scripts::Interpreter::parse(&v.interpreter)
            .ok_or_else(|| bad("interpreter"))?,
        params: serde_json::from_str(&v.params).map_err(|_| bad("params"))?,
        version: v.version,
        content_sha256: v.content_sha256,
        content: v.content,
        created_at: v.created_at,
        created_by: v.created_by,
    })
}

/// The values of a run given as `name=value` words (the CLI's form).
pub fn params_from_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| ScriptsError::Invalid(format!("param {pair:?}: write NAME=VALUE")))
        })
        .collect()
}

/// A parameter list as the form writes it, one per line: `name kind [required]
/// [default=VALUE]`, where kind is `text`, `number` or `choice:a|b|c`.
pub fn parse_params(text: &str) -> Result<Vec<ParamSpec>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let bad = || {
                ScriptsError::Invalid(format!(
                    "params: {line:?}: write `name kind [required] [default=VALUE]`, kind text, \
                     number or choice:a|b"
                ))
            };
            let mut words = line.split_whitespace();
            let name = words.next().ok_or_else(bad)?.to_owned();
            let kind = match words.next().ok_or_else(bad)? {
                "text" => ParamKind::Text,
                "number" => ParamKind::Number,
                other => match other.strip_prefix("choice:") {
                    Some(options) => {
                        ParamKind::Choice(options.split('|').map(str::to_owned).collect())
                    }
                    None => return Err(bad()),
                },
            };
            let mut spec = ParamSpec {
                name,
                kind,
                required: false,
                default: None,
            };
            for word in words {
                match word.split_once('=') {
                    _ if word == "required" => spec.required = true,
                    Some(("default", value)) => spec.default = Some(value.to_owned()),
                    _ => return Err(bad()),
                }
            }
            Ok(spec)
        })
        .collect()
}

/// The form's text for a parameter list (what [`parse_params`] reads back).
pub fn params_text(params: &[ParamSpec]) -> String {
    params
        .iter()
        .map(|p| {
            let kind = match &p.kind {
                ParamKind::Text => "text".to_owned(),
                ParamKind::Number => "number".to_owned(),
                ParamKind::Choice(options) => format!("choice:{}", options.join("|")),
            };
            let mut line = format!("{} {kind}", p.name);
            if p.required {
                line.push_str(" required");
            }
            if let Some(default) = &p.default {
                line.push_str(&format!(" default={default}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_lines_read_back_as_written() {
        let text = "service text required\ncount number default=5\nmode choice:fast|slow";
        let params = parse_params(text).unwrap();
        assert_eq!(params.len(), 3);
        assert!(params[0].required);
        assert_eq!(params[1].default.as_deref(), Some("5"));
        assert_eq!(
            params[2].kind,
            ParamKind::Choice(vec!["fast".into(), "slow".into()])
        );
        assert_eq!(params_text(&params), text);
        assert!(parse_params("lonely").is_err());
        assert!(parse_params("x float").is_err());
        assert!(parse_params("x text sometimes").is_err());
    }
}
