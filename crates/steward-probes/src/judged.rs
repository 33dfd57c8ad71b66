//! A probe's verdict while it is being made: several findings (the status code, the
//! latency, the certificate) each with a status, combined into the worst of them and one
//! line that names what is wrong first.

use steward_core::alerting::CheckStatus;

/// A status and the line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Judged {
    pub status: CheckStatus,
    pub summary: String,
}

impl Judged {
    pub fn new(status: CheckStatus, summary: impl Into<String>) -> Self {
        Self {
            status,
            summary: summary.into(),
        }
    }
    pub fn ok(summary: impl Into<String>) -> Self {
        Self::new(CheckStatus::Ok, summary)
    }
    pub fn critical(summary: impl Into<String>) -> Self {
        Self::new(CheckStatus::Critical, summary)
    }
    pub fn unknown(summary: impl Into<String>) -> Self {
        Self::new(CheckStatus::Unknown, summary)
    }
}

/// Findings gathered one by one: the first is the headline ("HTTP 200 in 12 ms"), the
/// others follow it, and the status is the most urgent of all.
#[derive(Debug)]
pub(crate) struct Findings {
    status: CheckStatus,
    parts: Vec<String>,
}

impl Findings {
    pub fn new(headline: Judged) -> Self {
        Self {
            status: headline.status,
            parts: vec![headline.summary],
        }
    }

    pub fn add(&mut self, finding: Judged) {
        if finding.status.urgency() > self.status.urgency() {
            self.status = finding.status;
        }
        self.parts.push(finding.summary);
    }

    pub fn done(self) -> Judged {
        Judged {
            status: self.status,
            summary: self.parts.join(", "),
        }
    }
}
