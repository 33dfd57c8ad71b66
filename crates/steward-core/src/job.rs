//! Work the server sends to a device, and the rules for how a job's state may move.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What a job asks the agent to do. Later capabilities add kinds (checks, backups, restores,
/// patches, scripts); an agent that does not know a kind reports the job failed.
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
        }
    }
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
            JobState::Succeeded | JobState::Failed | JobState::Expired
        )
    }

    /// Whether an agent's report may move a job from `self` to `next`. Final states never
    /// change, and a job never goes back to the queue.
    pub fn may_become(self, next: JobState) -> bool {
        use JobState::*;
        match (self, next) {
            (s, _) if s.is_final() => false,
            (Queued | Dispatched | Running, Running | Succeeded | Failed) => true,
            (Queued | Dispatched | Running, Expired) => true,
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

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn kinds_round_trip_through_their_stored_strings() {
        let stored = [
            (JobKind::CollectInventory, "collect_inventory"),
            (JobKind::RotateCredential, "rotate_credential"),
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
}
