//! Device checks: what a check judges about a device, and how. Thresholds on the metrics an
//! agent reports (disk, memory, CPU, load), facts it observes on the device (a systemd unit,
//! a process, failed units: [`observations`]), and its heartbeat. [`evaluate`] turns what one
//! report carried into a raw result; `crate::alerting` then applies retries, a sustain
//! window (`AlertRules::confirm_after_ms`), damping and suppression to it.
//!
//! A check applies to a [`Target`]: every device, one device, a group or a tag.
//!
//! Network monitors (HTTP, TCP, DNS, …) are not here: they need the network, so they live in
//! the `steward-probes` crate; the server stores both kinds side by side.

pub mod observations;
pub mod remote;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::alerting::CheckStatus;
use crate::metrics::Metrics;
pub use observations::{Observations, Watch};

/// What a device check judges. Percentages are 0–100; a threshold of `None` is not judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeviceCheck {
    /// Critical when the agent has not checked in for `missed_after_secs`.
    Heartbeat { missed_after_secs: u64 },
    /// Filesystem use: `mount` alone, or the fullest filesystem when not given.
    Disk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mount: Option<String>,
        warn_percent: Option<f64>,
        critical_percent: Option<f64>,
    },
    /// Memory in use (without swap).
    Memory {
        warn_percent: Option<f64>,
        critical_percent: Option<f64>,
    },
    /// Whole-machine CPU use over the last check-in interval.
    Cpu {
        warn_percent: Option<f64>,
        critical_percent: Option<f64>,
    },
    /// The one-minute load average.
    Load {
        warn: Option<f64>,
        critical: Option<f64>,
    },
    /// A systemd unit is active.
    Unit { unit: String },
    /// No systemd unit has failed (warning when one has).
    FailedUnits,
    /// At least `min_count` processes named `name` (the executable's name) run.
    Process {
        name: String,
        #[serde(default = "one")]
        min_count: u32,
    },
    /// The device's backups: critical when the newest failed, or none succeeded within its
    /// policies' period (see `backup::verdict`). Judged by the server, not from reports.
    Backup,
    /// The device's restore drills: critical when the newest failed, warning when none
    /// passed in the last week.
    Drill,
    /// The device's security posture: a problem while a check that passed (or was not
    /// there) at its first evaluation fails now, unexcused (see `posture::verdict`).
    /// Judged by the server, not from reports.
    Posture,
    /// The organisation's manual checklist items (router firmware, the recovery plan, …):
    /// one alert per answered item past its review-by date, naming its owner, until it is
    /// answered again. Judged by the server for the organisation, never per device: its
    /// subjects are `manual:ITEM` (see `posture::manual::subject`), and its target is
    /// ignored.
    PostureReviews,
    /// The device's patching: critical when its latest install failed or a security update
    /// has been pending past 14 days, warning from 7 (see `patching::verdict`). Judged by
    /// the server, not from reports.
    Patching,
    /// The device's detections (ransomware, a new administrator, protection turned off, …):
    /// critical while any is open, naming the process, its executable's hash, the files
    /// touched and their last backup (see `detection::alert`). Judged by the server when a
    /// detection arrives or is decided, never retried.
    Detection,
}

fn one() -> u32 {
    1
}

/// Why a check definition is refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCheck {
    #[error("{0}: a percentage is 0 to 100")]
    Percent(&'static str),
    #[error("{0}: a positive number is expected")]
    Positive(&'static str),
    #[error("the warning threshold is above the critical one")]
    WarnAboveCritical,
    #[error("give a warning or a critical threshold (or both)")]
    NoThreshold,
    #[error("{0}: 1 to 256 characters, no control characters or spaces")]
    Name(&'static str),
    #[error("missed_after_secs: 60 seconds to 30 days")]
    Heartbeat,
    #[error("min_count: 1 to 10,000")]
    MinCount,
}

impl DeviceCheck {
    /// The kind's name, as stored and shown (`disk`, `unit`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceCheck::Heartbeat { .. } => "heartbeat",
            DeviceCheck::Disk { .. } => "disk",
            DeviceCheck::Memory { .. } => "memory",
            DeviceCheck::Cpu { .. } => "cpu",
            DeviceCheck::Load { .. } => "load",
            DeviceCheck::Unit { .. } => "unit",
            DeviceCheck::FailedUnits => "failed_units",
            DeviceCheck::Process { .. } => "process",
            DeviceCheck::Backup => "backup",
            DeviceCheck::Drill => "drill",
            DeviceCheck::Posture => "posture",
            DeviceCheck::PostureReviews => "posture_reviews",
            DeviceCheck::Patching => "patching",
            DeviceCheck::Detection => "detection",
        }
    }

    /// Refuses a definition that cannot be judged.
    pub fn check(&self) -> Result<(), BadCheck> {
        match self {
            DeviceCheck::Heartbeat { missed_after_secs } => {
                if !(60..=30 * 86_400).contains(missed_after_secs) {
                    return Err(BadCheck::Heartbeat);
                }
            }
            DeviceCheck::Disk {
                mount,
                warn_percent,
                critical_percent,
            } => {
                if let Some(m) = mount {
                    name_ok("mount", m)?;
                }
                thresholds(*warn_percent, *critical_percent, true)?;
            }
            DeviceCheck::Memory {
                warn_percent,
                critical_percent,
            }
            | DeviceCheck::Cpu {
                warn_percent,
                critical_percent,
            } => thresholds(*warn_percent, *critical_percent, true)?,
            DeviceCheck::Load { warn, critical } => thresholds(*warn, *critical, false)?,
            DeviceCheck::Unit { unit } => name_ok("unit", unit)?,
            DeviceCheck::FailedUnits
            | DeviceCheck::Backup
            | DeviceCheck::Drill
            | DeviceCheck::Posture
            | DeviceCheck::PostureReviews
            | DeviceCheck::Patching
            | DeviceCheck::Detection => {}
            DeviceCheck::Process { name, min_count } => {
                name_ok("name", name)?;
                if !(1..=10_000).contains(min_count) {
                    return Err(BadCheck::MinCount);
                }
            }
        }
        Ok(())
    }

    /// Whether the agent must be told to watch something for this check.
    pub fn watches(&self) -> Option<observations::Watched<'_>> {
        match self {
            DeviceCheck::Unit { unit } => Some(observations::Watched::Unit(unit)),
            DeviceCheck::Process { name, .. } => Some(observations::Watched::Process(name)),
            _ => None,
        }
    }
}

fn name_ok(field: &'static str, name: &str) -> Result<(), BadCheck> {
    let fine = !name.is_empty()
        && name.chars().count() <= 256
        && !name.chars().any(|c| c.is_control() || c.is_whitespace());
    fine.then_some(()).ok_or(BadCheck::Name(field))
}

fn thresholds(warn: Option<f64>, critical: Option<f64>, percent: bool) -> Result<(), BadCheck> {
    for (field, value) in [("warn", warn), ("critical", critical)] {
        let Some(v) = value else { continue };
        if !v.is_finite() || v < 0.0 || (percent && v > 100.0) {
            return Err(if percent {
                BadCheck::Percent(field)
            } else {
                BadCheck::Positive(field)
            });
        }
    }
    match (warn, critical) {
        (None, None) => Err(BadCheck::NoThreshold),
        (Some(w), Some(c)) if w > c => Err(BadCheck::WarnAboveCritical),
        _ => Ok(()),
    }
}

/// Which devices a check (or a maintenance window, or a route) applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    All,
    Device(String),
    Group(String),
    Tag(String),
}

/// Why a target does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a target is `all`, `device:ID`, `group:ID` or `tag:NAME`, not {0:?}")]
pub struct BadTarget(pub String);

impl Target {
    pub fn parse(s: &str) -> Result<Target, BadTarget> {
        let bad = || BadTarget(s.chars().take(80).collect());
        if s == "all" {
            return Ok(Target::All);
        }
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() || rest.chars().count() > 256 || rest.chars().any(char::is_control) {
            return Err(bad());
        }
        match kind {
            "device" => Ok(Target::Device(rest.into())),
            "group" => Ok(Target::Group(rest.into())),
            "tag" => Ok(Target::Tag(rest.into())),
            _ => Err(bad()),
        }
    }

    /// The stored form, which [`Target::parse`] reads back.
    pub fn as_string(&self) -> String {
        match self {
            Target::All => "all".into(),
            Target::Device(id) => format!("device:{id}"),
            Target::Group(id) => format!("group:{id}"),
            Target::Tag(name) => format!("tag:{name}"),
        }
    }

    pub fn covers(&self, device: &Membership<'_>) -> bool {
        match self {
            Target::All => true,
            Target::Device(id) => device.device_id == id,
            Target::Group(id) => device.groups.iter().any(|g| g == id),
            Target::Tag(name) => device.tags.iter().any(|t| t == name),
        }
    }
}

/// What a target is matched against: a device and what it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Membership<'a> {
    pub device_id: &'a str,
    pub groups: &'a [String],
    pub tags: &'a [String],
}

/// What one report (or, for the heartbeat, the clock) tells about a device.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub metrics: Option<&'a Metrics>,
    pub observations: Option<&'a Observations>,
    /// When the device last checked in (`None`: never).
    pub last_seen: Option<Timestamp>,
    /// What is known of the device's backups; given only by the backup capability's sweep.
    pub backup: Option<&'a crate::backup::verdict::BackupFacts>,
    /// What is known of the device's posture; given only by the posture capability's sweep.
    pub posture: Option<&'a crate::posture::verdict::PostureFacts>,
    /// What is known of the device's patching; given only by the patching capability's
    /// sweep.
    pub patching: Option<&'a crate::patching::verdict::PatchFacts>,
    /// What is known of the device's detections; given only by the detection capability.
    pub detection: Option<&'a crate::detection::alert::DetectionFacts>,
    pub now: Timestamp,
}

/// Judges `check` on `facts`: `None` when they do not bear on it (a report without metrics
/// says nothing about disk use), so no result is recorded.
pub fn evaluate(check: &DeviceCheck, facts: &Facts<'_>) -> Option<(CheckStatus, String)> {
    match check {
        DeviceCheck::Backup => facts
            .backup
            .and_then(|b| crate::backup::verdict::backup(b, facts.now)),
        DeviceCheck::Drill => facts
            .backup
            .and_then(|b| crate::backup::verdict::drill(b, facts.now)),
        DeviceCheck::Posture => facts
            .posture
            .map(|p| crate::posture::verdict::verdict(p, facts.now)),
        // Not about a device: judged for the organisation by the posture capability.
        DeviceCheck::PostureReviews => None,
        DeviceCheck::Patching => facts
            .patching
            .map(|p| crate::patching::verdict::verdict(p, facts.now)),
        DeviceCheck::Detection => facts.detection.map(crate::detection::alert::verdict),
        DeviceCheck::Heartbeat { missed_after_secs } => {
            let limit_ms = i64::try_from(*missed_after_secs)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000);
            Some(match facts.last_seen {
                None => (CheckStatus::Critical, "the agent never checked in".into()),
                Some(seen) if facts.now.since(seen) >= limit_ms => (
                    CheckStatus::Critical,
                    format!(
                        "no check-in for {}",
                        crate::time::human_duration_ms(facts.now.since(seen))
                    ),
                ),
                Some(seen) => (
                    CheckStatus::Ok,
                    format!(
                        "last check-in {} ago",
                        crate::time::human_duration_ms(facts.now.since(seen))
                    ),
                ),
            })
        }
        DeviceCheck::Disk {
            mount,
            warn_percent,
            critical_percent,
        } => {
            let metrics = facts.metrics?;
            let fullest = metrics
                .filesystems
                .iter()
                .filter(|fs| fs.total_bytes > 0)
                .filter(|fs| mount.as_ref().is_none_or(|m| &fs.mount_point == m))
                .max_by(|a, b| a.used_percent().total_cmp(&b.used_percent()));
            Some(match fullest {
                Some(fs) => judge(
                    fs.used_percent(),
                    *warn_percent,
                    *critical_percent,
                    &format!("{} at {:.0} %", fs.mount_point, fs.used_percent()),
                ),
                None => (
                    CheckStatus::Unknown,
                    match mount {
                        Some(m) => format!("no filesystem mounted at {m}"),
                        None => "the agent reports no filesystems".into(),
                    },
                ),
            })
        }
        DeviceCheck::Memory {
            warn_percent,
            critical_percent,
        } => {
            let m = facts.metrics?;
            if m.memory_total_bytes == 0 {
                return Some((CheckStatus::Unknown, "memory size unknown".into()));
            }
            let used = m.memory_used_bytes as f64 * 100.0 / m.memory_total_bytes as f64;
            Some(judge(
                used,
                *warn_percent,
                *critical_percent,
                &format!("memory {used:.0} % used"),
            ))
        }
        DeviceCheck::Cpu {
            warn_percent,
            critical_percent,
        } => {
            let cpu = f64::from(facts.metrics?.cpu_percent);
            Some(judge(
                cpu,
                *warn_percent,
                *critical_percent,
                &format!("CPU {cpu:.0} %"),
            ))
        }
        DeviceCheck::Load { warn, critical } => {
            let load = f64::from(facts.metrics?.load_1m);
            Some(judge(load, *warn, *critical, &format!("load {load:.2}")))
        }
        DeviceCheck::Unit { .. } | DeviceCheck::FailedUnits | DeviceCheck::Process { .. } => {
            observations::evaluate(check, facts.observations?)
        }
    }
}

/// Critical at or above `critical`, warning at or above `warn`.
fn judge(
    value: f64,
    warn: Option<f64>,
    critical: Option<f64>,
    summary: &str,
) -> (CheckStatus, String) {
    let status = if critical.is_some_and(|c| value >= c) {
        CheckStatus::Critical
    } else if warn.is_some_and(|w| value >= w) {
        CheckStatus::Warning
    } else {
        CheckStatus::Ok
    };
    (status, summary.to_string())
}

/// The checks every new installation starts with, applied to all devices (a person may
/// change or disable them): (name, check, sustain window in seconds).
/// The backup capability's default checks (added to databases that had the first
/// defaults already): backups late or failed, restore drills failed or overdue — judged
/// only for devices that have a backup policy or a repository.
pub fn backup_defaults() -> Vec<(&'static str, DeviceCheck, u64)> {
    vec![
        ("Backups", DeviceCheck::Backup, 0),
        ("Restore drills", DeviceCheck::Drill, 0),
    ]
}

/// The posture capability's default check (added once, as the backup ones are): a device
/// whose security posture regressed.
pub fn posture_defaults() -> Vec<(&'static str, DeviceCheck, u64)> {
    vec![("Security posture", DeviceCheck::Posture, 0)]
}

/// The reminders of overdue manual checklist items (a second set with its own marker, so
/// databases that had the first posture default get it once too).
pub fn posture_review_defaults() -> Vec<(&'static str, DeviceCheck, u64)> {
    vec![("Posture reviews", DeviceCheck::PostureReviews, 0)]
}

/// The patching capability's default check (added once, with its own marker): a failed
/// install, or security updates pending past 14 days.
pub fn patching_defaults() -> Vec<(&'static str, DeviceCheck, u64)> {
    vec![("Patching", DeviceCheck::Patching, 0)]
}

/// The detection capability's default check (added once, with its own marker): critical
/// while a detection of the device is open.
pub fn detection_defaults() -> Vec<(&'static str, DeviceCheck, u64)> {
    vec![("Detection", DeviceCheck::Detection, 0)]
}

/// The alert rules a default check starts with: confirmed at the first failure, or once it
/// has lasted `sustain_secs`. A person's overdue review is repeated daily, not every few
/// hours: it asks for an afternoon's work, not an operator's attention.
pub fn default_rules(check: &DeviceCheck, sustain_secs: u64) -> crate::alerting::AlertRules {
    let defaults = crate::alerting::AlertRules::default();
    crate::alerting::AlertRules {
        retries: 0,
        confirm_after_ms: (sustain_secs > 0)
            .then(|| i64::try_from(sustain_secs * 1000).unwrap_or(i64::MAX)),
        renotify_every_ms: match check {
            DeviceCheck::PostureReviews => Some(86_400_000),
            _ => defaults.renotify_every_ms,
        },
        ..defaults
    }
}

pub fn defaults() -> Vec<(&'static str, DeviceCheck, u64)> {
    vec![
        (
            "Agent heartbeat",
            DeviceCheck::Heartbeat {
                missed_after_secs: 600,
            },
            0,
        ),
        (
            "Disk space",
            DeviceCheck::Disk {
                mount: None,
                warn_percent: Some(90.0),
                critical_percent: Some(97.0),
            },
            0,
        ),
        (
            "Memory",
            DeviceCheck::Memory {
                warn_percent: Some(90.0),
                critical_percent: Some(97.0),
            },
            600,
        ),
        ("Failed systemd units", DeviceCheck::FailedUnits, 0),
    ]
}

#[cfg(test)]
mod tests;
