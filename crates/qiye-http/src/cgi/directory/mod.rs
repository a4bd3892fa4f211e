//! The directory API (§2 of the wire reference): a file per resource, since
//! its verbs share their conversions. Every handler authenticates, turns the
//! token into a [`DirCaller`] (contacts secret: everything; app: its
//! visible range), converts the wire request into domain input and calls
//! one use case.

pub mod department;
pub mod jobs;
pub mod tag;
pub mod user;

use qiye_app::AuthContext;
use qiye_app::directory::DirCaller;
use qiye_domain::directory::DirError;
use qiye_domain::ids::{DeptId, UserId};
use qiye_wecom::ErrCode;

use crate::AppState;
use crate::cgi::trace_corp;
use crate::error::ApiError;
use crate::extract::Caller;

/// Authenticates and builds the directory caller.
pub(crate) async fn dir_caller(
    state: &AppState,
    caller: &Caller,
    api: &'static str,
) -> Result<(std::sync::Arc<AuthContext>, DirCaller), ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), api, caller.ip)
        .await?;
    trace_corp(&context);
    let dir = state.services.dir_caller(&context, Some(caller.ip)).await?;
    Ok((context, dir))
}

/// A required department id from a query or body.
fn dept_id(raw: Option<i64>, field: &str) -> Result<DeptId, ApiError> {
    let raw = raw.ok_or_else(|| {
        ApiError::with_detail(ErrCode::InvalidDepartmentId, format!("{field} missing"))
    })?;
    DeptId::new(raw).map_err(|_| ApiError::new(ErrCode::InvalidDepartmentId))
}

/// An optional integer query parameter.
fn query_int(raw: Option<&str>, code: ErrCode) -> Result<Option<i64>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| ApiError::new(code)),
    }
}

/// A required userid.
fn user_id(raw: Option<&str>) -> Result<UserId, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Err(ApiError::with_detail(
            ErrCode::InvalidUserId,
            "userid missing",
        )),
        Some(text) => UserId::parse(text)
            .map_err(|_| ApiError::from(qiye_app::AppError::Dir(DirError::UserIdInvalid))),
    }
}
