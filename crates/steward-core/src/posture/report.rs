//! The posture section of an agent's report: every check's state, with the evidence seen
//! and the reason. Bounded when parsed, like every part of a report.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::limits::{LimitError, check_text};

/// Results in one report: the built-in pack has about sixty checks, a user's pack adds some.
pub const MAX_POSTURE_RESULTS: usize = 400;
/// A check id: `ssh-no-root-password-login`.
pub const MAX_CHECK_ID_CHARS: usize = 64;

/// A check's state. Unknown is never shown as a pass nor as a failure.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PostureState {
    Pass,
    Fail,
    NotApplicable,
    Unknown,
}

impl PostureState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<PostureState> {
        s.parse().ok()
    }
}

/// One check's result on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostureResult {
    pub check: String,
    pub state: PostureState,
    /// What was read (`permitrootlogin yes`), a few hundred characters at most.
    #[serde(default)]
    pub evidence: String,
    /// Why the check is in this state, in a sentence.
    #[serde(default)]
    pub reason: String,
}

/// A whole evaluation of the device's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostureReport {
    /// When the agent evaluated the checks.
    pub evaluated_at: Timestamp,
    pub results: Vec<PostureResult>,
}

impl PostureReport {
    /// Refuses a report beyond the bounds, naming the field.
    pub fn check_limits(&self) -> Result<(), LimitError> {
        if self.results.len() > MAX_POSTURE_RESULTS {
            return Err(LimitError::TooMany {
                what: "posture.results",
                count: self.results.len(),
                max: MAX_POSTURE_RESULTS,
            });
        }
        for r in &self.results {
            if !is_check_id(&r.check) {
                return Err(LimitError::BadName {
                    field: "posture.results.check",
                });
            }
            check_text("posture.results.evidence", &r.evidence)?;
            check_text("posture.results.reason", &r.reason)?;
        }
        Ok(())
    }
}

/// A check id: 1 to 64 of a-z, 0-9 and `-`, starting with a letter.
pub fn is_check_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CHECK_ID_CHARS
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(check: &str) -> PostureResult {
        PostureResult {
            check: check.into(),
            state: PostureState::Pass,
            evidence: "permitrootlogin no".into(),
            reason: "no is allowed".into(),
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in <PostureState as strum::VariantArray>::VARIANTS {
            assert_eq!(PostureState::parse(state.as_str()), Some(*state));
        }
        assert_eq!(PostureState::NotApplicable.as_str(), "not_applicable");
        assert_eq!(PostureState::parse("passed"), None);
    }

    #[test]
    fn reports_beyond_the_bounds_are_refused_naming_the_field() {
        let ok = PostureReport {
            evaluated_at: Timestamp(1),
            results: vec![result("ssh-max-auth-tries")],
        };
        assert!(ok.check_limits().is_ok());
        let many = PostureReport {
            evaluated_at: Timestamp(1),
            results: vec![result("a"); MAX_POSTURE_RESULTS + 1],
        };
        assert!(
            many.check_limits()
                .unwrap_err()
                .to_string()
                .contains("posture.results")
        );
        for bad in ["", "Ssh", "ssh_max", "9lives", &"a".repeat(65)] {
            let report = PostureReport {
                evaluated_at: Timestamp(1),
                results: vec![result(bad)],
            };
            assert!(report.check_limits().is_err(), "{bad:?}");
        }
        let mut forged = result("a");
        forged.evidence = "line\nforged".into();
        let report = PostureReport {
            evaluated_at: Timestamp(1),
            results: vec![forged],
        };
        assert!(
            report
                .check_limits()
                .unwrap_err()
                .to_string()
                .contains("evidence")
        );
    }
}
