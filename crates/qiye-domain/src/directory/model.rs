//! The directory's entities: departments, members, tags, and the validation
//! of their fields. Limits follow WeCom's documented ones.

use super::MemberStatus;
use super::error::DirError;
use crate::ids::{DeptId, UserId};

/// Longest department name, in characters (current WeCom docs).
pub const MAX_DEPT_NAME_CHARS: usize = 64;
/// Longest member name, in characters.
pub const MAX_MEMBER_NAME_CHARS: usize = 64;
/// Most departments a member belongs to.
pub const MAX_DEPARTMENTS_PER_MEMBER: usize = 20;
/// Most direct leaders of a member.
pub const MAX_DIRECT_LEADERS: usize = 5;
/// Longest tag name, in characters.
pub const MAX_TAG_NAME_CHARS: usize = 32;
/// Characters a department name may not contain.
pub const DEPT_NAME_FORBIDDEN: &[char] = &['\\', ':', '*', '?', '"', '<', '>', '|'];

/// A tag id (positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagId(pub u32);

/// A department of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// Its id; 1 is the root.
    pub id: DeptId,
    /// Its name, unique among its siblings.
    pub name: String,
    /// Its English name, possibly empty.
    pub name_en: String,
    /// Its parent; `None` only for the root.
    pub parent: Option<DeptId>,
    /// Sort key among siblings; larger sorts first.
    pub order: u32,
}

/// Validates a department name (or English name): 1..=64 characters, none
/// of `\:*?"<>|`.
pub fn check_dept_name(name: &str) -> Result<(), DirError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DEPT_NAME_CHARS || name.trim().is_empty() {
        return Err(DirError::DeptNameLength);
    }
    if name.contains(DEPT_NAME_FORBIDDEN) || name.chars().any(char::is_control) {
        return Err(DirError::DeptNameChars);
    }
    Ok(())
}

/// Gender, with WeCom's codes (0 unknown, 1 male, 2 female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gender {
    /// Not given (0).
    #[default]
    Unknown,
    /// Male (1).
    Male,
    /// Female (2).
    Female,
}

impl Gender {
    /// WeCom's numeric code.
    pub fn code(self) -> i64 {
        match self {
            Gender::Unknown => 0,
            Gender::Male => 1,
            Gender::Female => 2,
        }
    }

    /// From WeCom's numeric code.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Gender::Unknown),
            1 => Some(Gender::Male),
            2 => Some(Gender::Female),
            _ => None,
        }
    }

    /// From a spreadsheet cell: a code, or 男/女/未知, male/female/unknown.
    pub fn from_label(label: &str) -> Option<Self> {
        let label = label.trim();
        match label.to_ascii_lowercase().as_str() {
            "" | "0" | "未知" | "unknown" => Some(Gender::Unknown),
            "1" | "男" | "male" | "m" => Some(Gender::Male),
            "2" | "女" | "female" | "f" => Some(Gender::Female),
            _ => None,
        }
    }
}

/// The value of one extended attribute (`extattr.attrs[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtAttrValue {
    /// type 0: text.
    Text {
        /// The text.
        value: String,
    },
    /// type 1: a web link.
    Web {
        /// Link target.
        url: String,
        /// Link title.
        title: String,
    },
    /// type 2: a mini program.
    MiniProgram {
        /// Mini program appid.
        appid: String,
        /// Page path.
        pagepath: String,
        /// Title.
        title: String,
    },
}

/// One extended attribute of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAttr {
    /// Attribute name, as configured by the corp.
    pub name: String,
    /// Its value.
    pub value: ExtAttrValue,
}

/// A member's place in one department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The department.
    pub dept: DeptId,
    /// Sort key inside that department; larger sorts first.
    pub order: u32,
    /// Whether the member leads that department.
    pub is_leader: bool,
}

/// A member of the corp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their userid (lower case).
    pub userid: UserId,
    /// Display name.
    pub name: String,
    /// Alias.
    pub alias: String,
    /// Mobile number, possibly empty.
    pub mobile: String,
    /// Job title.
    pub position: String,
    /// Gender.
    pub gender: Gender,
    /// Personal e-mail, possibly empty.
    pub email: String,
    /// Corp e-mail, possibly empty.
    pub biz_mail: String,
    /// Landline.
    pub telephone: String,
    /// Office address.
    pub address: String,
    /// English name.
    pub english_name: String,
    /// Avatar media id.
    pub avatar_mediaid: String,
    /// Departments, at least one, at most 20, in the order given.
    pub departments: Vec<Membership>,
    /// Main department; one of `departments`.
    pub main_department: DeptId,
    /// Direct leaders.
    pub direct_leader: Vec<UserId>,
    /// Status (active, disabled, not activated, left).
    pub status: MemberStatus,
    /// Extended attributes.
    pub extattr: Vec<ExtAttr>,
    /// Title shown to external contacts.
    pub external_position: String,
    /// External profile, kept as the JSON text the client sent.
    pub external_profile: String,
}

impl Member {
    /// Whether the member belongs to `dept` directly.
    pub fn in_dept(&self, dept: DeptId) -> bool {
        self.departments.iter().any(|m| m.dept == dept)
    }

    /// The member's order in `dept`, 0 if not a member there.
    pub fn order_in(&self, dept: DeptId) -> u32 {
        self.departments
            .iter()
            .find(|m| m.dept == dept)
            .map_or(0, |m| m.order)
    }
}

/// The fields a create or update request may carry; `None` means "not
/// given" (on update: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFields {
    /// Display name.
    pub name: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Mobile.
    pub mobile: Option<String>,
    /// Job title.
    pub position: Option<String>,
    /// Gender.
    pub gender: Option<Gender>,
    /// Personal e-mail.
    pub email: Option<String>,
    /// Corp e-mail.
    pub biz_mail: Option<String>,
    /// Landline.
    pub telephone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// English name.
    pub english_name: Option<String>,
    /// Avatar media id.
    pub avatar_mediaid: Option<String>,
    /// Departments.
    pub departments: Option<Vec<DeptId>>,
    /// Orders, parallel to `departments`.
    pub order: Option<Vec<u32>>,
    /// Leader flags, parallel to `departments`.
    pub is_leader_in_dept: Option<Vec<bool>>,
    /// Main department.
    pub main_department: Option<DeptId>,
    /// Direct leaders.
    pub direct_leader: Option<Vec<UserId>>,
    /// `enable`: true activates (or keeps not-activated), false disables.
    pub enable: Option<bool>,
    /// Extended attributes (replace the whole list when given).
    pub extattr: Option<Vec<ExtAttr>>,
    /// External title.
    pub external_position: Option<String>,
    /// External profile JSON.
    pub external_profile: Option<String>,
}

fn check_len(value: &str, max_chars: usize, field: &'static str) -> Result<(), DirError> {
    if value.chars().count() > max_chars {
        Err(DirError::FieldInvalid {
            field,
            reason: format!("longer than {max_chars} characters"),
        })
    } else {
        Ok(())
    }
}

/// Validates a mobile number: optional `+` and country code, then digits,
/// spaces or dashes; 5 to 32 characters.
pub fn check_mobile(mobile: &str) -> Result<(), DirError> {
    let body = mobile.strip_prefix('+').unwrap_or(mobile);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let valid = (5..=32).contains(&mobile.len())
        && digits >= 5
        && body.starts_with(|c: char| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(DirError::MobileInvalid)
    }
}

/// Validates an e-mail address: `local@domain.tld`, at most 64 characters.
pub fn check_email(email: &str) -> Result<(), DirError> {
    let valid = email.len() <= 64
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email
                        .chars()
                        .any(|c| c.is_whitespace() || c == ',' || c == ';')
                    && !domain.contains('@')
            }
            None => false,
        };
    if valid {
        Ok(())
    } else {
        Err(DirError::EmailInvalid)
    }
}

impl MemberFields {
    /// Checks the shape of every given field (lengths, formats, parallel
    /// arrays). Checks against the directory (departments exist, mobile
    /// unique) are the state's job.
    pub fn check_shape(&self) -> Result<(), DirError> {
        if let Some(name) = &self.name {
            let n = name.chars().count();
            if n == 0 || n > MAX_MEMBER_NAME_CHARS || name.trim().is_empty() {
                return Err(DirError::MemberNameInvalid);
            }
        }
        for (value, max, field) in [
            (&self.alias, 64, "alias"),
            (&self.position, 128, "position"),
            (&self.telephone, 32, "telephone"),
            (&self.address, 128, "address"),
            (&self.english_name, 64, "english_name"),
            (&self.external_position, 12, "external_position"),
            (&self.avatar_mediaid, 256, "avatar_mediaid"),
            (&self.biz_mail, 64, "biz_mail"),
        ] {
            if let Some(v) = value {
                check_len(v, max, field)?;
            }
        }
        if let Some(mobile) = self.mobile.as_deref().filter(|m| !m.is_empty()) {
            check_mobile(mobile)?;
        }
        if let Some(email) = self.email.as_deref().filter(|m| !m.is_empty()) {
            check_email(email)?;
        }
        if let Some(mail) = self.biz_mail.as_deref().filter(|m| !m.is_empty()) {
            check_email(mail)?;
        }
        if let Some(depts) = &self.departments {
            if depts.len() > MAX_DEPARTMENTS_PER_MEMBER {
                return Err(DirError::TooManyDepartments);
            }
            let mut seen = depts.clone();
            seen.sort();
            seen.dedup();
            if seen.len() != depts.len() {
                return Err(DirError::FieldInvalid {
                    field: "department",
                    reason: "a department is listed twice".into(),
                });
            }
            if self.order.as_ref().is_some_and(|o| o.len() != depts.len()) {
                return Err(DirError::FieldInvalid {
                    field: "order",
                    reason: "must have one entry per department".into(),
                });
            }
            if self
                .is_leader_in_dept
                .as_ref()
                .is_some_and(|l| l.len() != depts.len())
            {
                return Err(DirError::FieldInvalid {
                    field: "is_leader_in_dept",
                    reason: "must have one entry per department".into(),
                });
            }
        } else if self.order.is_some() || self.is_leader_in_dept.is_some() {
            return Err(DirError::FieldInvalid {
                field: "department",
                reason: "order and is_leader_in_dept need department".into(),
            });
        }
        if let Some(leaders) = &self.direct_leader
            && leaders.len() > MAX_DIRECT_LEADERS
        {
            return Err(DirError::FieldInvalid {
                field: "direct_leader",
                reason: format!("at most {MAX_DIRECT_LEADERS} leaders"),
            });
        }
        if let Some(attrs) = &self.extattr {
            for attr in attrs {
                check_len(&attr.name, 32, "extattr.name")?;
                if attr.name.is_empty() {
                    return Err(DirError::FieldInvalid {
                        field: "extattr.name",
                        reason: "empty".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A tag: a named set of members and departments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Its id.
    pub id: TagId,
    /// Its name, unique in the corp.
    pub name: String,
    /// The app that created it, `None` for the contacts secret or an admin.
    /// An app may change only the tags it created.
    pub owner: Option<crate::ids::AgentId>,
    /// Members, in the order they were added.
    pub users: Vec<UserId>,
    /// Departments, in the order they were added.
    pub parties: Vec<DeptId>,
}

/// Validates a tag name: 1..=32 characters.
pub fn check_tag_name(name: &str) -> Result<(), DirError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_TAG_NAME_CHARS || name.trim().is_empty() {
        Err(DirError::TagNameLength)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn department_names() {
        assert!(check_dept_name("研发中心").is_ok());
        assert_eq!(check_dept_name(""), Err(DirError::DeptNameLength));
        assert_eq!(check_dept_name("   "), Err(DirError::DeptNameLength));
        assert_eq!(
            check_dept_name(&"x".repeat(65)),
            Err(DirError::DeptNameLength)
        );
        assert!(check_dept_name(&"部".repeat(64)).is_ok());
        for bad in ["a:b", "a*", "a?", "a\"", "<a>", "a|b", "a\\b"] {
            assert_eq!(check_dept_name(bad), Err(DirError::DeptNameChars), "{bad}");
        }
    }

    #[test]
    fn gender_labels_and_codes() {
        assert_eq!(Gender::from_label("男"), Some(Gender::Male));
        assert_eq!(Gender::from_label("Female"), Some(Gender::Female));
        assert_eq!(Gender::from_label(""), Some(Gender::Unknown));
        assert_eq!(Gender::from_label("x"), None);
        for g in [Gender::Unknown, Gender::Male, Gender::Female] {
            assert_eq!(Gender::from_code(g.code()), Some(g));
        }
        assert_eq!(Gender::from_code(3), None);
    }

    #[test]
    fn mobiles_and_emails() {
        for ok in ["13800138000", "+86 13800138000", "+1-555-0100"] {
            assert!(check_mobile(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "+", "12", "138 0013 800a", "-13800138000"] {
            assert_eq!(check_mobile(bad), Err(DirError::MobileInvalid), "{bad}");
        }
        assert!(check_email("zhang.san@example.com").is_ok());
        for bad in ["a", "a@b", "@b.com", "a@.com", "a b@c.com", "a@b@c.com"] {
            assert_eq!(check_email(bad), Err(DirError::EmailInvalid), "{bad}");
        }
    }

    #[test]
    fn member_field_shapes() {
        let ok = MemberFields {
            name: Some("张三".into()),
            departments: Some(vec![DeptId::ROOT]),
            order: Some(vec![3]),
            ..Default::default()
        };
        assert!(ok.check_shape().is_ok());
        let too_many = MemberFields {
            departments: Some((1..=21).map(|i| DeptId::new(i).unwrap()).collect()),
            ..Default::default()
        };
        assert_eq!(too_many.check_shape(), Err(DirError::TooManyDepartments));
        let mismatched = MemberFields {
            departments: Some(vec![DeptId::ROOT]),
            order: Some(vec![1, 2]),
            ..Default::default()
        };
        assert!(matches!(
            mismatched.check_shape(),
            Err(DirError::FieldInvalid { field: "order", .. })
        ));
        let nameless = MemberFields {
            name: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(nameless.check_shape(), Err(DirError::MemberNameInvalid));
    }

    #[test]
    fn tag_names() {
        assert!(check_tag_name("财务").is_ok());
        assert_eq!(check_tag_name(""), Err(DirError::TagNameLength));
        assert_eq!(
            check_tag_name(&"t".repeat(33)),
            Err(DirError::TagNameLength)
        );
    }
}
