//! What the sensor tells the detector.

use serde::{Deserialize, Serialize};

use crate::Sample;

/// One record of the stream: a process seen for the first time, or a file operation.
/// The sensor sends a process's [`ProcessInfo`] before its first file event; a trace is a
/// file of these, one JSON object a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Process(ProcessInfo),
    File(FileEvent),
}

/// A process as the sensor read it from `/proc` when it first saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    /// 0 when unknown (the process was gone before it could be read).
    pub ppid: u32,
    /// The short name (`python3`, `gzip`).
    pub name: String,
    /// The executable's path; empty when unreadable.
    #[serde(default)]
    pub exe: String,
    #[serde(default)]
    pub uid: u32,
    /// The names of its ancestors, nearest first (`bash`, `soffice.bin`, `systemd`).
    #[serde(default)]
    pub ancestors: Vec<String>,
}

/// One file operation by one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEvent {
    /// Milliseconds on the sensor's clock (monotonic; only differences matter).
    pub at_ms: u64,
    pub pid: u32,
    pub op: Op,
    /// The file's absolute path (for a rename, where it was).
    pub path: String,
    /// A rename's new path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// For a write (read when the writer closed it) and for a rename (the file at its new
    /// path): a sample of the content as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}

/// A file operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A new file appeared (created, or moved in from outside the protected folders).
    Create,
    /// A file opened for writing was closed: its content may have changed.
    Write,
    Rename,
    Delete,
}
