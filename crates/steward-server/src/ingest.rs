//! Turning a delivery of agent reports into one store commit: parse and bound it, drop what
//! was already stored, apply inventory updates with `steward-core`, derive the timeline,
//! keep the latest metrics and every sample's series for the device's history.
//!
//! Three rules keep one agent from stalling the server:
//! - **Bounded at the edge.** The body is parsed into typed reports and checked against
//!   `steward_core::limits` (reports per delivery, elements per collection, text length, no
//!   control characters, sequence numbers that fit the database) before anything else runs;
//!   a delivery beyond them is a 400 naming the field.
//! - **CPU work off the async workers.** Parsing, applying deltas, hashing and diffing run in
//!   the blocking pool behind [`IngestLanes`]: deliveries of more than [`LIGHT_BODY_BYTES`],
//!   and deciding any inventory update (its cost follows the stored inventory, not the
//!   delivery), take the heavy lane, so a stream of maximum-size reports delays only each
//!   other, and check-ins never wait behind them. A check-in of at most [`INLINE_BODY_BYTES`]
//!   with metrics only is too small to be worth the hop and is handled on its own task.
//! - **Rate-limited per device** ([`ReportRate`]): beyond a burst, 429 with `Retry-After`.

use crate::monitoring::devices::ReportFacts;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::body::Bytes;
use steward_core::history::{self, History};
use steward_core::limits::{MAX_CHANGES_PER_BATCH, MAX_REPORTS_PER_BATCH, MAX_SEQ};
use steward_core::rate::{Bucket, RateRule};
use steward_core::{
    ChangeEvent, Inventory, InventoryDelta, InventoryHash, Metrics, Timestamp, changes_between,
};
use steward_proto::agent::{Capabilities, InventoryUpdate, Report, ReportAck, ReportBatch};
use steward_store::{
    DeviceIngestState, IngestCommit, InventoryWrite, MetricHistoryWrite, SoftwareWrite, StoreError,
};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Deliveries up to this size are parsed on the request's own task, and decided there when
/// they carry metrics only: tens of microseconds, less than a hop to the blocking pool (an
/// agent's every-minute check-in is about 1 KiB).
pub const INLINE_BODY_BYTES: usize = 16 * 1024;

/// Deliveries up to this size take the light lane (a check-in with metrics and a small
/// delta is a few KiB); larger ones the heavy lane.
pub const LIGHT_BODY_BYTES: usize = 256 * 1024;

/// Bounds on the CPU work of ingest running at once.
#[derive(Debug)]
pub struct IngestLanes {
    light: Semaphore,
    heavy: Semaphore,
}

impl IngestLanes {
    /// One heavy delivery at a time per two cores (at least one); light ones up to four per
    /// core, which is plenty: each takes a millisecond or two.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            light: Semaphore::new(cores * 4),
            heavy: Semaphore::new((cores / 2).max(1)),
        }
    }

    /// Runs `work` in the blocking pool once the heavy or the light lane has room.
    async fn run<T: Send + 'static>(
        &self,
        heavy: bool,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let lane = if heavy { &self.heavy } else { &self.light };
        let _permit = lane
            .acquire()
            .await
            .map_err(|_| AppError::unavailable("the server is shutting down"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AppError::internal)
    }
}

/// How often, and how many bytes, one device may deliver (in memory, per server process).
#[derive(Debug)]
pub struct ReportRate {
    deliveries: RateRule,
    /// In KiB.
    kib: RateRule,
    buckets: Mutex<HashMap<String, (Bucket, Bucket)>>,
}

impl ReportRate {
    pub fn new(deliveries: RateRule, kib: RateRule) -> Self {
        Self {
            deliveries,
            kib,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one delivery of `bytes` for `device_id`, or says how long to wait. Checked
    /// before the body is read, with its declared length: a device over its rate costs the
    /// server an authentication, not a read of the body.
    pub fn take(&self, device_id: &str, bytes: u64, now: Timestamp) -> AppResult<()> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget devices whose buckets have filled up again, so the map holds only devices
        // that delivered recently (it is keyed by authenticated devices only).
        if buckets.len() >= 1024 && buckets.len().is_power_of_two() {
            buckets
                .retain(|_, (d, k)| !(self.deliveries.is_idle(d, now) && self.kib.is_idle(k, now)));
        }
        // Keyed by an owned id only on a device's first delivery, not on every check-in.
        if !buckets.contains_key(device_id) {
            let fresh = (self.deliveries.fresh(now), self.kib.fresh(now));
            buckets.insert(device_id.to_string(), fresh);
        }
        let Some((count, kib)) = buckets.get_mut(device_id) else {
            return Ok(());
        };
        let kib_wanted = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        // Both or neither: a refused delivery spends nothing.
        let (count_before, kib_before) = (*count, *kib);
        let result = self
            .deliveries
            .take(count, now)
            .and_then(|()| self.kib.take_many(kib, now, kib_wanted));
        result.map_err(|wait_ms| {
            (*count, *kib) = (count_before, kib_before);
            let secs = (wait_ms + 999) / 1000;
            AppError::too_many_requests(
                format!(
                    "this device is sending reports too often or too large; try again in {secs} s"
                ),
                secs.max(1) as u64,
            )
        })
    }
}

/// Stores a delivery (the raw JSON body of `POST /agent/v1/reports`, whose rate the caller
/// has checked with [`ReportRate::take`]). Safe to call twice with the same reports: they
/// are stored once.
pub async fn receive(
    state: &AppState,
    mut device: DeviceIngestState,
    body: Bytes,
) -> AppResult<ReportAck> {
    let len = body.len();
    // One retry: a conflict means the same device delivered concurrently (a retry after a
    // timeout racing the original); re-reading sorts out which reports are new. The body is
    // parsed again for it, so the first attempt can move what it parsed instead of copying.
    for attempt in 0..2 {
        let (reports, said) = if len <= INLINE_BODY_BYTES {
            parse(&body)?
        } else {
            let body = body.clone();
            let heavy = len > LIGHT_BODY_BYTES;
            state
                .ingest_lanes
                .run(heavy, move || parse(&body))
                .await??
        };
        // The stored inventory only when a new report changes it (a check-in with metrics
        // alone, nearly every delivery, does not need it).
        let needs_inventory = reports
            .iter()
            .any(|r| r.seq > device.last_seq && r.inventory.is_some());
        // Read here, parsed in the lane below with the rest of the CPU work.
        let stored = if needs_inventory && !device.inventory_hash.is_empty() {
            state.store.inventory_doc(&device.device_id).await?
        } else {
            None
        };
        let now = state.now();
        let keep = state.config.metrics_history;
        let plan = if len <= INLINE_BODY_BYTES && !needs_inventory {
            plan(&device, None, reports, now, keep)?
        } else {
            // Deciding an inventory update costs in proportion to the stored inventory (it is
            // copied, hashed and compared), however small the delivery: the heavy lane.
            let heavy = len > LIGHT_BODY_BYTES || needs_inventory;
            let for_plan = device.clone();
            state
                .ingest_lanes
                .run(heavy, move || {
                    let before = stored.map(|doc| doc.parse()).transpose()?;
                    plan(&for_plan, before, reports, now, keep)
                })
                .await??
        };
        match state.store.commit_ingest(&plan.commit).await {
            Ok(()) => {
                let observes = said.as_ref().is_some_and(|c| {
                    c.report_sections
                        .iter()
                        .any(|s| s == steward_proto::agent::report_section::OBSERVATIONS)
                });
                let detects = said.as_ref().is_some_and(|c| {
                    c.report_sections
                        .iter()
                        .any(|s| s == steward_proto::agent::report_section::DETECTIONS)
                });
                record_capabilities(state, &device, said).await;
                let detected = plan.detections();
                if let Some(posture) = plan.posture {
                    crate::posture::ingest::record(state, &device.device_id, posture, now).await;
                }
                if let Some(updates) = plan.updates {
                    crate::patching::ingest::record(state, &device.device_id, updates, now).await;
                }
                if detected > 0 {
                    crate::detection::ingest::stored(state, &device.device_id, detected).await;
                }
                let mut ack = plan.ack;
                if detects {
                    ack.detection = match crate::detection::policies::for_device(
                        state,
                        &device.device_id,
                        device.group_id.as_deref(),
                    )
                    .await
                    {
                        Ok(policy) => Some(policy),
                        Err(e) => {
                            tracing::warn!(device = %device.device_id, error = %e,
                                "detection: cannot read the device's policy; the next report sends it");
                            None
                        }
                    };
                }
                if let Some(facts) = plan.judged {
                    ack.watch =
                        crate::monitoring::devices::judge_report(state, &device, facts, observes)
                            .await;
                }
                return Ok(ack);
            }
            Err(StoreError::Conflict(_)) if attempt == 0 => {
                device = state
                    .store
                    .device_ingest_state(&device.device_id)
                    .await?
                    .ok_or_else(|| AppError::unauthorized("unknown device credential"))?;
                if device.revoked_at.is_some() {
                    return Err(AppError::unauthorized("this device has been revoked"));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "reports from this device are being stored concurrently; send them again",
    ))
}

/// Records what the agent said it supports when it differs from what is stored (normally it
/// does not, and a check-in writes nothing for it). An agent that says nothing is one from
/// before advertising — perhaps a downgrade — and is recorded as such, so the server never
/// goes on trusting an older statement. A failure is logged, not returned: the reports are
/// stored, and the next check-in says it again.
async fn record_capabilities(
    state: &AppState,
    device: &DeviceIngestState,
    said: Option<Capabilities>,
) {
    let (kinds, sections, scripts) = match said {
        Some(c) => (
            Some(c.job_kinds),
            Some(c.report_sections),
            c.scripts_allowed,
        ),
        None => (None, None, false),
    };
    if kinds == device.agent_job_kinds
        && sections == device.agent_report_sections
        && scripts == device.agent_scripts_allowed
    {
        return;
    }
    match state
        .store
        .set_agent_capabilities(
            &device.device_id,
            kinds.as_deref(),
            sections.as_deref(),
            scripts,
        )
        .await
    {
        Ok(()) => tracing::info!(device = %device.device_id, job_kinds = ?kinds,
            report_sections = ?sections, scripts_allowed = scripts,
            "the agent's capabilities changed"),
        Err(e) => tracing::warn!(device = %device.device_id, error = %e,
            "could not record the agent's capabilities"),
    }
}

/// The typed, bounded parse: reports sorted by sequence number, duplicates dropped; the
/// advertised names checked and put in order (so comparing with the stored ones is exact).
fn parse(body: &[u8]) -> AppResult<(Vec<Report>, Option<Capabilities>)> {
    let batch: ReportBatch = serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))?;
    let capabilities = batch
        .capabilities
        .map(|mut c| {
            for (field, names) in [
                ("capabilities.job_kinds", &mut c.job_kinds),
                ("capabilities.report_sections", &mut c.report_sections),
            ] {
                steward_core::limits::check_advertised(field, names)
                    .map_err(|e| AppError::bad_request(e.to_string()))?;
                names.sort_unstable();
                names.dedup();
            }
            Ok::<_, AppError>(c)
        })
        .transpose()?;
    let mut reports = batch.reports;
    if reports.len() > MAX_REPORTS_PER_BATCH {
        return Err(AppError::bad_request(format!(
            "at most {MAX_REPORTS_PER_BATCH} reports per delivery"
        )));
    }
    for report in &reports {
        check_report(report)
            .map_err(|e| AppError::bad_request(format!("report {}: {e}", report.seq)))?;
    }
    reports.sort_by_key(|r| r.seq);
    reports.dedup_by_key(|r| r.seq);
    Ok((reports, capabilities))
}

fn check_report(report: &Report) -> Result<(), String> {
    if report.seq == 0 || report.seq > MAX_SEQ {
        return Err(format!(
            "sequence numbers run from 1 to {MAX_SEQ}, got {}",
            report.seq
        ));
    }
    if let Some(m) = &report.metrics {
        m.check_limits().map_err(|e| e.to_string())?;
    }
    if let Some(o) = &report.observations {
        o.check_limits().map_err(|e| e.to_string())?;
    }
    if let Some(p) = &report.posture {
        p.check_limits().map_err(|e| e.to_string())?;
    }
    steward_core::detection::check_detections(&report.detections).map_err(|e| e.to_string())?;
    if let Some(u) = &report.updates {
        steward_core::patching::check_listing(&u.manager, &u.pending, u.error.as_deref())
            .map_err(|e| e.to_string())?;
    }
    match &report.inventory {
        Some(InventoryUpdate::Full { inventory }) => inventory.check_limits(),
        Some(InventoryUpdate::Delta { delta }) => delta.check_limits(),
        None => Ok(()),
    }
    .map_err(|e| e.to_string())
}

struct Plan {
    commit: IngestCommit,
    ack: ReportAck,
    judged: Option<ReportFacts>,
    /// The newest posture evaluation the delivery carried, recorded after the commit.
    posture: Option<steward_core::posture::PostureReport>,
    /// The newest listing of pending updates, recorded after the commit.
    updates: Option<steward_proto::agent::UpdatesReport>,
}

impl Plan {
    /// How many detections the commit carries (the check is judged after it when any).
    fn detections(&self) -> usize {
        self.commit.detections.len()
    }
}

/// The inventory the server holds while walking a delivery, with its (checked) hash.
struct Held {
    inventory: Inventory,
    hash: InventoryHash,
}

/// Decides what a delivery means. Pure CPU work, run in the blocking pool. Takes the reports
/// by value: a full inventory is moved, not copied, and `before` (the stored inventory) is
/// the only other copy held, since a large delivery's memory is mostly these. Every
/// report's metrics sample joins the history when `keep` accepts its time.
fn plan(
    device: &DeviceIngestState,
    before: Option<Inventory>,
    reports: Vec<Report>,
    now: Timestamp,
    keep: History,
) -> AppResult<Plan> {
    let stored_hash =
        (!device.inventory_hash.is_empty()).then(|| InventoryHash(device.inventory_hash.clone()));
    let before = before
        .zip(stored_hash.clone())
        .map(|(inventory, hash)| Held { inventory, hash });
    // What the server holds after the reports so far; `None` while it is still `before`.
    let mut after: Option<Held> = None;
    let mut last_seq = device.last_seq;
    let mut metrics: Option<(Timestamp, Metrics)> = None;
    let mut observations = None;
    let mut posture = None;
    let mut updates = None;
    let mut samples: Vec<history::Sample> = Vec::new();
    let mut changes: Vec<(Timestamp, ChangeEvent)> = Vec::new();
    let mut need_full = false;
    let mut detections = Vec::new();
    let mut stopping = None;
    for report in reports.into_iter().filter(|r| r.seq > device.last_seq) {
        let at = Timestamp(report.collected_at.0.min(now.0));
        let held = after.as_ref().or(before.as_ref());
        if let Some(update) = report.inventory {
            let next = match update {
                InventoryUpdate::Full { inventory } => {
                    let mut inventory = *inventory;
                    inventory.normalize();
                    let hash = inventory.hash();
                    Held { inventory, hash }
                }
                InventoryUpdate::Delta { delta } => match apply(held, &delta)? {
                    Some(next) => next,
                    None => {
                        // Stop here: later reports build on this one.
                        need_full = true;
                        break;
                    }
                },
            };
            if let Some(prev) = held {
                let events = changes_between(&prev.inventory, &next.inventory);
                changes.extend(events.into_iter().map(|e| (at, e)));
            }
            after = Some(next);
        }
        if let Some(m) = report.metrics {
            if keep.accepts(at, now) {
                samples.push(history::Sample::of(at, &m));
            }
            metrics = Some((at, m));
        }
        if report.observations.is_some() {
            observations = report.observations;
        }
        if report.posture.is_some() {
            posture = report.posture;
        }
        if report.updates.is_some() {
            updates = report.updates;
        }
        detections.extend(report.detections);
        stopping = Some(report.stopping);
        last_seq = report.seq;
    }
    // A new administrator or a port opened beyond loopback is a detection of its own (the
    // events only exist from the second inventory on, so a first one raises nothing).
    detections.extend(steward_core::detection::server_side::from_changes(&changes));
    let changes = steward_core::changes::summarise(changes, MAX_CHANGES_PER_BATCH);
    let server_hash = after
        .as_ref()
        .map(|h| h.hash.clone())
        .or(stored_hash.clone());
    let inventory = match after {
        // Equal hashes mean equal inventories: nothing to write.
        Some(held) if Some(&held.hash) != stored_hash.as_ref() => {
            let software = match &before {
                Some(b) => {
                    let d = InventoryDelta::between(&b.inventory, &held.inventory);
                    SoftwareWrite::Delta {
                        upsert: d.packages.upsert,
                        remove: d.packages.remove,
                    }
                }
                None => SoftwareWrite::Replace,
            };
            Some(InventoryWrite {
                inventory: held.inventory,
                hash: held.hash,
                software,
            })
        }
        _ => None,
    };
    // What device checks judge: the latest of each, when this delivery brought any.
    let judged = (metrics.is_some() || observations.is_some()).then(|| ReportFacts {
        metrics: metrics.as_ref().map(|(_, m)| m.clone()),
        observations,
    });
    Ok(Plan {
        judged,
        posture,
        updates,
        commit: IngestCommit {
            device_id: device.device_id.clone(),
            expected_last_seq: device.last_seq,
            new_last_seq: last_seq,
            seen_at: now,
            inventory,
            metrics,
            history: MetricHistoryWrite {
                reroll_from: history::keeping::reroll_from(samples.iter().map(|s| s.at), now),
                samples,
            },
            changes,
            software_in_step: device.software_hash == device.inventory_hash,
            detections: crate::detection::ingest::writes(detections),
            agent_stopping: stopping,
        },
        ack: ReportAck {
            acked_seq: last_seq,
            need_full_inventory: need_full,
            server_inventory_hash: server_hash,
            watch: None,
            detection: None,
        },
    })
}

/// Applies a delta to the held inventory. `Ok(None)` when it does not fit (the agent is then
/// asked for a full inventory); an error when the result breaks the limits (many small
/// deltas must not grow a collection past them either).
fn apply(current: Option<&Held>, delta: &InventoryDelta) -> AppResult<Option<Held>> {
    let Some(current) = current else {
        return Ok(None);
    };
    match delta.apply_to(&current.inventory, &current.hash) {
        Ok(inventory) => {
            inventory
                .check_limits()
                .map_err(|e| AppError::bad_request(format!("inventory after the delta: {e}")))?;
            Ok(Some(Held {
                inventory,
                hash: delta.result.clone(),
            }))
        }
        Err(e) => {
            tracing::info!(error = %e, "asking agent for a full inventory");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_out_of_range_sequence_numbers() {
        let too_big = format!(
            r#"{{"reports":[{{"seq":{},"collected_at":0}}]}}"#,
            MAX_SEQ + 1
        );
        let err = parse(too_big.as_bytes()).err().map(|e| e.message);
        assert!(err.is_some_and(|m| m.contains("sequence numbers run from 1")));
        let zero = r#"{"reports":[{"seq":0,"collected_at":0}]}"#;
        assert!(parse(zero.as_bytes()).is_err());
        let ok = r#"{"reports":[{"seq":2,"collected_at":0},{"seq":1,"collected_at":0},{"seq":2,"collected_at":0}]}"#;
        let seqs: Vec<u64> = parse(ok.as_bytes())
            .unwrap_or_default()
            .0
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, vec![1, 2]);
    }

    #[test]
    fn parse_checks_and_orders_the_advertised_names() {
        let body = r#"{"reports":[],"capabilities":{"job_kinds":["rotate_credential","collect_inventory","rotate_credential"]}}"#;
        let (_, said) = parse(body.as_bytes()).unwrap_or_default();
        let said = said.unwrap_or_default();
        assert_eq!(said.job_kinds, ["collect_inventory", "rotate_credential"]);
        assert!(said.report_sections.is_empty());
        let (_, silent) = parse(br#"{"reports":[]}"#).unwrap_or_default();
        assert_eq!(silent, None);
        let hostile = r#"{"reports":[],"capabilities":{"job_kinds":["<script>"]}}"#;
        let err = parse(hostile.as_bytes()).err().map(|e| e.message);
        assert!(
            err.as_deref()
                .is_some_and(|m| m.contains("capabilities.job_kinds")),
            "{err:?}"
        );
    }

    #[test]
    fn parse_refuses_too_many_reports() {
        let reports: Vec<String> = (1..=MAX_REPORTS_PER_BATCH as u64 + 1)
            .map(|s| format!(r#"{{"seq":{s},"collected_at":0}}"#))
            .collect();
        let body = format!(r#"{{"reports":[{}]}}"#, reports.join(","));
        assert!(parse(body.as_bytes()).is_err());
    }

    fn generous_kib() -> RateRule {
        RateRule {
            burst: 1 << 20,
            per_minute: 1 << 20,
        }
    }

    #[test]
    fn rate_limits_each_device_on_its_own() {
        let rate = ReportRate::new(
            RateRule {
                burst: 2,
                per_minute: 1,
            },
            generous_kib(),
        );
        let now = Timestamp(1_000_000);
        assert!(rate.take("a", 100, now).is_ok());
        assert!(rate.take("a", 100, now).is_ok());
        let refused = rate.take("a", 100, now).err();
        assert_eq!(refused.as_ref().map(|e| e.status.as_u16()), Some(429));
        assert_eq!(refused.and_then(|e| e.retry_after_secs), Some(60));
        assert!(rate.take("b", 100, now).is_ok());
    }

    #[test]
    fn bytes_are_rate_limited_too_and_a_refusal_spends_nothing() {
        let rate = ReportRate::new(
            RateRule {
                burst: 100,
                per_minute: 100,
            },
            RateRule {
                burst: 8 * 1024,
                per_minute: 1024,
            },
        );
        let now = Timestamp(1_000_000);
        assert!(rate.take("a", 6 << 20, now).is_ok());
        // 2 MiB left: a 6 MiB delivery waits four minutes; small ones still go.
        let refused = rate.take("a", 6 << 20, now).err();
        assert_eq!(refused.and_then(|e| e.retry_after_secs), Some(240));
        assert!(rate.take("a", 1 << 20, now).is_ok());
        assert!(rate.take("a", 1 << 20, now).is_ok());
        assert!(rate.take("a", 1 << 20, now).is_err());
    }
}
