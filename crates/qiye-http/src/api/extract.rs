//! Extractors of the native API: the session (a `Bearer` token or the
//! `qiye_session` cookie), and JSON bodies, queries and path segments that
//! answer bad input with an errcode and HTTP 400, never a framework's
//! plain-text rejection.
//!
//! CSRF: a request authenticated by the cookie with an unsafe method (POST,
//! PUT, PATCH, DELETE) must carry `X-CSRF-Token`, the session's CSRF token
//! (derived from the session token, compared in constant time), or it is
//! refused with 870005 before anything runs. A bearer token is never sent
//! by a browser on its own, so bearer requests need no header.

use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use qiye_app::session::{MemberSession, SignedInMember};
use qiye_domain::ids::{DeptId, UserId};
use qiye_domain::session::SessionToken;
use qiye_domain::totp::constant_time_eq;
use qiye_wecom::ErrCode;
use qiye_wecom::wire::parse_body;
use serde::de::DeserializeOwned;

use super::error::V1Error;
use crate::AppState;
use crate::extract::{MAX_JSON_BODY, client_ip};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "qiye_session";
/// The CSRF cookie's name (readable by the page's script).
pub const CSRF_COOKIE: &str = "qiye_csrf";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a request presented its session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// The `qiye_session` cookie (a browser sends it by itself).
    Cookie,
}

/// The session token of a request (`Authorization: Bearer`, else the
/// cookie) and where it came from.
pub(crate) fn presented_token_with_source(parts: &Parts) -> Option<(String, TokenSource)> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| (t.trim().to_owned(), TokenSource::Bearer));
    bearer.or_else(|| {
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == SESSION_COOKIE && !value.trim().is_empty())
            .map(|(_, value)| (value.trim().to_owned(), TokenSource::Cookie))
    })
}

/// Refuses a cookie-authenticated unsafe request whose `X-CSRF-Token` is
/// missing or not the session's (870005).
fn check_csrf(parts: &Parts, token: &str, source: TokenSource) -> Result<(), V1Error> {
    if source == TokenSource::Bearer || parts.method.is_safe() {
        return Ok(());
    }
    let expected = SessionToken::presented(token).csrf_token();
    let given = parts
        .headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if constant_time_eq(given, expected.as_bytes()) {
        Ok(())
    } else {
        Err(V1Error::new(
            ErrCode::CsrfRejected,
            "send the session's csrf_token in the X-CSRF-Token header",
        ))
    }
}

/// Any live session, even one that must still change its password (only
/// `/me` and `/me/password` take this).
#[derive(Debug, Clone)]
pub struct AnySession(pub MemberSession);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V1Error> {
        let ip: IpAddr = client_ip(parts);
        let presented = presented_token_with_source(parts);
        if let Some((token, source)) = &presented {
            check_csrf(parts, token, *source)?;
        }
        let session = state
            .services
            .authenticate_session(presented.as_ref().map(|(t, _)| t.as_str()), Some(ip))
            .await?;
        Ok(AnySession(session))
    }
}

/// A session that gave its second factor (if it owed one): what a password
/// change takes (870007 otherwise).
#[derive(Debug, Clone)]
pub struct VerifiedSession(pub MemberSession);

impl FromRequestParts<AppState> for VerifiedSession {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V1Error> {
        let AnySession(session) = AnySession::from_request_parts(parts, state).await?;
        session.require_second_factor()?;
        Ok(VerifiedSession(session))
    }
}

/// A signed-in member past every gate (one-time password, second factor,
/// mandatory enrolment).
#[derive(Debug, Clone)]
pub struct Member(pub SignedInMember);

impl FromRequestParts<AppState> for Member {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V1Error> {
        let AnySession(session) = AnySession::from_request_parts(parts, state).await?;
        Ok(Member(session.active()?))
    }
}

/// A JSON body; malformed JSON is 47001, a wrong or missing field 40058
/// naming it, both with HTTP 400.
#[derive(Debug)]
pub struct V1Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for V1Json<T> {
    type Rejection = V1Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, V1Error> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            V1Error::new(
                ErrCode::InvalidRequestParameter,
                format!("request body unreadable or larger than {MAX_JSON_BODY} bytes"),
            )
        })?;
        Ok(V1Json(parse_body(&bytes)?))
    }
}

/// Query parameters; malformed ones are 40058 with HTTP 400.
#[derive(Debug)]
pub struct V1Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for V1Query<T> {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, V1Error> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| V1Query(q.0))
            .map_err(|e| V1Error::new(ErrCode::InvalidRequestParameter, e.body_text()))
    }
}

/// A department id from a path segment (60123 when it is not one).
pub fn dept_param(raw: &str) -> Result<DeptId, V1Error> {
    raw.parse::<i64>()
        .ok()
        .and_then(|n| DeptId::new(n).ok())
        .ok_or_else(|| V1Error::new(ErrCode::InvalidDepartmentId, raw.to_owned()))
}

/// A userid from a path segment (40003 when it is not one).
pub fn user_param(raw: &str) -> Result<UserId, V1Error> {
    UserId::parse(raw).map_err(|_| V1Error::new(ErrCode::InvalidUserId, raw.to_owned()))
}

/// The client's IP address.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, V1Error> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// A signed-in administrator (super or scoped); others get 60011 / 403.
#[derive(Debug, Clone)]
pub struct Admin(pub qiye_app::directory::admin::AdminCaller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V1Error> {
        let Member(member) = Member::from_request_parts(parts, state).await?;
        tracing::Span::current().record("corp", member.corp().as_str());
        Ok(Admin(state.services.admin(&member).await?))
    }
}
