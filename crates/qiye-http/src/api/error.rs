//! Errors of the native API: the same errcodes as `/cgi-bin` (mapped from
//! `AppError` by the one table in [`crate::error`]), sent as
//! `{"errcode": N, "errmsg": "..."}` with an HTTP status that fits.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qiye_app::AppError;
use qiye_wecom::ErrCode;
use qiye_wecom::wire::WireError;

use crate::envelope::ErrCodeTag;
use crate::error::ApiError;

/// An `/api/v1` error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Error(pub ApiError);

/// The HTTP status of an errcode on `/api/v1`.
pub fn status_of(code: ErrCode) -> StatusCode {
    match code {
        ErrCode::AccessTokenMissing
        | ErrCode::InvalidAccessToken
        | ErrCode::AccessTokenExpired
        | ErrCode::LoginFailed
        | ErrCode::WrongSecondFactor => StatusCode::UNAUTHORIZED,
        ErrCode::NoPrivilege
        | ErrCode::ApiForbidden
        | ErrCode::PasswordChangeRequired
        | ErrCode::MemberDisabled
        | ErrCode::NotChatCreator
        | ErrCode::CsrfRejected
        | ErrCode::SecondFactorRequired
        | ErrCode::TotpEnrollmentRequired => StatusCode::FORBIDDEN,
        ErrCode::DepartmentNotFound
        | ErrCode::UserIdNotFound
        | ErrCode::InvalidTagId
        | ErrCode::InvalidAgentId
        | ErrCode::InvalidJobId
        | ErrCode::ChatNotFound
        | ErrCode::ApiNotFound => StatusCode::NOT_FOUND,
        ErrCode::DepartmentExists
        | ErrCode::UserIdExists
        | ErrCode::MobileExists
        | ErrCode::EmailExists
        | ErrCode::DepartmentHasMembers
        | ErrCode::DepartmentHasChildren
        | ErrCode::TagNameExists => StatusCode::CONFLICT,
        ErrCode::InvalidFileSize => StatusCode::PAYLOAD_TOO_LARGE,
        ErrCode::ApiFreqOutOfLimit | ErrCode::SignInLocked => StatusCode::TOO_MANY_REQUESTS,
        ErrCode::SystemBusy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl V1Error {
    /// An error with a detail text.
    pub fn new(code: ErrCode, detail: impl Into<String>) -> Self {
        Self(ApiError::with_detail(code, detail))
    }
}

impl From<AppError> for V1Error {
    fn from(err: AppError) -> Self {
        Self(ApiError::from(err))
    }
}

impl From<qiye_domain::directory::DirError> for V1Error {
    fn from(err: qiye_domain::directory::DirError) -> Self {
        Self(ApiError::from(err))
    }
}

impl From<WireError> for V1Error {
    fn from(err: WireError) -> Self {
        Self(ApiError::from(err))
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let code = self.0.code;
        let mut body = serde_json::json!({ "errcode": code.code(), "errmsg": self.0.message() });
        if let Some(secs) = self.0.retry_after_secs {
            body["retry_after_secs"] = secs.into();
        }
        let mut response = (status_of(code), Json(body)).into_response();
        response.extensions_mut().insert(ErrCodeTag(code.code()));
        response
    }
}

/// Result of an `/api/v1` handler.
pub type V1Result<T> = Result<T, V1Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_only_busy_is_5xx() {
        for code in ErrCode::ALL {
            let status = status_of(*code);
            if *code == ErrCode::SystemBusy {
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            } else {
                assert!(status.is_client_error(), "{code:?} -> {status}");
            }
        }
    }
}
