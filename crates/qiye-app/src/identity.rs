//! The identity use cases of the web app: the second factor at sign-in,
//! TOTP enrolment and recovery codes, a member's devices (their sessions)
//! and administrators' view of them, corp settings, and the audit listing.
//!
//! Every change is audited with the member (`member:<userid>`) or the
//! administrator (`admin:<userid>`) as actor; refusals too.

use qiye_domain::audit::{Actor, AuditEntry, AuditQuery};
use qiye_domain::corp::{Corp, CorpSettingsChange};
use qiye_domain::device::device_label;
use qiye_domain::directory::DirError;
use qiye_domain::ids::UserId;
use qiye_domain::ports::StoreError;
use qiye_domain::rate::{CorpRateOverride, RateQuota, RateQuotaError};
use qiye_domain::session::{Session, public_session_id};
use qiye_domain::totp::{RecoveryCode, TotpSecret};

use crate::Services;
use crate::directory::admin::{AdminCaller, RuleEditor};
use crate::error::{AppError, AppResult, SessionError};
use crate::password;
use crate::session::MemberSession;

/// What a member gives as their second factor.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// A 6-digit TOTP code.
    Code(&'a str),
    /// One of their recovery codes.
    RecoveryCode(&'a str),
}

/// A pending TOTP enrolment, to show once.
#[derive(Debug)]
pub struct TotpEnrollment {
    /// The secret in base32.
    pub secret: String,
    /// The `otpauth://` URI (what the QR code holds).
    pub otpauth_uri: String,
}

/// One signed-in device of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The session's public id (not its token).
    pub id: String,
    /// "Chrome 156 on Linux".
    pub label: String,
    /// The user agent at sign-in.
    pub user_agent: Option<String>,
    /// The IP at sign-in.
    pub ip: Option<String>,
    /// When it signed in (ms).
    pub signed_in_at: i64,
    /// Its last request (ms, at one-minute granularity).
    pub last_seen: i64,
    /// It is the session asking.
    pub current: bool,
}

impl Device {
    fn of(session: &Session, id: String, current: bool) -> Self {
        Self {
            id,
            label: device_label(session.user_agent.as_deref()),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            signed_in_at: session.created_at,
            last_seen: session.last_seen_at,
            current,
        }
    }
}

/// A corp administrator's new rate limits, per minute; `None` returns a
/// limit to the server default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitsChange {
    /// Calls per minute per API for the whole corp.
    pub api_per_minute: Option<u32>,
    /// Calls per minute per API for each app (`message/send` included).
    pub sends_per_minute: Option<u32>,
}

/// A change of corp settings as an administrator asks for it.
#[derive(Debug, Clone, Default)]
pub struct CorpSettingsRequest {
    /// New name.
    pub name: Option<String>,
    /// Require TOTP of every member.
    pub require_2fa: Option<bool>,
    /// Show the watermark.
    pub watermark: Option<bool>,
    /// New rate limits.
    pub rate_limits: Option<RateLimitsChange>,
}

fn member_target(userid: &UserId) -> String {
    format!("member:{userid}")
}

impl Services {
    /// Runs a member's own identity change and audits a refusal (a success
    /// is audited by the change itself).
    async fn audited_self<T>(
        &self,
        session: &MemberSession,
        action: &str,
        change: impl Future<Output = AppResult<T>>,
    ) -> AppResult<T> {
        let result = change.await;
        if let Err(err) = &result {
            self.record_failure(
                Actor::Member(session.userid().clone()),
                session.corp(),
                session.ip(),
                action,
                &member_target(session.userid()),
                err.to_string(),
            )
            .await;
        }
        result
    }

    fn self_record(
        &self,
        session: &MemberSession,
        action: &str,
    ) -> qiye_domain::audit::AuditRecord {
        self.audit_record(
            Actor::Member(session.userid().clone()),
            session.corp(),
            session.ip(),
            action,
            &member_target(session.userid()),
        )
    }

    async fn check_password(&self, session: &MemberSession, given: &str) -> AppResult<()> {
        let stored = self
            .store
            .member_password(session.corp(), session.userid())
            .await?
            .ok_or(SessionError::NotSignedIn)?;
        if password::verify_blocking(given, stored.hash, self.dummy_password_hash()).await? {
            Ok(())
        } else {
            Err(SessionError::WrongPassword.into())
        }
    }

    /// Gives the second factor a sign-in owes. A wrong code counts toward
    /// the login's lock like a wrong password; a TOTP code is accepted once.
    pub async fn give_second_factor(
        &self,
        session: &MemberSession,
        factor: SecondFactor<'_>,
    ) -> AppResult<()> {
        let action = match factor {
            SecondFactor::Code(_) => "session.second_factor",
            SecondFactor::RecoveryCode(_) => "session.recovery_code",
        };
        if !session.second_factor_pending() {
            return Err(SessionError::TotpState("no second factor is pending").into());
        }
        let keys = Self::throttle_keys(
            session.corp().as_str(),
            Some(session.userid()),
            "",
            session.ip(),
        );
        self.audited_self(session, action, async {
            self.check_throttle(&keys).await?;
            let (corp, userid) = (session.corp(), session.userid());
            let accepted = match factor {
                SecondFactor::Code(code) => {
                    let now = self.clock.now_secs();
                    let step = self
                        .store
                        .member_totp(corp, userid)
                        .await?
                        .filter(|t| t.confirmed_at.is_some())
                        .and_then(|t| t.secret.matching_step(code, now));
                    match step {
                        Some(step) => self.store.use_totp_step(corp, userid, step).await?,
                        None => false,
                    }
                }
                SecondFactor::RecoveryCode(code) => {
                    let digest = RecoveryCode::presented(code).digest();
                    let at = self.clock.now_millis();
                    self.store
                        .use_recovery_code(corp, userid, &digest, at)
                        .await?
                }
            };
            if !accepted {
                self.count_failure(&keys).await?;
                return Err(SessionError::WrongSecondFactor.into());
            }
            let record = self.self_record(session, action);
            self.store
                .clear_second_factor(corp, session.digest(), &record)
                .await?;
            self.store
                .clear_throttle(&keys[0], self.clock.now_millis())
                .await?;
            Ok(())
        })
        .await
    }

    /// Starts (or restarts) a TOTP enrolment: a new secret, pending until
    /// a code from it is confirmed.
    pub async fn enroll_totp(&self, session: &MemberSession) -> AppResult<TotpEnrollment> {
        session.require_password_and_second_factor()?;
        self.audited_self(session, "member.totp.enroll", async {
            let corp = self.store.get_corp(session.corp()).await?;
            let secret = TotpSecret::generate();
            let record = self.self_record(session, "member.totp.enroll");
            self.store
                .begin_totp(session.corp(), session.userid(), &secret, &record)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        SessionError::TotpState("TOTP is already enabled; turn it off first").into()
                    }
                    other => AppError::from(other),
                })?;
            Ok(TotpEnrollment {
                secret: secret.to_base32(),
                otpauth_uri: secret.otpauth_uri(corp.name.as_str(), session.userid().as_str()),
            })
        })
        .await
    }

    /// Confirms a pending enrolment with a code from the app; answers the
    /// recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        session: &MemberSession,
        code: &str,
    ) -> AppResult<Vec<RecoveryCode>> {
        session.require_password_and_second_factor()?;
        self.audited_self(session, "member.totp.confirm", async {
            let (corp, userid) = (session.corp(), session.userid());
            let pending = self
                .store
                .member_totp(corp, userid)
                .await?
                .filter(|t| t.confirmed_at.is_none())
                .ok_or(SessionError::TotpState(
                    "no TOTP enrolment is pending (POST /api/v1/me/totp/enroll)",
                ))?;
            let step = pending
                .secret
                .matching_step(code, self.clock.now_secs())
                .ok_or(SessionError::WrongSecondFactor)?;
            let codes = RecoveryCode::generate_set();
            let digests: Vec<_> = codes.iter().map(RecoveryCode::digest).collect();
            let record = self.self_record(session, "member.totp.confirm");
            self.store
                .confirm_totp(
                    corp,
                    userid,
                    step,
                    self.clock.now_millis(),
                    &digests,
                    &record,
                )
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => SessionError::WrongSecondFactor.into(),
                    other => AppError::from(other),
                })?;
            Ok(codes)
        })
        .await
    }

    /// Turns TOTP off (the password confirms it); refused while the corp
    /// requires a second factor.
    pub async fn disable_totp(&self, session: &MemberSession, given: &str) -> AppResult<()> {
        session.require_password_and_second_factor()?;
        self.audited_self(session, "member.totp.disable", async {
            if self.store.get_corp(session.corp()).await?.require_2fa {
                return Err(SessionError::TotpEnrollmentRequired.into());
            }
            self.check_password(session, given).await?;
            let record = self.self_record(session, "member.totp.disable");
            self.store
                .remove_totp(session.corp(), session.userid(), &record)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => SessionError::TotpState("TOTP is not enabled").into(),
                    other => AppError::from(other),
                })
        })
        .await
    }

    /// A new set of recovery codes (the old ones stop working).
    pub async fn regenerate_recovery_codes(
        &self,
        session: &MemberSession,
        given: &str,
    ) -> AppResult<Vec<RecoveryCode>> {
        session.require_password_and_second_factor()?;
        self.audited_self(session, "member.recovery_codes.regenerate", async {
            self.check_password(session, given).await?;
            let (corp, userid) = (session.corp(), session.userid());
            let enabled = self
                .store
                .member_totp(corp, userid)
                .await?
                .is_some_and(|t| t.confirmed_at.is_some());
            if !enabled {
                return Err(SessionError::TotpState("TOTP is not enabled").into());
            }
            let codes = RecoveryCode::generate_set();
            let digests: Vec<_> = codes.iter().map(RecoveryCode::digest).collect();
            let record = self.self_record(session, "member.recovery_codes.regenerate");
            self.store
                .replace_recovery_codes(corp, userid, &digests, &record)
                .await?;
            Ok(codes)
        })
        .await
    }

    /// Unused recovery codes of the member.
    pub async fn recovery_codes_left(&self, session: &MemberSession) -> AppResult<u32> {
        Ok(self
            .store
            .recovery_codes_left(session.corp(), session.userid())
            .await?)
    }

    /// The member's signed-in devices, oldest first.
    pub async fn my_devices(&self, session: &MemberSession) -> AppResult<Vec<Device>> {
        let own = public_session_id(session.digest());
        let sessions = self
            .store
            .member_sessions(session.corp(), session.userid())
            .await?;
        let now = self.clock.now_millis();
        Ok(sessions
            .iter()
            .filter(|(_, s)| s.is_live(now))
            .map(|(digest, s)| {
                let id = public_session_id(digest);
                let current = id == own;
                Device::of(s, id, current)
            })
            .collect())
    }

    /// Signs one of the member's devices out (its next request is refused).
    pub async fn sign_out_device(&self, session: &MemberSession, id: &str) -> AppResult<()> {
        self.audited_self(session, "session.revoke", async {
            let (corp, userid) = (session.corp(), session.userid());
            let digest = self
                .store
                .member_sessions(corp, userid)
                .await?
                .into_iter()
                .map(|(digest, _)| digest)
                .find(|digest| public_session_id(digest) == id)
                .ok_or(SessionError::UnknownDevice)?;
            let record = self.audit_record(
                Actor::Member(userid.clone()),
                corp,
                session.ip(),
                "session.revoke",
                &format!("session:{id}"),
            );
            self.store
                .end_member_sessions(corp, userid, Some(&[digest]), &record)
                .await?;
            Ok(())
        })
        .await
    }

    /// Signs every device of the member out, this one included; answers
    /// how many.
    pub async fn sign_out_everywhere(&self, session: &MemberSession) -> AppResult<u64> {
        let record = self.self_record(session, "session.revoke_all");
        Ok(self
            .store
            .end_member_sessions(session.corp(), session.userid(), None, &record)
            .await?)
    }

    /// A member's devices, for an administrator whose reach holds them
    /// (60011 outside it).
    pub async fn member_devices(
        &self,
        admin: &AdminCaller,
        userid: &UserId,
    ) -> AppResult<Vec<Device>> {
        self.dir_read(admin.dir(), |view| view.member(userid).map(|_| ()))
            .await??;
        let now = self.clock.now_millis();
        Ok(self
            .store
            .member_sessions(&admin.dir().corp, userid)
            .await?
            .iter()
            .filter(|(_, s)| s.is_live(now))
            .map(|(digest, s)| Device::of(s, public_session_id(digest), false))
            .collect())
    }

    /// Signs every device of a member out, for an administrator whose reach
    /// holds them.
    pub async fn revoke_member_sessions(
        &self,
        admin: &AdminCaller,
        userid: &UserId,
    ) -> AppResult<u64> {
        let caller = admin.dir();
        self.dir_read(caller, |view| view.member(userid).map(|_| ()))
            .await??;
        let record = self.audit_record(
            caller.actor.clone(),
            &caller.corp,
            caller.ip,
            "session.revoke_all",
            &member_target(userid),
        );
        Ok(self
            .store
            .end_member_sessions(&caller.corp, userid, None, &record)
            .await?)
    }

    /// The corp an administrator belongs to, with its settings.
    pub async fn corp_settings(&self, admin: &AdminCaller) -> AppResult<Corp> {
        self.get_corp(&admin.dir().corp).await
    }

    /// The rate limits' ceiling for a corp administrator: the server
    /// defaults (higher ones are the operator's to grant).
    fn admin_quota(
        &self,
        per_minute: Option<u32>,
        default: RateQuota,
    ) -> AppResult<Option<RateQuota>> {
        let Some(per_minute) = per_minute else {
            return Ok(None);
        };
        if per_minute > default.per_minute {
            return Err(RateQuotaError::AboveDefault {
                ceiling: default.per_minute,
            }
            .into());
        }
        let per_hour = per_minute.saturating_mul(60).min(default.per_hour);
        Ok(Some(RateQuota::new(per_minute, per_hour)?))
    }

    /// Changes the corp's settings (super administrators: a
    /// [`RuleEditor`]). Nothing changes when any part is refused.
    pub async fn set_corp_settings(
        &self,
        editor: &RuleEditor,
        request: CorpSettingsRequest,
    ) -> AppResult<Corp> {
        let corp = editor.corp().clone();
        let defaults = self.limiters.defaults().corp_limits();
        let rate_override = match request.rate_limits {
            None => None,
            Some(limits) => Some(CorpRateOverride {
                corp_per_api: self.admin_quota(limits.api_per_minute, defaults.corp_per_api)?,
                app_per_api: self.admin_quota(limits.sends_per_minute, defaults.app_per_api)?,
            }),
        };
        let change = CorpSettingsChange {
            name: request
                .name
                .as_deref()
                .map(qiye_domain::corp::CorpName::parse)
                .transpose()?,
            require_2fa: request.require_2fa,
            watermark: request.watermark,
            rate_override,
        };
        let record = self.audit_record(
            editor.actor().clone(),
            &corp,
            editor.ip(),
            "corp.settings",
            &format!("corp:{corp} {}", change.summary()),
        );
        self.store
            .set_corp_settings(&corp, &change, &record)
            .await
            .map_err(crate::corps::corp_not_found)?;
        if change.rate_override.is_some() {
            self.forget_cached_tokens();
        }
        self.get_corp(&corp).await
    }

    /// A page of the corp's audit log, newest first (super administrators).
    pub async fn audit_page(
        &self,
        admin: &AdminCaller,
        query: &AuditQuery,
    ) -> AppResult<Vec<AuditEntry>> {
        if !admin.is_super() {
            return Err(DirError::NoPrivilege.into());
        }
        Ok(self.store.query_audit(&admin.dir().corp, query).await?)
    }
}
