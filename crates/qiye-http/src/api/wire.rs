//! Request and response shapes of `/api/v1`, described for the OpenAPI
//! document. Domain types are converted here, at the edge.

use qiye_app::directory::member_view::{MemberCard, MemberPage, SearchHits};
use qiye_domain::directory::{
    Department, ExtAttr, ExtAttrValue, FieldRule, Member, Range, TagId, VisibilityRule,
};
use qiye_domain::ids::{DeptId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::V1Error;

/// `POST /api/v1/session`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateSessionRequest {
    /// The corp.
    pub corpid: String,
    /// userid, mobile or e-mail.
    pub login: String,
    /// The password.
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// The bearer token (also set as the `qiye_session` cookie).
    pub token: String,
    /// Echo it in `X-CSRF-Token` on unsafe requests authenticated by the
    /// cookie (also set as the `qiye_csrf` cookie).
    pub csrf_token: String,
    /// The corp.
    pub corpid: String,
    /// Who signed in.
    pub userid: String,
    /// Only `/me` and `/me/password` work until the password is changed.
    pub must_change_password: bool,
    /// Only `GET /me`, `POST /session/second-factor` and `DELETE /session`
    /// work until a TOTP or recovery code is given.
    pub second_factor_required: bool,
    /// The corp requires TOTP and the member has none: only `/me`,
    /// `/me/password`, `/me/totp/*` and `DELETE /session` work until enrolled.
    pub must_enroll_totp: bool,
    /// Absolute end of the session (Unix ms); it ends earlier after 7 idle days.
    pub expires_at: i64,
}

/// An administrator role.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRoleView {
    /// `super` or `scoped`.
    pub role: String,
    /// A scoped administrator's departments (with their subtrees).
    pub departments: Vec<u32>,
}

/// `POST /api/v1/session/second-factor`: exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondFactorRequest {
    /// The 6-digit code of the authenticator app.
    #[serde(default)]
    pub code: Option<String>,
    /// One of the recovery codes (`xxxx-xxxx`).
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// The corp, as a member sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeCorpView {
    /// The corp.
    pub corpid: String,
    /// Its name.
    pub name: String,
    /// Every member must use TOTP.
    pub require_2fa: bool,
    /// The web app shows a watermark.
    pub watermark: bool,
}

/// `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The corp.
    pub corpid: String,
    /// The member.
    pub userid: String,
    /// Their name.
    pub name: String,
    /// A one-time password must be changed first.
    pub must_change_password: bool,
    /// The session's CSRF token (for a reloaded page).
    pub csrf_token: String,
    /// The session still owes its second factor.
    pub second_factor_required: bool,
    /// The corp requires TOTP and the member has none.
    pub must_enroll_totp: bool,
    /// The member has TOTP.
    pub totp_enabled: bool,
    /// The corp's settings the app follows.
    pub corp: MeCorpView,
    /// Their administrator role, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<AdminRoleView>,
}

/// `POST /api/v1/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub old: String,
    /// The new password (10 to 128 characters).
    pub new: String,
}

/// A department.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    /// Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Parent (absent for the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parentid: Option<u32>,
    /// Order among siblings (larger first).
    pub order: u32,
}

impl From<&Department> for DepartmentView {
    fn from(d: &Department) -> Self {
        Self {
            id: d.id.get(),
            name: d.name.clone(),
            name_en: d.name_en.clone(),
            parentid: d.parent.map(DeptId::get),
            order: d.order,
        }
    }
}

/// Departments.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentsResponse {
    /// In tree order.
    pub departments: Vec<DepartmentView>,
}

/// One extended attribute.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtAttrView {
    /// Attribute name.
    pub name: String,
    /// 0 text, 1 web link, 2 mini program.
    #[serde(rename = "type")]
    pub kind: u8,
    /// Text, or the link / page path.
    pub value: String,
    /// Link or mini program title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl From<&ExtAttr> for ExtAttrView {
    fn from(a: &ExtAttr) -> Self {
        let (kind, value, title) = match &a.value {
            ExtAttrValue::Text { value } => (0, value.clone(), None),
            ExtAttrValue::Web { url, title } => (1, url.clone(), Some(title.clone())),
            ExtAttrValue::MiniProgram {
                pagepath, title, ..
            } => (2, pagepath.clone(), Some(title.clone())),
        };
        Self {
            name: a.name.clone(),
            kind,
            value,
            title,
        }
    }
}

/// A member. Protected fields the viewer may not read are omitted.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// userid.
    pub userid: String,
    /// Name.
    pub name: String,
    /// Alias.
    pub alias: String,
    /// English name.
    pub english_name: String,
    /// 0 unknown, 1 male, 2 female.
    pub gender: i64,
    /// 1 active, 2 disabled, 4 not activated, 5 left.
    pub status: i64,
    /// Avatar media id.
    pub avatar_mediaid: String,
    /// Departments (the visible ones).
    pub department: Vec<u32>,
    /// Main department, when visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_department: Option<u32>,
    /// Position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Mobile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Corp e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biz_mail: Option<String>,
    /// Telephone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Extended attributes (the readable ones).
    pub extattr: Vec<ExtAttrView>,
}

impl From<MemberCard> for MemberView {
    fn from(c: MemberCard) -> Self {
        Self {
            userid: c.userid.as_str().to_owned(),
            name: c.name,
            alias: c.alias,
            english_name: c.english_name,
            gender: c.gender.code(),
            status: c.status.code(),
            avatar_mediaid: c.avatar_mediaid,
            department: c.departments.iter().map(|d| d.get()).collect(),
            main_department: c.main_department.map(DeptId::get),
            position: c.position,
            mobile: c.mobile,
            email: c.email,
            biz_mail: c.biz_mail,
            telephone: c.telephone,
            address: c.address,
            extattr: c.extattr.iter().map(ExtAttrView::from).collect(),
        }
    }
}

impl From<&Member> for MemberView {
    /// An administrator's view: every field.
    fn from(m: &Member) -> Self {
        Self {
            userid: m.userid.as_str().to_owned(),
            name: m.name.clone(),
            alias: m.alias.clone(),
            english_name: m.english_name.clone(),
            gender: m.gender.code(),
            status: m.status.code(),
            avatar_mediaid: m.avatar_mediaid.clone(),
            department: m.departments.iter().map(|ms| ms.dept.get()).collect(),
            main_department: Some(m.main_department.get()),
            position: Some(m.position.clone()),
            mobile: Some(m.mobile.clone()),
            email: Some(m.email.clone()),
            biz_mail: Some(m.biz_mail.clone()),
            telephone: Some(m.telephone.clone()),
            address: Some(m.address.clone()),
            extattr: m.extattr.iter().map(ExtAttrView::from).collect(),
        }
    }
}

/// A page of members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPageResponse {
    /// The members.
    pub members: Vec<MemberView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl From<MemberPage> for MemberPageResponse {
    fn from(p: MemberPage) -> Self {
        Self {
            members: p.members.into_iter().map(MemberView::from).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// Search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Matching departments.
    pub departments: Vec<DepartmentView>,
    /// Matching members.
    pub members: Vec<MemberView>,
}

impl From<SearchHits> for SearchResponse {
    fn from(h: SearchHits) -> Self {
        Self {
            departments: h.departments.iter().map(DepartmentView::from).collect(),
            members: h.members.into_iter().map(MemberView::from).collect(),
        }
    }
}

/// `POST /api/v1/admin/departments`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateDeptRequest {
    /// Name.
    pub name: String,
    /// English name.
    pub name_en: Option<String>,
    /// Parent.
    pub parentid: u32,
    /// Order among siblings.
    pub order: Option<u32>,
    /// Id to use (assigned when absent).
    pub id: Option<u32>,
}

/// A created department.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedDeptResponse {
    /// Its id.
    pub id: u32,
}

/// `PATCH /api/v1/admin/departments/{id}`: absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateDeptRequest {
    /// Name.
    pub name: Option<String>,
    /// English name.
    pub name_en: Option<String>,
    /// Parent.
    pub parentid: Option<u32>,
    /// Order.
    pub order: Option<u32>,
}

/// Member fields for create and update: absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct MemberFieldsRequest {
    /// Name.
    pub name: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Mobile.
    pub mobile: Option<String>,
    /// Position.
    pub position: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    pub gender: Option<i64>,
    /// E-mail.
    pub email: Option<String>,
    /// Corp e-mail.
    pub biz_mail: Option<String>,
    /// Telephone.
    pub telephone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// English name.
    pub english_name: Option<String>,
    /// Departments.
    pub department: Option<Vec<u32>>,
    /// Main department.
    pub main_department: Option<u32>,
    /// false disables the member, true enables them.
    pub enable: Option<bool>,
}

/// `POST /api/v1/admin/members`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateMemberRequest {
    /// userid.
    pub userid: String,
    /// The fields.
    #[serde(flatten)]
    pub fields: MemberFieldsRequest,
}

fn dept_of(raw: u32) -> Result<DeptId, V1Error> {
    DeptId::new(i64::from(raw))
        .map_err(|_| V1Error::new(qiye_wecom::ErrCode::InvalidDepartmentId, raw.to_string()))
}

/// Department ids from the wire.
pub fn depts_of(raw: &[u32]) -> Result<Vec<DeptId>, V1Error> {
    raw.iter().map(|d| dept_of(*d)).collect()
}

impl MemberFieldsRequest {
    /// The domain's member fields.
    pub fn into_fields(self) -> Result<qiye_domain::directory::MemberFields, V1Error> {
        use qiye_domain::directory::{Gender, MemberFields};
        let gender = self
            .gender
            .map(|g| {
                Gender::from_code(g).ok_or_else(|| {
                    V1Error::new(
                        qiye_wecom::ErrCode::InvalidRequestParameter,
                        "gender must be 0, 1 or 2",
                    )
                })
            })
            .transpose()?;
        Ok(MemberFields {
            name: self.name,
            alias: self.alias,
            mobile: self.mobile,
            position: self.position,
            gender,
            email: self.email,
            biz_mail: self.biz_mail,
            telephone: self.telephone,
            address: self.address,
            english_name: self.english_name,
            departments: self.department.as_deref().map(depts_of).transpose()?,
            main_department: self.main_department.map(dept_of).transpose()?,
            enable: self.enable,
            ..Default::default()
        })
    }
}

/// Members for an administrator.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMembersResponse {
    /// Members in the administrator's reach, by userid.
    pub members: Vec<MemberView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A one-time password, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPasswordResponse {
    /// The member must change it at first sign-in.
    pub password: String,
}

/// Departments (each with its subtree), members and tags.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RangeView {
    /// Department ids.
    #[serde(default)]
    pub depts: Vec<u32>,
    /// userids.
    #[serde(default)]
    pub users: Vec<String>,
    /// Tag ids.
    #[serde(default)]
    pub tags: Vec<u32>,
}

impl From<&Range> for RangeView {
    fn from(r: &Range) -> Self {
        Self {
            depts: r.depts.iter().map(|d| d.get()).collect(),
            users: r.users.iter().map(|u| u.as_str().to_owned()).collect(),
            tags: r.tags.iter().map(|t| t.0).collect(),
        }
    }
}

impl RangeView {
    /// The domain range (ids checked for shape; existence is checked by the use case).
    pub fn into_range(self) -> Result<Range, V1Error> {
        Ok(Range {
            depts: depts_of(&self.depts)?,
            users: self
                .users
                .iter()
                .map(|u| {
                    UserId::parse(u)
                        .map_err(|_| V1Error::new(qiye_wecom::ErrCode::InvalidUserId, u.clone()))
                })
                .collect::<Result<_, _>>()?,
            tags: self.tags.iter().map(|t| TagId(*t)).collect(),
        })
    }
}

/// "Department `dept` (with its subtree) is visible only to `visible_to`"
/// (plus its own members and administrators over it).
#[derive(Debug, Serialize, ToSchema)]
pub struct VisibilityRuleView {
    /// The hidden department.
    pub dept: u32,
    /// Who may still see it.
    pub visible_to: RangeView,
}

impl From<&VisibilityRule> for VisibilityRuleView {
    fn from(r: &VisibilityRule) -> Self {
        Self {
            dept: r.dept.get(),
            visible_to: RangeView::from(&r.audience),
        }
    }
}

/// `PUT /api/v1/admin/visibility-rules/{dept}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PutVisibilityRuleRequest {
    /// Who may still see the department.
    #[serde(default)]
    pub visible_to: RangeView,
}

/// "Field `field` is readable only by administrators (if `admins`) and by
/// `readers`" (a member always reads their own).
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldRuleView {
    /// `mobile`, `email`, `biz_mail`, `telephone`, `address`, `position` or `extattr:NAME`.
    pub field: String,
    /// Administrators over the member may read it.
    pub admins: bool,
    /// Who else may read it.
    pub readers: RangeView,
}

impl From<&FieldRule> for FieldRuleView {
    fn from(r: &FieldRule) -> Self {
        Self {
            field: r.field.as_config(),
            admins: r.admins,
            readers: RangeView::from(&r.readers),
        }
    }
}

/// `PUT /api/v1/admin/field-rules/{field}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PutFieldRuleRequest {
    /// Administrators over the member may read it.
    #[serde(default)]
    pub admins: bool,
    /// Who else may read it.
    #[serde(default)]
    pub readers: RangeView,
}

/// All rules of the corp.
#[derive(Debug, Serialize, ToSchema)]
pub struct RulesResponse {
    /// Hidden departments.
    pub visibility: Vec<VisibilityRuleView>,
    /// Protected fields.
    pub fields: Vec<FieldRuleView>,
}

/// `POST /api/v1/me/totp/enroll`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrollResponse {
    /// The secret in base32 (for typing into the app).
    pub secret: String,
    /// The `otpauth://totp/...` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document.
    pub qr_svg: String,
}

/// `POST /api/v1/me/totp/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    /// A 6-digit code from the app.
    pub code: String,
}

/// A request confirmed by the member's password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordConfirmation {
    /// The current password.
    pub password: String,
}

/// New recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Ten codes `xxxx-xxxx`, each usable once.
    pub recovery_codes: Vec<String>,
}

/// One signed-in device.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// The session's public id (not its token).
    pub id: String,
    /// "Chrome 156 on Linux".
    pub device: String,
    /// The user agent at sign-in.
    pub user_agent: Option<String>,
    /// The IP at sign-in.
    pub ip: Option<String>,
    /// When it signed in (ms).
    pub signed_in_at: i64,
    /// Its last request (ms, one-minute granularity).
    pub last_seen: i64,
    /// It is the session asking.
    pub current: bool,
}

impl From<qiye_app::identity::Device> for DeviceView {
    fn from(d: qiye_app::identity::Device) -> Self {
        Self {
            id: d.id,
            device: d.label,
            user_agent: d.user_agent,
            ip: d.ip,
            signed_in_at: d.signed_in_at,
            last_seen: d.last_seen,
            current: d.current,
        }
    }
}

/// A member's devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicesResponse {
    /// Oldest first.
    pub sessions: Vec<DeviceView>,
}
