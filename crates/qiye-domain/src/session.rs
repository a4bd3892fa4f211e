//! Member sessions of the native `/api/v1` API: how a session token is made
//! and kept, how long a session lives, and what a new password must be.
//!
//! A session token is a long random string handed to the member once; only
//! its SHA-256 digest is stored (like secrets). A session ends when it has
//! been idle for [`SESSION_IDLE_MS`], when it is [`SESSION_ABSOLUTE_MS`] old,
//! when the member signs out, changes or has their password reset, or when
//! the member is deleted.

use std::fmt;

use crate::clock::UnixMillis;
use crate::ids::{CorpId, UserId};
use crate::secret::{Secret, SecretDigest};

/// A session ends after this long without a request (7 days).
pub const SESSION_IDLE_MS: i64 = 7 * 24 * 3600 * 1000;
/// A session ends this long after sign-in, active or not (30 days).
pub const SESSION_ABSOLUTE_MS: i64 = 30 * 24 * 3600 * 1000;
/// `last_seen` is written at most this often per session, so a busy client
/// does not turn every read into a write.
pub const SESSION_TOUCH_INTERVAL_MS: i64 = 60 * 1000;
/// Shortest password a member may choose.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password a member may choose (Argon2 input stays bounded).
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest user-agent text kept with a session.
pub const USER_AGENT_MAX_CHARS: usize = 256;

/// A session token as handed to the member. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(Secret);

impl SessionToken {
    /// A fresh random token (43 URL-safe characters, about 256 bits).
    pub fn generate() -> Self {
        Self(Secret::generate())
    }

    /// Wraps a token presented by a client.
    pub fn presented(raw: &str) -> Self {
        Self(Secret::presented(raw))
    }

    /// The text, for handing to the member once.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The digest under which the session is stored and looked up.
    pub fn digest(&self) -> SecretDigest {
        self.0.digest()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// A signed-in member's session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The corp.
    pub corp: CorpId,
    /// The member.
    pub userid: UserId,
    /// When they signed in.
    pub created_at: UnixMillis,
    /// Their last request (at [`SESSION_TOUCH_INTERVAL_MS`] granularity).
    pub last_seen_at: UnixMillis,
    /// When the session ends at the latest.
    pub expires_at: UnixMillis,
    /// The client IP at sign-in.
    pub ip: Option<String>,
    /// The client's user agent at sign-in, cut to [`USER_AGENT_MAX_CHARS`].
    pub user_agent: Option<String>,
}

impl Session {
    /// A session starting `now`.
    pub fn start(
        corp: CorpId,
        userid: UserId,
        now: UnixMillis,
        ip: Option<String>,
        user_agent: Option<&str>,
    ) -> Self {
        Self {
            corp,
            userid,
            created_at: now,
            last_seen_at: now,
            expires_at: now + SESSION_ABSOLUTE_MS,
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect()),
        }
    }

    /// Whether the session still works at `now`.
    pub fn is_live(&self, now: UnixMillis) -> bool {
        now < self.expires_at && now - self.last_seen_at < SESSION_IDLE_MS
    }

    /// Whether a request at `now` should record itself as `last_seen`.
    pub fn needs_touch(&self, now: UnixMillis) -> bool {
        now - self.last_seen_at >= SESSION_TOUCH_INTERVAL_MS
    }
}

/// A password a member may not choose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleError {
    /// Too short.
    #[error("the new password must have at least {PASSWORD_MIN_CHARS} characters")]
    TooShort,
    /// Too long.
    #[error("the new password must have at most {PASSWORD_MAX_CHARS} characters")]
    TooLong,
    /// The same as the current one.
    #[error("the new password must differ from the current one")]
    Unchanged,
}

/// Checks a new password against the rules (the old one is what the member
/// typed as their current password).
pub fn check_new_password(old: &str, new: &str) -> Result<(), PasswordRuleError> {
    let chars = new.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        Err(PasswordRuleError::TooShort)
    } else if chars > PASSWORD_MAX_CHARS {
        Err(PasswordRuleError::TooLong)
    } else if old == new {
        Err(PasswordRuleError::Unchanged)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: i64) -> Session {
        Session::start(
            CorpId::generate(),
            UserId::parse("alice").unwrap(),
            now,
            None,
            Some(&"x".repeat(1000)),
        )
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let mut s = session(1_000);
        assert_eq!(s.user_agent.as_ref().unwrap().len(), USER_AGENT_MAX_CHARS);
        assert!(s.is_live(1_000));
        assert!(s.is_live(1_000 + SESSION_IDLE_MS - 1));
        assert!(!s.is_live(1_000 + SESSION_IDLE_MS));
        // Active every day: still ends at the absolute limit.
        s.last_seen_at = 1_000 + SESSION_ABSOLUTE_MS - 10;
        assert!(s.is_live(1_000 + SESSION_ABSOLUTE_MS - 1));
        assert!(!s.is_live(1_000 + SESSION_ABSOLUTE_MS));
    }

    #[test]
    fn touches_are_rate_limited() {
        let s = session(0);
        assert!(!s.needs_touch(SESSION_TOUCH_INTERVAL_MS - 1));
        assert!(s.needs_touch(SESSION_TOUCH_INTERVAL_MS));
    }

    #[test]
    fn tokens_digest_stably_and_never_print() {
        let t = SessionToken::generate();
        assert_eq!(t.digest(), SessionToken::presented(t.expose()).digest());
        assert_ne!(t.digest(), SessionToken::generate().digest());
        assert!(!format!("{t:?}").contains(t.expose()));
    }

    #[test]
    fn password_rules() {
        assert_eq!(
            check_new_password("old", "short"),
            Err(PasswordRuleError::TooShort)
        );
        assert_eq!(
            check_new_password("old", &"x".repeat(129)),
            Err(PasswordRuleError::TooLong)
        );
        assert_eq!(
            check_new_password("same-password", "same-password"),
            Err(PasswordRuleError::Unchanged)
        );
        assert_eq!(check_new_password("old", "一二三四五六七八九十"), Ok(()));
    }
}
