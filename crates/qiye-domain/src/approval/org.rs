//! What the engine needs to know about the organisation, as a port: the app
//! layer implements [`Org`] over its directory (this crate implements it for
//! [`Directory`] too), tests over a small literal organisation.
//!
//! Reads are synchronous and side-effect free: the engine asks while it
//! decides, and records the answers (who was chosen and why) in its events,
//! so replaying the events never asks again.

use crate::directory::{Directory, MemberStatus, TagId};
use crate::ids::{DeptId, UserId};

/// A member as the engine sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMember {
    /// Whether they can act (an active member). Disabled, never-activated
    /// and departed members are never made approvers.
    pub active: bool,
    /// Their departments.
    pub departments: Vec<DeptId>,
    /// Their main department.
    pub main_department: DeptId,
    /// Their direct leaders (直属上级), first is the one chains follow.
    pub leaders: Vec<UserId>,
}

/// The organisation, read-only.
pub trait Org {
    /// A member, if they exist.
    fn member(&self, user: &UserId) -> Option<OrgMember>;
    /// Whether a department exists.
    fn dept_exists(&self, dept: DeptId) -> bool;
    /// A department's parent (`None` for the root or an unknown id).
    fn dept_parent(&self, dept: DeptId) -> Option<DeptId>;
    /// The heads (负责人) of a department.
    fn dept_heads(&self, dept: DeptId) -> Vec<UserId>;
    /// The members holding a role (a tag, with its departments' members).
    fn role_members(&self, role: TagId) -> Vec<UserId>;

    /// Whether `user` exists and is active.
    fn is_active(&self, user: &UserId) -> bool {
        self.member(user).is_some_and(|m| m.active)
    }

    /// Whether `dept` is `ancestor` or below it.
    fn dept_within(&self, dept: DeptId, ancestor: DeptId) -> bool {
        let mut cur = Some(dept);
        let mut steps = 0;
        while let Some(d) = cur {
            if d == ancestor {
                return true;
            }
            steps += 1;
            if steps > 1000 {
                return false;
            }
            cur = self.dept_parent(d);
        }
        false
    }
}

impl Org for Directory {
    fn member(&self, user: &UserId) -> Option<OrgMember> {
        Directory::member(self, user).map(|m| OrgMember {
            active: m.status == MemberStatus::Active,
            departments: m.departments.iter().map(|d| d.dept).collect(),
            main_department: m.main_department,
            leaders: m.direct_leader.clone(),
        })
    }

    fn dept_exists(&self, dept: DeptId) -> bool {
        self.dept(dept).is_some()
    }

    fn dept_parent(&self, dept: DeptId) -> Option<DeptId> {
        self.dept(dept).and_then(|d| d.parent)
    }

    fn dept_heads(&self, dept: DeptId) -> Vec<UserId> {
        self.leaders_of(dept).into_iter().cloned().collect()
    }

    fn role_members(&self, role: TagId) -> Vec<UserId> {
        let Some(tag) = self.tag(role) else {
            return Vec::new();
        };
        let mut out: Vec<UserId> = tag.users.clone();
        for dept in &tag.parties {
            for m in self.members_of(*dept, true) {
                if !out.contains(&m.userid) {
                    out.push(m.userid.clone());
                }
            }
        }
        out
    }
}
