//! Directory shapes (§2 of the wire reference): departments, members, tags,
//! import jobs. Requests accept what wechatpy and other SDKs send (numbers
//! as strings, `gender` as int or string, legacy `tel`, `weixinid`).

use serde::{Deserialize, Serialize};

use super::lenient;

/// `?id=` / `?userid=` / `?tagid=` / `?jobid=` query parameters, as text
/// (validated at the edge).
#[derive(Debug, Default, Deserialize)]
pub struct DirQuery {
    /// `id` (department).
    pub id: Option<String>,
    /// `userid`.
    pub userid: Option<String>,
    /// `tagid`.
    pub tagid: Option<String>,
    /// `jobid`.
    pub jobid: Option<String>,
    /// `department_id`.
    pub department_id: Option<String>,
    /// `fetch_child`.
    pub fetch_child: Option<String>,
    /// `status` (legacy bits).
    pub status: Option<String>,
}

/// `department/create` and `department/update`.
#[derive(Debug, Default, Deserialize)]
pub struct DepartmentRequest {
    /// Id (required for update, optional for create).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub id: Option<i64>,
    /// Name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// English name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name_en: Option<String>,
    /// Parent id.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub parentid: Option<i64>,
    /// Order.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub order: Option<i64>,
}

/// `department/create` reply.
#[derive(Debug, Serialize)]
pub struct DepartmentCreated {
    /// The new department's id.
    pub id: i64,
}

/// A department in `department/list` and `department/get`.
#[derive(Debug, Serialize)]
pub struct DepartmentOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Leaders' userids.
    pub department_leader: Vec<String>,
    /// Parent id (0 for the root).
    pub parentid: i64,
    /// Order.
    pub order: i64,
}

/// `department/list` reply.
#[derive(Debug, Serialize)]
pub struct DepartmentList {
    /// Departments in tree order.
    pub department: Vec<DepartmentOut>,
}

/// `department/get` reply.
#[derive(Debug, Serialize)]
pub struct DepartmentGet {
    /// The department.
    pub department: DepartmentOut,
}

/// A department in `department/simplelist`.
#[derive(Debug, Serialize)]
pub struct DepartmentIdOut {
    /// Id.
    pub id: i64,
    /// Parent id.
    pub parentid: i64,
    /// Order.
    pub order: i64,
}

/// `department/simplelist` reply.
#[derive(Debug, Serialize)]
pub struct DepartmentSimpleList {
    /// Departments in tree order.
    pub department_id: Vec<DepartmentIdOut>,
}

/// One extended attribute on the wire.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AttrWire {
    /// 0 text, 1 web, 2 mini program.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<i64>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Text value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextAttr>,
    /// Web value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebAttr>,
    /// Mini program value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<MiniProgramAttr>,
}

/// `{value}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TextAttr {
    /// The text.
    #[serde(default)]
    pub value: String,
}

/// `{url, title}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct WebAttr {
    /// URL.
    #[serde(default)]
    pub url: String,
    /// Title.
    #[serde(default)]
    pub title: String,
}

/// `{appid, pagepath, title}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct MiniProgramAttr {
    /// Appid.
    #[serde(default)]
    pub appid: String,
    /// Page path.
    #[serde(default)]
    pub pagepath: String,
    /// Title.
    #[serde(default)]
    pub title: String,
}

/// `extattr`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ExtAttrWire {
    /// Items.
    #[serde(default)]
    pub attrs: Vec<AttrWire>,
}

/// `user/create` and `user/update`.
#[derive(Debug, Default, Deserialize)]
pub struct UserRequest {
    /// Userid.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub userid: Option<String>,
    /// New userid (update only).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub new_userid: Option<String>,
    /// Name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub name: Option<String>,
    /// Alias.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub alias: Option<String>,
    /// English name (legacy).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub english_name: Option<String>,
    /// Mobile.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub mobile: Option<String>,
    /// Departments.
    #[serde(default, deserialize_with = "lenient::opt_i64_list")]
    pub department: Option<Vec<i64>>,
    /// Orders, parallel to `department`.
    #[serde(default, deserialize_with = "lenient::opt_i64_list")]
    pub order: Option<Vec<i64>>,
    /// Title.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub position: Option<String>,
    /// `"1"`/`1` male, `"2"`/`2` female, `0` unknown.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub gender: Option<i64>,
    /// Personal e-mail.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub email: Option<String>,
    /// Corp e-mail.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub biz_mail: Option<String>,
    /// Landline.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub telephone: Option<String>,
    /// Landline, legacy name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub tel: Option<String>,
    /// Leader flags, parallel to `department`.
    #[serde(default, deserialize_with = "lenient::opt_i64_list")]
    pub is_leader_in_dept: Option<Vec<i64>>,
    /// Direct leaders.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub direct_leader: Option<Vec<String>>,
    /// Avatar media id.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub avatar_mediaid: Option<String>,
    /// 1 enabled, 0 disabled.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub enable: Option<i64>,
    /// Extended attributes.
    #[serde(default)]
    pub extattr: Option<ExtAttrWire>,
    /// Send an invitation (accepted, no effect: qiye sends none).
    #[serde(default)]
    pub to_invite: Option<serde_json::Value>,
    /// External title.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub external_position: Option<String>,
    /// External profile (kept as given).
    #[serde(default)]
    pub external_profile: Option<serde_json::Value>,
    /// Address.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub address: Option<String>,
    /// Main department.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub main_department: Option<i64>,
}

/// A member in `user/get` and `user/list`.
#[derive(Debug, Serialize)]
pub struct UserOut {
    /// Userid.
    pub userid: String,
    /// Name.
    pub name: String,
    /// Departments.
    pub department: Vec<i64>,
    /// Orders.
    pub order: Vec<i64>,
    /// Title.
    pub position: String,
    /// Mobile.
    pub mobile: String,
    /// Gender as a string (`"0"`, `"1"`, `"2"`), as WeCom answers.
    pub gender: String,
    /// Personal e-mail.
    pub email: String,
    /// Corp e-mail.
    pub biz_mail: String,
    /// Leader flags.
    pub is_leader_in_dept: Vec<i64>,
    /// Direct leaders.
    pub direct_leader: Vec<String>,
    /// Avatar URL (empty: qiye serves no avatars yet).
    pub avatar: String,
    /// Thumbnail URL.
    pub thumb_avatar: String,
    /// Landline.
    pub telephone: String,
    /// Alias.
    pub alias: String,
    /// Address.
    pub address: String,
    /// Corp-independent id.
    pub open_userid: String,
    /// Main department.
    pub main_department: i64,
    /// Extended attributes.
    pub extattr: ExtAttrWire,
    /// 1 active, 2 disabled, 4 not activated, 5 left.
    pub status: i64,
    /// 1 enabled, 0 disabled.
    pub enable: i64,
    /// Join QR code URL (empty).
    pub qr_code: String,
    /// External title.
    pub external_position: String,
    /// External profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_profile: Option<serde_json::Value>,
    /// English name (legacy).
    pub english_name: String,
    /// Whether the mobile is hidden (0).
    pub hide_mobile: i64,
}

/// `user/list` reply.
#[derive(Debug, Serialize)]
pub struct UserList {
    /// Members.
    pub userlist: Vec<UserOut>,
}

/// A member in `user/simplelist`.
#[derive(Debug, Serialize)]
pub struct SimpleUser {
    /// Userid.
    pub userid: String,
    /// Name.
    pub name: String,
    /// Departments.
    pub department: Vec<i64>,
    /// Corp-independent id.
    pub open_userid: String,
}

/// `user/simplelist` reply.
#[derive(Debug, Serialize)]
pub struct SimpleUserList {
    /// Members.
    pub userlist: Vec<SimpleUser>,
}

/// `user/batchdelete`.
#[derive(Debug, Default, Deserialize)]
pub struct BatchDeleteRequest {
    /// Userids.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub useridlist: Option<Vec<String>>,
}

/// `user/list_id`.
#[derive(Debug, Default, Deserialize)]
pub struct ListIdRequest {
    /// Cursor from the previous page.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub cursor: Option<String>,
    /// Page size, 1..=10000.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub limit: Option<i64>,
}

/// One membership in `user/list_id`.
#[derive(Debug, Serialize)]
pub struct DeptUser {
    /// Userid.
    pub userid: String,
    /// Department.
    pub department: i64,
}

/// `user/list_id` reply.
#[derive(Debug, Serialize)]
pub struct ListIdResponse {
    /// Cursor of the next page; empty at the end.
    pub next_cursor: String,
    /// One row per membership.
    pub dept_user: Vec<DeptUser>,
}

/// `user/getuserid`, `user/get_userid_by_email`, `user/convert_to_openid`.
#[derive(Debug, Default, Deserialize)]
pub struct LookupRequest {
    /// Mobile.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub mobile: Option<String>,
    /// E-mail.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub email: Option<String>,
    /// 1 corp mail, 2 personal mail.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub email_type: Option<i64>,
    /// Userid.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub userid: Option<String>,
}

/// `{userid}` reply.
#[derive(Debug, Serialize)]
pub struct UserIdReply {
    /// Userid.
    pub userid: String,
}

/// `{openid}` reply.
#[derive(Debug, Serialize)]
pub struct OpenIdReply {
    /// Openid.
    pub openid: String,
}

/// `tag/create`, `tag/update`, `tag/addtagusers`, `tag/deltagusers`.
#[derive(Debug, Default, Deserialize)]
pub struct TagRequest {
    /// Tag id.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub tagid: Option<i64>,
    /// Tag name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub tagname: Option<String>,
    /// Members.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub userlist: Option<Vec<String>>,
    /// Departments.
    #[serde(default, deserialize_with = "lenient::opt_i64_list")]
    pub partylist: Option<Vec<i64>>,
}

/// `tag/create` reply.
#[derive(Debug, Serialize)]
pub struct TagCreated {
    /// The tag's id.
    pub tagid: i64,
}

/// A member of a tag.
#[derive(Debug, Serialize)]
pub struct TagUser {
    /// Userid.
    pub userid: String,
    /// Name.
    pub name: String,
}

/// `tag/get` reply.
#[derive(Debug, Serialize)]
pub struct TagGet {
    /// Name.
    pub tagname: String,
    /// Members.
    pub userlist: Vec<TagUser>,
    /// Departments.
    pub partylist: Vec<i64>,
}

/// `tag/addtagusers` / `deltagusers` reply: what was refused.
#[derive(Debug, Serialize)]
pub struct TagTargetsReply {
    /// Refused userids joined with `|`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidlist: Option<String>,
    /// Refused departments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalidparty: Option<Vec<i64>>,
}

/// One tag in `tag/list`.
#[derive(Debug, Serialize)]
pub struct TagOut {
    /// Id.
    pub tagid: i64,
    /// Name.
    pub tagname: String,
}

/// `tag/list` reply.
#[derive(Debug, Serialize)]
pub struct TagList {
    /// Tags.
    pub taglist: Vec<TagOut>,
}

/// `callback{url, token, encodingaeskey}` of a batch job.
#[derive(Debug, Default, Deserialize)]
pub struct JobCallback {
    /// URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Token.
    #[serde(default)]
    pub token: Option<String>,
    /// Key.
    #[serde(default)]
    pub encodingaeskey: Option<String>,
}

/// `batch/syncuser`, `batch/replaceuser`, `batch/replaceparty`.
#[derive(Debug, Default, Deserialize)]
pub struct BatchRequest {
    /// The uploaded CSV.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub media_id: Option<String>,
    /// Invite new members (accepted, no effect).
    #[serde(default)]
    pub to_invite: Option<serde_json::Value>,
    /// Per-job callback (accepted; completion goes to the app's callback).
    #[serde(default)]
    pub callback: Option<JobCallback>,
}

/// `export/simple_user`, `export/user`, `export/department`.
#[derive(Debug, Default, Deserialize)]
pub struct ExportRequest {
    /// The key the files are encrypted with (43 characters).
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub encoding_aeskey: Option<String>,
    /// Rows per file.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub block_size: Option<i64>,
    /// The tag (`export/taguser`).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub tagid: Option<i64>,
}

/// One file of an export.
#[derive(Debug, Serialize)]
pub struct ExportData {
    /// Where to download it (no token needed; unguessable; expires with
    /// the file).
    pub url: String,
    /// Size in bytes.
    pub size: i64,
    /// MD5 of the encrypted file.
    pub md5: String,
}

/// `export/get_result` reply.
#[derive(Debug, Serialize)]
pub struct ExportResult {
    /// 0 not started, 1 running, 2 done, 3 failed.
    pub status: i64,
    /// The files, when done.
    pub data_list: Vec<ExportData>,
}

/// The plaintext of an `export/simple_user` or `export/user` file.
#[derive(Debug, Serialize)]
pub struct ExportUsers<T> {
    /// Members.
    pub userlist: Vec<T>,
}

/// The plaintext of an `export/department` file.
#[derive(Debug, Serialize)]
pub struct ExportDepartments {
    /// Departments.
    pub department: Vec<DepartmentOut>,
}

/// The plaintext of an `export/taguser` file.
#[derive(Debug, Serialize)]
pub struct ExportTagUsers {
    /// Members of the tag.
    pub userlist: Vec<TagUser>,
    /// Departments of the tag.
    pub partylist: Vec<i64>,
}

/// `{jobid}` reply.
#[derive(Debug, Serialize)]
pub struct JobCreated {
    /// The job.
    pub jobid: String,
}

/// One row of a user job's result.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct JobUserResult {
    /// Userid.
    pub userid: String,
    /// Errcode of this row.
    pub errcode: i64,
    /// Why.
    pub errmsg: String,
}

/// One row of a party job's result.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct JobPartyResult {
    /// 1 created, 2 updated, 3 deleted.
    pub action: i64,
    /// Department id.
    pub partyid: i64,
    /// Errcode of this row.
    pub errcode: i64,
    /// Why.
    pub errmsg: String,
}

/// `batch/getresult` reply.
#[derive(Debug, Serialize)]
pub struct JobResult {
    /// 1 started, 2 running, 3 done.
    pub status: i64,
    /// `sync_user`, `replace_user`, `replace_party`.
    #[serde(rename = "type")]
    pub job_type: String,
    /// Rows.
    pub total: i64,
    /// 0..=100.
    pub percentage: i64,
    /// Per-row results.
    pub result: serde_json::Value,
}

/// `media/upload` reply.
#[derive(Debug, Serialize)]
pub struct MediaUploaded {
    /// `file`, `image`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The id.
    pub media_id: String,
    /// Upload time, Unix seconds, as a string (as WeCom answers).
    pub created_at: String,
}
