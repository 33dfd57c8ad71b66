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

use crate::{Check, ManualItem, Pack};

/// A check the server judges from its own facts rather than from an agent's reading: a
/// recent successful backup, a proven restore, the inventory a device reports. The server
/// passes its list to [`coverage`], for example:
///
/// ```
/// use steward_posture::ServerCheck;
///
/// const SERVER_CHECKS: &[ServerCheck<'static>] = &[
///     ServerCheck { id: "backup-recent", cis: &["11.2", "11.3"] },
///     ServerCheck { id: "restore-proven", cis: &["11.1", "11.4"] },
///     ServerCheck { id: "inventory-reporting", cis: &["1.1", "2.1", "5.1"] },
/// ];
/// ```
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
    /// A stable name for JSON and CSV: `automatic`, `partial` or `attested`.
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Automatic => "automatic",
            Coverage::Partial => "partial",
            Coverage::Attested => "attested",
        }
    }

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

/// Whether a check's citations are real: each CIS Safeguard one of v8.1's 153 (a
/// Safeguard beyond IG1, such as 4.8, is allowed and reported outside IG1), and the Cyber
/// Essentials requirement, when named, one of [`cyber_essentials`]. A check may cite
/// nothing (a user's own check need not map to a framework). The reason names the wrong
/// citation, for refusing a pack that has one.
pub fn check_citations(check: &Check) -> Result<(), String> {
    if let Some(id) = check.cis.iter().find(|id| !is_cis_safeguard(id)) {
        return Err(format!(
            "{} cites {id:?}, not a CIS Controls v8.1 Safeguard",
            check.id
        ));
    }
    match &check.cyber_essentials {
        Some(ce) if requirement(ce).is_none() => Err(format!(
            "{} names {ce:?}, not a Cyber Essentials requirement",
            check.id
        )),
        _ => Ok(()),
    }
}
