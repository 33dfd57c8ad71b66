//! The agent's queue: its identity, the on-disk outbox, and turning a collection into the
//! next report (a full inventory, or a delta against the last one queued).

use super::*;

/// The queue, the identity, and the inventory schedule.
pub(super) struct Core {
    pub(super) dir: PathBuf,
    pub(super) state: AgentState,
    pub(super) outbox: Outbox,
    /// When the inventory was last collected; `None` means at the next check-in.
    pub(super) inventory_at: Option<Instant>,
    /// Whether a report reached the server since start (logged once).
    pub(super) delivered: bool,
    /// What the server asked this agent to watch (held in memory: after a restart the
    /// server sends it again, since the first observations name no watch list).
    pub(super) watch: Watch,
}

/// The parts of a report that come every few hours from loops of their own, each taken
/// from its loop's slot at a check-in.
#[derive(Debug, Default)]
pub(super) struct Sections {
    pub(super) posture: Option<PostureReport>,
    pub(super) updates: Option<UpdatesReport>,
    /// Detections since the last report: sent at once, not at the next check-in.
    pub(super) detections: Vec<steward_core::detection::Detected>,
}

impl Sections {
    fn is_empty(&self) -> bool {
        self.posture.is_none() && self.updates.is_none() && self.detections.is_empty()
    }
}

/// What a queued report says about the inventory, for the job's message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Queued {
    Nothing,
    Unchanged,
    Full,
    Changes(usize),
}

impl std::fmt::Display for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queued::Nothing | Queued::Unchanged => f.write_str("no changes"),
            Queued::Full => f.write_str("full inventory sent"),
            Queued::Changes(n) => write!(f, "{n} changes"),
        }
    }
}

impl Core {
    pub(super) fn inventory_due(&self, every: Duration) -> bool {
        self.inventory_at.is_none_or(|at| at.elapsed() >= every)
    }

    /// Queues a report with `metrics` and the update from the last queued inventory to
    /// `inventory`, which then becomes the last queued inventory. Queues nothing when there
    /// is nothing to say.
    pub(super) fn queue(
        &mut self,
        metrics: Option<Metrics>,
        observations: Option<Observations>,
        sections: Sections,
        inventory: Option<Inventory>,
    ) -> anyhow::Result<Queued> {
        let (update, current, queued) = match inventory {
            None => (None, None, Queued::Nothing),
            Some(mut current) => {
                // Within the server's limits (texts cleaned, collections cut; normalised):
                // a report the server refuses would be retried for ever.
                for cut in current.clamp_to_limits() {
                    tracing::warn!(%cut, "inventory larger than the server accepts; the rest is not reported");
                }
                let base = state::load_inventory(&self.dir)?;
                let update = inventory_update(base.as_ref(), &current);
                let queued = match &update {
                    None => Queued::Unchanged,
                    Some(InventoryUpdate::Full { .. }) => Queued::Full,
                    Some(InventoryUpdate::Delta { delta }) => Queued::Changes(delta_size(delta)),
                };
                (update, Some(current), queued)
            }
        };
        let metrics = metrics.map(|mut m| {
            m.clamp_to_limits();
            m
        });
        if metrics.is_none() && update.is_none() && sections.is_empty() {
            return Ok(queued);
        }
        let changed = update.is_some();
        self.push(metrics, observations, sections, update)?;
        if let (true, Some(current)) = (changed, current) {
            // Saved after the push: a crash in between leaves a delta whose successor the
            // server refuses; it then asks for a full inventory, which repairs the chain.
            state::save_inventory(&self.dir, &current)?;
        }
        Ok(queued)
    }

    pub(super) fn push(
        &mut self,
        metrics: Option<Metrics>,
        observations: Option<Observations>,
        sections: Sections,
        inventory: Option<InventoryUpdate>,
    ) -> anyhow::Result<()> {
        let seq = self.state.take_seq(&self.dir)?;
        self.outbox.push(Report {
            seq,
            collected_at: now(),
            metrics,
            inventory,
            observations,
            posture: sections.posture,
            updates: sections.updates,
            summarised: 0,
            detections: sections.detections,
            stopping: false,
        })
    }

    /// Queues the stopping agent's last report: `stopping` and nothing else.
    pub(super) fn push_stopping(&mut self) -> anyhow::Result<()> {
        let seq = self.state.take_seq(&self.dir)?;
        self.outbox.push(Report {
            seq,
            collected_at: now(),
            metrics: None,
            inventory: None,
            observations: None,
            posture: None,
            updates: None,
            summarised: 0,
            detections: Vec::new(),
            stopping: true,
        })
    }

    /// Drops what the server stored. If the server knows later sequence numbers than this
    /// agent (state restored from a backup), new reports jump past them instead of being
    /// ignored as duplicates.
    pub(super) fn acknowledge(&mut self, ack: &ReportAck) -> anyhow::Result<()> {
        self.outbox.ack_through(ack.acked_seq)?;
        if let Some(watch) = &ack.watch {
            tracing::info!(
                units = watch.units.len(),
                processes = watch.processes.len(),
                "the server changed what this agent watches"
            );
            self.watch = watch.clone();
        }
        if ack.acked_seq >= self.state.next_seq {
            tracing::warn!(
                acked_seq = ack.acked_seq,
                next_seq = self.state.next_seq,
                "the server knows later reports than this agent; skipping ahead"
            );
            self.state.next_seq = ack.acked_seq.saturating_add(1);
            self.state.save(&self.dir)?;
        }
        Ok(())
    }

    /// The server lost the inventory chain: strip the queued inventory updates and queue the
    /// last queued inventory whole (or collect a new one at the next check-in).
    pub(super) fn requeue_full(&mut self) -> anyhow::Result<()> {
        let stripped = self.outbox.strip_inventory_updates()?;
        tracing::debug!(stripped, "dropped queued inventory updates");
        self.queue_saved_inventory()
    }

    /// After the server refused queued reports as malformed (HTTP 400): every queued report
    /// brought within its limits, and the last inventory, clamped, queued in full after
    /// them. What a queue written by an older agent needs; a second refusal is left to the
    /// normal retry.
    pub(super) fn repair(&mut self) -> anyhow::Result<()> {
        let changed = self.outbox.clamp_to_limits()?;
        tracing::warn!(
            changed,
            "the server refused queued reports as malformed; brought the queue within its limits"
        );
        self.queue_saved_inventory()
    }

    fn queue_saved_inventory(&mut self) -> anyhow::Result<()> {
        match state::load_inventory(&self.dir)? {
            Some(saved) => {
                // Saved by an older agent, it may be beyond the limits: the clamped one is
                // what the server will hold, so it is the base of the next delta too.
                let mut inventory = saved.clone();
                inventory.clamp_to_limits();
                if inventory != saved {
                    state::save_inventory(&self.dir, &inventory)?;
                }
                let full = InventoryUpdate::Full {
                    inventory: Box::new(inventory),
                };
                self.push(None, None, Sections::default(), Some(full))
            }
            None => {
                self.inventory_at = None;
                Ok(())
            }
        }
    }
}

/// The update that brings the server from `base` (the last queued inventory, if any) to
/// `current`; `None` when nothing changed.
pub(super) fn inventory_update(
    base: Option<&Inventory>,
    current: &Inventory,
) -> Option<InventoryUpdate> {
    match base {
        None => Some(InventoryUpdate::Full {
            inventory: Box::new(current.clone()),
        }),
        Some(base) => {
            let delta = InventoryDelta::between(base, current);
            (!delta.is_empty()).then(|| InventoryUpdate::Delta {
                delta: Box::new(delta),
            })
        }
    }
}

pub(super) fn delta_size(d: &InventoryDelta) -> usize {
    let scalars = [
        d.hostname.is_some(),
        d.os.is_some(),
        d.boot_time.is_some(),
        d.hardware.is_some(),
    ];
    scalars.iter().filter(|&&changed| changed).count()
        + d.filesystems.upsert.len()
        + d.filesystems.remove.len()
        + d.interfaces.upsert.len()
        + d.interfaces.remove.len()
        + d.packages.upsert.len()
        + d.packages.remove.len()
        + d.accounts.upsert.len()
        + d.accounts.remove.len()
        + d.listeners.upsert.len()
        + d.listeners.remove.len()
}
