//! The outbox: a bounded on-disk FIFO of [`Report`]s waiting for the server's acknowledgement.
//!
//! Reports survive restarts and outages: one file per report, `<seq, 20 digits>.json`, each
//! written atomically (see [`crate::state::write_atomic`]), so a crash never leaves half a
//! report. On open, leftover temp files are removed and unparsable reports are renamed to
//! `*.corrupt` (kept for inspection, never sent).
//!
//! The queue is bounded: when it is full, the two oldest reports are merged into one
//! ([`merge`]) before a new one is added. The merged report takes the server from the state
//! before the first to the state after the second, so the server's inventory stays exact
//! while history (intermediate steps, older metrics) is what gets lost.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use steward_proto::agent::{InventoryUpdate, Report};

use crate::state::{TEMP_SUFFIX, ensure_dir, sync_dir, write_atomic};

/// Beyond its first report, a batch stops growing at this much JSON, so one request stays
/// small even when the queue holds full inventories.
pub const BATCH_MAX_BYTES: u64 = 4 * 1024 * 1024;

const REPORT_SUFFIX: &str = ".json";
const CORRUPT_SUFFIX: &str = ".corrupt";

#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    max_reports: usize,
    /// Sequence numbers of the queued reports, oldest first. Only numbers stay in memory.
    seqs: VecDeque<u64>,
}

impl Outbox {
    /// Opens (creating if needed) the queue in `dir`, holding at most `max_reports` (≥ 2).
    pub fn open(dir: impl Into<PathBuf>, max_reports: usize) -> anyhow::Result<Outbox> {
        let dir = dir.into();
        ensure_dir(&dir)?;
        let mut seqs = Vec::new();
        let entries = fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.ends_with(TEMP_SUFFIX) {
                // Interrupted write: the report it was meant to hold was never acknowledged
                // as queued, so removing it loses nothing.
                fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
                continue;
            }
            let Some(seq) = seq_of(&name) else { continue };
            match read_report(&path) {
                Ok(report) if report.seq == seq => seqs.push(seq),
                Ok(_) => set_aside(&path, "its sequence number does not match its name")?,
                Err(e) => set_aside(&path, &format!("{e:#}"))?,
            }
        }
        seqs.sort_unstable();
        sync_dir(&dir)?;
        Ok(Outbox {
            dir,
            max_reports: max_reports.max(2),
            seqs: seqs.into(),
        })
    }

    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Sequence number of the newest queued report.
    pub fn last_seq(&self) -> Option<u64> {
        self.seqs.back().copied()
    }

    /// Queues `report`, whose `seq` must be above every queued one. When the queue is full,
    /// the two oldest reports are merged first, so the queue never exceeds its bound.
    pub fn push(&mut self, report: Report) -> anyhow::Result<()> {
        if let Some(last) = self.last_seq() {
            anyhow::ensure!(
                report.seq > last,
                "report {} is not newer than the last queued one ({last})",
                report.seq
            );
        }
        while self.seqs.len() >= self.max_reports {
            self.summarise_oldest()?;
        }
        self.write(&report)?;
        self.seqs.push_back(report.seq);
        Ok(())
    }

    /// Up to `max` of the oldest reports, oldest first (fewer when they exceed
    /// [`BATCH_MAX_BYTES`]; always at least one if any is queued).
    pub fn peek_batch(&self, max: usize) -> anyhow::Result<Vec<Report>> {
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        for &seq in self.seqs.iter().take(max) {
            let path = self.path_of(seq);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if !batch.is_empty() && bytes.saturating_add(size) > BATCH_MAX_BYTES {
                break;
            }
            bytes = bytes.saturating_add(size);
            batch.push(read_report(&path)?);
        }
        Ok(batch)
    }

    /// Drops every report with a sequence number up to `seq` (the server stored them).
    /// Returns how many were dropped.
    pub fn ack_through(&mut self, seq: u64) -> anyhow::Result<usize> {
        let mut dropped = 0;
        while let Some(&front) = self.seqs.front() {
            if front > seq {
                break;
            }
            remove(&self.path_of(front))?;
            self.seqs.pop_front();
            dropped += 1;
        }
        if dropped > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(dropped)
    }

    /// Removes the inventory update from every queued report (dropping reports left empty).
    /// Used when the server lost track of the inventory: the queued deltas are computed
    /// against a base it does not hold, and a full inventory is queued after them instead.
    /// Returns how many updates were removed.
    pub fn strip_inventory_updates(&mut self) -> anyhow::Result<usize> {
        self.rewrite(|report| report.inventory.take().is_some())
    }

    /// Brings every queued report within the server's limits: metrics are clamped and
    /// inventory updates removed (the caller queues a clamped full inventory after them).
    /// For a queue the server refuses as malformed — written by an older agent that did not
    /// clamp — which would otherwise block this device for good. Returns how many reports
    /// changed.
    pub fn clamp_to_limits(&mut self) -> anyhow::Result<usize> {
        self.rewrite(|report| {
            let before = report.metrics.clone();
            if let Some(m) = &mut report.metrics {
                m.clamp_to_limits();
            }
            report.inventory.take().is_some() || report.metrics != before
        })
    }

    /// Applies `change` to every queued report, rewriting those it changed (it says so) and
    /// dropping those left with nothing to say. Returns how many changed.
    fn rewrite(&mut self, mut change: impl FnMut(&mut Report) -> bool) -> anyhow::Result<usize> {
        let mut changed = 0;
        let mut kept = VecDeque::with_capacity(self.seqs.len());
        for &seq in &self.seqs {
            let path = self.path_of(seq);
            let mut report = read_report(&path)?;
            if !change(&mut report) {
                kept.push_back(seq);
                continue;
            }
            changed += 1;
            if report.metrics.is_none() && report.inventory.is_none() {
                remove(&path)?;
            } else {
                self.write(&report)?;
                kept.push_back(seq);
            }
        }
        self.seqs = kept;
        sync_dir(&self.dir)?;
        Ok(changed)
    }

    /// Merges the two oldest reports into one that keeps the newer one's sequence number.
    fn summarise_oldest(&mut self) -> anyhow::Result<()> {
        let (Some(&older), Some(&newer)) = (self.seqs.front(), self.seqs.get(1)) else {
            return Ok(());
        };
        let merged = merge(
            read_report(&self.path_of(older))?,
            read_report(&self.path_of(newer))?,
        );
        // Write the merged report first: a crash in between leaves the older report queued
        // next to the merged one; the server then refuses the duplicate delta and asks for a
        // full inventory, which repairs it. Deleting first could lose data outright.
        self.write(&merged)?;
        remove(&self.path_of(older))?;
        sync_dir(&self.dir)?;
        self.seqs.pop_front();
        tracing::debug!(
            seq = merged.seq,
            summarised = merged.summarised,
            "outbox full: merged the two oldest reports"
        );
        Ok(())
    }

    fn write(&self, report: &Report) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(report).context("encoding a report")?;
        write_atomic(&self.path_of(report.seq), &bytes)
    }

    fn path_of(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}{REPORT_SUFFIX}"))
    }
}

/// One report with the effect of `older` followed by `newer`: the newer metrics, the composed
/// inventory update, both reports' detections, `newer`'s sequence number and time.
pub fn merge(older: Report, newer: Report) -> Report {
    let inventory = match (older.inventory, newer.inventory) {
        (None, update) | (update, None) => update,
        (Some(_), Some(full @ InventoryUpdate::Full { .. })) => Some(full),
        (Some(InventoryUpdate::Delta { delta: first }), Some(InventoryUpdate::Delta { delta })) => {
            // If the two do not chain, the composed delta's hashes do not match what the
            // server holds; it refuses it and asks for a full inventory.
            Some(InventoryUpdate::Delta {
                delta: Box::new(first.then(*delta)),
            })
        }
        (Some(InventoryUpdate::Full { inventory }), Some(InventoryUpdate::Delta { delta })) => {
            match delta.apply(&inventory) {
                Ok(next) => Some(InventoryUpdate::Full {
                    inventory: Box::new(next),
                }),
                // The server would have refused this delta after that full inventory too:
                // both ways it ends up holding the full one and asks for a new one later.
                Err(_) => Some(InventoryUpdate::Full { inventory }),
            }
        }
    };
    Report {
        seq: newer.seq,
        collected_at: newer.collected_at,
        metrics: newer.metrics.or(older.metrics),
        inventory,
        observations: newer.observations.or(older.observations),
        posture: newer.posture.or(older.posture),
        updates: newer.updates.or(older.updates),
        summarised: older
            .summarised
            .saturating_add(newer.summarised)
            .saturating_add(1),
        detections: merge_detections(older.detections, newer.detections),
        stopping: newer.stopping,
    }
}

/// Both reports' detections, a later record of the same detection (with more response
/// steps) replacing the earlier one, cut to what one report may carry (the newest kept: an
/// attack under way matters more than an old one the server has by now most likely seen).
fn merge_detections(
    older: Vec<steward_core::detection::Detected>,
    newer: Vec<steward_core::detection::Detected>,
) -> Vec<steward_core::detection::Detected> {
    let mut all = older;
    for d in newer {
        all.retain(|o| o.local_id != d.local_id);
        all.push(d);
    }
    let max = steward_core::detection::MAX_DETECTIONS_PER_REPORT;
    if all.len() > max {
        all.drain(..all.len() - max);
    }
    all
}

/// `00000000000000000042.json` → 42.
fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(REPORT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn read_report(path: &Path) -> anyhow::Result<Report> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))
}

fn set_aside(path: &Path, why: &str) -> anyhow::Result<()> {
    let mut aside = path.as_os_str().to_os_string();
    aside.push(CORRUPT_SUFFIX);
    tracing::warn!(path = %path.display(), reason = why,
        "unreadable queued report moved aside; it will not be sent");
    fs::rename(path, &aside).with_context(|| format!("moving {} aside", path.display()))
}

fn remove(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_core::{Inventory, InventoryDelta, Metrics, Package, Timestamp};

    fn inv(n: usize) -> Inventory {
        let mut inv = Inventory {
            hostname: "h".into(),
            packages: (0..n)
                .map(|i| Package {
                    name: format!("p{i}"),
                    version: format!("{}", n - i),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        inv.normalize();
        inv
    }

    fn report(seq: u64, inventory: Option<InventoryUpdate>) -> Report {
        Report {
            seq,
            collected_at: Timestamp::from_secs(seq as i64),
            metrics: Some(Metrics {
                uptime_secs: seq,
                ..Default::default()
            }),
            inventory,
            observations: None,
            posture: None,
            updates: None,
            summarised: 0,
            detections: Vec::new(),
            stopping: false,
        }
    }

    fn full(inv: &Inventory) -> Option<InventoryUpdate> {
        Some(InventoryUpdate::Full {
            inventory: Box::new(inv.clone()),
        })
    }

    fn delta(a: &Inventory, b: &Inventory) -> Option<InventoryUpdate> {
        Some(InventoryUpdate::Delta {
            delta: Box::new(InventoryDelta::between(a, b)),
        })
    }

    fn seqs(reports: &[Report]) -> Vec<u64> {
        reports.iter().map(|r| r.seq).collect()
    }

    /// What the server would hold after applying `reports` in order.
    fn replay(reports: &[Report]) -> Option<Inventory> {
        let mut state: Option<Inventory> = None;
        for r in reports {
            match &r.inventory {
                Some(InventoryUpdate::Full { inventory }) => state = Some((**inventory).clone()),
                Some(InventoryUpdate::Delta { delta }) => {
                    state = Some(delta.apply(state.as_ref().unwrap()).unwrap());
                }
                None => {}
            }
        }
        state
    }

    #[test]
    fn fifo_order_ack_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path(), 10).unwrap();
        for seq in 1..=5 {
            ob.push(report(seq, None)).unwrap();
        }
        assert!(ob.push(report(5, None)).is_err(), "sequence must increase");
        assert_eq!(seqs(&ob.peek_batch(3).unwrap()), vec![1, 2, 3]);
        assert_eq!(ob.ack_through(2).unwrap(), 2);
        assert_eq!(ob.ack_through(2).unwrap(), 0);
        let ob = Outbox::open(dir.path(), 10).unwrap();
        assert_eq!(ob.len(), 3);
        assert_eq!(seqs(&ob.peek_batch(100).unwrap()), vec![3, 4, 5]);
        assert_eq!(ob.peek_batch(100).unwrap()[0], report(3, None));
    }

    #[test]
    fn full_queue_summarises_and_keeps_the_end_state() {
        let dir = tempfile::tempdir().unwrap();
        let max = 5;
        let mut ob = Outbox::open(dir.path(), max).unwrap();
        let mut last = inv(1);
        ob.push(report(1, full(&last))).unwrap();
        for seq in 2..=(3 * max as u64) {
            let next = inv(seq as usize);
            // Some reports carry metrics only.
            let update = (seq % 3 != 0).then(|| delta(&last, &next)).flatten();
            if update.is_some() {
                last = next;
            }
            ob.push(report(seq, update)).unwrap();
            assert!(ob.len() <= max);
        }
        assert_eq!(ob.len(), max);
        let all = ob.peek_batch(100).unwrap();
        assert_eq!(seqs(&all), vec![11, 12, 13, 14, 15]);
        assert_eq!(all[0].summarised, 10);
        assert!(matches!(
            all[0].inventory,
            Some(InventoryUpdate::Full { .. })
        ));
        assert_eq!(all[4].metrics.as_ref().unwrap().uptime_secs, 15);
        assert_eq!(replay(&all), Some(last));
    }

    #[test]
    fn merge_rules() {
        let (a, b, c) = (inv(1), inv(2), inv(3));
        let m = merge(report(1, delta(&a, &b)), report(2, delta(&b, &c)));
        assert_eq!((m.seq, m.summarised), (2, 1));
        assert_eq!(replay(&[report(0, full(&a)), m]), Some(c.clone()));
        let m = merge(report(1, full(&a)), report(2, delta(&b, &c)));
        assert_eq!(
            m.inventory,
            full(&a),
            "a delta that does not apply is dropped"
        );
        let m = merge(report(1, delta(&a, &b)), report(2, full(&c)));
        assert_eq!(m.inventory, full(&c));
        let m = merge(report(1, delta(&a, &b)), report(2, None));
        assert_eq!(m.inventory, delta(&a, &b));
        assert_eq!(m.metrics.unwrap().uptime_secs, 2);
    }

    #[test]
    fn crash_leftovers_are_cleaned_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path(), 10).unwrap();
        ob.push(report(1, None)).unwrap();
        ob.push(report(2, None)).unwrap();
        drop(ob);
        let tmp = dir.path().join("00000000000000000003.json.1234abcd.tmp");
        fs::write(&tmp, b"{\"seq\": 3, \"coll").unwrap();
        let garbage = dir.path().join("00000000000000000004.json");
        fs::write(&garbage, b"not json at all").unwrap();
        let ob = Outbox::open(dir.path(), 10).unwrap();
        assert!(!tmp.exists());
        assert!(!garbage.exists());
        assert!(
            dir.path()
                .join("00000000000000000004.json.corrupt")
                .exists()
        );
        assert_eq!(seqs(&ob.peek_batch(10).unwrap()), vec![1, 2]);
    }

    #[test]
    fn strip_removes_inventory_and_empty_reports() {
        let dir = tempfile::tempdir().unwrap();
        let mut ob = Outbox::open(dir.path(), 10).unwrap();
        let (a, b) = (inv(1), inv(2));
        ob.push(report(1, delta(&a, &b))).unwrap();
        let mut bare = report(2, delta(&b, &a));
        bare.metrics = None;
        ob.push(bare).unwrap();
        ob.push(report(3, None)).unwrap();
        assert_eq!(ob.strip_inventory_updates().unwrap(), 2);
        let left = ob.peek_batch(10).unwrap();
        assert_eq!(seqs(&left), vec![1, 3]);
        assert!(left.iter().all(|r| r.inventory.is_none()));
        assert_eq!(Outbox::open(dir.path(), 10).unwrap().len(), 2);
    }
}
