//! Defining checks from the console, the API and the CLI: validated, limited to what the
//! caller's scope covers, audited. Checks declared in the configuration file are changed
//! there; the default checks are the user's to change or delete.

use steward_core::alerting::AlertRules;
use steward_core::checks::{DeviceCheck, Target};
use steward_core::{Action, Scope};
use steward_proto::monitoring::{CheckInfo, CreateCheck};
use steward_store::{CheckRecord, StoreError};

use super::error::{MonitoringError, Result, invalid};
use super::spec::Spec;
use crate::secrets::new_id;
use crate::service::Caller;
use crate::state::AppState;

const MAX_NAME: usize = 100;
const MAX_RUNBOOK: usize = 20_000;
const DEFAULT_PROBE_INTERVAL_SECS: u64 = 60;
const DEFAULT_TIMEOUT_SECS: u64 = 10;

/// The checks the caller can see: network monitors, and device checks whose target lies
/// within the caller's scope.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<CheckRecord>> {
    caller.require(Action::ViewDevices)?;
    let mut visible = Vec::new();
    for check in state.store.checks().await? {
        if target_visible(state, caller.scope(), &check.target).await? {
            visible.push(check);
        }
    }
    Ok(visible)
}

/// One check, if visible.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<CheckRecord> {
    list(state, caller)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(MonitoringError::NotFound("check"))
}

pub async fn create(state: &AppState, caller: &Caller, input: &CreateCheck) -> Result<CheckRecord> {
    caller.require(Action::ManageMonitoring)?;
    let mut record = build(input, None, caller)?;
    ensure_may_target(state, caller, &record.target).await?;
    ensure_may_run_on(state, caller, &record.runner).await?;
    record.id = new_id();
    save(state, &record).await?;
    caller
        .audit(
            &state.store,
            "check.create",
            &record.name,
            &describe(&record),
        )
        .await;
    Ok(record)
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: &CreateCheck,
) -> Result<CheckRecord> {
    caller.require(Action::ManageMonitoring)?;
    let existing = get(state, caller, id).await?;
    if existing.source == super::FROM_CONFIG {
        return Err(MonitoringError::Declared("check"));
    }
    ensure_may_target(state, caller, &existing.target).await?;
    let mut record = build(input, Some(&existing), caller)?;
    ensure_may_target(state, caller, &record.target).await?;
    ensure_may_run_on(state, caller, &record.runner).await?;
    record.id = existing.id.clone();
    save(state, &record).await?;
    caller
        .audit(
            &state.store,
            "check.update",
            &record.name,
            &describe(&record),
        )
        .await;
    Ok(record)
}

pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManageMonitoring)?;
    let existing = get(state, caller, id).await?;
    if existing.source == super::FROM_CONFIG {
        return Err(MonitoringError::Declared("check"));
    }
    ensure_may_target(state, caller, &existing.target).await?;
    state.store.delete_check(id).await.map_err(not_found)?;
    state.monitoring.invalidate();
    caller
        .audit(&state.store, "check.delete", &existing.name, "")
        .await;
    Ok(())
}

fn not_found(e: StoreError) -> MonitoringError {
    match e {
        StoreError::NotFound => MonitoringError::NotFound("check"),
        other => other.into(),
    }
}

/// Stores a check and starts tracking a network monitor (its first run at once).
async fn save(state: &AppState, record: &CheckRecord) -> Result<()> {
    state.store.save_check(record).await.map_err(|e| match e {
        StoreError::NotFound => invalid("parent_id: no such check"),
        other => other.into(),
    })?;
    if record.target.is_empty() {
        let initial =
            serde_json::to_string(&steward_core::alerting::AlertState::new(record.updated_at))
                .unwrap_or_default();
        state
            .store
            .track_check(
                &record.id,
                "",
                &initial,
                record.updated_at,
                record.updated_at,
            )
            .await?;
    }
    state.monitoring.invalidate();
    Ok(())
}

/// A definition from the request, checked: the kind's settings, the target, the rules.
fn build(
    input: &CreateCheck,
    existing: Option<&CheckRecord>,
    caller: &Caller,
) -> Result<CheckRecord> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!("name: 1 to {MAX_NAME} characters")));
    }
    let runbook = input.runbook.clone().unwrap_or_default();
    if runbook.chars().count() > MAX_RUNBOOK {
        return Err(invalid(format!(
            "runbook: at most {MAX_RUNBOOK} characters"
        )));
    }
    let spec = parse_spec(&input.check, input.timeout_secs)?;
    let target = match (&spec, &input.target) {
        (Spec::Device { .. }, None) => "all".to_string(),
        (Spec::Device { .. }, Some(t)) => Target::parse(t)
            .map_err(|e| invalid(format!("target: {e}")))?
            .as_string(),
        (Spec::Probe { .. }, None) => String::new(),
        (Spec::Probe { .. }, Some(_)) => {
            return Err(invalid(
                "target: a network monitor runs once, not per device; leave target out",
            ));
        }
    };
    let is_probe = matches!(spec, Spec::Probe { .. });
    let interval_secs = input.interval_secs.unwrap_or(DEFAULT_PROBE_INTERVAL_SECS);
    if is_probe && !(1..=86_400).contains(&interval_secs) {
        return Err(invalid("interval_secs: 1 second to 1 day"));
    }
    let runner = parse_runner(input.runner.as_deref(), is_probe)?;
    let retries = input.retries.unwrap_or(if is_probe { 2 } else { 0 });
    if retries > 20 {
        return Err(invalid("retries: at most 20"));
    }
    let sustain_secs = input.sustain_secs.unwrap_or(0);
    if sustain_secs > 7 * 86_400 {
        return Err(invalid("sustain_secs: at most 7 days"));
    }
    let renotify = input.renotify_minutes.unwrap_or(240);
    if renotify > 7 * 1_440 {
        return Err(invalid("renotify_minutes: at most 7 days"));
    }
    let rules = AlertRules {
        retries,
        confirm_after_ms: (sustain_secs > 0).then(|| secs_ms(sustain_secs)),
        renotify_every_ms: (renotify > 0).then(|| secs_ms(renotify * 60)),
        ..AlertRules::default()
    };
    let now = caller.now;
    Ok(CheckRecord {
        id: String::new(),
        name: name.to_string(),
        kind: spec.kind().to_string(),
        target,
        spec: serde_json::to_string(&spec).map_err(invalid)?,
        interval_ms: secs_ms(if is_probe { interval_secs } else { 60 }),
        rules: serde_json::to_string(&rules).map_err(invalid)?,
        runner,
        parent_id: input.parent_id.clone().filter(|p| !p.is_empty()),
        runbook,
        source: existing.map_or("console".to_string(), |e| e.source.clone()),
        enabled: input.enabled.unwrap_or(true),
        created_at: existing.map_or(now, |e| e.created_at),
        updated_at: now,
    })
}

/// Who runs a check: the server, or for a network monitor one device's agent.
fn parse_runner(runner: Option<&str>, is_probe: bool) -> Result<String> {
    match runner.map(str::trim) {
        None | Some("" | "server") => Ok("server".into()),
        Some(r) if !is_probe => Err(invalid(format!(
            "runner: a device check is judged from each device's own reports, not run by {r}"
        ))),
        Some(r) => match Target::parse(r) {
            Ok(Target::Device(d)) => Ok(format!("device:{d}")),
            _ => Err(invalid("runner: `server` or `device:ID`")),
        },
    }
}

/// A probe run by an agent runs on a device the caller sees, and one that is still enrolled.
async fn ensure_may_run_on(state: &AppState, caller: &Caller, runner: &str) -> Result<()> {
    let Some(device) = runner.strip_prefix("device:") else {
        return Ok(());
    };
    match state.store.scoped(caller.scope()).device(device).await? {
        Some(_) => Ok(()),
        None => Err(invalid("runner: no such device")),
    }
}

fn secs_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The kind's settings: a device check, or else a network monitor.
pub fn parse_spec(check: &serde_json::Value, timeout_secs: Option<u64>) -> Result<Spec> {
    let kind = check
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| invalid("check.kind: missing"))?;
    const DEVICE_KINDS: &[&str] = &[
        "heartbeat",
        "disk",
        "memory",
        "cpu",
        "load",
        "unit",
        "failed_units",
        "process",
        "backup",
        "drill",
        "patching",
        "detection",
    ];
    if DEVICE_KINDS.contains(&kind) {
        let device: DeviceCheck =
            serde_json::from_value(check.clone()).map_err(|e| invalid(format!("check: {e}")))?;
        device.check().map_err(|e| invalid(format!("check.{e}")))?;
        return Ok(Spec::Device { check: device });
    }
    let probe: steward_probes::Probe = serde_json::from_value(check.clone()).map_err(|e| {
        invalid(format!(
            "check: {e} (kinds: {}, http, tcp, tls, dns, icmp)",
            DEVICE_KINDS.join(", ")
        ))
    })?;
    probe.check().map_err(|e| invalid(format!("check: {e}")))?;
    let timeout = timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if !(1..=300).contains(&timeout) {
        return Err(invalid("timeout_secs: 1 to 300"));
    }
    Ok(Spec::Probe {
        probe,
        timeout_ms: timeout * 1000,
    })
}

/// Whether a check's target is seen in `scope`: network monitors by everyone, device checks
/// for all devices or a tag only with every device in view, a group's if it is in the
/// scope, a device's if the device is.
pub(crate) async fn target_visible(state: &AppState, scope: &Scope, target: &str) -> Result<bool> {
    if target.is_empty() || *scope == Scope::AllDevices {
        return Ok(true);
    }
    Ok(match Target::parse(target) {
        Ok(Target::Group(g)) => scope.allows(Some(&g)),
        Ok(Target::Device(d)) => state.store.scoped(scope).device(&d).await?.is_some(),
        _ => false,
    })
}

/// Network monitors and checks of all devices or a tag are installation-wide: only callers
/// who see every device define them.
async fn ensure_may_target(state: &AppState, caller: &Caller, target: &str) -> Result<()> {
    let wide =
        target.is_empty() || matches!(Target::parse(target), Ok(Target::All | Target::Tag(_)));
    if wide && *caller.scope() != Scope::AllDevices {
        return Err(MonitoringError::OutsideScope("every device"));
    }
    if !target_visible(state, caller.scope(), target).await? {
        return Err(invalid("target: no such device or group"));
    }
    if let Ok(Target::Group(g)) = Target::parse(target)
        && state.store.list_groups().await?.iter().all(|x| x.id != g)
    {
        return Err(invalid("target: no such group"));
    }
    Ok(())
}

fn describe(c: &CheckRecord) -> String {
    let target = if c.target.is_empty() {
        "network"
    } else {
        &c.target
    };
    if c.runner == "server" {
        format!("{} on {target}, enabled {}", c.kind, c.enabled)
    } else {
        format!(
            "{} on {target}, run by {}, enabled {}",
            c.kind, c.runner, c.enabled
        )
    }
}

/// A check as the API shows it.
pub fn info(c: &CheckRecord) -> CheckInfo {
    let spec: Option<Spec> = serde_json::from_str(&c.spec).ok();
    let rules: AlertRules = serde_json::from_str(&c.rules).unwrap_or_default();
    let (check, is_probe) = match &spec {
        Some(Spec::Device { check }) => (serde_json::to_value(check).unwrap_or_default(), false),
        Some(Spec::Probe { probe, .. }) => (serde_json::to_value(probe).unwrap_or_default(), true),
        None => (serde_json::Value::Null, true),
    };
    CheckInfo {
        id: c.id.clone(),
        name: c.name.clone(),
        kind: c.kind.clone(),
        check,
        target: (!is_probe).then(|| c.target.clone()),
        interval_secs: u64::try_from(c.interval_ms / 1000).unwrap_or(0),
        retries: rules.retries,
        sustain_secs: rules
            .confirm_after_ms
            .map_or(0, |ms| u64::try_from(ms / 1000).unwrap_or(0)),
        renotify_minutes: rules
            .renotify_every_ms
            .map(|ms| u64::try_from(ms / 60_000).unwrap_or(0)),
        parent_id: c.parent_id.clone(),
        runbook: c.runbook.clone(),
        source: c.source.clone(),
        enabled: c.enabled,
        runner: c.runner.clone(),
        updated_at: c.updated_at,
    }
}

/// The configuration file's device checks with their groups and devices looked up: the file
/// names them (`group = "Shop"`, a name or an id), the store keeps ids. A check whose group
/// or device does not exist is left out; the returned problems say which and why.
pub async fn resolve_declared(
    state: &AppState,
    declared: &[super::DeclaredDeviceCheck],
) -> std::result::Result<(Vec<super::DeclaredDeviceCheck>, Vec<String>), StoreError> {
    use super::windows::{Named, target_of};
    let mut resolved = Vec::new();
    let mut problems = Vec::new();
    for c in declared {
        let named = match &c.target {
            Target::All => Named::All,
            Target::Tag(t) => Named::Tag(t.clone()),
            Target::Group(g) => Named::Group(g.clone()),
            Target::Device(d) => Named::Device(d.clone()),
        };
        match target_of(state, &Scope::AllDevices, &named).await {
            Ok(target) => {
                let mut c = c.clone();
                c.target =
                    Target::parse(&target).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                resolved.push(c);
            }
            Err(MonitoringError::Store(e)) => return Err(e),
            Err(e) => problems.push(format!("check {:?}: {e}", c.name)),
        }
    }
    Ok((resolved, problems))
}
