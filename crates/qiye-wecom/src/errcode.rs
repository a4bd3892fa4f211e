//! Every errcode qiye can answer with, in one table. The HTTP layer maps each
//! internal error to one of these and nowhere else; `docs/ERRCODES.md` is
//! generated from [`ErrCode::ALL`] and a test checks it is fresh; the API
//! test harness fails on any errcode that is not in this table.

macro_rules! errcodes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $text:literal; )*) => {
        /// A WeCom errcode that qiye answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrCode {
            /// Every errcode, in table order.
            pub const ALL: &'static [ErrCode] = &[$(ErrCode::$variant,)*];

            /// The numeric code sent as `errcode`.
            pub fn code(self) -> i64 {
                match self { $(ErrCode::$variant => $code,)* }
            }

            /// The short English text WeCom uses (or the closest we know).
            pub fn text(self) -> &'static str {
                match self { $(ErrCode::$variant => $text,)* }
            }
        }
    };
}

errcodes! {
    /// Transient failure (storage unavailable, internal error); clients retry.
    SystemBusy = -1, "system busy";
    /// Success.
    Ok = 0, "ok";
    /// Wrong `corpsecret` for this corp.
    InvalidCredential = 40001, "invalid credential";
    /// Unknown or malformed corpid.
    InvalidCorpId = 40013, "invalid corpid";
    /// Unknown, malformed or revoked access_token.
    InvalidAccessToken = 40014, "invalid access_token";
    /// A parameter is invalid (generic).
    InvalidParameter = 40035, "invalid parameter";
    /// Unknown agentid.
    InvalidAgentId = 40056, "invalid agentid";
    /// A parameter has the wrong type or breaks the API's rules; the text names it.
    InvalidRequestParameter = 40058, "invalid Request Parameter";
    /// A 0/1 flag (report_location_flag, isreportenter) has another value.
    InvalidFlag = 40059, "invalid report flag, must be 0 or 1";
    /// A URL or domain is invalid.
    InvalidUrl = 40094, "invalid url";
    /// Unknown or unsupported `msgtype`.
    InvalidMsgType = 40008, "invalid message type";
    /// `news` / `miniprogram_notice` sent with `safe` set.
    SafeNotSupported = 40074, "news message not support safe";
    /// No access_token in the query string.
    AccessTokenMissing = 41001, "access_token missing";
    /// No corpid in the query string.
    CorpIdMissing = 41002, "corpid missing";
    /// No corpsecret in the query string.
    SecretMissing = 41004, "corpsecret missing";
    /// A message payload without its `media_id`.
    MediaIdMissing = 41006, "media_id missing";
    /// A message payload without its required `url`.
    UrlMissing = 41010, "url missing";
    /// No agentid in the request.
    AgentIdMissing = 41011, "agentid missing";
    /// A message payload without its required `title`.
    TitleMissing = 41016, "title missing";
    /// A message payload without its required `description`.
    DescriptionMissing = 41033, "description missing";
    /// A `text` / `markdown` message with empty `content`.
    EmptyContent = 44004, "empty content";
    /// A message field longer than WeCom allows.
    MessageTooLong = 45002, "content size out of limit";
    /// More than 8 articles in a `news` / `mpnews` message.
    TooManyArticles = 45008, "article size out of limit";
    /// An `mpnews` article author longer than 64 bytes.
    AuthorTooLong = 45032, "author size out of limit";
    /// A message with no recipient (or none reachable).
    NoRecipient = 81013, "user & party & tag all invalid";
    /// More than 100 departments in one message.
    PartyListTooLong = 82002, "invalid partylist size";
    /// More than 100 tags in one message.
    TagListTooLong = 82003, "invalid taglist size";
    /// Malformed `chatid`.
    InvalidChatId = 86001, "invalid chatid";
    /// No such app group chat.
    ChatNotFound = 86003, "chatid not found";
    /// The chat owner is not a valid member of the chat.
    InvalidChatOwner = 86005, "invalid chat owner";
    /// A chat with fewer than 2 or more than 2000 members.
    InvalidChatMemberCount = 86006, "invalid chat member count";
    /// A chat member list names an invalid userid.
    InvalidChatMember = 86007, "invalid chat member";
    /// The chat was created by another app.
    NotChatCreator = 86008, "no privilege to access the chat";
    /// The access_token has expired; fetch a new one.
    AccessTokenExpired = 42001, "access_token expired";
    /// The API must be called with GET.
    RequireGet = 43001, "require GET method";
    /// The API must be called with POST.
    RequirePost = 43002, "require POST method";
    /// App description is not 4-120 characters.
    InvalidAppDescription = 45004, "invalid app description length";
    /// API call frequency exceeded.
    ApiFreqOutOfLimit = 45009, "api freq out of limit";
    /// App name is empty or longer than 32 characters.
    InvalidAppName = 45022, "invalid app name length";
    /// The body is not valid JSON.
    InvalidJson = 47001, "data format error";
    /// The token's secret does not grant this API.
    ApiForbidden = 48002, "api forbidden";
    /// No such API on this server.
    ApiNotFound = 48005, "api not found";
    /// The corp's plan does not allow this.
    PlanLimit = 45024, "account quota exceeded";
    /// Malformed userid.
    InvalidUserId = 40003, "invalid UserID";
    /// A list names members that do not exist.
    InvalidUserIdList = 40031, "invalid UserID list";
    /// A list is longer than the API allows.
    ListTooLong = 40032, "UserID list size too long";
    /// Invalid callback URL, or URL verification failed.
    InvalidCallbackUrl = 40057, "invalid callback url";
    /// No such tag.
    InvalidTagId = 40068, "invalid tagid";
    /// Every member and department of a tag change was invalid.
    AllTagTargetsInvalid = 40070, "all users and parties are invalid";
    /// Tag name already used.
    TagNameExists = 40071, "tagname already exists";
    /// Tag name empty or longer than 32 characters.
    InvalidTagNameLength = 40072, "invalid tagname size";
    /// No such job.
    InvalidJobId = 40088, "invalid jobid";
    /// The media is of the wrong type for this use.
    InvalidMedia = 40004, "invalid media type";
    /// `media/upload?type=` is not image, voice, video or file.
    InvalidUploadType = 40005, "invalid file type";
    /// The upload is smaller or larger than its type allows.
    InvalidFileSize = 40006, "invalid file size";
    /// Unknown, expired or another corp's media_id.
    InvalidMediaId = 40007, "invalid media_id";
    /// The upload carries no data (no `media` part, or an empty one).
    EmptyMedia = 44001, "empty media data";
    /// The import file's content cannot be read.
    InvalidImportFile = 40092, "invalid import file content";
    /// `replaceuser` would delete more members than the protection allows.
    DeleteProtection = 45026, "delete protection triggered";
    /// Department name empty or too long.
    InvalidDeptNameLength = 60001, "invalid department name length";
    /// No such department.
    DepartmentNotFound = 60003, "department not found";
    /// The parent department does not exist.
    ParentDepartmentNotFound = 60004, "parent department not found";
    /// The department still has members.
    DepartmentHasMembers = 60005, "department has members";
    /// The department still has sub-departments.
    DepartmentHasChildren = 60006, "department has sub departments";
    /// The root department cannot be deleted or moved.
    RootDepartmentImmutable = 60007, "root department cannot be deleted";
    /// Same id, or same name under the same parent.
    DepartmentExists = 60008, "department already exists";
    /// Department name contains \:*?"<>|.
    InvalidDeptNameChars = 60009, "department name contains illegal characters";
    /// Moving would put a department under itself.
    DepartmentCycle = 60010, "department cycle";
    /// Outside the caller's visible range or scope.
    NoPrivilege = 60011, "no privilege to access/modify contact/party/agent";
    /// Userid already used.
    UserIdExists = 60102, "UserID already exists";
    /// Malformed mobile.
    InvalidMobile = 60103, "mobile is invalid";
    /// Mobile already used by another member.
    MobileExists = 60104, "mobile already exists";
    /// Malformed e-mail.
    InvalidEmail = 60105, "email is invalid";
    /// E-mail already used by another member.
    EmailExists = 60106, "email already exists";
    /// A member in more than 20 departments.
    TooManyDepartments = 60110, "too many departments of a member";
    /// No such member.
    UserIdNotFound = 60111, "UserID not found";
    /// Member name empty or too long.
    InvalidMemberName = 60112, "invalid name";
    /// Invalid department id.
    InvalidDepartmentId = 60123, "invalid department id";
    /// The token's app may not act on another app.
    NoAppPermission = 301002, "no permission to access the app";
    /// qiye `/api/v1`: unknown corp or login, or wrong password (one answer for all).
    LoginFailed = 870001, "wrong login or password";
    /// qiye `/api/v1`: the session's one-time password must be changed first.
    PasswordChangeRequired = 870002, "password change required";
    /// qiye `/api/v1`: the new password breaks a rule.
    PasswordRejected = 870003, "new password not accepted";
    /// qiye `/api/v1`: the member is disabled or has left.
    MemberDisabled = 870004, "member disabled";
    /// qiye `/api/v1`: a cookie-authenticated unsafe request without the session's `X-CSRF-Token`, or a WebSocket upgrade by cookie from another origin.
    CsrfRejected = 870005, "CSRF token missing or wrong";
    /// qiye `/api/v1`: too many failed sign-ins for this login; `retry_after_secs` says when to try again.
    SignInLocked = 870006, "sign-in locked";
    /// qiye `/api/v1`: the session still owes its second factor.
    SecondFactorRequired = 870007, "second factor required";
    /// qiye `/api/v1`: a wrong or reused TOTP or recovery code.
    WrongSecondFactor = 870008, "wrong second factor code";
    /// qiye `/api/v1`: the corp requires two-factor sign-in and the member has not enrolled (or would turn it off).
    TotpEnrollmentRequired = 870009, "two-factor enrolment required";
}

impl ErrCode {
    /// The errcode with this number, if qiye uses it.
    pub fn from_code(code: i64) -> Option<ErrCode> {
        ErrCode::ALL.iter().copied().find(|e| e.code() == code)
    }

    /// The reference table as Markdown (the body of `docs/ERRCODES.md`).
    pub fn markdown_table() -> String {
        let mut out = String::from(
            "# Errcodes\n\n\
             Every `errcode` qiye answers with. Generated from `crates/qiye-wecom/src/errcode.rs`\n\
             (`cargo run -p qiye-server -- errcodes > docs/ERRCODES.md`); a test fails when it is stale.\n\n\
             | errcode | errmsg | when |\n|---|---|---|\n",
        );
        for e in ErrCode::ALL {
            out.push_str(&format!("| {} | {} | {} |\n", e.code(), e.text(), e.doc()));
        }
        out
    }

    /// When the code is returned, in a sentence.
    pub fn doc(self) -> &'static str {
        match self {
            ErrCode::InvalidUserId => "a userid that is not 1-64 of `[A-Za-z0-9_-@.]`",
            ErrCode::LoginFailed => {
                "`POST /api/v1/session` with an unknown corp or login or a wrong password; a password change with a wrong current password"
            }
            ErrCode::PasswordChangeRequired => {
                "a session signed in with a one-time password calling anything but `/api/v1/me` and `/api/v1/me/password`"
            }
            ErrCode::PasswordRejected => {
                "a new password shorter than 10 or longer than 128 characters, or equal to the current one"
            }
            ErrCode::MemberDisabled => "signing in as a member who is disabled or has left",
            ErrCode::CsrfRejected => {
                "a request authenticated by the `qiye_session` cookie with POST, PUT, PATCH or DELETE and no or a wrong `X-CSRF-Token` header; a WebSocket upgrade by cookie whose `Origin` is not the server's host (HTTP 403)"
            }
            ErrCode::SignInLocked => {
                "5 failed sign-ins (password or second factor) of one login within 15 minutes: that login is refused for 15 minutes, even with the right password; the reply has `retry_after_secs` (HTTP 429)"
            }
            ErrCode::SecondFactorRequired => {
                "a session whose member has TOTP calling anything but `GET /api/v1/me`, `POST /api/v1/session/second-factor` or `DELETE /api/v1/session` before giving a code (HTTP 403)"
            }
            ErrCode::WrongSecondFactor => {
                "a TOTP code that is wrong, malformed or already used, or an unknown or used recovery code (HTTP 401; counts toward the lock at sign-in)"
            }
            ErrCode::TotpEnrollmentRequired => {
                "the corp requires two-factor sign-in and the member has not enrolled TOTP (anything but `/me`, `/me/password`, `/me/totp/*`, `DELETE /session`), or tries to turn it off (HTTP 403)"
            }
            ErrCode::InvalidUserIdList => {
                "`direct_leader` (or another list) names members that do not exist"
            }
            ErrCode::ListTooLong => {
                "`user/batchdelete` over 200, `tag/addtagusers` over 1000 users / 100 parties, `message/send` over 1000 users"
            }
            ErrCode::InvalidCallbackUrl => {
                "callback settings whose URL did not answer the echostr handshake"
            }
            ErrCode::InvalidTagId => "a tagid that does not exist",
            ErrCode::AllTagTargetsInvalid => {
                "`tag/addtagusers` / `deltagusers` where every user and party is invalid"
            }
            ErrCode::TagNameExists => "`tag/create` / `update` with a name (or tagid) already used",
            ErrCode::InvalidTagNameLength => {
                "a tag name that is empty or longer than 32 characters"
            }
            ErrCode::InvalidJobId => {
                "`batch/getresult` / `export/get_result` with an unknown jobid (or another app's)"
            }
            ErrCode::InvalidMedia => {
                "a media_id of the wrong type, e.g. an image given to `batch/*`"
            }
            ErrCode::InvalidUploadType => {
                "`media/upload?type=` other than image, voice, video, file"
            }
            ErrCode::InvalidFileSize => {
                "an upload of 5 bytes or less, or over its type's limit (file 20 MB, image/video 10 MB, voice 2 MB)"
            }
            ErrCode::InvalidMediaId => "an unknown, expired (3 days) or other corp's media_id",
            ErrCode::EmptyMedia => "an upload without a `media` part, or with an empty one",
            ErrCode::InvalidImportFile => {
                "an import file that cannot be read (format, header, encoding)"
            }
            ErrCode::DeleteProtection => {
                "`batch/replaceuser` that would delete more members than allowed"
            }
            ErrCode::InvalidDeptNameLength => {
                "a department name that is empty or longer than 64 characters"
            }
            ErrCode::DepartmentNotFound => "a department id that does not exist",
            ErrCode::ParentDepartmentNotFound => {
                "`parentid` names a department that does not exist"
            }
            ErrCode::DepartmentHasMembers => "`department/delete` of a department with members",
            ErrCode::DepartmentHasChildren => {
                "`department/delete` of a department with sub-departments"
            }
            ErrCode::RootDepartmentImmutable => "deleting or moving department 1",
            ErrCode::DepartmentExists => {
                "a department id already used, or a sibling with the same name"
            }
            ErrCode::InvalidDeptNameChars => "a department name containing one of `\\:*?\"<>|`",
            ErrCode::DepartmentCycle => "moving a department under itself or its descendants",
            ErrCode::NoPrivilege => {
                "outside the app's visible range, the admin's scope, or another app's tag"
            }
            ErrCode::UserIdExists => "`user/create` (or a rename) with a userid already used",
            ErrCode::InvalidMobile => "a malformed mobile number",
            ErrCode::MobileExists => "a mobile number another member has",
            ErrCode::InvalidEmail => "a malformed e-mail address",
            ErrCode::EmailExists => "an e-mail address another member has",
            ErrCode::TooManyDepartments => "a member in more than 20 departments",
            ErrCode::UserIdNotFound => "a userid that does not exist (or is outside the lookup)",
            ErrCode::InvalidMemberName => {
                "a member name that is empty or longer than 64 characters"
            }
            ErrCode::InvalidDepartmentId => "a department id that is not a positive 32-bit integer",
            ErrCode::SystemBusy => {
                "storage unavailable or an internal error (logged with the request id); retry"
            }
            ErrCode::Ok => "success",
            ErrCode::InvalidCredential => {
                "`gettoken` with a secret that is not one of this corp's (or was rotated)"
            }
            ErrCode::InvalidCorpId => "`gettoken` with a corpid that is malformed or unknown",
            ErrCode::InvalidAccessToken => {
                "a token that was never issued, is malformed, or was revoked by a secret rotation"
            }
            ErrCode::InvalidParameter => "a parameter is invalid and no more specific code applies",
            ErrCode::InvalidAgentId => {
                "an agentid that is not a positive integer or is not an app of the caller's corp"
            }
            ErrCode::InvalidRequestParameter => {
                "a field has the wrong JSON type, or the body is too large; errmsg names the field"
            }
            ErrCode::InvalidFlag => "`report_location_flag` / `isreportenter` other than 0 or 1",
            ErrCode::InvalidUrl => "`home_url` / `redirect_domain` not a valid URL / domain",
            ErrCode::AccessTokenMissing => "no `access_token` query parameter",
            ErrCode::CorpIdMissing => "`gettoken` without `corpid`",
            ErrCode::SecretMissing => "`gettoken` without `corpsecret`",
            ErrCode::AgentIdMissing => "a request without the `agentid` it needs",
            ErrCode::AccessTokenExpired => "a token past its `expires_in`",
            ErrCode::RequireGet => "a GET-only API called with another method",
            ErrCode::RequirePost => "a POST-only API called with another method",
            ErrCode::InvalidAppDescription => {
                "`agent/set` with a description that is not 4-120 characters"
            }
            ErrCode::ApiFreqOutOfLimit => {
                "per-corp, per-app or per-IP call frequency exceeded (per API, per minute or hour)"
            }
            ErrCode::InvalidAppName => {
                "`agent/set` with a name that is empty or over 32 characters"
            }
            ErrCode::InvalidJson => {
                "a POST body that is not JSON (errmsg ends with `Warning: wrong json format.`)"
            }
            ErrCode::ApiForbidden => {
                "the token's secret does not grant this API (e.g. the contacts-sync secret on `agent/*`)"
            }
            ErrCode::ApiNotFound => "a path under `/cgi-bin/` that qiye does not serve",
            ErrCode::PlanLimit => {
                "the corp's plan does not allow the operation (members, depth, bulk operations)"
            }
            ErrCode::NoAppPermission => "an app token acting on another app",
            ErrCode::InvalidMsgType => {
                "`message/send` / `appchat/send` with a missing or unknown `msgtype`, or one the destination does not accept"
            }
            ErrCode::SafeNotSupported => {
                "`news` or `miniprogram_notice` with `safe` 1 or 2 (use `mpnews` for confidential articles)"
            }
            ErrCode::MediaIdMissing => {
                "an image, voice, video or file message without `media_id`, an `mpnews` article without `thumb_media_id`, a card file row without `media_id`"
            }
            ErrCode::UrlMissing => {
                "a `textcard` without `url`, a `news` article with neither `url` nor `appid`, a card link of type 1 without `url`"
            }
            ErrCode::TitleMissing => {
                "a `textcard`, `news` / `mpnews` article, `miniprogram_notice`, `interactive_taskcard` or card list item without `title`"
            }
            ErrCode::DescriptionMissing => {
                "a `textcard` or `interactive_taskcard` without `description`"
            }
            ErrCode::EmptyContent => {
                "a `text` or `markdown` message, or an `mpnews` article, with empty `content`"
            }
            ErrCode::MessageTooLong => {
                "a message field over its limit (text/markdown 2048 bytes, titles 128, descriptions 512, ...); errmsg names it"
            }
            ErrCode::TooManyArticles => "a `news` or `mpnews` message with more than 8 articles",
            ErrCode::AuthorTooLong => "an `mpnews` article whose `author` is over 64 bytes",
            ErrCode::NoRecipient => {
                "`message/send` with `touser`, `toparty` and `totag` all empty, or none of them reachable"
            }
            ErrCode::PartyListTooLong => {
                "`message/send` with more than 100 departments in `toparty`"
            }
            ErrCode::TagListTooLong => "`message/send` with more than 100 tags in `totag`",
            ErrCode::InvalidChatId => "a `chatid` that is not 1-32 of `[0-9a-zA-Z]`",
            ErrCode::ChatNotFound => "an `appchat/*` call naming a chat that does not exist",
            ErrCode::InvalidChatOwner => {
                "an `appchat` owner that is malformed or not a member of the chat"
            }
            ErrCode::InvalidChatMemberCount => {
                "`appchat/create` / `update` leaving fewer than 2 or more than 2000 members"
            }
            ErrCode::InvalidChatMember => {
                "an `appchat` member list with a malformed or unknown userid"
            }
            ErrCode::NotChatCreator => "an `appchat/*` call on a chat another app created",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for e in ErrCode::ALL {
            assert!(seen.insert(e.code()), "duplicate errcode {}", e.code());
            assert_eq!(ErrCode::from_code(e.code()), Some(*e));
            assert!(!e.text().is_empty() && !e.doc().is_empty());
        }
        assert_eq!(ErrCode::from_code(12345), None);
    }
}
