//! `gettoken` (doc 91039).

use serde::{Deserialize, Serialize};

/// `GET gettoken?corpid=..&corpsecret=..`
#[derive(Debug, Default, Deserialize)]
pub struct GetTokenQuery {
    /// The corp id.
    pub corpid: Option<String>,
    /// One of the corp's secrets.
    pub corpsecret: Option<String>,
}

/// `gettoken` payload.
#[derive(Debug, Serialize)]
pub struct GetTokenResponse {
    /// The token.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}
