//! Operator use cases on corps (the CLI and first start): create, list,
//! change plan and limits, rotate the contacts-sync secret, read the audit log.

use qiye_domain::audit::{Actor, AuditEntry, AuditRecord};
use qiye_domain::corp::{Corp, CorpName, CorpSize};
use qiye_domain::credential::CredentialKind;
use qiye_domain::directory::{BOOTSTRAP_ADMIN_USERID, NewAdminMember};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::plan::Plan;
use qiye_domain::ports::{CorpBootstrap, StoreError};
use qiye_domain::rate::CorpRateOverride;
use qiye_domain::secret::{OneTimePassword, Secret};

use crate::error::{AppError, AppResult};
use crate::{Services, password};

/// A corp just created, with the credentials shown to the operator once.
#[derive(Debug)]
pub struct CreatedCorp {
    /// The corp.
    pub corp: Corp,
    /// Its contacts-sync secret.
    pub contact_secret: Secret,
    /// Its super administrator's userid.
    pub admin_userid: UserId,
    /// The administrator's one-time password.
    pub admin_password: OneTimePassword,
}

pub(crate) fn corp_not_found(err: StoreError) -> AppError {
    match err {
        StoreError::NotFound => AppError::CorpNotFound,
        other => AppError::Store(other),
    }
}

impl Services {
    /// Creates a corp with its root department, super administrator and
    /// contacts-sync secret.
    pub async fn create_corp(
        &self,
        name: &str,
        plan: Plan,
        actor: Actor,
    ) -> AppResult<CreatedCorp> {
        let (created, bootstrap, record) = self.prepare_corp(name, plan, actor)?;
        self.store.create_corp(&bootstrap, &record).await?;
        Ok(created)
    }

    /// Creates a corp only if none exists yet (first start); safe when
    /// several servers start on one empty database at once.
    pub async fn create_first_corp(
        &self,
        name: &str,
        plan: Plan,
        actor: Actor,
    ) -> AppResult<Option<CreatedCorp>> {
        let (created, bootstrap, record) = self.prepare_corp(name, plan, actor)?;
        let done = self.store.create_first_corp(&bootstrap, &record).await?;
        Ok(done.then_some(created))
    }

    /// Everything a new corp is made of, with its audit record.
    fn prepare_corp(
        &self,
        name: &str,
        plan: Plan,
        actor: Actor,
    ) -> AppResult<(CreatedCorp, CorpBootstrap, AuditRecord)> {
        let name = CorpName::parse(name)?;
        plan.check_member_count(0, 1)?;
        let contact_secret = Secret::generate();
        let admin_password = OneTimePassword::generate();
        let admin_userid = UserId::parse(BOOTSTRAP_ADMIN_USERID)?;
        let password_hash = password::hash(admin_password.expose())?;
        let corp = Corp {
            id: CorpId::generate(),
            name,
            plan,
            rate_override: CorpRateOverride::default(),
            created_at: self.clock.now_millis(),
            require_2fa: false,
            watermark: false,
        };
        let bootstrap = CorpBootstrap {
            corp: corp.clone(),
            contact_secret: contact_secret.digest(),
            admin: NewAdminMember {
                userid: admin_userid.clone(),
                name: "Administrator".into(),
                password_hash,
            },
        };
        let record = self.audit_record(
            actor,
            &corp.id,
            None,
            "corp.create",
            &format!("corp:{}", corp.id),
        );
        Ok((
            CreatedCorp {
                corp,
                contact_secret,
                admin_userid,
                admin_password,
            },
            bootstrap,
            record,
        ))
    }

    /// All corps.
    pub async fn list_corps(&self) -> AppResult<Vec<Corp>> {
        Ok(self.store.list_corps().await?)
    }

    /// One corp.
    pub async fn get_corp(&self, corp: &CorpId) -> AppResult<Corp> {
        self.store.get_corp(corp).await.map_err(corp_not_found)
    }

    /// Moves a corp to another plan, refusing a downgrade it does not fit.
    pub async fn set_plan(&self, corp: &CorpId, plan: Plan, actor: Actor) -> AppResult<CorpSize> {
        let size = self.store.corp_size(corp).await.map_err(corp_not_found)?;
        let target = format!("corp:{corp}");
        if let Err(err) = plan.check_fits(size.members, size.deepest_department) {
            self.record_failure(actor, corp, None, "corp.set_plan", &target, err.to_string())
                .await;
            return Err(err.into());
        }
        let record = self.audit_record(actor, corp, None, "corp.set_plan", &target);
        self.store
            .set_plan(corp, plan, &record)
            .await
            .map_err(corp_not_found)?;
        Ok(size)
    }

    /// Grants a corp its own rate limits (or, with the default override,
    /// returns it to the server defaults).
    pub async fn set_rate_limits(
        &self,
        corp: &CorpId,
        limits: CorpRateOverride,
        actor: Actor,
    ) -> AppResult<()> {
        let record = self.audit_record(
            actor,
            corp,
            None,
            "corp.set_limits",
            &format!("corp:{corp}"),
        );
        self.store
            .set_rate_override(corp, &limits, &record)
            .await
            .map_err(corp_not_found)?;
        self.forget_cached_tokens();
        Ok(())
    }

    /// Replaces a secret of a corp and revokes its tokens; returns the new
    /// secret, shown once.
    pub async fn rotate_secret(
        &self,
        corp: &CorpId,
        credential: CredentialKind,
        actor: Actor,
    ) -> AppResult<Secret> {
        self.get_corp(corp).await?;
        let secret = Secret::generate();
        let target = match credential {
            CredentialKind::ContactSync => "secret:contact".to_owned(),
            CredentialKind::App(agentid) => format!("secret:agent:{agentid}"),
        };
        let record = self.audit_record(actor, corp, None, "secret.rotate", &target);
        self.store
            .rotate_secret(corp, credential, &secret.digest(), &record)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::UnknownAgent,
                other => AppError::Store(other),
            })?;
        self.forget_cached_tokens();
        Ok(secret)
    }

    /// The newest `limit` audit records of a corp, oldest first.
    pub async fn tail_audit(&self, corp: &CorpId, limit: u32) -> AppResult<Vec<AuditEntry>> {
        self.get_corp(corp).await?;
        Ok(self.store.tail_audit(corp, limit).await?)
    }
}
