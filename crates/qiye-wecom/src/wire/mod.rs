//! JSON shapes of `/cgi-bin` requests and responses, and the rules for
//! reading request bodies the way WeCom does: any Content-Type (wechatpy
//! sends none), an empty body is `{}`, unknown fields are ignored, numbers
//! may arrive as strings.

pub mod agent;
pub mod approval;
pub mod directory;
pub mod lenient;
pub mod message;
pub mod token;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ErrCode;

/// A request that could not be read, with the errcode to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// The errcode.
    pub code: ErrCode,
    /// What exactly was wrong (appended to errmsg).
    pub detail: String,
}

impl WireError {
    /// A wire error with a detail text.
    pub fn new(code: ErrCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

/// Reads a JSON request body whatever its Content-Type.
///
/// - empty (or all-whitespace) body → `{}`;
/// - not JSON → 47001 with WeCom's "Warning: wrong json format." text;
/// - JSON that is not an object, or a field of the wrong type → 40058 naming the field.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        WireError::new(
            ErrCode::InvalidJson,
            format!("{e}. Warning: wrong json format."),
        )
    })?;
    if !value.is_object() {
        return Err(WireError::new(
            ErrCode::InvalidRequestParameter,
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        WireError::new(
            ErrCode::InvalidRequestParameter,
            format!("{path}: {}", e.inner()),
        )
    })
}

/// The reply envelope: `errcode`, `errmsg` and the payload's fields at the
/// top level (WeCom has no `data` wrapper).
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    /// 0 on success.
    pub errcode: i64,
    /// `ok`, or `created` / `updated` / `deleted` for some writes, or the error text.
    pub errmsg: String,
    /// The payload, flattened.
    #[serde(flatten)]
    pub body: T,
}

impl<T: Serialize> Envelope<T> {
    /// A success reply with `errmsg` "ok".
    pub fn ok(body: T) -> Self {
        Self {
            errcode: 0,
            errmsg: "ok".to_owned(),
            body,
        }
    }

    /// A success reply with another `errmsg` ("updated", ...).
    pub fn ok_with(errmsg: &str, body: T) -> Self {
        Self {
            errcode: 0,
            errmsg: errmsg.to_owned(),
            body,
        }
    }
}

/// A payload with no fields.
#[derive(Debug, Default, Serialize)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Probe {
        #[serde(default, deserialize_with = "lenient::opt_i64")]
        agentid: Option<i64>,
        #[serde(default)]
        name: Option<String>,
    }

    #[test]
    fn empty_body_is_an_empty_object() {
        assert_eq!(
            parse_body::<Probe>(b"").unwrap(),
            Probe {
                agentid: None,
                name: None
            }
        );
        assert_eq!(
            parse_body::<Probe>(b" \n").unwrap(),
            Probe {
                agentid: None,
                name: None
            }
        );
    }

    #[test]
    fn malformed_json_is_47001() {
        let err = parse_body::<Probe>(b"{\"agentid\": ").unwrap_err();
        assert_eq!(err.code, ErrCode::InvalidJson);
        assert!(err.detail.ends_with("Warning: wrong json format."));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse_body::<Probe>(br#"{"name": 5}"#).unwrap_err();
        assert_eq!(err.code, ErrCode::InvalidRequestParameter);
        assert!(err.detail.starts_with("name:"), "{}", err.detail);
        let err = parse_body::<Probe>(br#"{"agentid": "abc"}"#).unwrap_err();
        assert!(err.detail.starts_with("agentid:"), "{}", err.detail);
        assert_eq!(
            parse_body::<Probe>(b"[1]").unwrap_err().code,
            ErrCode::InvalidRequestParameter
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_numbers_may_be_strings() {
        let p: Probe =
            parse_body(br#"{"agentid": "1000002", "isreportuser": 0, "name": "OA"}"#).unwrap();
        assert_eq!(
            p,
            Probe {
                agentid: Some(1000002),
                name: Some("OA".into())
            }
        );
    }

    #[test]
    fn envelope_is_flat() {
        #[derive(Serialize)]
        struct Body {
            access_token: &'static str,
        }
        let json = serde_json::to_value(Envelope::ok(Body { access_token: "t" })).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"errcode": 0, "errmsg": "ok", "access_token": "t"})
        );
    }
}
