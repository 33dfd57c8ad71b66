//! Series: the named values a metrics sample becomes when it is kept over time.
//!
//! A name is what the API takes (`metric=…`) and what a device's history lists: `cpu`,
//! `memory`, `swap` and `load` for the machine, `fs:MOUNT` for a filesystem's use,
//! `disk_read:DISK` and `disk_write:DISK` for a whole disk's throughput, `net_rx:IFACE` and
//! `net_tx:IFACE` for an interface's. Memory, swap and filesystems are kept as a share of
//! their size (what a check compares with a threshold, and what stays comparable when a disk
//! grows); throughput in bytes per second; load as the 1-minute load average.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::limits::{self, LimitError};
use crate::metrics::Metrics;

/// What a series measures.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum SeriesKind {
    Cpu,
    Memory,
    Swap,
    Load,
    Fs,
    DiskRead,
    DiskWrite,
    NetRx,
    NetTx,
}

impl SeriesKind {
    /// The name's first part: `cpu`, `fs`, `disk_read`, …
    pub fn prefix(self) -> &'static str {
        self.into()
    }

    /// Whether the name carries what it is about after a colon (a mount point, a disk, an
    /// interface).
    pub fn has_subject(self) -> bool {
        !matches!(
            self,
            SeriesKind::Cpu | SeriesKind::Memory | SeriesKind::Swap | SeriesKind::Load
        )
    }

    pub fn unit(self) -> Unit {
        match self {
            SeriesKind::Cpu | SeriesKind::Memory | SeriesKind::Swap | SeriesKind::Fs => {
                Unit::Percent
            }
            SeriesKind::Load => Unit::Load,
            SeriesKind::DiskRead
            | SeriesKind::DiskWrite
            | SeriesKind::NetRx
            | SeriesKind::NetTx => Unit::BytesPerSecond,
        }
    }
}

/// The unit of a series' values.
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
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Unit {
    /// 0–100.
    Percent,
    /// A load average (runnable tasks).
    Load,
    BytesPerSecond,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// How finely values are kept: a value is stored as a whole number of steps, this many
    /// to the unit (0.01 % and 0.01 of load; whole bytes per second), so a sample stays a
    /// few bytes.
    pub fn steps_per_unit(self) -> f64 {
        match self {
            Unit::Percent | Unit::Load => 100.0,
            Unit::BytesPerSecond => 1.0,
        }
    }
}

/// A valid series name (see the module's description).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SeriesName {
    text: String,
    kind: SeriesKind,
}

/// Why a text is not a series name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesNameError {
    #[error(
        "unknown series {0:?}: one of cpu, memory, swap, load, fs:MOUNT, disk_read:DISK, \
         disk_write:DISK, net_rx:INTERFACE, net_tx:INTERFACE"
    )]
    Unknown(String),
    #[error("series {0:?} needs what it is about after the colon, as in fs:/ or net_rx:eth0")]
    NoSubject(String),
    #[error(transparent)]
    BadSubject(#[from] LimitError),
}

impl SeriesName {
    pub fn parse(text: &str) -> Result<SeriesName, SeriesNameError> {
        let (prefix, subject) = match text.split_once(':') {
            Some((p, s)) => (p, Some(s)),
            None => (text, None),
        };
        let kind: SeriesKind = prefix
            .parse()
            .map_err(|_| SeriesNameError::Unknown(text.to_string()))?;
        match (kind.has_subject(), subject) {
            (false, None) => {}
            (false, Some(_)) => return Err(SeriesNameError::Unknown(text.to_string())),
            (true, None) => return Err(SeriesNameError::NoSubject(text.to_string())),
            (true, Some("")) => {
                return Err(SeriesNameError::NoSubject(text.to_string()));
            }
            (true, Some(s)) => limits::check_text("series subject", s)?,
        }
        Ok(SeriesName {
            text: text.to_string(),
            kind,
        })
    }

    /// The machine-wide series of `kind` (`cpu`, `memory`, `swap`, `load`), or `kind` about
    /// `subject` (`fs:/`). `None` when the two do not go together or the subject is not
    /// acceptable text.
    pub fn of(kind: SeriesKind, subject: Option<&str>) -> Option<SeriesName> {
        let text = match subject {
            Some(s) => format!("{}:{s}", kind.prefix()),
            None => kind.prefix().to_string(),
        };
        SeriesName::parse(&text).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> SeriesKind {
        self.kind
    }

    pub fn unit(&self) -> Unit {
        self.kind.unit()
    }

    /// The mount point, disk or interface; `None` for machine-wide series.
    pub fn subject(&self) -> Option<&str> {
        self.text.split_once(':').map(|(_, s)| s)
    }
}

impl fmt::Display for SeriesName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for SeriesName {
    type Error = SeriesNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SeriesName::parse(&s)
    }
}

impl From<SeriesName> for String {
    fn from(n: SeriesName) -> String {
        n.text
    }
}

/// One metrics sample as series values: time and `(series, value)` pairs. Generic over how
/// a series is named, so the store can work with its own short keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<K = SeriesName> {
    pub at: Timestamp,
    pub values: Vec<(K, f64)>,
}

impl Sample {
    /// The series values of one metrics sample taken at `at`. Shares are of sizes the agent
    /// reported: memory, swap or a filesystem of size 0 (no swap) has no series. Values are
    /// finite and within their unit's range (a share is 0–100, nothing is negative); an
    /// entry whose name is not acceptable is left out (the server's limits refuse those
    /// before this runs).
    pub fn of(at: Timestamp, m: &Metrics) -> Sample {
        let mut values =
            Vec::with_capacity(4 + m.filesystems.len() + 2 * m.disks.len() + 2 * m.networks.len());
        let mut push = |kind: SeriesKind, subject: Option<&str>, value: f64| {
            if let Some(name) = SeriesName::of(kind, subject) {
                values.push((name, clamp(kind.unit(), value)));
            }
        };
        push(SeriesKind::Cpu, None, f64::from(m.cpu_percent));
        if m.memory_total_bytes > 0 {
            push(
                SeriesKind::Memory,
                None,
                share(m.memory_used_bytes, m.memory_total_bytes),
            );
        }
        if m.swap_total_bytes > 0 {
            push(
                SeriesKind::Swap,
                None,
                share(m.swap_used_bytes, m.swap_total_bytes),
            );
        }
        push(SeriesKind::Load, None, f64::from(m.load_1m));
        for fs in m.filesystems.iter().filter(|f| f.total_bytes > 0) {
            push(SeriesKind::Fs, Some(&fs.mount_point), fs.used_percent());
        }
        for d in &m.disks {
            push(
                SeriesKind::DiskRead,
                Some(&d.device),
                d.read_bytes_per_sec as f64,
            );
            push(
                SeriesKind::DiskWrite,
                Some(&d.device),
                d.write_bytes_per_sec as f64,
            );
        }
        for n in &m.networks {
            push(
                SeriesKind::NetRx,
                Some(&n.interface),
                n.rx_bytes_per_sec as f64,
            );
            push(
                SeriesKind::NetTx,
                Some(&n.interface),
                n.tx_bytes_per_sec as f64,
            );
        }
        // One value per name: a repeated mount point or disk keeps its first value.
        values.sort_by(|a, b| a.0.cmp(&b.0));
        values.dedup_by(|b, a| a.0 == b.0);
        Sample { at, values }
    }
}

fn share(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole as f64
}

/// A value within its unit's range; not-a-number becomes 0.
fn clamp(unit: Unit, value: f64) -> f64 {
    let value = if value.is_finite() {
        value.max(0.0)
    } else {
        0.0
    };
    match unit {
        Unit::Percent => value.min(100.0),
        // A load of a billion runnable tasks is no machine's; an agent sending one is wrong.
        Unit::Load => value.min(1e9),
        // Far beyond any link or disk (an exabyte a second), and exact in a 64-bit integer.
        Unit::BytesPerSecond => value.min(1e18),
    }
}
