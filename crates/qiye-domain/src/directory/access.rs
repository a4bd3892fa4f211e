//! Who may see and change which part of the directory.
//!
//! Three separate questions, three types:
//! - [`Range`]: a set of departments (with subtrees), members and tags. An
//!   app's visible range is one; so is the audience of a visibility rule.
//! - [`Reach`]: what a caller of the directory API may read and write: the
//!   contacts-sync secret and super admins reach everything, an app its
//!   visible range, a scoped admin their departments' subtrees.
//! - [`VisibilityRule`] and [`FieldRule`]: what a *member* browsing the
//!   directory may see of departments, members and fields.

use super::model::{Member, TagId};
use super::state::Directory;
use crate::ids::{DeptId, UserId};

/// A set of departments (each with its subtree), members and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Range {
    /// Departments, each covering its subtree.
    pub depts: Vec<DeptId>,
    /// Members.
    pub users: Vec<UserId>,
    /// Tags, covering their members and their departments' subtrees.
    pub tags: Vec<TagId>,
}

impl Range {
    /// Whether the range names nothing.
    pub fn is_empty(&self) -> bool {
        self.depts.is_empty() && self.users.is_empty() && self.tags.is_empty()
    }

    fn tag_parties<'a>(&'a self, dir: &'a Directory) -> impl Iterator<Item = DeptId> + 'a {
        self.tags
            .iter()
            .filter_map(|t| dir.tag(*t))
            .flat_map(|t| t.parties.iter().copied())
    }

    /// Whether `dept` lies in the range (inside a named department's subtree,
    /// or a tagged department's).
    pub fn covers_dept(&self, dir: &Directory, dept: DeptId) -> bool {
        self.depts.iter().any(|root| dir.is_within(dept, *root))
            || self.tag_parties(dir).any(|root| dir.is_within(dept, root))
    }

    /// Whether `member` lies in the range: named, tagged, or in a covered
    /// department.
    pub fn covers_member(&self, dir: &Directory, member: &Member) -> bool {
        self.users.contains(&member.userid)
            || self.tags.iter().any(|t| {
                dir.tag(*t)
                    .is_some_and(|tag| tag.users.contains(&member.userid))
            })
            || member
                .departments
                .iter()
                .any(|ms| self.covers_dept(dir, ms.dept))
    }

    /// Whether a tag lies in the range.
    pub fn covers_tag(&self, tag: TagId) -> bool {
        self.tags.contains(&tag)
    }
}

/// What a caller of the directory may read and change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reach {
    /// The whole directory (contacts-sync secret, super admin, an app
    /// visible to the whole corp).
    Everything,
    /// Only inside this range.
    Within(Range),
}

impl Reach {
    /// Whether `dept` is reachable.
    pub fn dept(&self, dir: &Directory, dept: DeptId) -> bool {
        match self {
            Reach::Everything => true,
            Reach::Within(range) => range.covers_dept(dir, dept),
        }
    }

    /// Whether `member` is reachable.
    pub fn member(&self, dir: &Directory, member: &Member) -> bool {
        match self {
            Reach::Everything => true,
            Reach::Within(range) => range.covers_member(dir, member),
        }
    }

    /// The topmost reachable departments: the roots of the reachable
    /// subtrees, without duplicates or nesting, in tree order.
    pub fn top_depts(&self, dir: &Directory) -> Vec<DeptId> {
        match self {
            Reach::Everything => vec![DeptId::ROOT],
            Reach::Within(range) => {
                let mut roots: Vec<DeptId> = range
                    .depts
                    .iter()
                    .copied()
                    .chain(range.tag_parties(dir))
                    .filter(|d| dir.dept(*d).is_some())
                    .collect();
                roots.sort();
                roots.dedup();
                let nested: Vec<DeptId> = roots
                    .iter()
                    .copied()
                    .filter(|d| roots.iter().any(|r| r != d && dir.is_within(*d, *r)))
                    .collect();
                roots.retain(|d| !nested.contains(d));
                let order = dir.all_depts();
                roots.sort_by_key(|d| order.iter().position(|x| x == d));
                roots
            }
        }
    }
}

/// "Department `dept` (with its subtree) is visible only to `audience`."
/// Members inside the department always see it; super administrators see
/// everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityRule {
    /// The hidden department.
    pub dept: DeptId,
    /// Who may still see it.
    pub audience: Range,
}

/// A field whose reading can be restricted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProtectedField {
    /// `mobile`.
    Mobile,
    /// `email`.
    Email,
    /// `biz_mail`.
    BizMail,
    /// `telephone`.
    Telephone,
    /// `address`.
    Address,
    /// `position`.
    Position,
    /// One extended attribute, by name.
    ExtAttr(String),
}

impl ProtectedField {
    /// The name used in configuration: `mobile`, `email`, ..., `extattr:NAME`.
    pub fn as_config(&self) -> String {
        match self {
            ProtectedField::Mobile => "mobile".into(),
            ProtectedField::Email => "email".into(),
            ProtectedField::BizMail => "biz_mail".into(),
            ProtectedField::Telephone => "telephone".into(),
            ProtectedField::Address => "address".into(),
            ProtectedField::Position => "position".into(),
            ProtectedField::ExtAttr(name) => format!("extattr:{name}"),
        }
    }

    /// Parses the configuration name.
    pub fn from_config(raw: &str) -> Option<Self> {
        Some(match raw {
            "mobile" => ProtectedField::Mobile,
            "email" => ProtectedField::Email,
            "biz_mail" => ProtectedField::BizMail,
            "telephone" => ProtectedField::Telephone,
            "address" => ProtectedField::Address,
            "position" => ProtectedField::Position,
            _ => {
                let name = raw.strip_prefix("extattr:")?;
                if name.is_empty() {
                    return None;
                }
                ProtectedField::ExtAttr(name.to_owned())
            }
        })
    }
}

/// "Field `field` is readable only by administrators (if `admins`) and by
/// `readers`." A member always reads their own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    /// The field.
    pub field: ProtectedField,
    /// Whether administrators (super, or scoped over the member) may read it.
    pub admins: bool,
    /// Members, departments and tags that may read it.
    pub readers: Range,
}

/// A member looking at the directory, with their administrator role.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    /// The member.
    pub member: &'a Member,
    /// Super administrator.
    pub is_super: bool,
    /// Departments they administer (scoped administrator).
    pub admin_of: &'a [DeptId],
}

impl Viewer<'_> {
    fn administers(&self, dir: &Directory, target: &Member) -> bool {
        self.is_super
            || target
                .departments
                .iter()
                .any(|ms| self.admin_of.iter().any(|a| dir.is_within(ms.dept, *a)))
    }
}

/// The member-facing visibility policy of a corp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Hidden departments.
    pub visibility: Vec<VisibilityRule>,
    /// Restricted fields.
    pub fields: Vec<FieldRule>,
}

impl Policy {
    /// Whether `viewer` may see department `dept` (and so find it in the
    /// tree, in search and in pickers).
    pub fn can_see_dept(&self, dir: &Directory, viewer: &Viewer<'_>, dept: DeptId) -> bool {
        if viewer.is_super {
            return true;
        }
        self.visibility
            .iter()
            .filter(|rule| dir.is_within(dept, rule.dept))
            .all(|rule| self.rule_admits(dir, viewer, rule))
    }

    /// Whether `viewer` may see `target`: through at least one department
    /// they may see. Everyone sees themselves.
    pub fn can_see_member(&self, dir: &Directory, viewer: &Viewer<'_>, target: &Member) -> bool {
        target.userid == viewer.member.userid
            || target
                .departments
                .iter()
                .any(|ms| self.can_see_dept(dir, viewer, ms.dept))
    }

    /// Whether `viewer` may read `field` of `target`.
    pub fn can_read_field(
        &self,
        dir: &Directory,
        viewer: &Viewer<'_>,
        target: &Member,
        field: &ProtectedField,
    ) -> bool {
        if target.userid == viewer.member.userid {
            return true;
        }
        self.fields
            .iter()
            .filter(|rule| &rule.field == field)
            .all(|rule| {
                (rule.admins && viewer.administers(dir, target))
                    || rule.readers.covers_member(dir, viewer.member)
            })
    }
}

/// What one viewer may see, worked out once per request from the policy:
/// the roots of the hidden subtrees this viewer is outside of. Checking a
/// department then costs one walk up the tree per blocked root, whatever
/// the size of the corp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerScope {
    blocked: Vec<DeptId>,
}

impl ViewerScope {
    /// Whether `dept` is visible: no blocked root is it or above it. Same
    /// answer as [`Policy::can_see_dept`].
    pub fn sees_dept(&self, dir: &Directory, dept: DeptId) -> bool {
        !self.blocked.iter().any(|b| dir.is_within(dept, *b))
    }

    /// Whether `target` is visible (through one visible department, or it
    /// is the viewer). Same answer as [`Policy::can_see_member`].
    pub fn sees_member(&self, dir: &Directory, viewer: &Viewer<'_>, target: &Member) -> bool {
        target.userid == viewer.member.userid
            || target
                .departments
                .iter()
                .any(|ms| self.sees_dept(dir, ms.dept))
    }

    /// Whether a subtree root is hidden from the viewer (then nothing under
    /// it is visible, and a tree walk can skip it).
    pub fn is_blocked_root(&self, dept: DeptId) -> bool {
        self.blocked.contains(&dept)
    }
}

impl Policy {
    /// The rules that hide something from `viewer`, resolved once.
    pub fn scope_for(&self, dir: &Directory, viewer: &Viewer<'_>) -> ViewerScope {
        if viewer.is_super {
            return ViewerScope {
                blocked: Vec::new(),
            };
        }
        let blocked = self
            .visibility
            .iter()
            .filter(|rule| dir.dept(rule.dept).is_some())
            .filter(|rule| !self.rule_admits(dir, viewer, rule))
            .map(|rule| rule.dept)
            .collect();
        ViewerScope { blocked }
    }

    fn rule_admits(&self, dir: &Directory, viewer: &Viewer<'_>, rule: &VisibilityRule) -> bool {
        rule.audience.covers_member(dir, viewer.member)
            || viewer
                .member
                .departments
                .iter()
                .any(|ms| dir.is_within(ms.dept, rule.dept))
            || viewer.admin_of.iter().any(|a| dir.is_within(rule.dept, *a))
    }

    /// The fields of `target` that `viewer` may not read.
    pub fn unreadable_fields(
        &self,
        dir: &Directory,
        viewer: &Viewer<'_>,
        target: &Member,
    ) -> Vec<ProtectedField> {
        let mut out: Vec<ProtectedField> = Vec::new();
        for rule in &self.fields {
            if !out.contains(&rule.field) && !self.can_read_field(dir, viewer, target, &rule.field)
            {
                out.push(rule.field.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::MemberFields;
    use super::super::state::NewDept;
    use super::*;
    use crate::plan::Plan;

    fn d(id: i64) -> DeptId {
        DeptId::new(id).unwrap()
    }

    fn uid(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    /// Corp(1) > Management(2), Finance(3) > Payroll(4), Sales(5)
    fn corp() -> Directory {
        let mut dir = Directory::with_root("Corp");
        for (id, parent, name) in [
            (2, 1, "Management"),
            (3, 1, "Finance"),
            (4, 3, "Payroll"),
            (5, 1, "Sales"),
        ] {
            let c = dir
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
            dir.apply(&c);
        }
        for (u, dept) in [("ceo", 2), ("cfo", 3), ("clerk", 4), ("seller", 5)] {
            let c = dir
                .create_member(
                    uid(u),
                    MemberFields {
                        name: Some(u.into()),
                        mobile: Some(format!("1380000000{}", dept)),
                        departments: Some(vec![d(dept)]),
                        ..Default::default()
                    },
                    Plan::Flagship,
                )
                .unwrap();
            dir.apply(&c);
        }
        let c = dir.create_tag(None, "auditors".into(), None).unwrap();
        dir.apply(&c);
        let (c, _) = dir
            .tag_targets(super::TagId(1), &["seller".into()], &[], true)
            .unwrap();
        dir.apply(&c);
        dir
    }

    fn viewer<'a>(dir: &'a Directory, u: &str) -> Viewer<'a> {
        Viewer {
            member: dir.member(&uid(u)).unwrap(),
            is_super: false,
            admin_of: &[],
        }
    }

    #[test]
    fn ranges_cover_subtrees_members_and_tags() {
        let dir = corp();
        let range = Range {
            depts: vec![d(3)],
            users: vec![uid("ceo")],
            tags: vec![TagId(1)],
        };
        assert!(range.covers_dept(&dir, d(4)));
        assert!(!range.covers_dept(&dir, d(5)));
        for (u, inside) in [("clerk", true), ("ceo", true), ("seller", true)] {
            assert_eq!(
                range.covers_member(&dir, dir.member(&uid(u)).unwrap()),
                inside
            );
        }
        let narrow = Range {
            depts: vec![d(4)],
            ..Default::default()
        };
        assert!(!narrow.covers_member(&dir, dir.member(&uid("cfo")).unwrap()));
        let reach = Reach::Within(Range {
            depts: vec![d(4), d(3), d(5)],
            ..Default::default()
        });
        assert_eq!(reach.top_depts(&dir), [d(3), d(5)]);
    }

    #[test]
    fn hidden_department_is_visible_only_to_its_audience_and_insiders() {
        let dir = corp();
        let policy = Policy {
            visibility: vec![VisibilityRule {
                dept: d(3),
                audience: Range {
                    depts: vec![d(2)],
                    ..Default::default()
                },
            }],
            fields: vec![],
        };
        let clerk = dir.member(&uid("clerk")).unwrap();
        // Management sees Finance; Sales does not; Payroll (inside) does.
        assert!(policy.can_see_dept(&dir, &viewer(&dir, "ceo"), d(4)));
        assert!(!policy.can_see_dept(&dir, &viewer(&dir, "seller"), d(3)));
        assert!(!policy.can_see_dept(&dir, &viewer(&dir, "seller"), d(4)));
        assert!(!policy.can_see_member(&dir, &viewer(&dir, "seller"), clerk));
        assert!(policy.can_see_dept(&dir, &viewer(&dir, "clerk"), d(3)));
        assert!(policy.can_see_dept(&dir, &viewer(&dir, "seller"), d(5)));
        let mut sup = viewer(&dir, "seller");
        sup.is_super = true;
        assert!(policy.can_see_member(&dir, &sup, clerk));
    }

    #[test]
    fn protected_fields_need_a_reader_right() {
        let dir = corp();
        let policy = Policy {
            visibility: vec![],
            fields: vec![FieldRule {
                field: ProtectedField::Mobile,
                admins: true,
                readers: Range {
                    depts: vec![d(2)],
                    ..Default::default()
                },
            }],
        };
        let clerk = dir.member(&uid("clerk")).unwrap();
        let f = ProtectedField::Mobile;
        assert!(policy.can_read_field(&dir, &viewer(&dir, "ceo"), clerk, &f));
        assert!(!policy.can_read_field(&dir, &viewer(&dir, "seller"), clerk, &f));
        assert!(policy.can_read_field(&dir, &viewer(&dir, "clerk"), clerk, &f));
        assert!(policy.can_read_field(
            &dir,
            &viewer(&dir, "seller"),
            clerk,
            &ProtectedField::Email
        ));
        let scope = [d(3)];
        let scoped = Viewer {
            member: dir.member(&uid("seller")).unwrap(),
            is_super: false,
            admin_of: &scope,
        };
        assert!(policy.can_read_field(&dir, &scoped, clerk, &f));
    }

    #[test]
    fn viewer_scope_agrees_with_the_policy() {
        let dir = corp();
        let policy = Policy {
            visibility: vec![
                VisibilityRule {
                    dept: d(3),
                    audience: Range {
                        depts: vec![d(2)],
                        ..Default::default()
                    },
                },
                VisibilityRule {
                    dept: d(4),
                    audience: Range {
                        tags: vec![TagId(1)],
                        ..Default::default()
                    },
                },
            ],
            fields: vec![FieldRule {
                field: ProtectedField::Mobile,
                admins: false,
                readers: Range::default(),
            }],
        };
        for u in ["ceo", "cfo", "clerk", "seller"] {
            let v = viewer(&dir, u);
            let scope = policy.scope_for(&dir, &v);
            for dept in dir.all_depts() {
                assert_eq!(
                    scope.sees_dept(&dir, dept),
                    policy.can_see_dept(&dir, &v, dept),
                    "{u} / {dept}"
                );
            }
            for m in dir.members() {
                assert_eq!(
                    scope.sees_member(&dir, &v, m),
                    policy.can_see_member(&dir, &v, m)
                );
                let hidden = policy.unreadable_fields(&dir, &v, m);
                assert_eq!(hidden.is_empty(), m.userid == v.member.userid, "{u}");
            }
        }
        let seller = viewer(&dir, "seller");
        let scope = policy.scope_for(&dir, &seller);
        assert!(scope.is_blocked_root(d(3)));
        assert!(
            !scope.is_blocked_root(d(4)),
            "the tag admits seller to Payroll"
        );
    }

    #[test]
    fn field_names_round_trip() {
        for f in [
            ProtectedField::Mobile,
            ProtectedField::Email,
            ProtectedField::BizMail,
            ProtectedField::Telephone,
            ProtectedField::Address,
            ProtectedField::Position,
            ProtectedField::ExtAttr("工号".into()),
        ] {
            assert_eq!(ProtectedField::from_config(&f.as_config()), Some(f));
        }
        assert_eq!(ProtectedField::from_config("extattr:"), None);
        assert_eq!(ProtectedField::from_config("salary"), None);
    }
}
