//! The signals a verdict names, with the value each had.

use serde::{Deserialize, Serialize};

/// A canary file was written, renamed or deleted. Decisive at once.
pub const CANARY: &str = "canary";
/// Files whose content no longer matches their name or what they held (magic bytes or
/// text gone, or sampled regions turned random where they were not before: the entropy
/// rise on overwrite, judged with what the file promises).
pub const CONTENT_MISMATCH: &str = "content_mismatch";
/// Originals renamed or deleted after the process wrote an unreadable copy of them.
pub const REPLACED_ORIGINALS: &str = "replaced_originals";
/// Files renamed to an extension no program reads (`.docx.locked`).
pub const FOREIGN_RENAMES: &str = "foreign_renames";
/// Files named like ransom notes created, in how many folders.
pub const RANSOM_NOTES: &str = "ransom_notes";
/// Distinct files changed in the window.
pub const DISTINCT_FILES: &str = "distinct_files";
/// Files deleted in the window without being written elsewhere.
pub const DELETIONS: &str = "deletions";
/// A shell or interpreter started under an office or mail program.
pub const LINEAGE: &str = "lineage";

/// One signal as it stood when the verdict was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    pub name: &'static str,
    pub value: f64,
    /// What it saw, in a line.
    pub detail: String,
}
