//! Access tokens: issued for two hours, the same token returned while it is
//! valid, kept in storage so that a restart does not invalidate them.

use crate::credential::Principal;
use crate::secret::TokenString;

/// How long a token is valid, in seconds (WeCom's `expires_in`).
pub const TOKEN_LIFETIME_SECS: i64 = 7200;

/// Longest token string accepted from a client (WeCom: up to 512 bytes).
pub const MAX_TOKEN_LEN: usize = 512;

/// A token as stored: what it acts as and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token text.
    pub token: TokenString,
    /// What the token acts as.
    pub principal: Principal,
    /// Unix seconds when it was issued.
    pub issued_at: i64,
    /// Unix seconds when it stops being valid.
    pub expires_at: i64,
}

impl IssuedToken {
    /// A new token for `principal`, valid from `now` for [`TOKEN_LIFETIME_SECS`].
    pub fn fresh(principal: Principal, now: i64) -> Self {
        Self {
            token: TokenString::generate(),
            principal,
            issued_at: now,
            expires_at: now + TOKEN_LIFETIME_SECS,
        }
    }

    /// Seconds of validity left at `now` (never negative).
    pub fn expires_in(&self, now: i64) -> i64 {
        (self.expires_at - now).max(0)
    }

    /// Whether the token is still valid at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// What checking a presented token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// Valid: the request acts as this principal.
    Valid(IssuedToken),
    /// Known but past its expiry (WeCom 42001).
    Expired,
    /// Never issued, revoked by a secret rotation, or malformed (WeCom 40014).
    Unknown,
}

impl TokenCheck {
    /// Classifies a stored token (or its absence) at `now`.
    pub fn classify(stored: Option<IssuedToken>, now: i64) -> Self {
        match stored {
            Some(t) if t.is_valid_at(now) => TokenCheck::Valid(t),
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }
}

/// Whether a presented string could be a token at all (cheap check before
/// touching storage).
pub fn plausible_token(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= MAX_TOKEN_LEN && raw.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::CredentialKind;
    use crate::ids::CorpId;

    fn principal() -> Principal {
        Principal {
            corp_id: CorpId::generate(),
            credential: CredentialKind::ContactSync,
        }
    }

    #[test]
    fn token_lifetime_and_classification() {
        let t = IssuedToken::fresh(principal(), 1_000);
        assert_eq!(t.expires_in(1_000), 7200);
        assert_eq!(t.expires_in(9_000), 0);
        assert!(matches!(
            TokenCheck::classify(Some(t.clone()), 8_199),
            TokenCheck::Valid(_)
        ));
        assert_eq!(TokenCheck::classify(Some(t), 8_200), TokenCheck::Expired);
        assert_eq!(TokenCheck::classify(None, 0), TokenCheck::Unknown);
    }

    #[test]
    fn plausibility() {
        assert!(plausible_token("abc-_DEF"));
        assert!(!plausible_token(""));
        assert!(!plausible_token("has space"));
        assert!(!plausible_token(&"a".repeat(513)));
    }
}
