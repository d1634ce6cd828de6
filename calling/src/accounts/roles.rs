//! Roles and the one permission matrix: what an owner, admin, agent or viewer may do.
//!
//! Every check in the product goes through [`Role::allows`], so the matrix below is the whole
//! truth about who may do what.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A member's (or an API key's) role in a workspace, most powerful first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Agent,
    Viewer,
}

/// Something a role may or may not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See call history, live calls and analytics.
    ViewCalls,
    /// Answer inbound calls.
    AnswerCalls,
    /// Place outbound calls.
    PlaceCalls,
    /// Send call-button and permission-request templates and messages.
    SendTemplates,
    /// See numbers, call settings and templates.
    ViewSettings,
    /// Connect numbers, change call hours, icon visibility and callback permission.
    ChangeSettings,
    /// Create, edit and delete templates.
    ManageTemplates,
    /// See who is in the team.
    ViewTeam,
    /// Invite members, change their roles (up to admin), remove them.
    ManageTeam,
    /// Make or unmake owners (grant, change or remove the owner role).
    ManageOwners,
    /// See the wallet, rates and spending.
    SeeBilling,
    /// Add money to the wallet and set its low-balance warning.
    TopUp,
    /// Change the subscription and publish the rate card (what the workspace pays and is
    /// charged): owners only, like making owners.
    ManageBilling,
    /// Create, list and revoke API keys.
    ManageApiKeys,
    /// Read the workspace's audit log.
    ViewAuditLog,
}

impl Permission {
    /// Every permission, for exhaustive checks and listings.
    pub const ALL: [Permission; 15] = [
        Permission::ViewCalls,
        Permission::AnswerCalls,
        Permission::PlaceCalls,
        Permission::SendTemplates,
        Permission::ViewSettings,
        Permission::ChangeSettings,
        Permission::ManageTemplates,
        Permission::ViewTeam,
        Permission::ManageTeam,
        Permission::ManageOwners,
        Permission::SeeBilling,
        Permission::TopUp,
        Permission::ManageBilling,
        Permission::ManageApiKeys,
        Permission::ViewAuditLog,
    ];
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Agent, Role::Viewer];

    /// The permission matrix.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner => true,
            // Admins run the workspace day to day; only owners make or unmake owners, so an
            // admin can never lock the owners out, and only owners decide prices and the plan
            // (admins still top up).
            Role::Admin => !matches!(permission, ManageOwners | ManageBilling),
            // Agents work the phones: calls, templates sends, and reading what they need.
            Role::Agent => {
                matches!(
                    permission,
                    ViewCalls | AnswerCalls | PlaceCalls | SendTemplates | ViewSettings | ViewTeam
                )
            }
            // Viewers read: history, settings, team and spending; they change nothing.
            Role::Viewer => matches!(permission, ViewCalls | ViewSettings | ViewTeam | SeeBilling),
        }
    }

    /// Whether a member with this role may hand out `other` (to an invitation, a member or an
    /// API key): never a role more powerful than one's own, and owner only with ManageOwners.
    pub fn may_grant(self, other: Role) -> bool {
        if other == Role::Owner {
            return self.allows(Permission::ManageOwners);
        }
        self.rank() <= other.rank()
            && (self.allows(Permission::ManageTeam) || self.allows(Permission::ManageApiKeys))
    }

    /// 0 for owner, 3 for viewer.
    fn rank(self) -> u8 {
        match self {
            Role::Owner => 0,
            Role::Admin => 1,
            Role::Agent => 2,
            Role::Viewer => 3,
        }
    }

    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(raw: &str) -> Result<Self, Error> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "owner" => Ok(Role::Owner),
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            "viewer" => Ok(Role::Viewer),
            _ => Err(Error::validation("role", "must be one of owner, admin, agent, viewer")),
        }
    }
}

/// A role read back from the database (the CHECK constraint keeps it valid).
#[cfg(feature = "server")]
pub(crate) fn stored_role(raw: &str) -> crate::Result<Role> {
    raw.parse().map_err(|_| Error::internal(format!("unknown role {raw:?} in the database")))
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    /// The whole matrix, written out so a change to it is a visible change to this table.
    const MATRIX: [(Permission, [bool; 4]); 15] = [
        //                owner  admin  agent  viewer
        (ViewCalls, [true, true, true, true]),
        (AnswerCalls, [true, true, true, false]),
        (PlaceCalls, [true, true, true, false]),
        (SendTemplates, [true, true, true, false]),
        (ViewSettings, [true, true, true, true]),
        (ChangeSettings, [true, true, false, false]),
        (ManageTemplates, [true, true, false, false]),
        (ViewTeam, [true, true, true, true]),
        (ManageTeam, [true, true, false, false]),
        (ManageOwners, [true, false, false, false]),
        (SeeBilling, [true, true, false, true]),
        (TopUp, [true, true, false, false]),
        (ManageBilling, [true, false, false, false]),
        (ManageApiKeys, [true, true, false, false]),
        (ViewAuditLog, [true, true, false, false]),
    ];

    #[test]
    fn the_matrix_is_exactly_as_written() {
        assert_eq!(MATRIX.len(), Permission::ALL.len());
        for (permission, row) in MATRIX {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                assert_eq!(role.allows(permission), expected, "{role} / {permission:?}");
            }
        }
        // Every permission appears once in the table.
        for permission in Permission::ALL {
            assert_eq!(MATRIX.iter().filter(|(p, _)| *p == permission).count(), 1, "{permission:?}");
        }
    }

    #[test]
    fn more_powerful_roles_can_do_everything_less_powerful_ones_can() {
        for pair in Role::ALL.windows(2) {
            let (higher, lower) = (pair[0], pair[1]);
            for permission in Permission::ALL {
                if lower.allows(permission) && permission != SeeBilling {
                    assert!(higher.allows(permission), "{higher} lacks {permission:?} that {lower} has");
                }
            }
        }
        // Viewers see billing (read-only accountants); agents don't, owners and admins do.
        assert!(Role::Owner.allows(SeeBilling) && Role::Admin.allows(SeeBilling));
    }

    #[test]
    fn granting_never_exceeds_ones_own_role() {
        let expect = |granter: Role, granted: Role| match granter {
            Role::Owner => true,
            Role::Admin => granted != Role::Owner,
            Role::Agent | Role::Viewer => false,
        };
        for granter in Role::ALL {
            for granted in Role::ALL {
                assert_eq!(
                    granter.may_grant(granted),
                    expect(granter, granted),
                    "{granter} grants {granted}"
                );
            }
        }
    }

    #[test]
    fn roles_round_trip_through_text_and_json() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.as_str()));
        }
        assert_eq!(" Admin ".parse::<Role>().unwrap(), Role::Admin);
        assert_eq!("root".parse::<Role>().unwrap_err().code(), "validation_failed");
    }
}
