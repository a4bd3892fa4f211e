//! `ApiError`, and the one table that maps every internal error to its WeCom
//! errcode. Internal causes are logged here, once, and never sent.

use axum::response::{IntoResponse, Response};
use qiye_app::approval::ApprovalUseError;
use qiye_app::{AppError, AuthError, SessionError};
use qiye_domain::app::AppFieldError;
use qiye_domain::ids::IdError;
use qiye_domain::message::{ConversationError, MessageError};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::WireError;

/// An error reply: an errcode and, optionally, what exactly was wrong. The
/// envelope middleware turns it into WeCom's JSON (adding the request id and
/// client IP to `errmsg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The errcode.
    pub code: ErrCode,
    /// Detail appended to the errcode's text.
    pub detail: Option<String>,
    /// For a locked sign-in: seconds until it may be tried again.
    pub retry_after_secs: Option<i64>,
}

impl ApiError {
    /// An error with no detail.
    pub fn new(code: ErrCode) -> Self {
        Self {
            code,
            detail: None,
            retry_after_secs: None,
        }
    }

    /// An error with a detail text.
    pub fn with_detail(code: ErrCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: Some(detail.into()),
            retry_after_secs: None,
        }
    }

    /// The `errmsg` text before the hint.
    pub fn message(&self) -> String {
        match &self.detail {
            Some(detail) => format!("{}: {detail}", self.code.text()),
            None => self.code.text().to_owned(),
        }
    }
}

/// The one mapping from use-case errors to errcodes.
impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let code = match &err {
            AppError::Auth(auth) => match auth {
                AuthError::CorpIdMissing => ErrCode::CorpIdMissing,
                AuthError::SecretMissing => ErrCode::SecretMissing,
                AuthError::UnknownCorp => ErrCode::InvalidCorpId,
                AuthError::WrongSecret => ErrCode::InvalidCredential,
                AuthError::TokenMissing => ErrCode::AccessTokenMissing,
                AuthError::TokenInvalid => ErrCode::InvalidAccessToken,
                AuthError::TokenExpired => ErrCode::AccessTokenExpired,
            },
            AppError::Session(session) => match session {
                SessionError::LoginFailed | SessionError::WrongPassword => ErrCode::LoginFailed,
                SessionError::MemberDisabled => ErrCode::MemberDisabled,
                SessionError::TokenMissing => ErrCode::AccessTokenMissing,
                SessionError::NotSignedIn => ErrCode::InvalidAccessToken,
                SessionError::PasswordChangeRequired => ErrCode::PasswordChangeRequired,
                SessionError::PasswordRule(_) => ErrCode::PasswordRejected,
                SessionError::NotAdmin => ErrCode::NoPrivilege,
                SessionError::Locked { .. } => ErrCode::SignInLocked,
                SessionError::SecondFactorRequired => ErrCode::SecondFactorRequired,
                SessionError::WrongSecondFactor => ErrCode::WrongSecondFactor,
                SessionError::TotpEnrollmentRequired => ErrCode::TotpEnrollmentRequired,
                SessionError::TotpState(_) | SessionError::UnknownDevice => {
                    ErrCode::InvalidParameter
                }
            },
            AppError::RateLimited { .. } => ErrCode::ApiFreqOutOfLimit,
            AppError::AgentIdMissing => ErrCode::AgentIdMissing,
            AppError::UnknownAgent => ErrCode::InvalidAgentId,
            AppError::OtherApp(_) => ErrCode::NoAppPermission,
            AppError::Forbidden(_) => ErrCode::ApiForbidden,
            AppError::AppField(field) => match field {
                AppFieldError::Name => ErrCode::InvalidAppName,
                AppFieldError::Description => ErrCode::InvalidAppDescription,
                AppFieldError::Flag(_) => ErrCode::InvalidFlag,
                AppFieldError::Url(_) => ErrCode::InvalidUrl,
            },
            AppError::Id(IdError::AgentId) => ErrCode::InvalidAgentId,
            AppError::Id(IdError::CorpId) | AppError::CorpNotFound => ErrCode::InvalidCorpId,
            AppError::Id(_)
            | AppError::CorpName(_)
            | AppError::Quota(_)
            | AppError::Escalation(_) => ErrCode::InvalidParameter,
            AppError::Plan(_) => ErrCode::PlanLimit,
            AppError::Dir(dir) => dir_errcode(dir),
            AppError::CallbackUnreachable(_) => ErrCode::InvalidCallbackUrl,
            AppError::Media(media) => table_code(media.errcode()),
            AppError::Conversation(c) => conversation_errcode(c),
            AppError::Message(m) => message_errcode(m),
            AppError::Job(job) => table_code(job.errcode()),
            // No approval endpoint is routed yet; WeCom's 301025 / 301055 /
            // 301057 come with `oa/*`.
            AppError::Approval(ApprovalUseError::Busy) => ErrCode::SystemBusy,
            AppError::Approval(_) => ErrCode::InvalidParameter,
            AppError::Store(cause) => {
                tracing::error!(%cause, "storage failure");
                return ApiError::new(ErrCode::SystemBusy);
            }
        };
        let retry_after_secs = match &err {
            AppError::Session(SessionError::Locked { retry_after_secs }) => Some(*retry_after_secs),
            _ => None,
        };
        let detail = match err {
            // The errcode's own text says it all.
            AppError::Auth(_) => None,
            other => Some(other.to_string()),
        };
        ApiError {
            code,
            detail,
            retry_after_secs,
        }
    }
}

/// A domain refusal's errcode: the number comes from the domain (it is
/// also written into job results), the table must hold it.
fn table_code(code: i64) -> ErrCode {
    ErrCode::from_code(code).unwrap_or(ErrCode::InvalidParameter)
}

/// A conversation refusal's errcode (WeCom's `appchat` codes where they
/// exist).
fn conversation_errcode(err: &ConversationError) -> ErrCode {
    match err {
        ConversationError::NotFound | ConversationError::NotMember => ErrCode::ChatNotFound,
        ConversationError::InvalidId | ConversationError::Exists(_) => ErrCode::InvalidChatId,
        ConversationError::TooManyMembers | ConversationError::TooFewMembers => {
            ErrCode::InvalidChatMemberCount
        }
        ConversationError::SelfConversation | ConversationError::UnknownMember(_) => {
            ErrCode::InvalidChatMember
        }
        ConversationError::NotOwner => ErrCode::NotChatCreator,
        ConversationError::InvalidName | ConversationError::WrongKind => ErrCode::InvalidParameter,
    }
}

/// A messaging refusal's errcode.
fn message_errcode(err: &MessageError) -> ErrCode {
    match err {
        MessageError::NoRecipient => ErrCode::NoRecipient,
        MessageError::UnknownMedia(_) => ErrCode::InvalidMediaId,
        MessageError::UnknownMessage
        | MessageError::RecallWindowPassed
        | MessageError::NotRecallable
        | MessageError::InvalidResponseCode
        | MessageError::NotUrgent => ErrCode::InvalidParameter,
        MessageError::InvalidCardAction(_) => ErrCode::InvalidRequestParameter,
        MessageError::NotSender | MessageError::AppChatNeedsWholeCorp => ErrCode::NoPrivilege,
        MessageError::OtherAppsChat => ErrCode::NotChatCreator,
    }
}

/// A directory refusal's errcode.
pub fn dir_errcode(err: &qiye_domain::directory::DirError) -> ErrCode {
    table_code(err.errcode())
}

impl From<qiye_domain::directory::DirError> for ApiError {
    fn from(err: qiye_domain::directory::DirError) -> Self {
        ApiError::from(AppError::Dir(err))
    }
}

impl From<WireError> for ApiError {
    fn from(err: WireError) -> Self {
        ApiError::with_detail(err.code, err.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Rendered by the envelope middleware, which knows the request id and client IP.
        let mut response = Response::new(axum::body::Body::empty());
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qiye_app::LimitScope;
    use qiye_domain::job::JobError;
    use qiye_domain::media::MediaError;

    #[test]
    fn every_directory_refusal_has_its_own_code_in_the_table() {
        use qiye_domain::directory::DirError;
        let all = [
            DirError::DeptNameLength,
            DirError::DeptNameChars,
            DirError::DeptNotFound(2),
            DirError::ParentNotFound(2),
            DirError::DeptHasMembers,
            DirError::DeptHasChildren,
            DirError::RootImmutable,
            DirError::DeptExists,
            DirError::DeptCycle,
            DirError::DeptIdInvalid,
            DirError::NoPrivilege,
            DirError::UserExists,
            DirError::MobileInvalid,
            DirError::MobileTaken,
            DirError::EmailInvalid,
            DirError::EmailTaken,
            DirError::TooManyDepartments,
            DirError::UserNotFound,
            DirError::MemberNameInvalid,
            DirError::UserIdInvalid,
            DirError::UserListInvalid,
            DirError::ListTooLong,
            DirError::TagNotFound,
            DirError::TagTargetsAllInvalid,
            DirError::TagExists,
            DirError::TagNameLength,
            DirError::FieldInvalid {
                field: "x",
                reason: "y".into(),
            },
            DirError::DeleteProtection {
                would_delete: 1,
                current: 2,
            },
        ];
        for err in all {
            let code = ErrCode::from_code(err.errcode());
            assert!(
                code.is_some(),
                "{err:?} has errcode {} not in the table",
                err.errcode()
            );
            assert_eq!(ApiError::from(AppError::Dir(err)).code, code.unwrap());
        }
    }

    #[test]
    fn every_mapped_code_is_in_the_table() {
        let samples = [
            AppError::Auth(AuthError::CorpIdMissing),
            AppError::Auth(AuthError::SecretMissing),
            AppError::Auth(AuthError::UnknownCorp),
            AppError::Auth(AuthError::WrongSecret),
            AppError::Auth(AuthError::TokenMissing),
            AppError::Auth(AuthError::TokenInvalid),
            AppError::Auth(AuthError::TokenExpired),
            AppError::RateLimited {
                scope: LimitScope::Ip,
                api: "gettoken",
            },
            AppError::AgentIdMissing,
            AppError::UnknownAgent,
            AppError::OtherApp(5),
            AppError::Forbidden("x".into()),
            AppError::AppField(AppFieldError::Name),
            AppError::AppField(AppFieldError::Description),
            AppError::AppField(AppFieldError::Flag("f")),
            AppError::AppField(AppFieldError::Url("u")),
            AppError::Id(IdError::AgentId),
            AppError::CorpNotFound,
            AppError::Media(MediaError::BadKind("exe".into())),
            AppError::Media(MediaError::NoFile),
            AppError::Media(MediaError::Empty),
            AppError::Media(MediaError::UnknownId),
            AppError::Media(MediaError::Size {
                kind: "file",
                size: 1,
                min: 6,
                max: 10,
            }),
            AppError::Media(MediaError::WrongKind {
                found: "image",
                expected: "file",
            }),
            AppError::Job(JobError::UnknownJob),
            AppError::Job(JobError::BadFile("x".into())),
            AppError::Job(JobError::BadCallback("x".into())),
            AppError::Job(JobError::BadAesKey),
            AppError::Job(JobError::BadBlockSize { min: 1, max: 2 }),
            AppError::Session(SessionError::LoginFailed),
            AppError::Session(SessionError::MemberDisabled),
            AppError::Session(SessionError::TokenMissing),
            AppError::Session(SessionError::NotSignedIn),
            AppError::Session(SessionError::PasswordChangeRequired),
            AppError::Session(SessionError::WrongPassword),
            AppError::Session(SessionError::PasswordRule(
                qiye_domain::session::PasswordRuleError::TooShort,
            )),
            AppError::Session(SessionError::NotAdmin),
            AppError::Session(SessionError::Locked {
                retry_after_secs: 60,
            }),
            AppError::Session(SessionError::SecondFactorRequired),
            AppError::Session(SessionError::WrongSecondFactor),
            AppError::Session(SessionError::TotpEnrollmentRequired),
            AppError::Session(SessionError::TotpState("x")),
            AppError::Session(SessionError::UnknownDevice),
            AppError::Store(qiye_domain::ports::StoreError::Unavailable(
                "db down".into(),
            )),
        ];
        for err in samples {
            let expected = match &err {
                AppError::Media(m) => Some(m.errcode()),
                AppError::Job(j) => Some(j.errcode()),
                _ => None,
            };
            let api = ApiError::from(err);
            assert!(ErrCode::ALL.contains(&api.code));
            if let Some(code) = expected {
                assert_eq!(api.code.code(), code, "domain code must be in the table");
            }
            assert!(
                !api.message().contains("db down"),
                "internal causes are never sent"
            );
        }
    }
}
