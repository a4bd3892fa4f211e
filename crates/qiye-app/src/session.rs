//! Member sign-in, sessions and passwords for the native `/api/v1` API.
//!
//! Permissions as types: [`Services::authenticate_session`] yields a
//! [`MemberSession`], which can only read the member's own record and change
//! their password; [`MemberSession::active`] yields a [`SignedInMember`]
//! (needed by everything else) only once no one-time password is pending.

use std::net::IpAddr;

use qiye_domain::audit::Actor;
use qiye_domain::directory::{DirError, Directory, Member, MemberStatus};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::ports::{StoreError, StoredPassword};
use qiye_domain::secret::{OneTimePassword, PasswordHash, SecretDigest};
use qiye_domain::session::{SESSION_IDLE_MS, Session, SessionToken, check_new_password};

use crate::Services;
use crate::directory::DirCaller;
use crate::error::{AppError, AppResult, SessionError};
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
    must_change_password: bool,
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

    /// The full handle, or [`SessionError::PasswordChangeRequired`].
    pub fn active(self) -> AppResult<SignedInMember> {
        if self.must_change_password {
            Err(SessionError::PasswordChangeRequired.into())
        } else {
            Ok(SignedInMember { session: self })
        }
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
    fn dummy_password_hash(&self) -> PasswordHash {
        self.dummy_password_hash
            .get_or_init(|| {
                password::hash("qiye: no such member").unwrap_or(PasswordHash(String::new()))
            })
            .clone()
    }

    /// Signs a member in with a password. Unknown corp, unknown login and
    /// wrong password all answer [`SessionError::LoginFailed`] after the same
    /// Argon2 work.
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
            return Err(SessionError::LoginFailed.into());
        };
        let refusal = if !matches {
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
        let token = SessionToken::generate();
        let session = Session::start(
            corp.clone(),
            userid.clone(),
            self.clock.now_millis(),
            request.ip.map(|ip| ip.to_string()),
            request.user_agent,
        );
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
        Ok(SignedIn {
            token,
            corp,
            userid,
            must_change_password: stored.must_change,
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
        let digest = SessionToken::presented(token).digest();
        let (session, must_change_password) = self
            .store
            .find_session(&digest)
            .await?
            .ok_or(SessionError::NotSignedIn)?;
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
            must_change_password,
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

    /// Deletes sessions that ended (housekeeping); returns how many.
    pub(crate) async fn prune_sessions(&self) -> AppResult<u64> {
        let now = self.clock.now_millis();
        Ok(self
            .store
            .prune_sessions(now, now - SESSION_IDLE_MS)
            .await?)
    }
}
