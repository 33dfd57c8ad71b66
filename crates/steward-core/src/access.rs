//! Who may do what. Every route, console page and CLI action names one [`Action`]; the only
//! decision is [`permits`], an exhaustive table: a new action does not compile until each
//! role has an answer, and nothing is allowed that the table does not allow.

use serde::{Deserialize, Serialize};

/// What a console user or API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, tokens and security settings.
    Admin,
    /// Operates devices (jobs, revocation); no user or token management.
    Technician,
    /// Reads everything it is shown; changes nothing.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Technician, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Technician => "technician",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Something a principal asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
}

/// The access table.
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Technician => match action {
            ViewDevices | OperateDevices | RevokeDevices => true,
            ManageUsers | ManageTokens | ViewAudit => false,
        },
        Role::Viewer => match action {
            ViewDevices => true,
            OperateDevices | RevokeDevices | ManageUsers | ManageTokens | ViewAudit => false,
        },
    }
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
    }
}
