//! What a use case can fail with, as business reasons. The HTTP layer maps
//! each variant to exactly one WeCom errcode, in one place.

use qiye_domain::app::AppFieldError;
use qiye_domain::corp::InvalidCorpName;
use qiye_domain::ids::IdError;
use qiye_domain::job::JobError;
use qiye_domain::media::MediaError;
use qiye_domain::plan::PlanError;
use qiye_domain::ports::StoreError;
use qiye_domain::rate::RateQuotaError;

/// Why `gettoken` or token checking refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No corpid given.
    #[error("corpid missing")]
    CorpIdMissing,
    /// No secret given.
    #[error("corpsecret missing")]
    SecretMissing,
    /// The corpid is malformed or unknown.
    #[error("invalid corpid")]
    UnknownCorp,
    /// The secret is not one of the corp's.
    #[error("invalid credential")]
    WrongSecret,
    /// No access_token given.
    #[error("access_token missing")]
    TokenMissing,
    /// The token was never issued, is malformed or was revoked.
    #[error("invalid access_token")]
    TokenInvalid,
    /// The token has expired.
    #[error("access_token expired")]
    TokenExpired,
}

/// Why a member's sign-in or session was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Unknown corp or login, or wrong password: one answer for all three.
    #[error("wrong login or password")]
    LoginFailed,
    /// The password was right but the member is disabled or has left.
    #[error("the member is disabled")]
    MemberDisabled,
    /// No session token in the request.
    #[error("not signed in")]
    TokenMissing,
    /// The token is unknown, expired, signed out, or its member is gone.
    #[error("session invalid or expired")]
    NotSignedIn,
    /// A one-time password must be changed before anything else.
    #[error("change the one-time password first (POST /api/v1/me/password)")]
    PasswordChangeRequired,
    /// The current password given with a password change is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// The new password breaks a rule.
    #[error(transparent)]
    PasswordRule(#[from] qiye_domain::session::PasswordRuleError),
    /// The member is not an administrator (or not a super administrator
    /// for a super-only change).
    #[error("administrator privilege required")]
    NotAdmin,
    /// Too many failed sign-ins for this login: locked for a while.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    Locked {
        /// Seconds until the lock ends.
        retry_after_secs: i64,
    },
    /// The session still owes its second factor.
    #[error("second factor required (POST /api/v1/session/second-factor)")]
    SecondFactorRequired,
    /// A wrong, reused or malformed TOTP or recovery code.
    #[error("wrong second factor code")]
    WrongSecondFactor,
    /// The corp requires a second factor: enrol one first (or keep it).
    #[error("the corp requires two-factor sign-in: enrol TOTP (POST /api/v1/me/totp/enroll)")]
    TotpEnrollmentRequired,
    /// A TOTP step that does not fit the member's state (no second factor
    /// pending, nothing to confirm, already enabled, not enabled).
    #[error("{0}")]
    TotpState(&'static str),
    /// No device (session) of the member has this id.
    #[error("no such session")]
    UnknownDevice,
}

/// Which limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The corp's limit for this API.
    Corp,
    /// The app's (credential's) limit for this API.
    App,
    /// The client IP's limit for this API.
    Ip,
}

/// A use case failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A call-frequency limit was exceeded.
    #[error("api freq out of limit ({scope:?} limit for {api})")]
    RateLimited {
        /// Which limit.
        scope: LimitScope,
        /// Which API.
        api: &'static str,
    },
    /// The agentid is missing.
    #[error("agentid missing")]
    AgentIdMissing,
    /// The agentid is malformed or not an app of the caller's corp.
    #[error("invalid agentid")]
    UnknownAgent,
    /// The caller's app may not act on another app.
    #[error("no permission to access app {0}")]
    OtherApp(i64),
    /// The caller's secret does not grant this API.
    #[error("api forbidden for the {0}")]
    Forbidden(String),
    /// An app field is invalid.
    #[error(transparent)]
    AppField(#[from] AppFieldError),
    /// A corp name is invalid.
    #[error(transparent)]
    CorpName(#[from] InvalidCorpName),
    /// An identifier is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A rate-limit override is invalid.
    #[error(transparent)]
    Quota(#[from] RateQuotaError),
    /// The corp's plan does not allow this.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A directory rule refused the operation.
    #[error(transparent)]
    Dir(#[from] qiye_domain::directory::DirError),
    /// An upload or media reference was refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// A job could not be started or read.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A member's sign-in or session was refused.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A conversation request broke a rule.
    #[error(transparent)]
    Conversation(#[from] qiye_domain::message::ConversationError),
    /// A message request cannot be done.
    #[error(transparent)]
    Message(#[from] qiye_domain::message::MessageError),
    /// An escalation policy is out of its limits.
    #[error(transparent)]
    Escalation(#[from] qiye_domain::escalation::EscalationError),
    /// The callback URL did not pass verification.
    #[error("callback URL verification failed: {0}")]
    CallbackUnreachable(String),
    /// The corp does not exist (operator commands).
    #[error("corp not found")]
    CorpNotFound,
    /// An approval request was refused.
    #[error(transparent)]
    Approval(#[from] crate::approval::ApprovalUseError),
    /// Storage failed; the cause is logged where it happened.
    #[error("storage: {0}")]
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        AppError::Store(err)
    }
}

/// Result of a use case.
pub type AppResult<T> = Result<T, AppError>;
