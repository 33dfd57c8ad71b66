//! What an agent reports of one detection, and the kinds of detection.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What was detected. The first two come from the agent's detector; the others from
/// facts the server already has (inventory changes, posture results, observations, the
/// agent's silence).
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
pub enum DetectionKind {
    /// A process encrypting or destroying files (or touching a canary).
    Ransomware,
    /// A process deleting many files in protected folders without writing them elsewhere.
    MassDeletion,
    /// A local account newly in an administrators' group (sudo, wheel, admin).
    NewAdministrator,
    /// A new port listening on an address other than loopback.
    NewListeningPort,
    /// Repeated failed logins from one source (SSH brute force).
    FailedLogins,
    /// The firewall or anti-malware protection was turned off.
    ProtectionOff,
    /// Steward's agent stopped reporting: stopped or uninstalled (it said it was stopping,
    /// or its service vanished), as opposed to a machine that lost power.
    AgentStopped,
}

impl DetectionKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<DetectionKind> {
        s.parse().ok()
    }
    /// A title for people.
    pub fn describe(self) -> &'static str {
        match self {
            DetectionKind::Ransomware => "Ransomware behaviour",
            DetectionKind::MassDeletion => "Mass deletion",
            DetectionKind::NewAdministrator => "New administrator account",
            DetectionKind::NewListeningPort => "New listening port",
            DetectionKind::FailedLogins => "Repeated failed logins",
            DetectionKind::ProtectionOff => "Protection turned off",
            DetectionKind::AgentStopped => "Steward agent stopped",
        }
    }
}

/// One detection as the agent reports it. `local_id` is the agent's own id for it, so a
/// report delivered twice records it once; later reports may add response steps to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Detected {
    pub local_id: String,
    pub kind: DetectionKind,
    pub detected_at: Timestamp,
    /// One line for people: `python3 (pid 4242) changed 7 files' content in 2 s`.
    pub summary: String,
    /// The offending process, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessFacts>,
    /// Its ancestors, nearest first (parent, grandparent, …), as far as they were known.
    #[serde(default)]
    pub ancestors: Vec<ProcessFacts>,
    /// The signals that fired, with their values.
    #[serde(default)]
    pub signals: Vec<SignalValue>,
    /// The files touched, in order (at most [`super::MAX_FILES`]).
    #[serde(default)]
    pub files: Vec<FileTouch>,
    /// What the agent did about it, in order; later reports of the same `local_id` carry
    /// the steps added since (a person's kill, a release, a lifted isolation).
    #[serde(default)]
    pub responses: Vec<ResponseStep>,
    /// The job id of the fire drill this detection belongs to, if it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<String>,
}

/// A process as the agent saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessFacts {
    pub pid: u32,
    /// The executable's path (`/usr/bin/python3`); empty when it could not be read.
    pub exe: String,
    /// SHA-256 of the executable, hex; empty when it could not be read.
    #[serde(default)]
    pub exe_sha256: String,
    /// The command line, cut to a line.
    #[serde(default)]
    pub cmdline: String,
    /// The user it runs as (name, or the uid when the name is unknown).
    #[serde(default)]
    pub user: String,
}

/// One signal and its value (`distinct_files_per_10s` = 48, `canary` = 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalValue {
    pub name: String,
    pub value: f64,
    /// What it saw, in a line (`report.docx: no longer a zip document, entropy 7.99`).
    #[serde(default)]
    pub detail: String,
}

/// A file operation, as the sensor saw it.
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
pub enum FileOp {
    Create,
    Write,
    Rename,
    Delete,
}

/// One file the process touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileTouch {
    pub at: Timestamp,
    pub op: FileOp,
    pub path: String,
    /// A rename's new path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Whether the detector judged this operation to have destroyed the file's content.
    #[serde(default)]
    pub damaged: bool,
}

/// What a response did.
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
pub enum ResponseAction {
    /// The process tree was stopped (SIGSTOP): frozen, so a person can inspect it.
    Stop,
    /// The stopped process tree was killed, on a person's confirmation.
    Kill,
    /// The stopped process tree was let go on (SIGCONT), on a person's decision.
    Continue,
    /// The device was cut off from the network except for the Steward server.
    Isolate,
    /// The isolation was lifted.
    Lift,
}

impl ResponseAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<ResponseAction> {
        s.parse().ok()
    }
}

/// One response step and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseStep {
    pub action: ResponseAction,
    pub at: Timestamp,
    pub ok: bool,
    /// What happened (`stopped 3 processes: 4242 4243 4244`, or why it failed).
    #[serde(default)]
    pub message: String,
    /// Automatic (by policy) or by a person (the job that asked for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}
