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
    /// No access_token in the query string.
    AccessTokenMissing = 41001, "access_token missing";
    /// No corpid in the query string.
    CorpIdMissing = 41002, "corpid missing";
    /// No corpsecret in the query string.
    SecretMissing = 41004, "corpsecret missing";
    /// No agentid in the request.
    AgentIdMissing = 41011, "agentid missing";
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
    /// The token's app may not act on another app.
    NoAppPermission = 301002, "no permission to access the app";
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
