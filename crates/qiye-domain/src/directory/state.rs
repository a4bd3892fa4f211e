//! A corp's whole directory in memory, with the indexes reads need, and the
//! rules every change must pass.
//!
//! Invariants (each checked by a command before it produces a change, and
//! tested below):
//! - department 1 is the root and has no parent; every other department has
//!   a parent that exists, so the departments form one tree (no cycles);
//! - sibling departments have distinct names;
//! - no department is deeper than the corp's plan allows (root = level 1);
//! - a member belongs to 1..=20 existing departments, one of which is their
//!   main department; their direct leaders exist and are not themselves;
//! - mobile numbers and e-mail addresses are unique in the corp;
//! - tag names are unique; a tag lists only existing members and departments.
//!
//! Commands never mutate: they return the [`DirChange`] to persist; the
//! caller applies it with [`Directory::apply`] once it is committed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::MemberStatus;
use super::change::DirChange;
use super::error::DirError;
use super::model::{
    Department, Member, MemberFields, Membership, Tag, TagId, check_dept_name, check_tag_name,
};
use crate::ids::{AgentId, DeptId, UserId};
use crate::plan::Plan;

/// Sort key of a child department: larger `order` first, then id.
type ChildKey = (Reverse<u32>, DeptId);
/// Sort key of a member inside a department: larger `order` first, then userid.
type MemberKey = (Reverse<u32>, UserId);

/// A new department as requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDept {
    /// Requested id; assigned if absent.
    pub id: Option<DeptId>,
    /// Name.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// Parent.
    pub parent: DeptId,
    /// Order among siblings.
    pub order: Option<u32>,
}

/// Changes to a department; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeptPatch {
    /// New name.
    pub name: Option<String>,
    /// New English name.
    pub name_en: Option<String>,
    /// New parent.
    pub parent: Option<DeptId>,
    /// New order.
    pub order: Option<u32>,
}

/// Members and departments to add to or remove from a tag, and what of them
/// was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagTargetOutcome {
    /// Userids that do not exist (or were malformed), as given.
    pub invalid_users: Vec<String>,
    /// Department ids that do not exist.
    pub invalid_parties: Vec<i64>,
}

/// A corp's directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    depts: HashMap<DeptId, Department>,
    children: HashMap<DeptId, BTreeSet<ChildKey>>,
    members: HashMap<UserId, Member>,
    dept_members: HashMap<DeptId, BTreeSet<MemberKey>>,
    by_mobile: HashMap<String, UserId>,
    by_email: HashMap<String, UserId>,
    tags: BTreeMap<TagId, Tag>,
}

fn email_key(email: &str) -> String {
    email.to_lowercase()
}

impl Directory {
    /// A directory holding only the root department.
    pub fn with_root(name: &str) -> Self {
        let mut dir = Directory::default();
        dir.insert_dept(Department {
            id: DeptId::ROOT,
            name: name.to_owned(),
            name_en: String::new(),
            parent: None,
            order: 0,
        });
        dir
    }

    /// Builds a directory from stored rows. Rows that break an invariant
    /// (which the commands prevent) are still loaded as they are.
    pub fn from_parts(depts: Vec<Department>, members: Vec<Member>, tags: Vec<Tag>) -> Self {
        let mut dir = Directory::default();
        for d in depts {
            dir.insert_dept(d);
        }
        let known: HashSet<UserId> = members.iter().map(|m| m.userid.clone()).collect();
        for mut m in members {
            // A deleted leader is dropped from their reports' lists.
            m.direct_leader.retain(|l| known.contains(l));
            dir.insert_member(m);
        }
        for t in tags {
            dir.tags.insert(t.id, t);
        }
        dir
    }

    // ---- reads ---------------------------------------------------------

    /// A department.
    pub fn dept(&self, id: DeptId) -> Option<&Department> {
        self.depts.get(&id)
    }

    /// Number of departments.
    pub fn dept_count(&self) -> usize {
        self.depts.len()
    }

    /// Direct children of a department, in display order.
    pub fn children(&self, id: DeptId) -> impl Iterator<Item = DeptId> + '_ {
        self.children
            .get(&id)
            .into_iter()
            .flat_map(|set| set.iter().map(|(_, d)| *d))
    }

    /// A department and all its descendants, depth-first in display order.
    pub fn subtree(&self, id: DeptId) -> Vec<DeptId> {
        let mut out = Vec::new();
        if !self.depts.contains_key(&id) {
            return out;
        }
        let mut stack = vec![id];
        while let Some(d) = stack.pop() {
            out.push(d);
            let kids: Vec<DeptId> = self.children(d).collect();
            stack.extend(kids.into_iter().rev());
        }
        out
    }

    /// Whether `ancestor` is `dept` or one of its ancestors.
    pub fn is_within(&self, dept: DeptId, ancestor: DeptId) -> bool {
        let mut cursor = Some(dept);
        let mut steps = 0;
        while let Some(d) = cursor {
            if d == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.depts.len() {
                return false;
            }
            cursor = self.depts.get(&d).and_then(|x| x.parent);
        }
        false
    }

    /// Level of a department, the root being 1; 0 if it does not exist.
    pub fn depth(&self, id: DeptId) -> u32 {
        let mut depth = 0;
        let mut cursor = self.depts.get(&id);
        while let Some(d) = cursor {
            depth += 1;
            if depth as usize > self.depts.len() {
                break;
            }
            cursor = d.parent.and_then(|p| self.depts.get(&p));
        }
        depth
    }

    /// Levels below `id` (0 when it has no children).
    fn height(&self, id: DeptId) -> u32 {
        self.children(id)
            .map(|c| 1 + self.height(c))
            .max()
            .unwrap_or(0)
    }

    /// Depth of the deepest department.
    pub fn deepest(&self) -> u32 {
        1 + self.height(DeptId::ROOT)
    }

    /// The department path from the root's child down to `id`, by name
    /// (`["Sales", "East"]`); empty for the root.
    pub fn path_names(&self, id: DeptId) -> Vec<String> {
        let mut names = Vec::new();
        let mut cursor = self.depts.get(&id);
        while let Some(d) = cursor {
            if d.parent.is_none() || names.len() > self.depts.len() {
                break;
            }
            names.push(d.name.clone());
            cursor = d.parent.and_then(|p| self.depts.get(&p));
        }
        names.reverse();
        names
    }

    /// The child of `parent` called `name`.
    pub fn child_named(&self, parent: DeptId, name: &str) -> Option<DeptId> {
        self.children(parent)
            .find(|c| self.depts.get(c).is_some_and(|d| d.name == name))
    }

    /// All departments, in tree display order.
    pub fn all_depts(&self) -> Vec<DeptId> {
        self.subtree(DeptId::ROOT)
    }

    /// A member.
    pub fn member(&self, userid: &UserId) -> Option<&Member> {
        self.members.get(userid)
    }

    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// All members, in no particular order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// The member with this mobile number.
    pub fn member_by_mobile(&self, mobile: &str) -> Option<&Member> {
        self.by_mobile.get(mobile).and_then(|u| self.members.get(u))
    }

    /// The member with this personal or corp e-mail.
    pub fn member_by_email(&self, email: &str) -> Option<&Member> {
        self.by_email
            .get(&email_key(email))
            .and_then(|u| self.members.get(u))
    }

    /// Direct members of a department in display order.
    pub fn direct_members(&self, dept: DeptId) -> impl Iterator<Item = &Member> + '_ {
        self.dept_members
            .get(&dept)
            .into_iter()
            .flat_map(|set| set.iter().filter_map(|(_, u)| self.members.get(u)))
    }

    /// Direct members of a department in display order, starting after the
    /// member at `after` = (their order in the department, userid); the
    /// position stays valid if that member left meanwhile.
    pub fn direct_members_after(
        &self,
        dept: DeptId,
        after: Option<(u32, &UserId)>,
    ) -> impl Iterator<Item = &Member> + '_ {
        use std::ops::Bound;
        let start = match after {
            Some((order, userid)) => Bound::Excluded((Reverse(order), userid.clone())),
            None => Bound::Unbounded,
        };
        self.dept_members
            .get(&dept)
            .into_iter()
            .flat_map(move |set| set.range((start.clone(), Bound::Unbounded)))
            .filter_map(|(_, u)| self.members.get(u))
    }

    /// Whether a department has direct members.
    pub fn has_members(&self, dept: DeptId) -> bool {
        self.dept_members.get(&dept).is_some_and(|s| !s.is_empty())
    }

    /// Members of a department, and with `recursive` of its subtree; each
    /// member once, in tree order.
    pub fn members_of(&self, dept: DeptId, recursive: bool) -> Vec<&Member> {
        if !recursive {
            return self.direct_members(dept).collect();
        }
        let mut seen: HashSet<&UserId> = HashSet::new();
        let mut out = Vec::new();
        for d in self.subtree(dept) {
            for m in self.direct_members(d) {
                if seen.insert(&m.userid) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Leaders of a department (members flagged `is_leader_in_dept`).
    pub fn leaders_of(&self, dept: DeptId) -> Vec<&UserId> {
        self.direct_members(dept)
            .filter(|m| m.departments.iter().any(|x| x.dept == dept && x.is_leader))
            .map(|m| &m.userid)
            .collect()
    }

    /// A tag.
    pub fn tag(&self, id: TagId) -> Option<&Tag> {
        self.tags.get(&id)
    }

    /// All tags by id.
    pub fn tags(&self) -> impl Iterator<Item = &Tag> {
        self.tags.values()
    }

    /// The tag called `name`.
    pub fn tag_named(&self, name: &str) -> Option<&Tag> {
        self.tags.values().find(|t| t.name == name)
    }

    // ---- department commands -------------------------------------------

    fn next_dept_id(&self) -> DeptId {
        let max = self.depts.keys().map(|d| d.get()).max().unwrap_or(1);
        DeptId::new(i64::from(max) + 1).unwrap_or(DeptId::ROOT)
    }

    fn check_sibling_name(
        &self,
        parent: DeptId,
        name: &str,
        except: Option<DeptId>,
    ) -> Result<(), DirError> {
        match self.child_named(parent, name) {
            Some(existing) if Some(existing) != except => Err(DirError::DeptExists),
            _ => Ok(()),
        }
    }

    /// Plans a new department.
    pub fn create_dept(&self, new: NewDept, plan: Plan) -> Result<DirChange, DirError> {
        check_dept_name(&new.name)?;
        if let Some(en) = new.name_en.as_deref().filter(|n| !n.is_empty()) {
            check_dept_name(en)?;
        }
        if !self.depts.contains_key(&new.parent) {
            return Err(DirError::ParentNotFound(new.parent.get()));
        }
        let id = match new.id {
            Some(id) if id == DeptId::ROOT => return Err(DirError::DeptExists),
            Some(id) if self.depts.contains_key(&id) => return Err(DirError::DeptExists),
            Some(id) => id,
            None => self.next_dept_id(),
        };
        self.check_sibling_name(new.parent, &new.name, None)?;
        plan.check_depth(self.depth(new.parent) + 1)?;
        Ok(DirChange::CreateDept(Department {
            id,
            name: new.name,
            name_en: new.name_en.unwrap_or_default(),
            parent: Some(new.parent),
            order: new.order.unwrap_or(0),
        }))
    }

    /// Plans a rename, move or reorder.
    pub fn update_dept(
        &self,
        id: DeptId,
        patch: DeptPatch,
        plan: Plan,
    ) -> Result<DirChange, DirError> {
        let before = self
            .depts
            .get(&id)
            .ok_or(DirError::DeptNotFound(id.get()))?;
        let mut after = before.clone();
        if let Some(name) = patch.name {
            check_dept_name(&name)?;
            after.name = name;
        }
        if let Some(en) = patch.name_en {
            if !en.is_empty() {
                check_dept_name(&en)?;
            }
            after.name_en = en;
        }
        if let Some(order) = patch.order {
            after.order = order;
        }
        if let Some(parent) = patch.parent {
            if id == DeptId::ROOT {
                if parent != DeptId::ROOT {
                    return Err(DirError::RootImmutable);
                }
            } else {
                if !self.depts.contains_key(&parent) {
                    return Err(DirError::ParentNotFound(parent.get()));
                }
                if self.is_within(parent, id) {
                    return Err(DirError::DeptCycle);
                }
                after.parent = Some(parent);
            }
        }
        if let Some(parent) = after.parent {
            self.check_sibling_name(parent, &after.name, Some(id))?;
            if after.parent != before.parent {
                plan.check_depth(self.depth(parent) + 1 + self.height(id))?;
            }
        }
        Ok(DirChange::UpdateDept {
            before: before.clone(),
            after,
        })
    }

    /// Plans the deletion of an empty department.
    pub fn delete_dept(&self, id: DeptId) -> Result<DirChange, DirError> {
        if id == DeptId::ROOT {
            return Err(DirError::RootImmutable);
        }
        let dept = self
            .depts
            .get(&id)
            .ok_or(DirError::DeptNotFound(id.get()))?;
        if self.children(id).next().is_some() {
            return Err(DirError::DeptHasChildren);
        }
        if self.has_members(id) {
            return Err(DirError::DeptHasMembers);
        }
        Ok(DirChange::DeleteDept(dept.clone()))
    }

    // ---- member commands -----------------------------------------------

    fn check_unique_contact(&self, m: &Member, except: Option<&UserId>) -> Result<(), DirError> {
        let taken_by_other = |owner: Option<&UserId>| owner.is_some_and(|o| Some(o) != except);
        if !m.mobile.is_empty() && taken_by_other(self.by_mobile.get(&m.mobile)) {
            return Err(DirError::MobileTaken);
        }
        for mail in [&m.email, &m.biz_mail] {
            if !mail.is_empty() && taken_by_other(self.by_email.get(&email_key(mail))) {
                return Err(DirError::EmailTaken);
            }
        }
        if !m.email.is_empty() && email_key(&m.email) == email_key(&m.biz_mail) {
            return Err(DirError::EmailTaken);
        }
        Ok(())
    }

    /// Applies `fields` to `member`, checking them against the directory.
    fn merge_fields(
        &self,
        member: &mut Member,
        fields: MemberFields,
        renamed_from: Option<&UserId>,
    ) -> Result<(), DirError> {
        fields.check_shape()?;
        let MemberFields {
            name,
            alias,
            mobile,
            position,
            gender,
            email,
            biz_mail,
            telephone,
            address,
            english_name,
            avatar_mediaid,
            departments,
            order,
            is_leader_in_dept,
            main_department,
            direct_leader,
            enable,
            extattr,
            external_position,
            external_profile,
        } = fields;
        let set = |slot: &mut String, value: Option<String>| {
            if let Some(v) = value {
                *slot = v;
            }
        };
        set(&mut member.name, name);
        set(&mut member.alias, alias);
        set(&mut member.mobile, mobile);
        set(&mut member.position, position);
        set(&mut member.email, email);
        set(&mut member.biz_mail, biz_mail);
        set(&mut member.telephone, telephone);
        set(&mut member.address, address);
        set(&mut member.english_name, english_name);
        set(&mut member.avatar_mediaid, avatar_mediaid);
        set(&mut member.external_position, external_position);
        set(&mut member.external_profile, external_profile);
        if let Some(g) = gender {
            member.gender = g;
        }
        if let Some(attrs) = extattr {
            member.extattr = attrs;
        }
        if let Some(depts) = departments {
            let depts = if depts.is_empty() {
                vec![DeptId::ROOT]
            } else {
                depts
            };
            let mut memberships = Vec::with_capacity(depts.len());
            for (i, dept) in depts.iter().enumerate() {
                if !self.depts.contains_key(dept) {
                    return Err(DirError::DeptNotFound(dept.get()));
                }
                let previous = member.departments.iter().find(|m| m.dept == *dept);
                memberships.push(Membership {
                    dept: *dept,
                    order: order
                        .as_ref()
                        .map(|o| o[i])
                        .or(previous.map(|p| p.order))
                        .unwrap_or(0),
                    is_leader: is_leader_in_dept
                        .as_ref()
                        .map(|l| l[i])
                        .or(previous.map(|p| p.is_leader))
                        .unwrap_or(false),
                });
            }
            member.departments = memberships;
        }
        if let Some(main) = main_department {
            if !member.in_dept(main) {
                return Err(DirError::FieldInvalid {
                    field: "main_department",
                    reason: "must be one of the member's departments".into(),
                });
            }
            member.main_department = main;
        } else if !member.in_dept(member.main_department) {
            member.main_department = member.departments[0].dept;
        }
        if let Some(leaders) = direct_leader {
            for leader in &leaders {
                if leader == &member.userid || Some(leader) == renamed_from {
                    return Err(DirError::FieldInvalid {
                        field: "direct_leader",
                        reason: "a member cannot be their own leader".into(),
                    });
                }
                if !self.members.contains_key(leader) {
                    return Err(DirError::UserListInvalid);
                }
            }
            member.direct_leader = leaders;
        }
        match (enable, member.status) {
            (Some(false), MemberStatus::Active | MemberStatus::NotActivated) => {
                member.status = MemberStatus::Disabled;
            }
            (Some(true), MemberStatus::Disabled) => member.status = MemberStatus::Active,
            _ => {}
        }
        Ok(())
    }

    /// Plans a new member. Without departments they join the root.
    pub fn create_member(
        &self,
        userid: UserId,
        fields: MemberFields,
        plan: Plan,
    ) -> Result<DirChange, DirError> {
        if self.members.contains_key(&userid) {
            return Err(DirError::UserExists);
        }
        if fields.name.is_none() {
            return Err(DirError::MemberNameInvalid);
        }
        plan.check_member_count(self.members.len() as u64, 1)?;
        let mut member = Member {
            userid,
            name: String::new(),
            alias: String::new(),
            mobile: String::new(),
            position: String::new(),
            gender: Default::default(),
            email: String::new(),
            biz_mail: String::new(),
            telephone: String::new(),
            address: String::new(),
            english_name: String::new(),
            avatar_mediaid: String::new(),
            departments: vec![Membership {
                dept: DeptId::ROOT,
                order: 0,
                is_leader: false,
            }],
            main_department: DeptId::ROOT,
            direct_leader: Vec::new(),
            status: MemberStatus::NotActivated,
            extattr: Vec::new(),
            external_position: String::new(),
            external_profile: String::new(),
        };
        self.merge_fields(&mut member, fields, None)?;
        self.check_unique_contact(&member, None)?;
        Ok(DirChange::CreateMember(Box::new(member)))
    }

    /// Plans a change of a member, optionally renaming their userid.
    pub fn update_member(
        &self,
        userid: &UserId,
        new_userid: Option<UserId>,
        fields: MemberFields,
    ) -> Result<DirChange, DirError> {
        let before = self.members.get(userid).ok_or(DirError::UserNotFound)?;
        let mut after = before.clone();
        if let Some(new_id) = new_userid.filter(|n| n != userid) {
            if self.members.contains_key(&new_id) {
                return Err(DirError::UserExists);
            }
            after.userid = new_id;
        }
        self.merge_fields(&mut after, fields, Some(userid))?;
        self.check_unique_contact(&after, Some(userid))?;
        Ok(DirChange::UpdateMember {
            before: Box::new(before.clone()),
            after: Box::new(after),
        })
    }

    /// Plans the removal of a member.
    pub fn delete_member(&self, userid: &UserId) -> Result<DirChange, DirError> {
        let member = self.members.get(userid).ok_or(DirError::UserNotFound)?;
        Ok(DirChange::DeleteMember(Box::new(member.clone())))
    }

    // ---- tag commands --------------------------------------------------

    /// Plans a new tag.
    pub fn create_tag(
        &self,
        id: Option<TagId>,
        name: String,
        owner: Option<AgentId>,
    ) -> Result<DirChange, DirError> {
        check_tag_name(&name)?;
        if self.tag_named(&name).is_some() {
            return Err(DirError::TagExists);
        }
        let id = match id {
            Some(TagId(0)) => return Err(DirError::TagNotFound),
            Some(id) if self.tags.contains_key(&id) => return Err(DirError::TagExists),
            Some(id) => id,
            None => TagId(self.tags.keys().next_back().map_or(1, |t| t.0 + 1)),
        };
        Ok(DirChange::CreateTag(Tag {
            id,
            name,
            owner,
            users: Vec::new(),
            parties: Vec::new(),
        }))
    }

    /// Plans a tag rename.
    pub fn rename_tag(&self, id: TagId, name: String) -> Result<DirChange, DirError> {
        check_tag_name(&name)?;
        self.tags.get(&id).ok_or(DirError::TagNotFound)?;
        if self.tag_named(&name).is_some_and(|t| t.id != id) {
            return Err(DirError::TagExists);
        }
        Ok(DirChange::RenameTag { id, name })
    }

    /// Plans a tag removal.
    pub fn delete_tag(&self, id: TagId) -> Result<DirChange, DirError> {
        let tag = self.tags.get(&id).ok_or(DirError::TagNotFound)?;
        Ok(DirChange::DeleteTag(tag.clone()))
    }

    /// Plans adding (`add = true`) or removing members and departments of a
    /// tag. Unknown targets are reported, not fatal, unless all are unknown.
    pub fn tag_targets(
        &self,
        id: TagId,
        users: &[String],
        parties: &[i64],
        add: bool,
    ) -> Result<(DirChange, TagTargetOutcome), DirError> {
        let tag = self.tags.get(&id).ok_or(DirError::TagNotFound)?;
        if users.len() > 1000 || parties.len() > 100 {
            return Err(DirError::ListTooLong);
        }
        let mut outcome = TagTargetOutcome::default();
        let mut valid_users = Vec::new();
        for raw in users {
            match UserId::parse(raw) {
                Ok(u) if self.members.contains_key(&u) => {
                    if !valid_users.contains(&u) {
                        valid_users.push(u);
                    }
                }
                _ => outcome.invalid_users.push(raw.clone()),
            }
        }
        let mut valid_parties = Vec::new();
        for raw in parties {
            match DeptId::new(*raw) {
                Ok(d) if self.depts.contains_key(&d) => {
                    if !valid_parties.contains(&d) {
                        valid_parties.push(d);
                    }
                }
                _ => outcome.invalid_parties.push(*raw),
            }
        }
        if valid_users.is_empty() && valid_parties.is_empty() {
            return Err(DirError::TagTargetsAllInvalid);
        }
        let (add_users, del_users, add_parties, del_parties) = if add {
            valid_users.retain(|u| !tag.users.contains(u));
            valid_parties.retain(|d| !tag.parties.contains(d));
            (valid_users, Vec::new(), valid_parties, Vec::new())
        } else {
            valid_users.retain(|u| tag.users.contains(u));
            valid_parties.retain(|d| tag.parties.contains(d));
            (Vec::new(), valid_users, Vec::new(), valid_parties)
        };
        Ok((
            DirChange::TagTargets {
                id,
                add_users,
                del_users,
                add_parties,
                del_parties,
            },
            outcome,
        ))
    }

    // ---- applying ------------------------------------------------------

    fn insert_dept(&mut self, d: Department) {
        if let Some(parent) = d.parent {
            self.children
                .entry(parent)
                .or_default()
                .insert((Reverse(d.order), d.id));
        }
        self.depts.insert(d.id, d);
    }

    fn remove_dept(&mut self, id: DeptId) -> Option<Department> {
        let d = self.depts.remove(&id)?;
        if let Some(parent) = d.parent
            && let Some(set) = self.children.get_mut(&parent)
        {
            set.remove(&(Reverse(d.order), d.id));
        }
        Some(d)
    }

    fn insert_member(&mut self, m: Member) {
        for ms in &m.departments {
            self.dept_members
                .entry(ms.dept)
                .or_default()
                .insert((Reverse(ms.order), m.userid.clone()));
        }
        if !m.mobile.is_empty() {
            self.by_mobile.insert(m.mobile.clone(), m.userid.clone());
        }
        for mail in [&m.email, &m.biz_mail] {
            if !mail.is_empty() {
                self.by_email.insert(email_key(mail), m.userid.clone());
            }
        }
        self.members.insert(m.userid.clone(), m);
    }

    fn remove_member(&mut self, userid: &UserId) -> Option<Member> {
        let m = self.members.remove(userid)?;
        for ms in &m.departments {
            if let Some(set) = self.dept_members.get_mut(&ms.dept) {
                set.remove(&(Reverse(ms.order), m.userid.clone()));
            }
        }
        if self.by_mobile.get(&m.mobile) == Some(&m.userid) {
            self.by_mobile.remove(&m.mobile);
        }
        for mail in [&m.email, &m.biz_mail] {
            let key = email_key(mail);
            if self.by_email.get(&key) == Some(&m.userid) {
                self.by_email.remove(&key);
            }
        }
        Some(m)
    }

    /// Applies a committed change that the caller no longer needs: created
    /// departments and members move in instead of being cloned (an import
    /// commits ~100,000 of them).
    pub fn apply_owned(&mut self, change: DirChange) {
        match change {
            DirChange::CreateDept(d) => self.insert_dept(d),
            DirChange::CreateMember(m) => self.insert_member(*m),
            other => self.apply(&other),
        }
    }

    /// Applies a committed change.
    pub fn apply(&mut self, change: &DirChange) {
        match change {
            DirChange::CreateDept(d) => self.insert_dept(d.clone()),
            DirChange::UpdateDept { after, .. } => {
                self.remove_dept(after.id);
                self.insert_dept(after.clone());
            }
            DirChange::DeleteDept(d) => {
                self.remove_dept(d.id);
                for tag in self.tags.values_mut() {
                    tag.parties.retain(|p| *p != d.id);
                }
            }
            DirChange::CreateMember(m) => self.insert_member((**m).clone()),
            DirChange::UpdateMember { before, after } => {
                self.remove_member(&before.userid);
                self.insert_member((**after).clone());
                if before.userid != after.userid {
                    self.rename_references(&before.userid, &after.userid);
                }
            }
            DirChange::DeleteMember(m) => {
                self.remove_member(&m.userid);
                for tag in self.tags.values_mut() {
                    tag.users.retain(|u| *u != m.userid);
                }
                for other in self.members.values_mut() {
                    other.direct_leader.retain(|u| *u != m.userid);
                }
            }
            DirChange::CreateTag(t) => {
                self.tags.insert(t.id, t.clone());
            }
            DirChange::RenameTag { id, name } => {
                if let Some(t) = self.tags.get_mut(id) {
                    t.name = name.clone();
                }
            }
            DirChange::DeleteTag(t) => {
                self.tags.remove(&t.id);
            }
            DirChange::TagTargets {
                id,
                add_users,
                del_users,
                add_parties,
                del_parties,
            } => {
                if let Some(t) = self.tags.get_mut(id) {
                    t.users.retain(|u| !del_users.contains(u));
                    t.users.extend(add_users.iter().cloned());
                    t.parties.retain(|p| !del_parties.contains(p));
                    t.parties.extend(add_parties.iter().copied());
                }
            }
        }
    }

    fn rename_references(&mut self, from: &UserId, to: &UserId) {
        for tag in self.tags.values_mut() {
            for u in tag.users.iter_mut().filter(|u| *u == from) {
                *u = to.clone();
            }
        }
        for other in self.members.values_mut() {
            for u in other.direct_leader.iter_mut().filter(|u| *u == from) {
                *u = to.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uid(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    /// Plans moving `id` under `parent`, on the largest plan.
    fn move_under(dir: &Directory, id: DeptId, parent: DeptId) -> Result<DirChange, DirError> {
        dir.update_dept(
            id,
            DeptPatch {
                parent: Some(parent),
                ..Default::default()
            },
            Plan::Flagship,
        )
    }

    fn d(id: i64) -> DeptId {
        DeptId::new(id).unwrap()
    }

    fn add_dept(dir: &mut Directory, id: i64, parent: i64, name: &str) {
        let change = dir
            .create_dept(
                NewDept {
                    id: Some(d(id)),
                    name: name.into(),
                    name_en: None,
                    parent: d(parent),
                    order: None,
                },
                Plan::Flagship,
            )
            .unwrap();
        dir.apply(&change);
    }

    fn add_member(dir: &mut Directory, userid: &str, depts: &[i64]) {
        let change = dir
            .create_member(
                uid(userid),
                MemberFields {
                    name: Some(userid.to_uppercase()),
                    departments: Some(depts.iter().map(|x| d(*x)).collect()),
                    ..Default::default()
                },
                Plan::Flagship,
            )
            .unwrap();
        dir.apply(&change);
    }

    fn sample() -> Directory {
        let mut dir = Directory::with_root("Corp");
        add_dept(&mut dir, 2, 1, "Sales");
        add_dept(&mut dir, 3, 2, "East");
        add_dept(&mut dir, 4, 1, "Finance");
        dir
    }

    #[test]
    fn applying_owned_changes_matches_applying_borrowed_ones() {
        let base = sample();
        let dept = base
            .create_dept(
                NewDept {
                    id: Some(d(5)),
                    name: "West".into(),
                    name_en: None,
                    parent: d(2),
                    order: None,
                },
                Plan::Flagship,
            )
            .unwrap();
        let mut planned = base.clone();
        planned.apply(&dept);
        let member = planned
            .create_member(
                uid("ann"),
                MemberFields {
                    name: Some("Ann".into()),
                    mobile: Some("13800000001".into()),
                    departments: Some(vec![d(5), d(3)]),
                    ..Default::default()
                },
                Plan::Flagship,
            )
            .unwrap();
        planned.apply(&member);
        let renamed = planned
            .update_dept(
                d(4),
                DeptPatch {
                    name: Some("Money".into()),
                    ..Default::default()
                },
                Plan::Flagship,
            )
            .unwrap();
        let changes = [dept, member, renamed];
        let mut borrowed = base.clone();
        let mut owned = base;
        for change in changes {
            borrowed.apply(&change);
            owned.apply_owned(change);
        }
        for dir in [&borrowed, &owned] {
            assert_eq!(dir.child_named(d(2), "West"), Some(d(5)));
            assert_eq!(dir.child_named(DeptId::ROOT, "Money"), Some(d(4)));
            assert_eq!(dir.members_of(d(2), true).len(), 1);
            // The mobile index holds the moved member too.
            let twin = dir.create_member(
                uid("twin"),
                MemberFields {
                    name: Some("Twin".into()),
                    mobile: Some("13800000001".into()),
                    ..Default::default()
                },
                Plan::Flagship,
            );
            assert_eq!(twin, Err(DirError::MobileTaken));
        }
        assert_eq!(borrowed.member(&uid("ann")), owned.member(&uid("ann")));
    }

    #[test]
    fn root_cannot_be_deleted_or_moved() {
        let dir = sample();
        assert_eq!(dir.delete_dept(DeptId::ROOT), Err(DirError::RootImmutable));
        let moved = move_under(&dir, DeptId::ROOT, d(2));
        assert_eq!(moved, Err(DirError::RootImmutable));
    }

    #[test]
    fn moving_under_own_descendant_is_a_cycle() {
        let dir = sample();
        for target in [2, 3] {
            let moved = move_under(&dir, d(2), d(target));
            assert_eq!(moved, Err(DirError::DeptCycle), "under {target}");
        }
        let ok = move_under(&dir, d(3), d(4));
        assert!(ok.is_ok());
    }

    #[test]
    fn sibling_names_are_unique_but_cousins_may_share() {
        let mut dir = sample();
        let dup = dir.create_dept(
            NewDept {
                id: None,
                name: "Sales".into(),
                name_en: None,
                parent: DeptId::ROOT,
                order: None,
            },
            Plan::Flagship,
        );
        assert_eq!(dup, Err(DirError::DeptExists));
        add_dept(&mut dir, 5, 4, "East");
        let rename = dir.update_dept(
            d(4),
            DeptPatch {
                name: Some("Sales".into()),
                ..Default::default()
            },
            Plan::Flagship,
        );
        assert_eq!(rename, Err(DirError::DeptExists));
        let moving_into_clash = move_under(&dir, d(5), d(2));
        assert_eq!(moving_into_clash, Err(DirError::DeptExists));
    }

    #[test]
    fn depth_follows_the_plan_including_moved_subtrees() {
        let mut dir = sample(); // Corp(1) > Sales(2) > East(3): depth 3
        let too_deep = dir.create_dept(
            NewDept {
                id: None,
                name: "Team".into(),
                name_en: None,
                parent: d(3),
                order: None,
            },
            Plan::Basic,
        );
        assert!(matches!(too_deep, Err(DirError::Plan(_))));
        // Moving Sales (height 1) under Finance (depth 2) gives depth 4.
        let moved = dir.update_dept(
            d(2),
            DeptPatch {
                parent: Some(d(4)),
                ..Default::default()
            },
            Plan::Basic,
        );
        assert!(matches!(moved, Err(DirError::Plan(_))));
        add_dept(&mut dir, 6, 3, "Team");
        assert_eq!(dir.deepest(), 4);
        assert_eq!(dir.depth(d(6)), 4);
    }

    #[test]
    fn children_sort_by_order_descending_then_id() {
        let mut dir = Directory::with_root("Corp");
        for (id, order) in [(2, 5), (3, 10), (4, 5)] {
            let c = dir
                .create_dept(
                    NewDept {
                        id: Some(d(id)),
                        name: format!("d{id}"),
                        name_en: None,
                        parent: DeptId::ROOT,
                        order: Some(order),
                    },
                    Plan::Flagship,
                )
                .unwrap();
            dir.apply(&c);
        }
        assert_eq!(
            dir.children(DeptId::ROOT).collect::<Vec<_>>(),
            [d(3), d(2), d(4)]
        );
        let reorder = dir
            .update_dept(
                d(4),
                DeptPatch {
                    order: Some(11),
                    ..Default::default()
                },
                Plan::Flagship,
            )
            .unwrap();
        dir.apply(&reorder);
        assert_eq!(
            dir.children(DeptId::ROOT).collect::<Vec<_>>(),
            [d(4), d(3), d(2)]
        );
    }

    #[test]
    fn deleting_departments_needs_them_empty() {
        let mut dir = sample();
        assert_eq!(dir.delete_dept(d(2)), Err(DirError::DeptHasChildren));
        add_member(&mut dir, "zhangsan", &[3]);
        assert_eq!(dir.delete_dept(d(3)), Err(DirError::DeptHasMembers));
        assert_eq!(dir.delete_dept(d(99)), Err(DirError::DeptNotFound(99)));
        let c = dir.delete_dept(d(4)).unwrap();
        dir.apply(&c);
        assert!(dir.dept(d(4)).is_none());
    }

    #[test]
    fn members_default_to_root_and_main_department_follows() {
        let mut dir = sample();
        add_member(&mut dir, "a", &[]);
        assert_eq!(dir.member(&uid("a")).unwrap().main_department, DeptId::ROOT);
        add_member(&mut dir, "b", &[3, 4]);
        let b = dir.member(&uid("b")).unwrap();
        assert_eq!(b.main_department, d(3));
        assert_eq!(b.status, MemberStatus::NotActivated);
        let bad_main = dir.update_member(
            &uid("b"),
            None,
            MemberFields {
                main_department: Some(d(2)),
                ..Default::default()
            },
        );
        assert!(matches!(
            bad_main,
            Err(DirError::FieldInvalid {
                field: "main_department",
                ..
            })
        ));
        // Leaving the main department moves it to the first remaining one.
        let c = dir
            .update_member(
                &uid("b"),
                None,
                MemberFields {
                    departments: Some(vec![d(4)]),
                    ..Default::default()
                },
            )
            .unwrap();
        dir.apply(&c);
        assert_eq!(dir.member(&uid("b")).unwrap().main_department, d(4));
        assert!(dir.direct_members(d(3)).next().is_none());
    }

    #[test]
    fn unknown_departments_and_duplicates_are_refused() {
        let mut dir = sample();
        let unknown = dir.create_member(
            uid("x"),
            MemberFields {
                name: Some("X".into()),
                departments: Some(vec![d(42)]),
                ..Default::default()
            },
            Plan::Flagship,
        );
        assert_eq!(unknown, Err(DirError::DeptNotFound(42)));
        add_member(&mut dir, "x", &[2]);
        let again = dir.create_member(
            uid("X"),
            MemberFields {
                name: Some("X".into()),
                ..Default::default()
            },
            Plan::Flagship,
        );
        assert_eq!(again, Err(DirError::UserExists));
    }

    #[test]
    fn mobile_and_email_are_unique_in_the_corp() {
        let mut dir = sample();
        let c = dir
            .create_member(
                uid("a"),
                MemberFields {
                    name: Some("A".into()),
                    mobile: Some("13800000001".into()),
                    email: Some("A@example.com".into()),
                    ..Default::default()
                },
                Plan::Flagship,
            )
            .unwrap();
        dir.apply(&c);
        let same_mobile = dir.create_member(
            uid("b"),
            MemberFields {
                name: Some("B".into()),
                mobile: Some("13800000001".into()),
                ..Default::default()
            },
            Plan::Flagship,
        );
        assert_eq!(same_mobile, Err(DirError::MobileTaken));
        let same_mail = dir.create_member(
            uid("b"),
            MemberFields {
                name: Some("B".into()),
                email: Some("a@EXAMPLE.com".into()),
                ..Default::default()
            },
            Plan::Flagship,
        );
        assert_eq!(same_mail, Err(DirError::EmailTaken));
        // Updating a member with their own mobile is fine.
        assert!(
            dir.update_member(
                &uid("a"),
                None,
                MemberFields {
                    mobile: Some("13800000001".into()),
                    ..Default::default()
                },
            )
            .is_ok()
        );
        assert_eq!(
            dir.member_by_email("a@example.com")
                .map(|m| m.userid.as_str()),
            Some("a")
        );
    }

    #[test]
    fn plan_member_limit_applies() {
        let mut dir = sample();
        for i in 0..1000 {
            let c = dir
                .create_member(
                    uid(&format!("u{i}")),
                    MemberFields {
                        name: Some("n".into()),
                        ..Default::default()
                    },
                    Plan::Basic,
                )
                .unwrap();
            dir.apply(&c);
        }
        let over = dir.create_member(
            uid("one-more"),
            MemberFields {
                name: Some("n".into()),
                ..Default::default()
            },
            Plan::Basic,
        );
        assert!(matches!(over, Err(DirError::Plan(_))));
    }

    #[test]
    fn leaders_and_renames_keep_references() {
        let mut dir = sample();
        add_member(&mut dir, "boss", &[2]);
        let c = dir
            .create_member(
                uid("worker"),
                MemberFields {
                    name: Some("W".into()),
                    departments: Some(vec![d(2)]),
                    direct_leader: Some(vec![uid("boss")]),
                    ..Default::default()
                },
                Plan::Flagship,
            )
            .unwrap();
        dir.apply(&c);
        let selfish = dir.update_member(
            &uid("worker"),
            None,
            MemberFields {
                direct_leader: Some(vec![uid("worker")]),
                ..Default::default()
            },
        );
        assert!(selfish.is_err());
        let unknown = dir.update_member(
            &uid("worker"),
            None,
            MemberFields {
                direct_leader: Some(vec![uid("ghost")]),
                ..Default::default()
            },
        );
        assert_eq!(unknown, Err(DirError::UserListInvalid));
        let rename = dir
            .update_member(
                &uid("boss"),
                Some(uid("chief")),
                MemberFields {
                    is_leader_in_dept: Some(vec![true]),
                    departments: Some(vec![d(2)]),
                    ..Default::default()
                },
            )
            .unwrap();
        dir.apply(&rename);
        assert!(dir.member(&uid("boss")).is_none());
        assert_eq!(
            dir.member(&uid("worker")).unwrap().direct_leader,
            vec![uid("chief")]
        );
        assert_eq!(dir.leaders_of(d(2)), vec![&uid("chief")]);
        let del = dir.delete_member(&uid("chief")).unwrap();
        dir.apply(&del);
        assert!(dir.member(&uid("worker")).unwrap().direct_leader.is_empty());
    }

    #[test]
    fn recursive_member_lists_follow_tree_order_once_each() {
        let mut dir = sample();
        add_member(&mut dir, "root-guy", &[1]);
        add_member(&mut dir, "east", &[3]);
        add_member(&mut dir, "both", &[2, 3]);
        add_member(&mut dir, "fin", &[4]);
        let sales: Vec<&str> = dir
            .members_of(d(2), true)
            .iter()
            .map(|m| m.userid.as_str())
            .collect();
        assert_eq!(sales, ["both", "east"]);
        assert_eq!(dir.members_of(DeptId::ROOT, true).len(), 4);
        assert_eq!(dir.members_of(DeptId::ROOT, false).len(), 1);
    }

    #[test]
    fn tags_report_invalid_targets_and_refuse_all_invalid() {
        let mut dir = sample();
        add_member(&mut dir, "a", &[2]);
        let c = dir.create_tag(None, "Leads".into(), None).unwrap();
        dir.apply(&c);
        assert_eq!(
            dir.create_tag(None, "Leads".into(), None),
            Err(DirError::TagExists)
        );
        let id = dir.tag_named("Leads").unwrap().id;
        let (change, outcome) = dir
            .tag_targets(id, &["a".into(), "ghost".into()], &[2, 77], true)
            .unwrap();
        assert_eq!(outcome.invalid_users, ["ghost"]);
        assert_eq!(outcome.invalid_parties, [77]);
        dir.apply(&change);
        assert_eq!(dir.tag(id).unwrap().users, [uid("a")]);
        assert_eq!(
            dir.tag_targets(id, &["ghost".into()], &[], true).err(),
            Some(DirError::TagTargetsAllInvalid)
        );
        let (del, _) = dir.tag_targets(id, &["a".into()], &[], false).unwrap();
        dir.apply(&del);
        assert!(dir.tag(id).unwrap().users.is_empty());
        assert_eq!(dir.tag(id).unwrap().parties, [d(2)]);
    }

    #[test]
    fn path_names_and_lookup() {
        let dir = sample();
        assert_eq!(dir.path_names(d(3)), ["Sales", "East"]);
        assert!(dir.path_names(DeptId::ROOT).is_empty());
        assert_eq!(dir.child_named(d(2), "East"), Some(d(3)));
    }

    proptest! {
        /// Whatever sequence of moves is attempted, the departments stay one
        /// tree rooted at 1: every department reaches the root.
        #[test]
        fn random_moves_keep_one_tree(moves in prop::collection::vec((2i64..12, 1i64..12), 1..60)) {
            let mut dir = Directory::with_root("Corp");
            for id in 2..12 {
                let parent = if id <= 3 { 1 } else { id / 2 };
                add_dept(&mut dir, id, parent, &format!("d{id}"));
            }
            for (id, parent) in moves {
                if let Ok(c) = move_under(&dir, d(id), d(parent)) {
                    dir.apply(&c);
                }
            }
            for id in 1..12 {
                prop_assert!(dir.is_within(d(id), DeptId::ROOT));
            }
            prop_assert_eq!(dir.all_depts().len(), 11);
        }
    }
}
