//! The member-facing directory: what a signed-in member sees when browsing,
//! searching or picking colleagues. Every answer goes through the corp's
//! [`Policy`] (visibility and field rules), resolved once per request into a
//! [`ViewerScope`].
//!
//! **Invariant:** nothing here returns a department or member that the
//! policy hides from the viewer, nor a protected field the viewer may not
//! read; a hidden department or member answers exactly like an unknown one
//! (60003 / 60111), and search never matches on an unreadable field.
//!
//! Cost: the directory and the policy come from the in-memory cache; a page
//! walks the visible part of one subtree's department list and then only the
//! members it returns (resuming from the cursor with an ordered index), so
//! the work follows the page and the subtree, not the corp.

use std::collections::HashMap;

use qiye_domain::directory::{
    AdminRole, Department, DirError, Directory, ExtAttr, Gender, Member, MemberStatus, Policy,
    ProtectedField, Viewer, ViewerScope,
};
use qiye_domain::ids::{DeptId, UserId};

use crate::Services;
use crate::directory::cache::DirectoryCache;
use crate::error::{AppResult, SessionError};
use crate::session::SignedInMember;

/// Most members or search hits one page returns.
pub const MAX_PAGE: usize = 1000;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: usize = 100;

/// A member as a viewer may see them: protected fields the viewer may not
/// read are `None` (omitted), extended attributes filtered one by one, and
/// only departments the viewer may see listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCard {
    /// userid.
    pub userid: UserId,
    /// Display name.
    pub name: String,
    /// Alias.
    pub alias: String,
    /// English name.
    pub english_name: String,
    /// Gender.
    pub gender: Gender,
    /// Status.
    pub status: MemberStatus,
    /// Avatar media id.
    pub avatar_mediaid: String,
    /// Visible departments, in the member's order.
    pub departments: Vec<DeptId>,
    /// Main department, when visible.
    pub main_department: Option<DeptId>,
    /// Position, if readable.
    pub position: Option<String>,
    /// Mobile, if readable.
    pub mobile: Option<String>,
    /// E-mail, if readable.
    pub email: Option<String>,
    /// Corp e-mail, if readable.
    pub biz_mail: Option<String>,
    /// Telephone, if readable.
    pub telephone: Option<String>,
    /// Address, if readable.
    pub address: Option<String>,
    /// Readable extended attributes.
    pub extattr: Vec<ExtAttr>,
}

/// One page of a department's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPage {
    /// The members.
    pub members: Vec<MemberCard>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHits {
    /// Departments whose name matched.
    pub departments: Vec<Department>,
    /// Members who matched.
    pub members: Vec<MemberCard>,
}

/// Where a page ends: the last member returned and where they were listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    dept: DeptId,
    order: u32,
    userid: UserId,
}

impl Cursor {
    fn render(&self) -> String {
        format!("{}.{}.{}", self.dept, self.order, self.userid)
    }

    fn parse(raw: &str) -> Result<Self, DirError> {
        let invalid = || DirError::FieldInvalid {
            field: "cursor",
            reason: "not a cursor this API returned".into(),
        };
        let mut parts = raw.splitn(3, '.');
        let dept = parts
            .next()
            .and_then(|d| d.parse::<i64>().ok())
            .and_then(|d| DeptId::new(d).ok())
            .ok_or_else(invalid)?;
        let order = parts
            .next()
            .and_then(|o| o.parse::<u32>().ok())
            .ok_or_else(invalid)?;
        let userid = parts
            .next()
            .and_then(|u| UserId::parse(u).ok())
            .ok_or_else(invalid)?;
        Ok(Self {
            dept,
            order,
            userid,
        })
    }
}

/// Whether a member shows in the member-facing directory at all.
fn listed(member: &Member) -> bool {
    matches!(
        member.status,
        MemberStatus::Active | MemberStatus::NotActivated
    )
}

/// The directory through one member's eyes.
pub struct MemberView<'a> {
    dir: &'a Directory,
    policy: &'a Policy,
    viewer: Viewer<'a>,
    scope: ViewerScope,
}

impl<'a> MemberView<'a> {
    /// The visible departments under (and including) `root`, depth-first in
    /// display order; hidden subtrees are skipped whole.
    fn visible_subtree(&self, root: DeptId) -> Vec<DeptId> {
        let mut out = Vec::new();
        if self.dir.dept(root).is_none() || !self.scope.sees_dept(self.dir, root) {
            return out;
        }
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            out.push(d);
            let kids: Vec<DeptId> = self
                .dir
                .children(d)
                .filter(|c| !self.scope.is_blocked_root(*c))
                .collect();
            stack.extend(kids.into_iter().rev());
        }
        out
    }

    /// Every department the viewer may see, in tree order.
    pub fn departments(&self) -> Vec<&'a Department> {
        self.visible_subtree(DeptId::ROOT)
            .into_iter()
            .filter_map(|d| self.dir.dept(d))
            .collect()
    }

    /// A visible department; a hidden one is "not found", like an unknown id.
    pub fn department(&self, id: DeptId) -> Result<&'a Department, DirError> {
        self.dir
            .dept(id)
            .filter(|_| self.scope.sees_dept(self.dir, id))
            .ok_or(DirError::DeptNotFound(id.get()))
    }

    fn sees_member(&self, member: &Member) -> bool {
        listed(member) && self.scope.sees_member(self.dir, &self.viewer, member)
    }

    fn reads(&self, target: &Member, field: &ProtectedField) -> bool {
        self.policy
            .can_read_field(self.dir, &self.viewer, target, field)
    }

    fn guarded(&self, target: &Member, field: ProtectedField, value: &str) -> Option<String> {
        self.reads(target, &field).then(|| value.to_owned())
    }

    /// The viewer's card of a member (the member must be visible).
    fn card(&self, m: &Member) -> MemberCard {
        let departments: Vec<DeptId> = m
            .departments
            .iter()
            .map(|ms| ms.dept)
            .filter(|d| self.scope.sees_dept(self.dir, *d))
            .collect();
        MemberCard {
            userid: m.userid.clone(),
            name: m.name.clone(),
            alias: m.alias.clone(),
            english_name: m.english_name.clone(),
            gender: m.gender,
            status: m.status,
            avatar_mediaid: m.avatar_mediaid.clone(),
            main_department: departments
                .contains(&m.main_department)
                .then_some(m.main_department),
            departments,
            position: self.guarded(m, ProtectedField::Position, &m.position),
            mobile: self.guarded(m, ProtectedField::Mobile, &m.mobile),
            email: self.guarded(m, ProtectedField::Email, &m.email),
            biz_mail: self.guarded(m, ProtectedField::BizMail, &m.biz_mail),
            telephone: self.guarded(m, ProtectedField::Telephone, &m.telephone),
            address: self.guarded(m, ProtectedField::Address, &m.address),
            extattr: m
                .extattr
                .iter()
                .filter(|a| self.reads(m, &ProtectedField::ExtAttr(a.name.clone())))
                .cloned()
                .collect(),
        }
    }

    /// A visible member's profile; a hidden one is "not found".
    pub fn profile(&self, userid: &UserId) -> Result<MemberCard, DirError> {
        self.dir
            .member(userid)
            .filter(|m| self.sees_member(m))
            .map(|m| self.card(m))
            .ok_or(DirError::UserNotFound)
    }

    /// Members of a visible department (with `recursive`, of its visible
    /// subtree, each member once, where they are first listed), in display
    /// order, `limit` at a time.
    pub fn members_page(
        &self,
        dept: DeptId,
        recursive: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<MemberPage, DirError> {
        self.department(dept)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let depts = if recursive {
            self.visible_subtree(dept)
        } else {
            vec![dept]
        };
        let position: HashMap<DeptId, usize> =
            depts.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        let cursor = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::parse)
            .transpose()?;
        let start = match &cursor {
            Some(c) => *position
                .get(&c.dept)
                .ok_or_else(|| DirError::FieldInvalid {
                    field: "cursor",
                    reason: "the cursor belongs to another listing".into(),
                })?,
            None => 0,
        };
        // Listed once: under the first of its departments in this walk.
        let first_listing = |m: &Member| {
            m.departments
                .iter()
                .filter_map(|ms| position.get(&ms.dept).map(|i| (*i, ms.dept)))
                .min()
                .map(|(_, d)| d)
        };
        let mut members = Vec::new();
        let mut last: Option<Cursor> = None;
        let mut more = false;
        'walk: for (i, d) in depts.iter().enumerate().skip(start) {
            let after = match &cursor {
                Some(c) if i == start => Some((c.order, &c.userid)),
                _ => None,
            };
            for m in self.dir.direct_members_after(*d, after) {
                if !listed(m) || (recursive && first_listing(m) != Some(*d)) {
                    continue;
                }
                if members.len() == limit {
                    more = true;
                    break 'walk;
                }
                members.push(self.card(m));
                last = Some(Cursor {
                    dept: *d,
                    order: m.order_in(*d),
                    userid: m.userid.clone(),
                });
            }
        }
        Ok(MemberPage {
            members,
            next_cursor: if more { last.map(|c| c.render()) } else { None },
        })
    }

    /// Departments and members matching `query` (case-insensitive substring
    /// of a name, alias, English name or userid; a readable mobile, e-mail
    /// or telephone by prefix), at most `limit` of each.
    pub fn search(&self, query: &str, limit: usize) -> Result<SearchHits, DirError> {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() {
            return Err(DirError::FieldInvalid {
                field: "q",
                reason: "empty search".into(),
            });
        }
        let limit = limit.clamp(1, MAX_PAGE);
        let contains = |text: &str| text.to_lowercase().contains(&needle);
        let departments: Vec<Department> = self
            .departments()
            .into_iter()
            .filter(|d| contains(&d.name) || contains(&d.name_en))
            .take(limit)
            .cloned()
            .collect();
        let mut found: Vec<&Member> = self
            .dir
            .members()
            .filter(|m| {
                let by_name = contains(&m.name)
                    || contains(&m.alias)
                    || contains(&m.english_name)
                    || contains(m.userid.as_str());
                let by_contact = || {
                    [
                        (ProtectedField::Mobile, &m.mobile),
                        (ProtectedField::Email, &m.email),
                        (ProtectedField::BizMail, &m.biz_mail),
                        (ProtectedField::Telephone, &m.telephone),
                    ]
                    .into_iter()
                    .any(|(field, value)| {
                        !value.is_empty()
                            && value.to_lowercase().starts_with(&needle)
                            && self.reads(m, &field)
                    })
                };
                (by_name || by_contact()) && self.sees_member(m)
            })
            .collect();
        found.sort_unstable_by(|a, b| (&a.name, &a.userid).cmp(&(&b.name, &b.userid)));
        found.truncate(limit);
        Ok(SearchHits {
            departments,
            members: found.into_iter().map(|m| self.card(m)).collect(),
        })
    }
}

impl Services {
    /// Runs `f` over the signed-in member's view of their corp's directory.
    pub async fn member_read<R>(
        &self,
        who: &SignedInMember,
        f: impl FnOnce(&MemberView<'_>) -> R,
    ) -> AppResult<R> {
        let corp = who.corp();
        let entry = self.directories.fresh(&*self.store, corp).await?;
        let policy = DirectoryCache::fresh_policy(&*self.store, corp, &entry).await?;
        let (is_super, admin_of) = match self.store.admin_role(corp, who.userid()).await? {
            Some(AdminRole::Super) => (true, Vec::new()),
            Some(AdminRole::Scoped(depts)) => (false, depts),
            None => (false, Vec::new()),
        };
        let state = entry.state.read().unwrap_or_else(|e| e.into_inner());
        let member = state
            .dir
            .member(who.userid())
            .ok_or(SessionError::NotSignedIn)?;
        let viewer = Viewer {
            member,
            is_super,
            admin_of: &admin_of,
        };
        let view = MemberView {
            dir: &state.dir,
            policy: &policy,
            scope: policy.scope_for(&state.dir, &viewer),
            viewer,
        };
        Ok(f(&view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor {
            dept: DeptId::new(7).unwrap(),
            order: 3,
            userid: UserId::parse("a.b@c").unwrap(),
        };
        assert_eq!(Cursor::parse(&c.render()), Ok(c));
        for bad in ["", "x", "1.2", "0.1.a", "1.-1.a", "1.1.", "1.1.bad user"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
