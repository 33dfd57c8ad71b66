//! What the store keeps of a check's kind-specific settings: a network monitor's probe, or
//! a device check. One JSON document in `checks.spec`, read back into [`Spec`].

use serde::{Deserialize, Serialize};
use steward_core::checks::DeviceCheck;

/// A check's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Spec {
    /// A network monitor, run by the server (or a chosen agent) every interval.
    Probe {
        probe: steward_probes::Probe,
        timeout_ms: u64,
    },
    /// A check of each device in the check's target, judged at each report (or, for the
    /// heartbeat, by a periodic sweep).
    Device { check: DeviceCheck },
}

impl Spec {
    /// The kind's name, as stored in `checks.kind` and shown.
    pub fn kind(&self) -> &'static str {
        match self {
            Spec::Probe { probe, .. } => probe.kind(),
            Spec::Device { check } => check.kind(),
        }
    }

    pub fn device_check(&self) -> Option<&DeviceCheck> {
        match self {
            Spec::Device { check } => Some(check),
            Spec::Probe { .. } => None,
        }
    }
}
