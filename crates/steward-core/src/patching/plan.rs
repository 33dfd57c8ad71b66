//! The patch policy and [`plan`]: given a device's pending updates, what installs now and
//! why each other waits.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::PendingUpdate;
use crate::Timestamp;

const DAY_MS: i64 = 86_400_000;

/// How a group's or tag's devices are patched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatchPolicy {
    pub security: SecurityRule,
    pub others: OthersRule,
    /// Packages never installed by policy: exact names, or a prefix ending in `*`
    /// (`linux-image-*`).
    #[serde(default)]
    pub holds: Vec<String>,
    pub reboot: RebootRule,
}

/// Security updates: installed as soon as the window opens, or once approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecurityRule {
    Auto,
    Approve,
}

/// Every other update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum OthersRule {
    /// Installed `defer_days` days after the agent first saw it pending (or earlier, once
    /// approved): others get to find the bad releases first.
    Auto { defer_days: u32 },
    /// Installed once approved.
    Approve,
    /// Never installed by policy, approved or not: the device takes security updates only.
    Never,
}

/// Whether an install may reboot the device when the packages ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RebootRule {
    Never,
    InWindow,
    Ask,
}

/// Why a pending update does not install now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The package is on the policy's hold list.
    Held,
    /// The policy asks for an approval of this package and version.
    NeedsApproval,
    /// Deferred: installs from `until` on.
    DeferredUntil { until: Timestamp },
    /// The policy never installs non-security updates.
    Never,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Held => f.write_str("held"),
            Reason::NeedsApproval => f.write_str("needs approval"),
            Reason::DeferredUntil { until } => {
                write!(f, "deferred until {}", crate::time::date(*until))
            }
            Reason::Never => f.write_str("never: the policy installs security updates only"),
        }
    }
}

/// What installs now, and what waits and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    /// Package names to install, in the order listed, each once.
    pub install: Vec<String>,
    pub waiting: Vec<(String, Reason)>,
}

impl PatchPolicy {
    /// What the policy does, in words: `security updates at once; others after 7 days;
    /// never reboots; holds linux-image-*`.
    pub fn describe(&self) -> String {
        let security = match self.security {
            SecurityRule::Auto => "security updates at once",
            SecurityRule::Approve => "security updates once approved",
        };
        let others = match self.others {
            OthersRule::Auto { defer_days: 0 } => "others at once".to_owned(),
            OthersRule::Auto { defer_days } => format!("others after {defer_days} days"),
            OthersRule::Approve => "others once approved".to_owned(),
            OthersRule::Never => "no others".to_owned(),
        };
        let reboot = match self.reboot {
            RebootRule::Never => "never reboots",
            RebootRule::InWindow => "reboots in the window when asked",
            RebootRule::Ask => "a person reboots",
        };
        let mut text = format!("{security}; {others}; {reboot}");
        if !self.holds.is_empty() {
            text.push_str(&format!("; holds {}", self.holds.join(", ")));
        }
        text
    }

    /// Whether `package` is on the hold list.
    pub fn holds(&self, package: &str) -> bool {
        self.holds.iter().any(|hold| match hold.strip_suffix('*') {
            Some(prefix) => package.starts_with(prefix),
            None => package == hold,
        })
    }
}

/// Decides, for each pending update with the time the agent first saw it, whether it
/// installs now. `approved(package, candidate)` says whether someone approved that version
/// of the package: an approval is of one version, so a newer candidate needs a new one.
pub fn plan(
    policy: &PatchPolicy,
    pending: &[(PendingUpdate, Timestamp)],
    approved: &dyn Fn(&str, &str) -> bool,
    now: Timestamp,
) -> Plan {
    let mut result = Plan::default();
    for (update, first_seen) in pending {
        let name = &update.package;
        if result.install.contains(name) || result.waiting.iter().any(|(n, _)| n == name) {
            continue;
        }
        match decide(policy, update, *first_seen, approved, now) {
            None => result.install.push(name.clone()),
            Some(reason) => result.waiting.push((name.clone(), reason)),
        }
    }
    result
}

/// `None` when the update installs now, or why it waits.
fn decide(
    policy: &PatchPolicy,
    update: &PendingUpdate,
    first_seen: Timestamp,
    approved: &dyn Fn(&str, &str) -> bool,
    now: Timestamp,
) -> Option<Reason> {
    if policy.holds(&update.package) {
        return Some(Reason::Held);
    }
    let is_approved = || approved(&update.package, &update.candidate);
    if update.security {
        return match policy.security {
            SecurityRule::Auto => None,
            SecurityRule::Approve if is_approved() => None,
            SecurityRule::Approve => Some(Reason::NeedsApproval),
        };
    }
    match policy.others {
        OthersRule::Never => Some(Reason::Never),
        OthersRule::Approve if is_approved() => None,
        OthersRule::Approve => Some(Reason::NeedsApproval),
        OthersRule::Auto { defer_days } => {
            let until = first_seen.plus_millis(i64::from(defer_days).saturating_mul(DAY_MS));
            if now >= until || is_approved() {
                None
            } else {
                Some(Reason::DeferredUntil { until })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_780_000_000_000);

    fn update(package: &str, security: bool) -> PendingUpdate {
        PendingUpdate {
            package: package.into(),
            arch: "amd64".into(),
            installed: "1.0".into(),
            candidate: "1.1".into(),
            source: "Debian:12/stable".into(),
            security,
            advisories: Vec::new(),
        }
    }

    fn policy(security: SecurityRule, others: OthersRule) -> PatchPolicy {
        PatchPolicy {
            security,
            others,
            holds: Vec::new(),
            reboot: RebootRule::InWindow,
        }
    }

    fn nothing_approved(_: &str, _: &str) -> bool {
        false
    }

    fn days(n: i64) -> i64 {
        n * DAY_MS
    }

    #[test]
    fn security_updates_install_at_once_when_automatic() {
        let p = policy(SecurityRule::Auto, OthersRule::Never);
        let got = plan(&p, &[(update("openssl", true), T0)], &nothing_approved, T0);
        assert_eq!(got.install, ["openssl"]);
        assert!(got.waiting.is_empty());
    }

    #[test]
    fn security_updates_wait_for_an_approval_of_that_version() {
        let p = policy(SecurityRule::Approve, OthersRule::Never);
        let pending = [(update("openssl", true), T0)];
        let got = plan(&p, &pending, &nothing_approved, T0);
        assert_eq!(got.waiting, [("openssl".into(), Reason::NeedsApproval)]);
        let approved_11 = |pkg: &str, v: &str| pkg == "openssl" && v == "1.1";
        assert_eq!(plan(&p, &pending, &approved_11, T0).install, ["openssl"]);
        // An approval of another version does not carry over to this candidate.
        let approved_10 = |pkg: &str, v: &str| pkg == "openssl" && v == "1.0";
        assert!(plan(&p, &pending, &approved_10, T0).install.is_empty());
    }

    #[test]
    fn other_updates_are_deferred_from_when_they_were_first_seen() {
        let p = policy(SecurityRule::Auto, OthersRule::Auto { defer_days: 7 });
        let pending = [(update("vim", false), T0)];
        let early = plan(&p, &pending, &nothing_approved, T0.plus_millis(days(6)));
        let until = T0.plus_millis(days(7));
        assert_eq!(
            early.waiting,
            [("vim".into(), Reason::DeferredUntil { until })]
        );
        assert_eq!(
            early.waiting[0].1.to_string(),
            format!("deferred until {}", crate::time::date(until))
        );
        let due = plan(&p, &pending, &nothing_approved, until);
        assert_eq!(due.install, ["vim"]);
        // An approval skips the rest of the deferral.
        let approved = |_: &str, _: &str| true;
        assert_eq!(plan(&p, &pending, &approved, T0).install, ["vim"]);
    }

    #[test]
    fn no_deferral_means_at_once() {
        let p = policy(SecurityRule::Auto, OthersRule::Auto { defer_days: 0 });
        let got = plan(&p, &[(update("vim", false), T0)], &nothing_approved, T0);
        assert_eq!(got.install, ["vim"]);
    }

    #[test]
    fn other_updates_on_approval() {
        let p = policy(SecurityRule::Auto, OthersRule::Approve);
        let pending = [(update("vim", false), T0)];
        let got = plan(&p, &pending, &nothing_approved, T0.plus_millis(days(365)));
        assert_eq!(got.waiting, [("vim".into(), Reason::NeedsApproval)]);
        let approved = |pkg: &str, v: &str| pkg == "vim" && v == "1.1";
        assert_eq!(plan(&p, &pending, &approved, T0).install, ["vim"]);
    }

    #[test]
    fn never_means_never_even_when_approved() {
        let p = policy(SecurityRule::Auto, OthersRule::Never);
        let approved = |_: &str, _: &str| true;
        let got = plan(&p, &[(update("vim", false), T0)], &approved, T0);
        assert_eq!(got.waiting, [("vim".into(), Reason::Never)]);
    }

    #[test]
    fn holds_win_over_every_rule_and_take_a_prefix() {
        let mut p = policy(SecurityRule::Auto, OthersRule::Auto { defer_days: 0 });
        p.holds = vec!["linux-image-*".into(), "postgresql-15".into()];
        let pending = [
            (update("linux-image-amd64", true), T0),
            (update("postgresql-15", false), T0),
            (update("postgresql-15-extra", false), T0),
        ];
        let approved = |_: &str, _: &str| true;
        let got = plan(&p, &pending, &approved, T0);
        assert_eq!(got.install, ["postgresql-15-extra"]);
        assert_eq!(
            got.waiting,
            [
                ("linux-image-amd64".into(), Reason::Held),
                ("postgresql-15".into(), Reason::Held)
            ]
        );
    }

    #[test]
    fn a_package_listed_twice_is_planned_once() {
        let p = policy(SecurityRule::Auto, OthersRule::Never);
        let pending = [(update("openssl", true), T0), (update("openssl", true), T0)];
        assert_eq!(
            plan(&p, &pending, &nothing_approved, T0).install,
            ["openssl"]
        );
    }

    #[test]
    fn the_policy_travels_as_json() {
        let p = PatchPolicy {
            security: SecurityRule::Approve,
            others: OthersRule::Auto { defer_days: 14 },
            holds: vec!["nginx".into()],
            reboot: RebootRule::Ask,
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"security":"approve","others":{"mode":"auto","defer_days":14},
                "holds":["nginx"],"reboot":"ask"})
        );
        assert_eq!(serde_json::from_value::<PatchPolicy>(json).unwrap(), p);
    }
}
