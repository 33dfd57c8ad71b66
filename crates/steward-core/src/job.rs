//! Work the server sends to a device, and the rules for how a job's state may move.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What a job asks the agent to do. Later capabilities add kinds (checks, backups, restores,
/// patches, scripts). An agent says which kinds it runs when it checks in; the server hands
/// it no others, and an agent given a kind it cannot run answers the job `unsupported`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum JobKind {
    /// Collect the inventory now and report it.
    CollectInventory,
    /// Replace the agent's credential: the agent asks the server for a new one, stores it,
    /// and the old one stops working at its first request with the new one.
    RotateCredential,
    /// Back up the paths of a backup policy to the device's repository on the server.
    Backup,
    /// Restore files from a snapshot (of this device's repository or, for a restore to
    /// another device, of the one the job names) to a folder on this device.
    Restore,
    /// List the updates pending for the device's packages (no install). The agent also
    /// lists them by itself every few hours; this asks for a listing now.
    ListUpdates,
    /// Upgrade the packages the job names. A fixed kind, not a script: it needs no opt-in
    /// on the device.
    InstallUpdates,
    /// Run a library script, as a signed order the agent verifies against the key it
    /// pinned at enrollment, on a device whose own configuration allows scripts.
    RunScript,
    /// Carry out a response to a detection: kill or continue the stopped process tree,
    /// isolate the device from the network except for the server, or lift the isolation.
    DetectionResponse,
    /// Run the built-in, harmless ransomware simulation on a scratch folder of the agent's
    /// own and measure how fast the detector caught it and how many files were lost.
    RansomwareDrill,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<JobKind> {
        s.parse().ok()
    }
    pub fn describe(self) -> &'static str {
        match self {
            JobKind::CollectInventory => "Collect inventory",
            JobKind::RotateCredential => "Rotate credential",
            JobKind::Backup => "Back up",
            JobKind::Restore => "Restore files",
            JobKind::ListUpdates => "List updates",
            JobKind::InstallUpdates => "Install updates",
            JobKind::RunScript => "Run script",
            JobKind::DetectionResponse => "Respond to a detection",
            JobKind::RansomwareDrill => "Ransomware drill",
        }
    }

    /// How long after it is queued a job of this kind must have finished; past it, the job
    /// expires whatever state it is in. Per kind because what is still worth doing late
    /// differs: an inventory asked for an hour ago is stale (and the agent collects one at
    /// every start anyway), while a credential rotation should still happen when a laptop
    /// comes back from a week away. Future long jobs (backups) get room for their run.
    pub fn deadline_ms(self) -> i64 {
        match self {
            JobKind::CollectInventory => HOUR_MS,
            JobKind::RotateCredential => 7 * 24 * HOUR_MS,
            // A laptop that was off at backup time still backs up when it returns the next
            // morning; a backup not started within a day is superseded by the next one.
            JobKind::Backup => 24 * HOUR_MS,
            // Someone is waiting for a restore: if the device is not back within hours,
            // they will have gone another way.
            JobKind::Restore => 6 * HOUR_MS,
            // A listing asked for and not given within the hour is stale; the agent's own
            // 6-hourly listing covers a device that was away.
            JobKind::ListUpdates => HOUR_MS,
            // Queued when a maintenance window opens: an install that has not finished
            // within half a day has missed its window (the next window queues another).
            JobKind::InstallUpdates => 12 * HOUR_MS,
            // The default; a run carries its own (the signed order's expiry), chosen when
            // it is queued.
            JobKind::RunScript => 24 * HOUR_MS,
            // A person decided while looking at the detection; a frozen process waits for
            // the device to come back, as does a lifted isolation.
            JobKind::DetectionResponse => 24 * HOUR_MS,
            // Someone is watching the drill: an hour is plenty.
            JobKind::RansomwareDrill => HOUR_MS,
        }
    }

    /// The deadline of a job of this kind queued at `queued_at`.
    pub fn deadline_for(self, queued_at: Timestamp) -> Timestamp {
        queued_at.plus_millis(self.deadline_ms())
    }
}

const HOUR_MS: i64 = 60 * 60 * 1000;

/// The kinds an agent runs when it does not say: agents from before check-ins carried the
/// list ran exactly these. It describes old agents, so it never grows with new kinds.
pub const KINDS_OF_AGENTS_THAT_DO_NOT_SAY: &[JobKind] =
    &[JobKind::CollectInventory, JobKind::RotateCredential];

/// Whether an agent that advertised `advertised` job kind names (`None`: it advertised
/// nothing) runs jobs of `kind`.
pub fn agent_runs(kind: JobKind, advertised: Option<&[String]>) -> bool {
    match advertised {
        Some(names) => names.iter().any(|n| n == kind.as_str()),
        None => KINDS_OF_AGENTS_THAT_DO_NOT_SAY.contains(&kind),
    }
}

/// The message on a job the server did not hand to its agent because the agent does not
/// run that kind.
pub fn unsupported_by_agent(kind: JobKind) -> String {
    format!(
        "unsupported: the agent on this device does not run {} jobs (it did not list the kind \
         when it checked in); update the agent, then queue the job again",
        kind.as_str()
    )
}

/// The string form (snake_case) is stored and shown in the API.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum JobState {
    /// Waiting for the agent to pick it up.
    Queued,
    /// Handed to the agent.
    Dispatched,
    /// The agent reported progress.
    Running,
    Succeeded,
    Failed,
    /// Not picked up or not finished in time.
    Expired,
    /// The agent does not run this kind of job: the server knew from the agent's check-in
    /// and never handed it over, or the agent received it and could not run it.
    Unsupported,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<JobState> {
        s.parse().ok()
    }
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Expired | JobState::Unsupported
        )
    }

    /// Whether an agent's report may move a job from `self` to `next`. Final states never
    /// change, and a job never goes back to the queue.
    pub fn may_become(self, next: JobState) -> bool {
        use JobState::*;
        match (self, next) {
            (s, _) if s.is_final() => false,
            (Queued | Dispatched | Running, Running | Succeeded | Failed) => true,
            (Queued | Dispatched | Running, Expired | Unsupported) => true,
            _ => false,
        }
    }
}

/// How long a job may stay `dispatched` without word from its agent before it expires. The
/// agent reports `running` as soon as it claims a job over its long-poll (independent of the
/// check-in interval), so silence this long means the agent vanished, crashed or was cut off
/// while holding the job; ten minutes leaves room for a slow network and retries. A job that
/// reached `running` is left alone: running time depends on the job (future backups run
/// for hours).
pub const DISPATCHED_TIMEOUT_MS: i64 = 10 * 60 * 1000;

/// Jobs dispatched before this moment with no report since have expired.
pub fn dispatched_expired_before(now: Timestamp) -> Timestamp {
    now.plus_millis(-DISPATCHED_TIMEOUT_MS)
}

/// The message on a job that expired in `dispatched`.
pub const EXPIRED_UNANSWERED: &str =
    "expired: the agent took the job but did not report back within 10 minutes";
/// The message on an unfinished job of a device that was revoked (it can never report).
pub const EXPIRED_DEVICE_REVOKED: &str = "expired: the device was revoked";
/// The message on a job still queued at its deadline (its device did not ask for work).
pub const EXPIRED_NEVER_PICKED_UP: &str =
    "expired: the device did not pick the job up before its deadline";
/// The message on a job its agent took but did not finish by its deadline.
pub const EXPIRED_PAST_DEADLINE: &str = "expired: the job did not finish by its deadline";

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn kinds_round_trip_through_their_stored_strings() {
        let stored = [
            (JobKind::CollectInventory, "collect_inventory"),
            (JobKind::RotateCredential, "rotate_credential"),
            (JobKind::Backup, "backup"),
            (JobKind::Restore, "restore"),
            (JobKind::ListUpdates, "list_updates"),
            (JobKind::InstallUpdates, "install_updates"),
            (JobKind::RunScript, "run_script"),
            (JobKind::DetectionResponse, "detection_response"),
            (JobKind::RansomwareDrill, "ransomware_drill"),
        ];
        assert_eq!(JobKind::VARIANTS.len(), stored.len());
        for (kind, text) in stored {
            assert_eq!(kind.as_str(), text);
            assert_eq!(JobKind::parse(text), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for kind in JobKind::VARIANTS {
            assert_eq!(JobKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(JobKind::parse("CollectInventory"), None);
    }

    #[test]
    fn states_round_trip_through_their_stored_strings() {
        let stored = [
            (JobState::Queued, "queued"),
            (JobState::Dispatched, "dispatched"),
            (JobState::Running, "running"),
            (JobState::Succeeded, "succeeded"),
            (JobState::Failed, "failed"),
            (JobState::Expired, "expired"),
            (JobState::Unsupported, "unsupported"),
        ];
        assert_eq!(JobState::VARIANTS.len(), stored.len());
        for (state, text) in stored {
            assert_eq!(state.as_str(), text);
            assert_eq!(JobState::parse(text), Some(state));
            assert_eq!(
                serde_json::to_string(&state).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for state in JobState::VARIANTS {
            assert_eq!(JobState::parse(state.as_str()), Some(*state));
        }
        assert_eq!(JobState::parse("done"), None);
    }

    #[test]
    fn final_states_are_final() {
        assert!(!JobState::Succeeded.may_become(JobState::Running));
        assert!(!JobState::Failed.may_become(JobState::Succeeded));
        assert!(JobState::Dispatched.may_become(JobState::Running));
        assert!(JobState::Running.may_become(JobState::Succeeded));
        assert!(!JobState::Running.may_become(JobState::Queued));
        for s in ["queued", "running", "expired"] {
            assert_eq!(JobState::parse(s).map(JobState::as_str), Some(s));
        }
    }

    #[test]
    fn unanswered_dispatches_expire_after_ten_minutes() {
        let now = Timestamp(100 * 60_000);
        assert_eq!(dispatched_expired_before(now), Timestamp(90 * 60_000));
        assert!(JobState::Dispatched.may_become(JobState::Expired));
        assert!(JobState::Queued.may_become(JobState::Expired));
    }

    #[test]
    fn unsupported_is_final_and_reachable_from_every_unfinished_state() {
        for s in [JobState::Queued, JobState::Dispatched, JobState::Running] {
            assert!(s.may_become(JobState::Unsupported), "{s:?}");
        }
        assert!(JobState::Unsupported.is_final());
        assert!(!JobState::Unsupported.may_become(JobState::Succeeded));
        assert!(!JobState::Succeeded.may_become(JobState::Unsupported));
        assert_eq!(JobState::parse("unsupported"), Some(JobState::Unsupported));
    }

    #[test]
    fn agents_that_do_not_say_run_the_original_kinds() {
        assert!(agent_runs(JobKind::CollectInventory, None));
        assert!(agent_runs(JobKind::RotateCredential, None));
        let only_rotation = ["rotate_credential".to_string()];
        assert!(!agent_runs(JobKind::CollectInventory, Some(&only_rotation)));
        assert!(agent_runs(JobKind::RotateCredential, Some(&only_rotation)));
        assert!(!agent_runs(JobKind::RotateCredential, Some(&[])));
    }

    #[test]
    fn deadlines_follow_the_kind() {
        let t = Timestamp(1_000);
        assert_eq!(
            JobKind::CollectInventory.deadline_for(t),
            Timestamp(1_000 + 3_600_000)
        );
        assert!(
            JobKind::RotateCredential.deadline_for(t) > JobKind::CollectInventory.deadline_for(t)
        );
    }
}
