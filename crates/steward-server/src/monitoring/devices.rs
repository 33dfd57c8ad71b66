//! Device checks: judged at each report on what it carried (metrics, observations), and the
//! heartbeat judged by a periodic sweep, since a silent device sends nothing to judge. Both
//! write only what changed (a steady OK writes nothing) and write compare-and-set, so two
//! servers judging the same device record a transition once.

use std::collections::HashMap;
use std::time::Duration;

use steward_core::alerting::CheckResult;
use steward_core::backup::verdict::BackupFacts;
use steward_core::checks::{self, DeviceCheck, Facts, Membership, Observations, Watch};
use steward_core::{Metrics, Timestamp};
use steward_store::{CheckResultWrite, CheckStateRecord, DeviceIngestState, DeviceMembership};

use super::catalog::{Catalog, CheckDef};
use super::decide::{Context, DeviceView, NOT_SCHEDULED, decide};
use crate::state::AppState;

/// How often heartbeats are judged.
const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// Results written per transaction by a sweep.
const SWEEP_BATCH: usize = 200;

/// What the latest report of a delivery carried.
#[derive(Debug, Default)]
pub struct ReportFacts {
    pub metrics: Option<Metrics>,
    pub observations: Option<Observations>,
}

/// Judges the device's checks on its latest report. Returns the watch list to send the agent
/// when it holds another one (and can observe: `observes`). Failures are logged: the report
/// is stored, and the next one is judged again.
pub async fn judge_report(
    state: &AppState,
    device: &DeviceIngestState,
    facts: ReportFacts,
    observes: bool,
) -> Option<Watch> {
    let now = state.now();
    let device_id = device.device_id.as_str();
    let catalog = match state.monitoring.get(&state.store, now).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "monitoring: cannot read the checks; a report goes unjudged");
            return None;
        }
    };
    // The name and group came with the device's ingest state; tags are read only when a
    // check targets one (each read is a round trip on every check-in).
    let tags = if catalog.needs_tags {
        match state.store.device_tags(device_id).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "monitoring: cannot read a device's tags; its report goes unjudged");
                return None;
            }
        }
    } else {
        Vec::new()
    };
    let groups: Vec<String> = device.group_id.iter().cloned().collect();
    let membership = Membership {
        device_id,
        groups: &groups,
        tags: &tags,
    };
    let applicable: Vec<&std::sync::Arc<CheckDef>> = catalog.device_checks(&membership).collect();
    let watch = Watch::of(applicable.iter().filter_map(|c| c.spec.device_check()))
        .with_probes(super::remote::orders(&catalog, device_id));
    let states = match state
        .device_states
        .get(&state.store, device, &catalog)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "monitoring: cannot read a device's checks");
            return None;
        }
    };
    let judged = Facts {
        metrics: facts.metrics.as_ref(),
        observations: facts.observations.as_ref(),
        last_seen: Some(now),
        backup: None,
        posture: None,
        patching: None,
        detection: None,
        now,
    };
    let view = DeviceView {
        name: &device.name,
        membership,
    };
    let held = facts
        .observations
        .as_ref()
        .map_or("", |o| o.watch_version.as_str());
    // A unit or process check is judged only on observations made for the current watch
    // list: until the agent has been told to watch something new, its silence about it
    // means nothing (and must page nobody).
    let judgeable: Vec<_> = applicable
        .into_iter()
        .filter(|c| {
            held == watch.version || c.spec.device_check().and_then(|d| d.watches()).is_none()
        })
        .collect();
    let writes = judge(&catalog, &judgeable, &states, &judged, device_id, view);
    if !writes.is_empty() {
        // Its count moved with the writes: read again next time.
        state.device_states.forget(device_id);
    }
    record(state, writes).await;
    if let Some(seen) = &facts.observations
        && !seen.probes.is_empty()
    {
        super::remote::judge(state, &catalog, device_id, &seen.probes).await;
    }
    (observes && held != watch.version).then_some(watch)
}

/// Devices' check states as last read, with the device's `checks_version` and the catalog
/// they were read under: a check-in whose device still has that count (read with the device
/// anyway) and finds the same catalog judges against them without reading the states. Every
/// change to a device's states — by this server, another, a sweep, an acknowledgement —
/// moves the count in its own transaction, so a stale entry is never used; a new catalog
/// (a check added or deleted) is read anew.
#[derive(Debug, Default)]
pub struct StatesCache {
    held: std::sync::Mutex<HashMap<String, Held>>,
}

#[derive(Debug)]
struct Held {
    version: i64,
    /// Which catalog (`Catalog::generation`).
    catalog: u64,
    states: std::sync::Arc<Vec<CheckStateRecord>>,
}

/// Entries kept before the cache starts afresh (a bound on memory, not a working limit:
/// an installation with more devices reads some states twice).
const MAX_HELD: usize = 50_000;

impl StatesCache {
    async fn get(
        &self,
        store: &steward_store::Store,
        device: &DeviceIngestState,
        catalog: &Catalog,
    ) -> Result<std::sync::Arc<Vec<CheckStateRecord>>, steward_store::StoreError> {
        let generation = catalog.generation;
        if let Ok(held) = self.held.lock()
            && let Some(h) = held.get(&device.device_id)
            && h.version == device.checks_version
            && h.catalog == generation
        {
            return Ok(h.states.clone());
        }
        let states = std::sync::Arc::new(store.states_of_device(&device.device_id).await?);
        if let Ok(mut held) = self.held.lock() {
            if held.len() >= MAX_HELD {
                held.clear();
            }
            held.insert(
                device.device_id.clone(),
                Held {
                    version: device.checks_version,
                    catalog: generation,
                    states: states.clone(),
                },
            );
        }
        Ok(states)
    }

    fn forget(&self, device_id: &str) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(device_id);
        }
    }
}

/// Judges `checks` for one device; the writes of what changed, with the state each was
/// judged on.
fn judge(
    catalog: &Catalog,
    checks: &[&std::sync::Arc<CheckDef>],
    states: &[CheckStateRecord],
    facts: &Facts<'_>,
    subject: &str,
    device: DeviceView<'_>,
) -> Vec<(Option<String>, CheckResultWrite)> {
    let stored: HashMap<&str, &CheckStateRecord> =
        states.iter().map(|s| (s.check_id.as_str(), s)).collect();
    let mut writes = Vec::new();
    for check in checks {
        let Some(definition) = check.spec.device_check() else {
            continue;
        };
        let Some((status, summary)) = checks::evaluate(definition, facts) else {
            continue;
        };
        let previous = stored.get(check.record.id.as_str()).copied();
        let parent = check
            .record
            .parent_id
            .as_deref()
            .and_then(|p| stored.get(p))
            .and_then(|s| steward_core::alerting::CheckStatus::parse(&s.status));
        let decision = decide(
            catalog,
            check,
            CheckResult {
                status,
                summary,
                at: facts.now,
            },
            Context {
                subject,
                device: Some(device),
                label: None,
                previous,
                parent,
                next_run_at: NOT_SCHEDULED,
            },
        );
        if decision.changed {
            writes.push((previous.map(|p| p.state.clone()), decision.write));
        }
    }
    writes
}

/// Stores results in batches of [`SWEEP_BATCH`], so no write holds the database for long;
/// a batch that fails is logged and the next sweep writes it again.
pub(super) async fn record(state: &AppState, writes: Vec<(Option<String>, CheckResultWrite)>) {
    for chunk in writes.chunks(SWEEP_BATCH) {
        if let Err(e) = state.store.record_device_results(chunk).await {
            tracing::warn!(error = %e, "monitoring: cannot store device check results");
        }
    }
}

/// Starts a capability's judgement of its device checks: every `every`, and `gather` after
/// each wake-up of the `Notify` that `woken` picks from the state (wake-ups while one is
/// pending fold into it). It runs until the task is aborted.
pub fn spawn_judgement<F, Fut>(
    state: AppState,
    every: Duration,
    gather: Duration,
    woken: fn(&AppState) -> &tokio::sync::Notify,
    judge: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = woken(&state).notified() => tokio::time::sleep(gather).await,
            }
            judge(state.clone()).await;
        }
    })
}

/// Starts the heartbeat sweep; it runs until the task is aborted.
pub fn spawn_sweep(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            if let Err(e) = sweep(&state).await {
                tracing::warn!(error = %e, "monitoring: heartbeat sweep failed");
            }
        }
    })
}

/// Judges every heartbeat check for every device it covers, from when each last checked in
/// (a device that never did counts from its enrolment).
pub async fn sweep(state: &AppState) -> Result<(), steward_store::StoreError> {
    sweep_checks(
        state,
        |c| matches!(c, DeviceCheck::Heartbeat { .. }),
        &SweptFacts::default(),
    )
    .await
}

/// What the capabilities' sweeps know of each device (by device id): the backup facts
/// (given by the backup capability's sweep), the posture facts (the posture capability's).
#[derive(Debug, Default)]
pub struct SweptFacts {
    pub backups: HashMap<String, BackupFacts>,
    pub posture: HashMap<String, steward_core::posture::verdict::PostureFacts>,
    pub patching: HashMap<String, steward_core::patching::verdict::PatchFacts>,
    pub detection: HashMap<String, steward_core::detection::alert::DetectionFacts>,
}

/// Judges every enabled device check that `pick` chooses, for every device it covers, with
/// the facts the calling capability gathered.
pub async fn sweep_checks(
    state: &AppState,
    pick: impl Fn(&DeviceCheck) -> bool,
    facts: &SweptFacts,
) -> Result<(), steward_store::StoreError> {
    let now = state.now();
    let catalog = state.monitoring.get(&state.store, now).await?;
    let picked: Vec<&std::sync::Arc<CheckDef>> = catalog
        .checks
        .iter()
        .filter(|c| c.record.enabled && c.spec.device_check().is_some_and(&pick))
        .collect();
    if picked.is_empty() {
        return Ok(());
    }
    let devices = state.store.device_memberships().await?;
    let mut writes = Vec::new();
    for check in picked {
        let states = state.store.states_of_check(&check.record.id).await?;
        let by_subject: HashMap<&str, &CheckStateRecord> =
            states.iter().map(|s| (s.subject.as_str(), s)).collect();
        for device in &devices {
            writes.extend(judge_swept(
                &catalog,
                check,
                device,
                &by_subject,
                facts,
                now,
            ));
        }
    }
    record(state, writes).await;
    Ok(())
}

fn judge_swept(
    catalog: &Catalog,
    check: &CheckDef,
    device: &DeviceMembership,
    states: &HashMap<&str, &CheckStateRecord>,
    swept: &SweptFacts,
    now: Timestamp,
) -> Option<(Option<String>, CheckResultWrite)> {
    let groups: Vec<String> = device.group_id.iter().cloned().collect();
    let membership = Membership {
        device_id: &device.device_id,
        groups: &groups,
        tags: &device.tags,
    };
    if !check.target.as_ref().is_some_and(|t| t.covers(&membership)) {
        return None;
    }
    let facts = Facts {
        metrics: None,
        observations: None,
        last_seen: Some(device.last_seen_at.unwrap_or(device.enrolled_at)),
        backup: swept.backups.get(&device.device_id),
        posture: swept.posture.get(&device.device_id),
        patching: swept.patching.get(&device.device_id),
        detection: swept.detection.get(&device.device_id),
        now,
    };
    let (status, summary) = checks::evaluate(check.spec.device_check()?, &facts)?;
    let previous = states.get(device.device_id.as_str()).copied();
    let decision = decide(
        catalog,
        check,
        CheckResult {
            status,
            summary,
            at: now,
        },
        Context {
            subject: &device.device_id,
            device: Some(DeviceView {
                name: &device.name,
                membership,
            }),
            label: None,
            previous,
            parent: None,
            next_run_at: NOT_SCHEDULED,
        },
    );
    decision
        .changed
        .then(|| (previous.map(|p| p.state.clone()), decision.write))
}
