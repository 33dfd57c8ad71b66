//! The frameworks Steward reports against, as plain static data with their versions
//! pinned: CIS Controls v8.1 Implementation Group 1 ([`cis_ig1`]) and UK Cyber Essentials
//! v3.3 ([`cyber_essentials`]).
//!
//! How a Safeguard is evidenced is derived, never declared: from the checks that cite it
//! (a pack's, and the server's own) and the manual items that do ([`coverage`]). A new
//! check or manual item changes the answer without anyone editing this catalogue.

mod cis;
mod cyber_essentials;

pub use cis::{
    CIS_VERSION, Control, Safeguard, cis_controls, cis_ig1, is_cis_safeguard, safeguard,
};
pub use cyber_essentials::{
    CYBER_ESSENTIALS_QUESTION_SET, CYBER_ESSENTIALS_VERSION, Requirement, Theme, cyber_essentials,
    requirement,
};

use crate::{ManualItem, Pack};

/// A check the server judges from its own facts rather than from an agent's reading: a
/// recent successful backup, a proven restore, the inventory a device reports. The server
/// passes its list to [`coverage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerCheck<'a> {
    pub id: &'a str,
    /// CIS Controls v8.1 Safeguard ids it evidences.
    pub cis: &'a [&'a str],
}

/// How a Safeguard or requirement is evidenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Checks evidence it and no person is asked.
    Automatic,
    /// Checks give evidence, and a person confirms what they cannot see.
    Partial,
    /// Only a person's answer evidences it.
    Attested,
}

impl Coverage {
    fn from_sources(checked: bool, attested: bool) -> Option<Coverage> {
        match (checked, attested) {
            (true, false) => Some(Coverage::Automatic),
            (true, true) => Some(Coverage::Partial),
            (false, true) => Some(Coverage::Attested),
            (false, false) => None,
        }
    }
}

/// How the CIS Safeguard `safeguard` (`"4.1"`) is evidenced, given the pack's checks,
/// the server's own checks and the manual items; `None` when nothing evidences it.
pub fn coverage(
    safeguard: &str,
    pack: &Pack,
    server_checks: &[ServerCheck<'_>],
    manual: &[ManualItem],
) -> Option<Coverage> {
    let checked = pack
        .checks
        .iter()
        .any(|c| c.cis.iter().any(|id| id == safeguard))
        || server_checks.iter().any(|c| c.cis.contains(&safeguard));
    let attested = manual.iter().any(|m| m.cis.contains(&safeguard));
    Coverage::from_sources(checked, attested)
}

/// How the Cyber Essentials requirement `requirement` (`"cloud-mfa"`) is evidenced, by
/// the pack's checks and the manual items that name it; `None` when nothing does.
pub fn requirement_coverage(
    requirement: &str,
    pack: &Pack,
    manual: &[ManualItem],
) -> Option<Coverage> {
    let checked = pack
        .checks
        .iter()
        .any(|c| c.cyber_essentials.as_deref() == Some(requirement));
    let attested = manual
        .iter()
        .any(|m| m.cyber_essentials == Some(requirement));
    Coverage::from_sources(checked, attested)
}
