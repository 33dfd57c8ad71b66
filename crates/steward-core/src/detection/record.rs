//! A detection's life after the alert: a person confirms it (the stopped process tree is
//! killed), releases the process, or marks it a false alarm; isolation is put on or lifted
//! on its own. Nothing here tunes the detector: a false alarm is recorded and counted in
//! the figures, and the detector stays as it was.

use serde::{Deserialize, Serialize};

use super::ResponseAction;

/// Where a detection stands.
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
pub enum Status {
    /// Raised; nobody has decided yet.
    Open,
    /// A person confirmed the attack; a stopped process tree is killed.
    Confirmed,
    /// A person let the process go on; the detection stands as recorded.
    Released,
    /// A person judged it a false alarm; a stopped process goes on.
    FalseAlarm,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<Status> {
        s.parse().ok()
    }
    pub fn describe(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Confirmed => "confirmed",
            Status::Released => "released",
            Status::FalseAlarm => "false alarm",
        }
    }
}

/// What a person decides.
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
pub enum Decision {
    /// It is an attack: kill the stopped process tree.
    Confirm,
    /// Let the stopped process go on.
    Release,
    /// Not an attack: let the process go on and record the false alarm.
    FalseAlarm,
    /// Cut the device off from the network except for the Steward server.
    Isolate,
    /// Give the device its network back.
    LiftIsolation,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<Decision> {
        s.parse().ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("this detection is already {0}; a decision on it cannot be changed")]
    Closed(&'static str),
    #[error("the device is not isolated")]
    NotIsolated,
    #[error("the device is already isolated")]
    AlreadyIsolated,
    #[error("this detection names no process to {0}")]
    NoProcess(&'static str),
}

/// The outcome of a decision: the detection's new status and the response the agent is to
/// carry out (none when nothing on the device changes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub response: Option<ResponseAction>,
}

/// What the detection stands at: its status, whether its process tree is stopped now, and
/// whether the device is isolated now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub status: Status,
    pub has_process: bool,
    pub stopped: bool,
    pub isolated: bool,
}

/// Applies a person's decision.
pub fn decide(now: Standing, decision: Decision) -> Result<Outcome, DecisionError> {
    let closed = matches!(now.status, Status::Confirmed | Status::FalseAlarm);
    match decision {
        Decision::Isolate if now.isolated => Err(DecisionError::AlreadyIsolated),
        Decision::Isolate => Ok(Outcome {
            status: now.status,
            response: Some(ResponseAction::Isolate),
        }),
        Decision::LiftIsolation if !now.isolated => Err(DecisionError::NotIsolated),
        Decision::LiftIsolation => Ok(Outcome {
            status: now.status,
            response: Some(ResponseAction::Lift),
        }),
        _ if closed => Err(DecisionError::Closed(now.status.describe())),
        Decision::Confirm => Ok(Outcome {
            status: Status::Confirmed,
            response: now.stopped.then_some(ResponseAction::Kill),
        }),
        Decision::Release if !now.has_process => Err(DecisionError::NoProcess("release")),
        Decision::Release => Ok(Outcome {
            status: Status::Released,
            response: now.stopped.then_some(ResponseAction::Continue),
        }),
        Decision::FalseAlarm => Ok(Outcome {
            status: Status::FalseAlarm,
            response: now.stopped.then_some(ResponseAction::Continue),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(stopped: bool, isolated: bool) -> Standing {
        Standing {
            status: Status::Open,
            has_process: true,
            stopped,
            isolated,
        }
    }

    #[test]
    fn confirming_kills_a_stopped_tree_and_releasing_continues_it() {
        let c = decide(open(true, false), Decision::Confirm).unwrap();
        assert_eq!(c.status, Status::Confirmed);
        assert_eq!(c.response, Some(ResponseAction::Kill));
        let r = decide(open(true, false), Decision::Release).unwrap();
        assert_eq!(r.response, Some(ResponseAction::Continue));
        // Nothing was stopped: nothing to do on the device.
        assert_eq!(
            decide(open(false, false), Decision::Confirm)
                .unwrap()
                .response,
            None
        );
    }

    #[test]
    fn a_false_alarm_is_recorded_and_lets_the_process_go_on() {
        let f = decide(open(true, false), Decision::FalseAlarm).unwrap();
        assert_eq!(f.status, Status::FalseAlarm);
        assert_eq!(f.response, Some(ResponseAction::Continue));
        // A released detection may still be judged a false alarm later.
        let released = Standing {
            status: Status::Released,
            ..open(false, false)
        };
        assert_eq!(
            decide(released, Decision::FalseAlarm).unwrap().status,
            Status::FalseAlarm
        );
    }

    #[test]
    fn closed_decisions_stand_but_isolation_can_always_be_lifted() {
        let confirmed = Standing {
            status: Status::Confirmed,
            ..open(false, true)
        };
        assert_eq!(
            decide(confirmed, Decision::Release),
            Err(DecisionError::Closed("confirmed"))
        );
        assert_eq!(
            decide(confirmed, Decision::LiftIsolation).unwrap().response,
            Some(ResponseAction::Lift)
        );
        assert_eq!(
            decide(open(false, false), Decision::LiftIsolation),
            Err(DecisionError::NotIsolated)
        );
        assert_eq!(
            decide(open(false, true), Decision::Isolate),
            Err(DecisionError::AlreadyIsolated)
        );
    }
}
