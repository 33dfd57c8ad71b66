//! How much one report's detections may say: checked when the server parses a report,
//! before anything is stored (see `crate::limits`). The agent cuts its own records to these
//! bounds, so an honest agent is never refused.

use super::Detected;
use crate::limits::{LimitError, check_text};

/// Most detections in one report (an attack is one detection, however many files).
pub const MAX_DETECTIONS_PER_REPORT: usize = 64;
/// Most files named in one detection: the first ones, in order.
pub const MAX_FILES: usize = 200;
/// Most signals in one detection.
pub const MAX_SIGNALS: usize = 32;
/// Most ancestors named.
pub const MAX_ANCESTORS: usize = 16;
/// Most response steps.
pub const MAX_RESPONSES: usize = 32;

/// Checks a report's detections: counts, and every text field bounded and one line.
pub fn check_detections(detections: &[Detected]) -> Result<(), LimitError> {
    too_many("detections", detections.len(), MAX_DETECTIONS_PER_REPORT)?;
    for d in detections {
        check_text("detections.local_id", &d.local_id)?;
        check_text("detections.summary", &d.summary)?;
        too_many("detections.files", d.files.len(), MAX_FILES)?;
        too_many("detections.signals", d.signals.len(), MAX_SIGNALS)?;
        too_many("detections.ancestors", d.ancestors.len(), MAX_ANCESTORS)?;
        too_many("detections.responses", d.responses.len(), MAX_RESPONSES)?;
        for p in d.process.iter().chain(&d.ancestors) {
            check_text("detections.process.exe", &p.exe)?;
            check_text("detections.process.exe_sha256", &p.exe_sha256)?;
            check_text("detections.process.cmdline", &p.cmdline)?;
            check_text("detections.process.user", &p.user)?;
        }
        for s in &d.signals {
            check_text("detections.signals.name", &s.name)?;
            check_text("detections.signals.detail", &s.detail)?;
            if !s.value.is_finite() {
                return Err(LimitError::NotFinite {
                    what: "detections.signals.value",
                });
            }
        }
        for f in &d.files {
            check_text("detections.files.path", &f.path)?;
            if let Some(to) = &f.to {
                check_text("detections.files.to", to)?;
            }
        }
        for r in &d.responses {
            check_text("detections.responses.message", &r.message)?;
            if let Some(job) = &r.job {
                check_text("detections.responses.job", job)?;
            }
        }
        if let Some(drill) = &d.drill {
            check_text("detections.drill", drill)?;
        }
    }
    Ok(())
}

fn too_many(what: &'static str, count: usize, max: usize) -> Result<(), LimitError> {
    if count > max {
        return Err(LimitError::TooMany { what, count, max });
    }
    Ok(())
}
