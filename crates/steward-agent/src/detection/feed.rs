//! What the detection engine (a thread of its own) and the agent's async loops share: the
//! policy the server sent, the records waiting for a report, and the drills under way.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use steward_core::detection::{Detected, DetectionPolicy};

/// The file the last policy the server sent is kept in, in the agent's state directory:
/// after a restart the device is protected before the server is reached.
pub const POLICY_FILE: &str = "detection-policy.json";
/// Most records held for the next report (an attack is one record; many records at once
/// mean something odd, and the oldest are the ones the server most likely has already).
const MAX_PENDING: usize = steward_core::detection::MAX_DETECTIONS_PER_REPORT;

/// Shared between the engine's thread and the agent's loops.
pub struct DetectionFeed {
    state: Mutex<State>,
    /// Bumped when what the engine watches changes (a new policy, a drill started or over).
    version: AtomicU64,
    /// The version the engine's sensor watches now (0: none yet, or the sensor failed).
    applied: AtomicU64,
    /// Wakes the agent to send a report at once.
    pub(crate) ready: tokio::sync::Notify,
    state_dir: PathBuf,
}

struct State {
    policy: DetectionPolicy,
    pending: Vec<Detected>,
    drills: Vec<DrillWatch>,
}

/// A drill under way: its scratch folder is watched, and the verdicts about files in it
/// go to the drill (and are marked as the drill's in the record).
pub struct DrillWatch {
    pub job: String,
    pub dir: PathBuf,
    pub verdicts: std::sync::mpsc::Sender<(Instant, Detected)>,
}

impl DetectionFeed {
    /// A feed with the policy kept in `state_dir` (the default policy when there is none).
    pub fn open(state_dir: &Path) -> DetectionFeed {
        let policy = std::fs::read(state_dir.join(POLICY_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<DetectionPolicy>(&bytes).ok())
            .and_then(|p| p.normalised().ok())
            .unwrap_or_default();
        DetectionFeed {
            state: Mutex::new(State {
                policy,
                pending: Vec::new(),
                drills: Vec::new(),
            }),
            version: AtomicU64::new(1),
            applied: AtomicU64::new(0),
            ready: tokio::sync::Notify::new(),
            state_dir: state_dir.to_path_buf(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The policy from the server's acknowledgement. Kept on disk; the engine picks it up
    /// when it differs.
    pub fn set_policy(&self, policy: DetectionPolicy) {
        let Ok(policy) = policy.normalised() else {
            tracing::warn!("the server sent a detection policy this agent cannot apply");
            return;
        };
        let mut state = self.state();
        if state.policy == policy {
            return;
        }
        if let Ok(json) = serde_json::to_vec(&policy)
            && let Err(e) = crate::state::write_atomic(&self.state_dir.join(POLICY_FILE), &json)
        {
            tracing::warn!(error = %e, "keeping the detection policy failed");
        }
        tracing::info!(folders = ?policy.folders, canaries = policy.canaries,
            auto_stop = policy.auto_stop, auto_isolate = policy.auto_isolate,
            "detection policy applied");
        state.policy = policy;
        drop(state);
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The agent's state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn policy(&self) -> DetectionPolicy {
        self.state().policy.clone()
    }

    /// Changes when the policy or the drills change.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Said by the engine once its sensor watches what `version` asked for (0: it has none).
    pub fn set_applied(&self, version: u64) {
        self.applied.store(version, Ordering::SeqCst);
    }

    /// Whether the engine's sensor watches what `version` asked for, or more recent.
    pub fn applied(&self, version: u64) -> bool {
        self.applied.load(Ordering::SeqCst) >= version
    }

    /// The folders to watch: the policy's and the drills' scratch folders.
    pub fn watched(&self) -> (DetectionPolicy, Vec<PathBuf>) {
        let state = self.state();
        let drills = state.drills.iter().map(|d| d.dir.clone()).collect();
        (state.policy.clone(), drills)
    }

    /// Starts watching a drill's scratch folder; the version to wait for with
    /// [`DetectionFeed::applied`].
    pub fn start_drill(&self, drill: DrillWatch) -> u64 {
        self.state().drills.push(drill);
        self.version.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Stops watching a drill's scratch folder.
    pub fn end_drill(&self, job: &str) {
        self.state().drills.retain(|d| d.job != job);
        self.version.fetch_add(1, Ordering::SeqCst);
    }

    /// The drill whose scratch folder holds any of `paths`: its job id and where to tell it.
    pub fn drill_of<'a>(
        &self,
        mut paths: impl Iterator<Item = &'a str>,
    ) -> Option<(String, std::sync::mpsc::Sender<(Instant, Detected)>)> {
        let state = self.state();
        paths.find_map(|p| {
            state
                .drills
                .iter()
                .find(|d| Path::new(p).starts_with(&d.dir))
                .map(|d| (d.job.clone(), d.verdicts.clone()))
        })
    }

    /// Queues a record for the next report and wakes the agent to send one now. A record
    /// with a `local_id` already waiting replaces it (more response steps).
    pub fn push(&self, detected: Detected) {
        let mut state = self.state();
        state.pending.retain(|d| d.local_id != detected.local_id);
        state.pending.push(detected);
        if state.pending.len() > MAX_PENDING {
            state.pending.remove(0);
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The records waiting for a report.
    pub fn take(&self) -> Vec<Detected> {
        std::mem::take(&mut self.state().pending)
    }
}
