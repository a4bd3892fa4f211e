//! The directory (通讯录): departments, members, tags, who may see and
//! change what, and the rules every change passes.
//!
//! - [`model`]: the entities and field validation;
//! - [`state`]: a corp's directory in memory, its invariants, and the
//!   commands that turn a request into a validated [`DirChange`];
//! - [`change`]: the change itself, which is persisted, applied, audited and
//!   sent to callbacks;
//! - [`access`]: ranges, reach, visibility rules and field permissions.

pub mod access;
pub mod change;
pub mod error;
pub mod model;
pub mod state;

pub use access::{
    FieldRule, Policy, ProtectedField, Range, Reach, Viewer, ViewerScope, VisibilityRule,
};
pub use change::DirChange;
pub use error::DirError;
pub use model::{
    Department, ExtAttr, ExtAttrValue, Gender, Member, MemberFields, Membership, Tag, TagId,
};
pub use state::{DeptPatch, Directory, NewDept, TagTargetOutcome};

use crate::ids::{DeptId, UserId};
use crate::secret::PasswordHash;

/// The userid given to the super administrator of a new corp.
pub const BOOTSTRAP_ADMIN_USERID: &str = "admin";

/// A member's status, with WeCom's numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberStatus {
    /// Activated (1).
    Active,
    /// Disabled by an administrator (2).
    Disabled,
    /// Created but never signed in (4).
    NotActivated,
    /// Left the corp (5); kept so that history stays attributable.
    Left,
}

impl MemberStatus {
    /// WeCom's numeric status.
    pub fn code(self) -> i64 {
        match self {
            MemberStatus::Active => 1,
            MemberStatus::Disabled => 2,
            MemberStatus::NotActivated => 4,
            MemberStatus::Left => 5,
        }
    }

    /// From WeCom's numeric status.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(MemberStatus::Active),
            2 => Some(MemberStatus::Disabled),
            4 => Some(MemberStatus::NotActivated),
            5 => Some(MemberStatus::Left),
            _ => None,
        }
    }
}

/// An administrator's role in a corp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRole {
    /// Manages everything in the corp.
    Super,
    /// Manages the given departments and their subtrees, and only those.
    Scoped(Vec<DeptId>),
}

/// A member to create together with its corp: the first super administrator.
#[derive(Debug, Clone)]
pub struct NewAdminMember {
    /// Their userid.
    pub userid: UserId,
    /// Their display name.
    pub name: String,
    /// Their password hash; they must change the password at first login.
    pub password_hash: PasswordHash,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for s in [
            MemberStatus::Active,
            MemberStatus::Disabled,
            MemberStatus::NotActivated,
            MemberStatus::Left,
        ] {
            assert_eq!(MemberStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(MemberStatus::from_code(3), None);
    }

    #[test]
    fn bootstrap_admin_userid_is_valid() {
        assert!(UserId::parse(BOOTSTRAP_ADMIN_USERID).is_ok());
    }
}
