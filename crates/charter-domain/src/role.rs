//! Roles: what a user may do across the whole installation.

use std::fmt;
use std::str::FromStr;

/// A user's installation-wide role. Approvers are not a role: policies name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including users, groups and configuration.
    Admin,
    /// Policies, the governance dashboard and the audit trail.
    GovernanceAdmin,
    /// Builds and documents models: the default.
    Practitioner,
    /// Reads what their projects show them.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::GovernanceAdmin, Role::Practitioner, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::GovernanceAdmin => "governance_admin",
            Role::Practitioner => "practitioner",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role may administer users, groups and tokens of others.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin)
    }

    /// Whether this role holds governance-admin power (admins do too).
    pub fn is_governance_admin(self) -> bool {
        matches!(self, Role::Admin | Role::GovernanceAdmin)
    }

    /// Whether this role may change anything at all.
    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of Charter's roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role; use one of admin, governance_admin, practitioner, viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("governance_admin"));
    }

    #[test]
    fn admins_hold_governance_power_but_viewers_hold_none() {
        assert!(Role::Admin.is_governance_admin());
        assert!(Role::GovernanceAdmin.is_governance_admin());
        assert!(!Role::GovernanceAdmin.is_admin());
        assert!(!Role::Viewer.can_write());
    }
}
