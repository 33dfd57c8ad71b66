//! Who may do what. Every route, console page and CLI action names one [`Action`]; the only
//! decision is [`permits`], an exhaustive table: a new action does not compile until each
//! role has an answer, and nothing is allowed that the table does not allow.

use serde::{Deserialize, Serialize};
use strum::VariantArray;

/// What a console user or API token may do. The string form (snake_case, as serde writes it)
/// is stored with users and tokens.
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
pub enum Role {
    /// Everything, including users, tokens and security settings.
    Admin,
    /// Operates devices (jobs, revocation); no user or token management.
    Technician,
    /// Reads everything it is shown; changes nothing.
    Viewer,
}

impl Role {
    /// Every role, greatest first (declaration order).
    pub const ALL: [Role; Role::VARIANTS.len()] = crate::variants::array(Role::VARIANTS);

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Role> {
        s.parse().ok()
    }

    /// How much the role may do: each role may do everything the ones below it may
    /// (`roles_are_ordered` checks this against the table).
    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Technician => 1,
            Role::Admin => 2,
        }
    }

    /// The lesser of two roles.
    pub fn at_most(self, cap: Role) -> Role {
        if self.rank() <= cap.rank() { self } else { cap }
    }
}

/// What an API token may do now: its own role, but never more than its owner's *current*
/// role, so demoting a person demotes every token they made at once (decided at each request,
/// so no code path that changes a role can forget it). A token without an owner (made on the
/// command line before tokens recorded one) keeps its own role.
pub fn token_role(token: Role, owner: Option<Role>) -> Role {
    owner.map_or(token, |owner| token.at_most(owner))
}

/// Something a principal asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum Action {
    /// Read devices, their inventory, changes and jobs.
    ViewDevices,
    /// Queue jobs for devices.
    OperateDevices,
    /// Cut a device off.
    RevokeDevices,
    /// Create, disable and delete users; change roles.
    ManageUsers,
    /// Create and revoke API and enrollment tokens.
    ManageTokens,
    /// Read the audit log.
    ViewAudit,
    /// Place devices in groups (sites) and tag them.
    OrganizeDevices,
    /// Change installation-wide security settings (who must use two-factor sign-in).
    ManageSecurity,
    /// One's own account: password, two-factor sign-in, sessions. Every role has it.
    ManageOwnAccount,
    /// Define checks and maintenance windows for the devices in one's scope, and acknowledge
    /// their alerts.
    ManageMonitoring,
    /// Define notification channels and their routes (installation-wide; channels hold
    /// credentials such as a mail password).
    ManageChannels,
    /// Define backup policies for the devices in one's scope, run backups, restore files
    /// and run restore drills.
    ManageBackups,
    /// See a repository's password (to open it with the standard restic client): it reads
    /// every file ever backed up from that device.
    RevealBackupPasswords,
    /// Answer the posture checklist's manual items and accept risks (exceptions) for the
    /// devices in one's scope.
    ManagePosture,
    /// Approve updates, install them now, and define patch policies for the devices in
    /// one's scope.
    ManagePatching,
    /// Run library scripts on the devices in one's scope (each device decides for itself
    /// whether it runs scripts at all).
    RunScripts,
    /// Write and change the script library: what every technician may then run on every
    /// device that allows scripts. Administrators only, with a step-up.
    ManageScripts,
    /// Decide on the detections of the devices in one's scope (confirm, release, false
    /// alarm, isolate the device, lift the isolation) and run ransomware fire drills.
    RespondToDetections,
    /// Define detection policies: which folders every device protects and which responses
    /// are automatic (an automatic isolation cuts a device off). Administrators only.
    ManageDetectionPolicies,
}

impl Action {
    /// Every action, for tests that walk the table; derived, so none can be left out.
    pub const ALL: [Action; Action::VARIANTS.len()] = crate::variants::array(Action::VARIANTS);
}

/// The access table.
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Technician => match action {
            ViewDevices | OperateDevices | RevokeDevices | OrganizeDevices | ManageOwnAccount
            | ManageMonitoring | ManageBackups | ManagePosture | ManagePatching | RunScripts
            | RespondToDetections => true,
            ManageUsers
            | ManageTokens
            | ViewAudit
            | ManageSecurity
            | ManageChannels
            | RevealBackupPasswords
            | ManageScripts
            | ManageDetectionPolicies => false,
        },
        Role::Viewer => match action {
            ViewDevices | ManageOwnAccount => true,
            OperateDevices
            | RevokeDevices
            | OrganizeDevices
            | ManageUsers
            | ManageTokens
            | ViewAudit
            | ManageSecurity
            | ManageMonitoring
            | ManageChannels
            | ManageBackups
            | RevealBackupPasswords
            | ManagePosture
            | ManagePatching
            | RunScripts
            | ManageScripts
            | RespondToDetections
            | ManageDetectionPolicies => false,
        },
    }
}

/// Which devices a principal may see and act on: all of them, or only those in some groups
/// (an MSP technician serving some clients). A device in no group is seen only by
/// principals with [`Scope::AllDevices`]. "Every device" is a grant of its own, never what
/// an empty group list means: a limited user whose last group is removed sees nothing.
/// There is deliberately no default: whoever reads devices chooses a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every device: administrators, users granted it, and the system itself (the CLI run
    /// by the operator, an agent's own ingest).
    AllDevices,
    /// Group ids; none: no device at all.
    Groups(Vec<String>),
}

impl Scope {
    /// A user's scope: administrators see every device (they could lift any limit
    /// themselves); others every device only if granted it, else their groups' devices.
    pub fn of_user(role: Role, all_devices: bool, groups: Vec<String>) -> Scope {
        if role == Role::Admin || all_devices {
            Scope::AllDevices
        } else {
            Scope::Groups(groups)
        }
    }

    /// Whether a device in `group` (or in none) is within the scope.
    pub fn allows(&self, group: Option<&str>) -> bool {
        match self {
            Scope::AllDevices => true,
            Scope::Groups(groups) => group.is_some_and(|g| groups.iter().any(|x| x == g)),
        }
    }
}

/// Which roles must sign in with a second factor. Stored as a setting; off by default so a
/// first start is not locked behind an authenticator app, and shown as a posture finding
/// when off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwoFactorPolicy {
    pub required_for: Vec<Role>,
}

impl TwoFactorPolicy {
    pub const SETTING: &'static str = "require_two_factor";

    pub fn requires(&self, role: Role) -> bool {
        self.required_for.contains(&role)
    }

    /// `admin,technician` (the stored form); unknown names are an error.
    pub fn parse(text: &str) -> Result<TwoFactorPolicy, String> {
        let mut required_for = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let role = Role::parse(part)
                .ok_or_else(|| format!("unknown role {part:?} (admin, technician, viewer)"))?;
            if !required_for.contains(&role) {
                required_for.push(role);
            }
        }
        required_for.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
        Ok(TwoFactorPolicy { required_for })
    }

    pub fn to_setting(&self) -> String {
        self.required_for
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// How long a sign-in or step-up counts as recent for sensitive actions (creating or
/// changing an administrator, resetting someone's password or second factor, enabling a
/// user, revealing an enrollment token, changing the two-factor policy).
pub const STEP_UP_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// Whether a session whose user last proved who they are at `reauth_at` may perform a
/// sensitive action at `now`.
pub fn step_up_fresh(reauth_at: crate::Timestamp, now: crate::Timestamp) -> bool {
    reauth_at.0 > 0 && now.since(reauth_at) <= STEP_UP_WINDOW_MILLIS && now >= reauth_at
}

/// A change one user asks to make to another user's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    Disable,
    Delete,
    /// A new role.
    SetRole(Role),
    /// A new password, or the second factor turned off: whoever does this can sign in as
    /// the user next.
    ResetCredentials,
    /// A disabled account made usable again.
    Enable,
}

/// Whether a user change needs a recent step-up (password, and code if enrolled) from a
/// console session: anything that lets the actor sign in as someone else (resets, enabling
/// an account), and anything that makes, changes or removes an administrator.
pub fn needs_step_up(change: UserChange, target_role: Role) -> bool {
    match change {
        UserChange::ResetCredentials | UserChange::Enable => true,
        UserChange::SetRole(role) => role == Role::Admin || target_role == Role::Admin,
        UserChange::Disable | UserChange::Delete => target_role == Role::Admin,
    }
}

/// Why a user change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserChangeRefused {
    #[error("you cannot disable, delete or demote your own account; ask another administrator")]
    OwnAccount,
    #[error("this is the last enabled administrator; make another administrator first")]
    LastAdmin,
    #[error(
        "change your own password or two-factor sign-in under your account, where your current password is checked"
    )]
    OwnCredentials,
}

/// The rule that keeps an installation administrable: nobody removes their own access, and
/// the last enabled administrator stays one. `target_role` is the target's current role,
/// `enabled_admins` counts enabled administrators including the target.
pub fn check_user_change(
    actor_is_target: bool,
    target_role: Role,
    target_enabled: bool,
    enabled_admins: u64,
    change: UserChange,
) -> Result<(), UserChangeRefused> {
    let removes_admin = match change {
        UserChange::Disable | UserChange::Delete => true,
        UserChange::SetRole(r) => r != Role::Admin,
        UserChange::ResetCredentials if actor_is_target => {
            return Err(UserChangeRefused::OwnCredentials);
        }
        UserChange::ResetCredentials | UserChange::Enable => false,
    };
    if actor_is_target && removes_admin {
        return Err(UserChangeRefused::OwnAccount);
    }
    if removes_admin && target_role == Role::Admin && target_enabled && enabled_admins <= 1 {
        return Err(UserChangeRefused::LastAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_what_they_say() {
        assert!(permits(Role::Admin, Action::ManageUsers));
        assert!(permits(Role::Technician, Action::OperateDevices));
        assert!(!permits(Role::Technician, Action::ManageUsers));
        assert!(permits(Role::Viewer, Action::ViewDevices));
        assert!(!permits(Role::Viewer, Action::OperateDevices));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        for a in Action::ALL {
            assert!(permits(Role::Admin, a), "{a:?}");
            assert!(permits(Role::Viewer, Action::ManageOwnAccount));
        }
        assert!(!permits(Role::Technician, Action::ManageSecurity));
        assert!(permits(Role::Technician, Action::OrganizeDevices));
        assert!(!permits(Role::Viewer, Action::OrganizeDevices));
        assert!(permits(Role::Technician, Action::ManageMonitoring));
        assert!(!permits(Role::Technician, Action::ManageChannels));
        assert!(!permits(Role::Viewer, Action::ManageMonitoring));
    }

    #[test]
    fn roles_round_trip_through_their_stored_strings() {
        let stored = [
            (Role::Admin, "admin"),
            (Role::Technician, "technician"),
            (Role::Viewer, "viewer"),
        ];
        assert_eq!(Role::ALL.len(), stored.len());
        for (role, text) in stored {
            assert_eq!(role.as_str(), text);
            assert_eq!(Role::parse(text), Some(role));
            assert_eq!(
                serde_json::to_string(&role).ok(),
                Some(format!("\"{text}\""))
            );
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn every_action_is_listed() {
        // Each variant once; an exhaustive match here stops a new action compiling until it is
        // counted, and `ALL` comes from the same declaration.
        let listed = |a: Action| match a {
            Action::ViewDevices
            | Action::OperateDevices
            | Action::RevokeDevices
            | Action::ManageUsers
            | Action::ManageTokens
            | Action::ViewAudit
            | Action::OrganizeDevices
            | Action::ManageSecurity
            | Action::ManageOwnAccount
            | Action::ManageMonitoring
            | Action::ManageChannels
            | Action::ManageBackups
            | Action::RevealBackupPasswords
            | Action::ManagePosture
            | Action::ManagePatching
            | Action::RunScripts
            | Action::ManageScripts
            | Action::RespondToDetections
            | Action::ManageDetectionPolicies => Action::ALL.iter().filter(|x| **x == a).count(),
        };
        for a in Action::ALL {
            assert_eq!(listed(a), 1, "{a:?}");
        }
        assert_eq!(Action::ALL.len(), 19);
    }

    #[test]
    fn roles_are_ordered() {
        // A lesser role never may what a greater one may not: capping a token's role at its
        // owner's can only take permissions away.
        for lower in Role::ALL {
            for higher in Role::ALL.into_iter().filter(|h| lower.at_most(*h) == lower) {
                for a in Action::ALL {
                    assert!(!permits(lower, a) || permits(higher, a), "{lower:?} {a:?}");
                }
            }
        }
        assert_eq!(Role::Admin.at_most(Role::Viewer), Role::Viewer);
        assert_eq!(Role::Viewer.at_most(Role::Admin), Role::Viewer);
        assert_eq!(
            token_role(Role::Admin, Some(Role::Technician)),
            Role::Technician
        );
        assert_eq!(token_role(Role::Viewer, Some(Role::Admin)), Role::Viewer);
        assert_eq!(token_role(Role::Admin, None), Role::Admin);
    }

    #[test]
    fn every_device_is_an_explicit_grant() {
        assert_eq!(
            Scope::of_user(Role::Viewer, false, vec![]),
            Scope::Groups(vec![]),
            "a limited user without groups sees nothing"
        );
        assert!(!Scope::of_user(Role::Viewer, false, vec![]).allows(None));
        assert!(!Scope::of_user(Role::Viewer, false, vec![]).allows(Some("g1")));
        assert_eq!(
            Scope::of_user(Role::Viewer, true, vec![]),
            Scope::AllDevices
        );
        assert_eq!(
            Scope::of_user(Role::Admin, false, vec![]),
            Scope::AllDevices
        );
    }

    #[test]
    fn scope_limits_to_groups() {
        assert!(Scope::AllDevices.allows(None));
        let s = Scope::Groups(vec!["g1".into()]);
        assert!(s.allows(Some("g1")));
        assert!(!s.allows(Some("g2")));
        assert!(
            !s.allows(None),
            "ungrouped devices are for unscoped users only"
        );
    }

    #[test]
    fn two_factor_policy_round_trips() {
        let p = TwoFactorPolicy::parse("technician, admin,admin").unwrap();
        assert_eq!(p.required_for, vec![Role::Admin, Role::Technician]);
        assert_eq!(p.to_setting(), "admin,technician");
        assert!(p.requires(Role::Admin) && !p.requires(Role::Viewer));
        assert_eq!(
            TwoFactorPolicy::parse("").unwrap(),
            TwoFactorPolicy::default()
        );
        assert!(TwoFactorPolicy::parse("root").is_err());
    }

    #[test]
    fn step_up_is_fresh_for_five_minutes() {
        use crate::Timestamp;
        assert!(step_up_fresh(
            Timestamp(1_000),
            Timestamp(1_000 + STEP_UP_WINDOW_MILLIS)
        ));
        assert!(!step_up_fresh(
            Timestamp(1_000),
            Timestamp(1_001 + STEP_UP_WINDOW_MILLIS)
        ));
        assert!(
            !step_up_fresh(Timestamp(0), Timestamp(10)),
            "never re-authenticated"
        );
    }

    #[test]
    fn step_up_guards_what_could_take_over_an_account() {
        use UserChange::*;
        assert!(needs_step_up(ResetCredentials, Role::Viewer));
        assert!(needs_step_up(Enable, Role::Viewer));
        assert!(needs_step_up(SetRole(Role::Admin), Role::Viewer));
        assert!(needs_step_up(SetRole(Role::Viewer), Role::Admin));
        assert!(needs_step_up(Disable, Role::Admin));
        assert!(!needs_step_up(Disable, Role::Technician));
        assert!(!needs_step_up(SetRole(Role::Viewer), Role::Technician));
    }

    #[test]
    fn nobody_removes_their_own_access_or_the_last_admin() {
        use UserChange::*;
        let ok = check_user_change(false, Role::Admin, true, 2, Disable);
        assert_eq!(ok, Ok(()));
        assert_eq!(
            check_user_change(true, Role::Admin, true, 3, SetRole(Role::Viewer)),
            Err(UserChangeRefused::OwnAccount)
        );
        assert_eq!(
            check_user_change(true, Role::Admin, true, 1, SetRole(Role::Admin)),
            Ok(())
        );
        assert_eq!(
            check_user_change(false, Role::Admin, true, 1, Delete),
            Err(UserChangeRefused::LastAdmin)
        );
        // A disabled admin is not the one keeping the installation administrable.
        assert_eq!(
            check_user_change(false, Role::Admin, false, 1, Delete),
            Ok(())
        );
        assert_eq!(
            check_user_change(false, Role::Viewer, true, 1, Delete),
            Ok(())
        );
    }
}
