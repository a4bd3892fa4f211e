//! Why a directory change or read is refused. The HTTP edge maps each
//! variant to exactly one WeCom errcode.

use crate::plan::PlanError;

/// A refused directory operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirError {
    /// Department name empty or too long (60001).
    #[error("department name must be 1 to 64 characters")]
    DeptNameLength,
    /// Department name with a forbidden character (60009).
    #[error("department name contains one of \\:*?\"<>|")]
    DeptNameChars,
    /// No such department (60003).
    #[error("department {0} not found")]
    DeptNotFound(u32),
    /// The given parent does not exist (60004).
    #[error("parent department {0} not found")]
    ParentNotFound(u32),
    /// Still has members (60005).
    #[error("department has members")]
    DeptHasMembers,
    /// Still has sub-departments (60006).
    #[error("department has sub-departments")]
    DeptHasChildren,
    /// The root cannot be deleted or moved (60007).
    #[error("the root department cannot be deleted or moved")]
    RootImmutable,
    /// Same id, or same name under the same parent (60008).
    #[error("department already exists")]
    DeptExists,
    /// Moving would create a cycle (60010).
    #[error("a department cannot move under itself or its descendants")]
    DeptCycle,
    /// An id that cannot be a department id (60123).
    #[error("invalid department id")]
    DeptIdInvalid,
    /// Outside the caller's range (60011).
    #[error("no privilege to access or modify")]
    NoPrivilege,
    /// Userid taken (60102).
    #[error("userid already exists")]
    UserExists,
    /// Bad mobile (60103).
    #[error("invalid mobile")]
    MobileInvalid,
    /// Mobile already used in this corp (60104).
    #[error("mobile already used in this corp")]
    MobileTaken,
    /// Bad e-mail (60105).
    #[error("invalid email")]
    EmailInvalid,
    /// E-mail already used in this corp (60106).
    #[error("email already used in this corp")]
    EmailTaken,
    /// Member in more than 20 departments (60110).
    #[error("a member can be in at most 20 departments")]
    TooManyDepartments,
    /// No such member (60111).
    #[error("userid not found")]
    UserNotFound,
    /// Empty or too long member name (60112).
    #[error("member name must be 1 to 64 characters")]
    MemberNameInvalid,
    /// A userid that is not well-formed (40003).
    #[error("invalid userid")]
    UserIdInvalid,
    /// A list naming unknown members (40031).
    #[error("invalid userid list")]
    UserListInvalid,
    /// A list over its size limit (40032).
    #[error("list too long")]
    ListTooLong,
    /// No such tag (40068).
    #[error("invalid tagid")]
    TagNotFound,
    /// Every target of a tag change was invalid (40070).
    #[error("all users and departments are invalid")]
    TagTargetsAllInvalid,
    /// Tag name taken (40071).
    #[error("tag name already exists")]
    TagExists,
    /// Tag name empty or too long (40072).
    #[error("tag name must be 1 to 32 characters")]
    TagNameLength,
    /// A field that breaks a rule (40058), named.
    #[error("{field}: {reason}")]
    FieldInvalid {
        /// Field name as on the wire.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The corp's plan does not allow it (45024).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// `replaceuser` would delete more members than allowed (45026).
    #[error("delete protection: the file would remove {would_delete} of {current} members")]
    DeleteProtection {
        /// Members the job would delete.
        would_delete: u64,
        /// Members now.
        current: u64,
    },
}

impl DirError {
    /// WeCom's errcode for this reason. It is the one mapping, used both by
    /// API replies and by the per-row results of import jobs.
    pub fn errcode(&self) -> i64 {
        match self {
            DirError::DeptNameLength => 60001,
            DirError::DeptNameChars => 60009,
            DirError::DeptNotFound(_) => 60003,
            DirError::ParentNotFound(_) => 60004,
            DirError::DeptHasMembers => 60005,
            DirError::DeptHasChildren => 60006,
            DirError::RootImmutable => 60007,
            DirError::DeptExists => 60008,
            DirError::DeptCycle => 60010,
            DirError::DeptIdInvalid => 60123,
            DirError::NoPrivilege => 60011,
            DirError::UserExists => 60102,
            DirError::MobileInvalid => 60103,
            DirError::MobileTaken => 60104,
            DirError::EmailInvalid => 60105,
            DirError::EmailTaken => 60106,
            DirError::TooManyDepartments => 60110,
            DirError::UserNotFound => 60111,
            DirError::MemberNameInvalid => 60112,
            DirError::UserIdInvalid => 40003,
            DirError::UserListInvalid => 40031,
            DirError::ListTooLong => 40032,
            DirError::TagNotFound => 40068,
            DirError::TagTargetsAllInvalid => 40070,
            DirError::TagExists => 40071,
            DirError::TagNameLength => 40072,
            DirError::FieldInvalid { .. } => 40058,
            DirError::Plan(_) => 45024,
            DirError::DeleteProtection { .. } => 45026,
        }
    }
}
