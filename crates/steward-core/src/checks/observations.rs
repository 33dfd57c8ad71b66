//! What an agent observes on its device for the checks that apply to it: which systemd units
//! are active, which have failed, how many of a named process run. The server tells the
//! agent what to watch ([`Watch`], sent with a report's acknowledgement when it changes); the
//! agent reports what it saw in each report ([`Observations`]), bounded like every other part
//! of a report.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::DeviceCheck;
use crate::alerting::CheckStatus;
use crate::limits::{LimitError, check_text, clean_text};

/// Most units and processes watched on one device, and failed units reported.
pub const MAX_WATCHED: usize = 256;
pub const MAX_FAILED_UNITS: usize = 1_000;

/// What the server asks an agent to watch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Watch {
    /// Names the set (a hash of its content): the agent says which it holds, and the server
    /// sends a new one only when they differ.
    pub version: String,
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default)]
    pub processes: Vec<String>,
    /// Network monitors this agent runs for the server (a probe behind a site's firewall);
    /// see `checks::remote`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<super::remote::ProbeOrder>,
}

impl Watch {
    /// The watch list for a set of checks, sorted and without repeats, with its version.
    pub fn of<'a>(checks: impl IntoIterator<Item = &'a DeviceCheck>) -> Watch {
        let mut units = Vec::new();
        let mut processes = Vec::new();
        for c in checks {
            match c.watches() {
                Some(Watched::Unit(u)) => units.push(u.to_string()),
                Some(Watched::Process(p)) => processes.push(p.to_string()),
                None => {}
            }
        }
        for list in [&mut units, &mut processes] {
            list.sort();
            list.dedup();
            list.truncate(MAX_WATCHED);
        }
        let digest = Sha256::digest(
            format!("u:{}\np:{}", units.join("\n"), processes.join("\n")).as_bytes(),
        );
        Watch {
            version: hex::encode(&digest[..8]),
            units,
            processes,
            probes: Vec::new(),
        }
    }
}

/// One watched item, as a check names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched<'a> {
    Unit(&'a str),
    Process(&'a str),
}

/// What the agent saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Observations {
    /// The watch list these answer (its version).
    #[serde(default)]
    pub watch_version: String,
    /// Failed systemd units; `None` where there is no systemd to ask.
    #[serde(default)]
    pub failed_units: Option<Vec<String>>,
    /// Each watched unit's active state (`active`, `inactive`, `failed`, `activating`, …;
    /// `not-found` for a unit the device does not have).
    #[serde(default)]
    pub units: Vec<UnitState>,
    /// Each watched process name and how many run.
    #[serde(default)]
    pub processes: Vec<ProcessCount>,
    /// What the probes this agent runs for the server found since its last report, oldest
    /// first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<super::remote::ProbeResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitState {
    pub name: String,
    pub active_state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessCount {
    pub name: String,
    pub running: u32,
}

impl Observations {
    /// Refuses observations beyond the bounds or with control characters.
    pub fn check_limits(&self) -> Result<(), LimitError> {
        let too_many = |what, count, max| {
            if count > max {
                Err(LimitError::TooMany { what, count, max })
            } else {
                Ok(())
            }
        };
        check_text("observations.watch_version", &self.watch_version)?;
        if let Some(failed) = &self.failed_units {
            too_many("observations.failed_units", failed.len(), MAX_FAILED_UNITS)?;
            for u in failed {
                check_text("observations.failed_units", u)?;
            }
        }
        too_many("observations.units", self.units.len(), MAX_WATCHED)?;
        too_many("observations.processes", self.processes.len(), MAX_WATCHED)?;
        for u in &self.units {
            check_text("observations.units.name", &u.name)?;
            check_text("observations.units.active_state", &u.active_state)?;
        }
        for p in &self.processes {
            check_text("observations.processes.name", &p.name)?;
        }
        too_many(
            "observations.probes",
            self.probes.len(),
            super::remote::MAX_PROBE_RESULTS,
        )?;
        for r in &self.probes {
            check_text("observations.probes.check_id", &r.check_id)?;
            check_text("observations.probes.summary", &r.summary)?;
        }
        Ok(())
    }

    /// Brings observations within the bounds (what the agent applies before sending).
    pub fn clamp_to_limits(&mut self) {
        clean_text(&mut self.watch_version);
        if let Some(failed) = &mut self.failed_units {
            failed.truncate(MAX_FAILED_UNITS);
            failed.iter_mut().for_each(clean_text);
        }
        self.units.truncate(MAX_WATCHED);
        self.processes.truncate(MAX_WATCHED);
        for u in &mut self.units {
            clean_text(&mut u.name);
            clean_text(&mut u.active_state);
        }
        for p in &mut self.processes {
            clean_text(&mut p.name);
        }
        // The newest results are the ones worth keeping.
        let excess = self
            .probes
            .len()
            .saturating_sub(super::remote::MAX_PROBE_RESULTS);
        self.probes.drain(..excess);
        for r in &mut self.probes {
            clean_text(&mut r.check_id);
            clean_text(&mut r.summary);
        }
    }
}

/// Judges a unit, process or failed-units check on what the agent saw.
pub(super) fn evaluate(check: &DeviceCheck, seen: &Observations) -> Option<(CheckStatus, String)> {
    match check {
        DeviceCheck::FailedUnits => {
            let failed = seen.failed_units.as_ref()?;
            Some(match failed.as_slice() {
                [] => (CheckStatus::Ok, "no failed systemd units".into()),
                [one] => (CheckStatus::Warning, format!("{one} has failed")),
                many => (
                    CheckStatus::Warning,
                    format!(
                        "{} failed units: {}",
                        many.len(),
                        many.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                    ),
                ),
            })
        }
        DeviceCheck::Unit { unit } => Some(match seen.units.iter().find(|u| &u.name == unit) {
            Some(u) if u.active_state == "active" => (CheckStatus::Ok, format!("{unit} is active")),
            Some(u) if u.active_state == "not-found" => (
                CheckStatus::Critical,
                format!("{unit} is not installed on this device"),
            ),
            Some(u) => (
                CheckStatus::Critical,
                format!("{unit} is {}", u.active_state),
            ),
            None => (
                CheckStatus::Unknown,
                format!("the agent has not reported {unit} yet"),
            ),
        }),
        DeviceCheck::Process { name, min_count } => {
            Some(match seen.processes.iter().find(|p| &p.name == name) {
                Some(p) if p.running >= *min_count => {
                    (CheckStatus::Ok, format!("{} × {name} running", p.running))
                }
                Some(p) => (
                    CheckStatus::Critical,
                    format!(
                        "{} × {name} running, at least {min_count} expected",
                        p.running
                    ),
                ),
                None => (
                    CheckStatus::Unknown,
                    format!("the agent has not reported {name} yet"),
                ),
            })
        }
        _ => None,
    }
}
