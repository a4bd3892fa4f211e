//! Member sessions of the native `/api/v1` API: how a session token is made
//! and kept, how long a session lives, and what a new password must be.
//!
//! A session token is a long random string handed to the member once; only
//! its SHA-256 digest is stored (like secrets). A session ends when it has
//! been idle for [`SESSION_IDLE_MS`], when it is [`SESSION_ABSOLUTE_MS`] old,
//! when the member signs out, changes or has their password reset, or when
//! the member is deleted.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

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
/// Failed sign-ins (wrong password or second factor) of one login that lock it.
pub const LOGIN_FAILURE_LIMIT: u32 = 5;
/// Failed sign-ins from one IP address that block it.
pub const IP_FAILURE_LIMIT: u32 = 50;
/// The window in which failures are counted (15 minutes).
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long a lock lasts (15 minutes).
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// What a run of failed sign-ins is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleKey {
    /// One member of a corp (however they typed their login), or, when the
    /// login names no member, that login text: an unknown login locks like
    /// a known one, so a lock tells nothing about who exists.
    Login {
        /// The corp (as typed, trimmed).
        corp: String,
        /// `member:<userid>` or `login:<lower-cased text>`.
        who: String,
    },
    /// A client address.
    Ip(String),
}

impl ThrottleKey {
    /// The storage key.
    pub fn storage_key(&self) -> String {
        match self {
            ThrottleKey::Login { corp, who } => format!("{corp}/{who}"),
            ThrottleKey::Ip(ip) => format!("ip/{ip}"),
        }
    }

    /// Failures within [`FAILURE_WINDOW_MS`] that lock it.
    pub fn limit(&self) -> u32 {
        match self {
            ThrottleKey::Login { .. } => LOGIN_FAILURE_LIMIT,
            ThrottleKey::Ip(_) => IP_FAILURE_LIMIT,
        }
    }
}

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

    /// The session's CSRF token: HMAC-SHA-256 of a fixed label keyed with
    /// the session token. A page that can read it (the `qiye_csrf` cookie,
    /// `/me`) proves it is the app's own; it reveals nothing of the token,
    /// and it needs no storage (every node derives the same one).
    pub fn csrf_token(&self) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.expose().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(b"qiye csrf v1");
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A session's public id, shown in the list of devices: derived from the
/// token's digest, so it names the session without revealing or allowing
/// the recovery of its token.
pub fn public_session_id(digest: &SecretDigest) -> String {
    let hash = Sha256::digest(format!("qiye session id\0{}", digest.as_str()).as_bytes());
    hex::encode(&hash[..12])
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
    /// The password was right but the second factor is still owed.
    pub second_factor_pending: bool,
}

/// A stored session with what its member still owes, as read on each
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// The session.
    pub session: Session,
    /// A one-time password must be changed first.
    pub must_change_password: bool,
    /// The member has a confirmed TOTP second factor.
    pub totp_enabled: bool,
    /// The corp requires every member to use a second factor.
    pub corp_requires_2fa: bool,
}

impl SessionState {
    /// The corp requires a second factor and the member has none yet.
    pub fn must_enroll_totp(&self) -> bool {
        self.corp_requires_2fa && !self.totp_enabled
    }
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
            second_factor_pending: false,
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
    fn csrf_tokens_and_public_ids_are_derived_not_revealing() {
        let t = SessionToken::generate();
        let csrf = t.csrf_token();
        assert_eq!(csrf, SessionToken::presented(t.expose()).csrf_token());
        assert_ne!(csrf, SessionToken::generate().csrf_token());
        assert_eq!(csrf.len(), 64);
        assert!(!csrf.contains(t.expose()));
        let id = public_session_id(&t.digest());
        assert_eq!(id.len(), 24);
        assert!(!t.digest().as_str().contains(&id));
        assert_ne!(id, public_session_id(&SessionToken::generate().digest()));
    }

    #[test]
    fn throttle_keys() {
        let login = ThrottleKey::Login {
            corp: "ww1".into(),
            who: "member:alice".into(),
        };
        assert_eq!(login.storage_key(), "ww1/member:alice");
        assert_eq!(login.limit(), LOGIN_FAILURE_LIMIT);
        let ip = ThrottleKey::Ip("127.0.0.1".into());
        assert_eq!(ip.storage_key(), "ip/127.0.0.1");
        assert_eq!(ip.limit(), IP_FAILURE_LIMIT);
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
