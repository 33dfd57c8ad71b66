//! The facts an agent reports: updates pending, and what an install did to each package.

use serde::{Deserialize, Serialize};

/// One package with a newer version available, as the package manager lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingUpdate {
    /// The package's name as its package manager spells it (`openssl`, `libc6:i386`).
    pub package: String,
    /// The architecture of the candidate (`amd64`, `all`, `x86_64`, `noarch`).
    pub arch: String,
    /// The version installed now.
    pub installed: String,
    /// The version the update would install.
    pub candidate: String,
    /// Where the candidate comes from: apt's origin and suite (`Debian-Security:12/
    /// stable-security`), or dnf's repository (`baseos`).
    pub source: String,
    /// Whether the candidate is a security update (from its suite or origin, or the
    /// distribution's advisory data).
    pub security: bool,
    /// Advisory and CVE ids where the distribution publishes them (`RHSA-2024:1234`,
    /// `CVE-2024-3094`); empty on apt, whose simulation names none.
    #[serde(default)]
    pub advisories: Vec<String>,
}

/// What an install did to one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageResult {
    pub package: String,
    /// The version installed before (empty when it was not installed).
    pub from: String,
    /// The version installed after; `None` when the package is no longer installed.
    pub to: Option<String>,
    pub outcome: PackageOutcome,
}

/// How an install ended for one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PackageOutcome {
    /// A new version is installed and configured.
    Installed,
    /// The package did not reach a new, configured version; `why` is the package manager's
    /// reason when it named one.
    Failed { why: String },
    /// Nothing to do: already at the newest version.
    Unchanged,
}

impl PackageResult {
    pub fn failed(&self) -> bool {
        matches!(self.outcome, PackageOutcome::Failed { .. })
    }

    /// One line for people: `openssl 3.0.11 → 3.0.13 installed`, `foo 1.0 failed: why`.
    pub fn summary(&self) -> String {
        match (&self.outcome, &self.to) {
            (PackageOutcome::Installed, Some(to)) => {
                format!("{} {} → {to} installed", self.package, self.from)
            }
            (PackageOutcome::Installed, None) => format!("{} removed", self.package),
            (PackageOutcome::Unchanged, _) => {
                format!("{} {} unchanged", self.package, self.from)
            }
            (PackageOutcome::Failed { why }, _) => {
                format!("{} {} failed: {why}", self.package, self.from)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_travel_as_tagged_json_and_read_as_one_line() {
        let result = PackageResult {
            package: "steward-demo".into(),
            from: "1.0".into(),
            to: Some("1.0".into()),
            outcome: PackageOutcome::Failed {
                why: "preinst returned 1".into(),
            },
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["outcome"]["outcome"], "failed");
        assert_eq!(json["outcome"]["why"], "preinst returned 1");
        assert_eq!(
            serde_json::from_value::<PackageResult>(json).unwrap(),
            result
        );
        assert!(result.failed());
        assert_eq!(
            result.summary(),
            "steward-demo 1.0 failed: preinst returned 1"
        );
    }

    #[test]
    fn advisories_are_optional_on_the_wire() {
        let update: PendingUpdate = serde_json::from_str(
            r#"{"package":"a","arch":"all","installed":"1","candidate":"2","source":"s","security":false}"#,
        )
        .unwrap();
        assert!(update.advisories.is_empty());
    }
}
