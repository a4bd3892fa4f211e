//! Extractors that read requests the way WeCom does and refuse bad input with
//! an errcode, never with a framework's plain-text 4xx.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use qiye_wecom::ErrCode;
use qiye_wecom::wire::parse_body;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON body accepted on `/cgi-bin` (uploads have their own limits).
pub const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// Who is calling and with which token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client's IP address.
    pub ip: IpAddr,
    /// The `access_token` query parameter, if any.
    pub access_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenParam {
    access_token: Option<String>,
}

/// The client IP of a request (the peer address of its connection).
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| {
            addr.ip()
        })
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let token = Query::<TokenParam>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::with_detail(ErrCode::InvalidRequestParameter, e.body_text()))?;
        Ok(Self {
            ip: client_ip(parts),
            access_token: token.0.access_token,
        })
    }
}

/// Query parameters, with malformed ones answered as 40058.
#[derive(Debug)]
pub struct WecomQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for WecomQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| WecomQuery(q.0))
            .map_err(|e| ApiError::with_detail(ErrCode::InvalidRequestParameter, e.body_text()))
    }
}

/// A JSON body read whatever the Content-Type; see [`parse_body`].
#[derive(Debug)]
pub struct WecomBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for WecomBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::with_detail(
                ErrCode::InvalidRequestParameter,
                format!("request body unreadable or larger than {MAX_JSON_BODY} bytes"),
            )
        })?;
        Ok(WecomBody(parse_body(&bytes)?))
    }
}
