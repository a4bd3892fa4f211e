//! A directory change: the unit that is validated against the current
//! state, persisted, applied to the in-memory directory, audited and turned
//! into `change_contact` callback events. Updates carry the state before and
//! after, so that consumers can tell exactly what changed.

use super::model::{Department, Member, Tag, TagId};
use crate::ids::{DeptId, UserId};

/// One validated change of a corp's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirChange {
    /// A new department.
    CreateDept(Department),
    /// A department renamed, moved or reordered.
    UpdateDept {
        /// As it was.
        before: Department,
        /// As it is now (same id).
        after: Department,
    },
    /// A department removed (it was empty).
    DeleteDept(Department),
    /// A new member.
    CreateMember(Box<Member>),
    /// A member changed; `after.userid` differs from `before.userid` on a
    /// rename.
    UpdateMember {
        /// As they were.
        before: Box<Member>,
        /// As they are now.
        after: Box<Member>,
    },
    /// A member removed. Their userid and name stay recorded as a former
    /// member so that history remains attributable.
    DeleteMember(Box<Member>),
    /// A new tag (with no members yet).
    CreateTag(Tag),
    /// A tag renamed.
    RenameTag {
        /// The tag.
        id: TagId,
        /// Its new name.
        name: String,
    },
    /// A tag removed.
    DeleteTag(Tag),
    /// Members or departments added to or removed from a tag.
    TagTargets {
        /// The tag.
        id: TagId,
        /// Members added.
        add_users: Vec<UserId>,
        /// Members removed.
        del_users: Vec<UserId>,
        /// Departments added.
        add_parties: Vec<DeptId>,
        /// Departments removed.
        del_parties: Vec<DeptId>,
    },
}

impl DirChange {
    /// A short name of the change for the audit log.
    pub fn action(&self) -> &'static str {
        match self {
            DirChange::CreateDept(_) => "department.create",
            DirChange::UpdateDept { .. } => "department.update",
            DirChange::DeleteDept(_) => "department.delete",
            DirChange::CreateMember(_) => "member.create",
            DirChange::UpdateMember { .. } => "member.update",
            DirChange::DeleteMember(_) => "member.delete",
            DirChange::CreateTag(_) => "tag.create",
            DirChange::RenameTag { .. } => "tag.update",
            DirChange::DeleteTag(_) => "tag.delete",
            DirChange::TagTargets { .. } => "tag.members",
        }
    }

    /// What the change is about, for the audit log.
    pub fn target(&self) -> String {
        match self {
            DirChange::CreateDept(d) | DirChange::DeleteDept(d) => format!("department:{}", d.id),
            DirChange::UpdateDept { after, .. } => format!("department:{}", after.id),
            DirChange::CreateMember(m) | DirChange::DeleteMember(m) => {
                format!("member:{}", m.userid)
            }
            DirChange::UpdateMember { before, after } if before.userid != after.userid => {
                format!("member:{}->{}", before.userid, after.userid)
            }
            DirChange::UpdateMember { after, .. } => format!("member:{}", after.userid),
            DirChange::CreateTag(t) | DirChange::DeleteTag(t) => format!("tag:{}", t.id.0),
            DirChange::RenameTag { id, .. } | DirChange::TagTargets { id, .. } => {
                format!("tag:{}", id.0)
            }
        }
    }
}
