//! Member sign-in, sessions and passwords for the native `/api/v1` API.
//!
//! Permissions as types: [`Services::authenticate_session`] yields a
//! [`MemberSession`], which can only read the member's own record, change
//! their password and manage their second factor; [`MemberSession::active`]
//! yields a [`SignedInMember`] (needed by everything else) only once nothing
//! is owed. The gates, in order: a one-time password to change (870002),
//! a second factor to give (870007), a TOTP to enrol because the corp
//! requires one (870009).
//!
//! Failed sign-ins are counted per login and per client IP in the store
//! ([`ThrottleKey`]): 5 failures of a login in 15 minutes lock it for 15
//! minutes (870006), 50 from an IP block the IP (45009). A lock is checked
//! before any password work and holds for the right password too.

use std::net::IpAddr;

use qiye_domain::audit::Actor;
use qiye_domain::directory::{DirError, Directory, Member, MemberStatus};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::ports::{StoreError, StoredPassword};
use qiye_domain::secret::{OneTimePassword, PasswordHash, SecretDigest};
use qiye_domain::session::{
    FAILURE_WINDOW_MS, LOCKOUT_MS, SESSION_IDLE_MS, Session, SessionToken, ThrottleKey,
    check_new_password,
};

use crate::Services;
use crate::directory::DirCaller;
use crate::error::{AppError, AppResult, LimitScope, SessionError};
use crate::password;

/// What a client sends to sign in.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    /// The corp.
    pub corpid: &'a str,
    /// userid, mobile or e-mail.
    pub login: &'a str,
    /// The password.
    pub password: &'a str,
    /// The client's IP.
    pub ip: Option<IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<&'a str>,
}

/// A new session.
#[derive(Debug)]
pub struct SignedIn {
    /// The token, shown to the client once.
    pub token: SessionToken,
    /// The corp.
    pub corp: CorpId,
    /// Who signed in.
    pub userid: UserId,
    /// The session may only change the password until it is changed.
    pub must_change_password: bool,
    /// The session may only give its second factor until it is given.
    pub second_factor_required: bool,
    /// The corp requires a second factor the member has not enrolled.
    pub must_enroll_totp: bool,
    /// The absolute end of the session (ms).
    pub expires_at: i64,
}

/// A request that carried a live session token. Until a one-time password
/// is changed, this is all the member has.
#[derive(Debug, Clone)]
pub struct MemberSession {
    corp: CorpId,
    userid: UserId,
    digest: SecretDigest,
    csrf_token: String,
    must_change_password: bool,
    second_factor_pending: bool,
    totp_enabled: bool,
    must_enroll_totp: bool,
    ip: Option<IpAddr>,
}

/// A signed-in member with no password change pending: the handle the
/// member-facing directory and the admin API take.
#[derive(Debug, Clone)]
pub struct SignedInMember {
    session: MemberSession,
}

impl MemberSession {
    /// The corp.
    pub fn corp(&self) -> &CorpId {
        &self.corp
    }

    /// The member.
    pub fn userid(&self) -> &UserId {
        &self.userid
    }

    /// Whether a one-time password must be changed first.
    pub fn must_change_password(&self) -> bool {
        self.must_change_password
    }

    /// Whether the second factor is still owed.
    pub fn second_factor_pending(&self) -> bool {
        self.second_factor_pending
    }

    /// Whether the member has a confirmed TOTP.
    pub fn totp_enabled(&self) -> bool {
        self.totp_enabled
    }

    /// Whether the corp requires a TOTP the member has not enrolled.
    pub fn must_enroll_totp(&self) -> bool {
        self.must_enroll_totp
    }

    /// The session's CSRF token (derived from its token).
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// The digest of the session's token.
    pub(crate) fn digest(&self) -> &SecretDigest {
        &self.digest
    }

    /// The client's IP.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// Passes when the second factor was given (or is not needed): what a
    /// password change requires.
    pub fn require_second_factor(&self) -> AppResult<()> {
        if self.second_factor_pending {
            Err(SessionError::SecondFactorRequired.into())
        } else {
            Ok(())
        }
    }

    /// Passes the first two gates (one-time password, second factor), not
    /// the enrolment one: what managing one's TOTP requires.
    pub fn require_password_and_second_factor(&self) -> AppResult<()> {
        if self.must_change_password {
            return Err(SessionError::PasswordChangeRequired.into());
        }
        self.require_second_factor()
    }

    /// The full handle, once every gate is passed in order: one-time
    /// password ([`SessionError::PasswordChangeRequired`]), second factor
    /// ([`SessionError::SecondFactorRequired`]), mandatory enrolment
    /// ([`SessionError::TotpEnrollmentRequired`]).
    pub fn active(self) -> AppResult<SignedInMember> {
        self.require_password_and_second_factor()?;
        if self.must_enroll_totp {
            return Err(SessionError::TotpEnrollmentRequired.into());
        }
        Ok(SignedInMember { session: self })
    }
}

impl SignedInMember {
    /// The corp.
    pub fn corp(&self) -> &CorpId {
        &self.session.corp
    }

    /// The member.
    pub fn userid(&self) -> &UserId {
        &self.session.userid
    }

    /// The client's IP (for audit records).
    pub fn ip(&self) -> Option<IpAddr> {
        self.session.ip
    }

    /// The session behind the handle.
    pub fn session(&self) -> &MemberSession {
        &self.session
    }
}

/// The member a sign-in names: by userid, else by mobile, else by e-mail.
fn find_login<'d>(dir: &'d Directory, login: &str) -> Option<&'d Member> {
    UserId::parse(login)
        .ok()
        .and_then(|u| dir.member(&u))
        .or_else(|| dir.member_by_mobile(login))
        .or_else(|| dir.member_by_email(login))
}

fn can_sign_in(status: MemberStatus) -> bool {
    matches!(status, MemberStatus::Active | MemberStatus::NotActivated)
}

impl Services {
    pub(crate) fn dummy_password_hash(&self) -> PasswordHash {
        self.dummy_password_hash
            .get_or_init(|| {
                password::hash("qiye: no such member").unwrap_or(PasswordHash(String::new()))
            })
            .clone()
    }

    /// The throttle keys of a sign-in: its login (the member when the login
    /// names one, else the typed text) and its client IP.
    pub(crate) fn throttle_keys(
        corpid: &str,
        member: Option<&UserId>,
        login: &str,
        ip: Option<IpAddr>,
    ) -> Vec<ThrottleKey> {
        let who = match member {
            Some(userid) => format!("member:{userid}"),
            None => format!("login:{}", login.trim().to_lowercase()),
        };
        let mut keys = vec![ThrottleKey::Login {
            corp: corpid.trim().to_owned(),
            who,
        }];
        keys.extend(ip.map(|ip| ThrottleKey::Ip(ip.to_string())));
        keys
    }

    /// Refuses when one of the keys is locked: the IP with 45009, the login
    /// with 870006 and the seconds left.
    pub(crate) async fn check_throttle(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let now = self.clock.now_millis();
        match self.store.throttle_lock(keys, now).await? {
            None => Ok(()),
            Some((ThrottleKey::Ip(_), _)) => Err(AppError::RateLimited {
                scope: LimitScope::Ip,
                api: "session",
            }),
            Some((ThrottleKey::Login { .. }, until)) => Err(SessionError::Locked {
                retry_after_secs: (until - now + 999) / 1000,
            }
            .into()),
        }
    }

    /// Counts a failed sign-in (password or second factor) against its keys.
    pub(crate) async fn count_failure(&self, keys: &[ThrottleKey]) -> AppResult<()> {
        let now = self.clock.now_millis();
        for key in keys {
            if let Some(until) = self
                .store
                .record_throttle_failure(key, now, FAILURE_WINDOW_MS, LOCKOUT_MS)
                .await?
            {
                tracing::warn!(key = %key.storage_key(), until, "sign-in locked after repeated failures");
            }
        }
        Ok(())
    }

    /// Signs a member in with a password. Unknown corp, unknown login and
    /// wrong password all answer [`SessionError::LoginFailed`] after the same
    /// Argon2 work, and all count toward the lock of what was typed.
    pub async fn sign_in(&self, request: SignIn<'_>) -> AppResult<SignedIn> {
        let corp = CorpId::parse(request.corpid.trim()).ok();
        let found = match &corp {
            Some(corp) if self.store.get_corp(corp).await.is_ok() => {
                let caller = DirCaller::operator(corp.clone(), Actor::System);
                self.dir_read(&caller, |view| {
                    find_login(view.dir, request.login.trim()).map(|m| (m.userid.clone(), m.status))
                })
                .await?
            }
            _ => None,
        };
        let keys = Self::throttle_keys(
            request.corpid,
            found.as_ref().map(|(userid, _)| userid),
            request.login,
            request.ip,
        );
        if let Err(refusal) = self.check_throttle(&keys).await {
            if let (Some(corp), Some((userid, _))) = (&corp, &found) {
                self.record_failure(
                    Actor::Member(userid.clone()),
                    corp,
                    request.ip,
                    "session.create",
                    &format!("member:{userid}"),
                    format!("locked: {refusal}"),
                )
                .await;
            }
            return Err(refusal);
        }
        let stored = match (&corp, &found) {
            (Some(corp), Some((userid, _))) => self.store.member_password(corp, userid).await?,
            _ => None,
        };
        let matches = password::verify_blocking(
            request.password,
            stored.as_ref().and_then(|s| s.hash.clone()),
            self.dummy_password_hash(),
        )
        .await?;
        let (Some(corp), Some((userid, status)), Some(stored)) = (corp, found, stored) else {
            self.count_failure(&keys).await?;
            return Err(SessionError::LoginFailed.into());
        };
        let refusal = if !matches {
            self.count_failure(&keys).await?;
            Some(SessionError::LoginFailed)
        } else if !can_sign_in(status) {
            Some(SessionError::MemberDisabled)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.record_failure(
                Actor::Member(userid.clone()),
                &corp,
                request.ip,
                "session.create",
                &format!("member:{userid}"),
                refusal.to_string(),
            )
            .await;
            return Err(refusal.into());
        }
        let totp_enabled = self
            .store
            .member_totp(&corp, &userid)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let require_2fa = self.store.get_corp(&corp).await?.require_2fa;
        let token = SessionToken::generate();
        let mut session = Session::start(
            corp.clone(),
            userid.clone(),
            self.clock.now_millis(),
            request.ip.map(|ip| ip.to_string()),
            request.user_agent,
        );
        session.second_factor_pending = totp_enabled;
        let record = self.audit_record(
            Actor::Member(userid.clone()),
            &corp,
            request.ip,
            "session.create",
            &format!("member:{userid}"),
        );
        self.store
            .create_session(&session, &token.digest(), &record)
            .await?;
        if !totp_enabled {
            // A complete sign-in forgets the login's earlier failures; with
            // a second factor owed, only a right code does.
            self.store
                .clear_throttle(&keys[0], self.clock.now_millis())
                .await?;
        }
        Ok(SignedIn {
            token,
            corp,
            userid,
            must_change_password: stored.must_change,
            second_factor_required: totp_enabled,
            must_enroll_totp: require_2fa && !totp_enabled,
            expires_at: session.expires_at,
        })
    }

    /// The session behind a presented token: live, and its member still
    /// exists and may sign in.
    pub async fn authenticate_session(
        &self,
        token: Option<&str>,
        ip: Option<IpAddr>,
    ) -> AppResult<MemberSession> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(SessionError::TokenMissing)?;
        let presented = SessionToken::presented(token);
        let digest = presented.digest();
        let state = self
            .store
            .find_session(&digest)
            .await?
            .ok_or(SessionError::NotSignedIn)?;
        let must_enroll_totp = state.must_enroll_totp();
        let session = state.session;
        let now = self.clock.now_millis();
        if !session.is_live(now) {
            return Err(SessionError::NotSignedIn.into());
        }
        let caller = DirCaller::operator(session.corp.clone(), Actor::System);
        let allowed = self
            .dir_read(&caller, |view| {
                view.dir
                    .member(&session.userid)
                    .is_some_and(|m| can_sign_in(m.status))
            })
            .await?;
        if !allowed {
            return Err(SessionError::NotSignedIn.into());
        }
        if session.needs_touch(now) {
            self.store.touch_session(&digest, now).await?;
        }
        Ok(MemberSession {
            corp: session.corp,
            userid: session.userid,
            digest,
            csrf_token: presented.csrf_token(),
            must_change_password: state.must_change_password,
            second_factor_pending: session.second_factor_pending,
            totp_enabled: state.totp_enabled,
            must_enroll_totp,
            ip,
        })
    }

    /// Ends the session.
    pub async fn sign_out(&self, session: &MemberSession) -> AppResult<()> {
        let record = self.audit_record(
            Actor::Member(session.userid.clone()),
            &session.corp,
            session.ip,
            "session.delete",
            &format!("member:{}", session.userid),
        );
        self.store
            .end_session(&session.corp, &session.digest, &record)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => SessionError::NotSignedIn.into(),
                other => other.into(),
            })
    }

    /// The member's own password change: the current one must match; every
    /// other session of the member ends, this one stays and is no longer
    /// limited to the password change.
    pub async fn change_password(
        &self,
        session: &MemberSession,
        current: &str,
        new: &str,
    ) -> AppResult<()> {
        let stored = self
            .store
            .member_password(&session.corp, &session.userid)
            .await?
            .ok_or(SessionError::NotSignedIn)?;
        let target = format!("member:{}", session.userid);
        let actor = Actor::Member(session.userid.clone());
        let matches =
            password::verify_blocking(current, stored.hash, self.dummy_password_hash()).await?;
        let checked = if matches {
            check_new_password(current, new).map_err(SessionError::from)
        } else {
            Err(SessionError::WrongPassword)
        };
        if let Err(refusal) = checked {
            self.record_failure(
                actor,
                &session.corp,
                session.ip,
                "member.password.change",
                &target,
                refusal.to_string(),
            )
            .await;
            return Err(refusal.into());
        }
        let hash = password::hash_blocking(new).await?;
        let record = self.audit_record(
            actor,
            &session.corp,
            session.ip,
            "member.password.change",
            &target,
        );
        self.store
            .set_password(
                &session.corp,
                &session.userid,
                &StoredPassword {
                    hash: Some(hash),
                    must_change: false,
                },
                Some(&session.digest),
                &record,
            )
            .await?;
        Ok(())
    }

    /// Gives a member a new one-time password and ends all their sessions.
    /// The caller's reach must include the member (an operator's always
    /// does).
    pub async fn reset_password(
        &self,
        caller: &DirCaller,
        userid: &UserId,
    ) -> AppResult<OneTimePassword> {
        self.dir_read(caller, |view| view.member(userid).map(|_| ()))
            .await??;
        let one_time = OneTimePassword::generate();
        let hash = password::hash_blocking(one_time.expose()).await?;
        let record = self.audit_record(
            caller.actor.clone(),
            &caller.corp,
            caller.ip,
            "member.password.reset",
            &format!("member:{userid}"),
        );
        self.store
            .set_password(
                &caller.corp,
                userid,
                &StoredPassword {
                    hash: Some(hash),
                    must_change: true,
                },
                None,
                &record,
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::Dir(DirError::UserNotFound),
                other => other.into(),
            })?;
        Ok(one_time)
    }

    /// Deletes sessions that ended and throttle counters whose window and
    /// lock are over (housekeeping); returns how many sessions.
    pub(crate) async fn prune_sessions(&self) -> AppResult<u64> {
        let now = self.clock.now_millis();
        self.store
            .prune_throttle(now - FAILURE_WINDOW_MS.max(LOCKOUT_MS))
            .await?;
        Ok(self
            .store
            .prune_sessions(now, now - SESSION_IDLE_MS)
            .await?)
    }
}
