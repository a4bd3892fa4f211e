//! Extractors of the native API: the session (a `Bearer` token or the
//! `qiye_session` cookie), and JSON bodies, queries and path segments that
//! answer bad input with an errcode and HTTP 400, never a framework's
//! plain-text rejection.

use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use qiye_app::session::{MemberSession, SignedInMember};
use qiye_domain::ids::{DeptId, UserId};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::parse_body;
use serde::de::DeserializeOwned;

use super::error::V1Error;
use crate::AppState;
use crate::extract::{MAX_JSON_BODY, client_ip};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "qiye_session";

/// The session token of a request: `Authorization: Bearer`, else the cookie.
pub(crate) fn presented_token(parts: &Parts) -> Option<String> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| {
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value.trim().to_owned())
    })
}

/// Any live session, even one that must still change its password (only
/// `/me` and `/me/password` take this).
#[derive(Debug, Clone)]
pub struct AnySession(pub MemberSession);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V1Error> {
        let ip: IpAddr = client_ip(parts);
        let token = presented_token(parts);
        let session = state
            .services
            .authenticate_session(token.as_deref(), Some(ip))
            .await?;
        Ok(AnySession(session))
    }
}

/// A signed-in member with no password change pending.
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
