//! `gettoken` and checking the token of every other call.

use std::net::IpAddr;
use std::sync::Arc;

use qiye_domain::credential::{CredentialKind, Principal};
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::StoreError;
use qiye_domain::rate::EffectiveCorpLimits;
use qiye_domain::secret::{Secret, TokenString};
use qiye_domain::token::{IssuedToken, TokenCheck, plausible_token};

use crate::Services;
use crate::error::{AppError, AppResult, AuthError};

/// What an authenticated request acts as, and under which limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    /// The corp and credential behind the token.
    pub principal: Principal,
    /// When the token expires (Unix seconds).
    pub expires_at: i64,
    /// The corp's rate limits.
    pub limits: EffectiveCorpLimits,
}

/// A caller proven to hold an app's token: only this handle can reach the
/// app-scoped use cases (`agent/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCaller {
    /// The app's corp.
    pub corp_id: CorpId,
    /// The app.
    pub agentid: AgentId,
}

impl AuthContext {
    /// The corp the request is confined to.
    pub fn corp_id(&self) -> &CorpId {
        &self.principal.corp_id
    }

    /// Narrows to an app caller, or refuses a token of another kind.
    pub fn as_app(&self) -> AppResult<AppCaller> {
        match self.principal.credential {
            CredentialKind::App(agentid) => Ok(AppCaller {
                corp_id: self.principal.corp_id.clone(),
                agentid,
            }),
            other => Err(AppError::Forbidden(other.to_string())),
        }
    }
}

fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

impl Services {
    /// `gettoken`: the token of the credential whose secret is given, the
    /// same one while it is valid.
    pub async fn get_token(
        &self,
        corpid: Option<&str>,
        secret: Option<&str>,
        ip: IpAddr,
    ) -> AppResult<IssuedToken> {
        const API: &str = "gettoken";
        self.limiters.check_ip(ip, API)?;
        let corpid = present(corpid).ok_or(AuthError::CorpIdMissing)?;
        let secret = present(secret).ok_or(AuthError::SecretMissing)?;
        let corp_id = CorpId::parse(corpid).map_err(|_| AuthError::UnknownCorp)?;
        let corp = match self.store.get_corp(&corp_id).await {
            Err(StoreError::NotFound) => return Err(AuthError::UnknownCorp.into()),
            other => other?,
        };
        let limits = EffectiveCorpLimits::resolve(
            self.limiters.defaults().corp_limits(),
            &corp.rate_override,
        );
        let digest = Secret::presented(secret).digest();
        let credential = self
            .store
            .find_credential(&corp_id, &digest)
            .await?
            .ok_or(AuthError::WrongSecret)?;
        // Counted only once the secret is right: a stranger who knows the
        // corpid cannot spend the corp's budget (failures count per IP).
        self.limiters.check_corp(&corp_id, limits, API)?;
        let now = self.clock.now_secs();
        let principal = Principal {
            corp_id,
            credential,
        };
        match self
            .store
            .issue_token(&IssuedToken::fresh(principal, now), &digest, now)
            .await
        {
            // The secret was rotated between the check and the issue.
            Err(StoreError::NotFound) => Err(AuthError::WrongSecret.into()),
            other => Ok(other?),
        }
    }

    /// Checks the token of a call to `api` from `ip` and counts the call
    /// against the IP's, the app's and the corp's limits.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
        api: &'static str,
        ip: IpAddr,
    ) -> AppResult<Arc<AuthContext>> {
        self.limiters.check_ip(ip, api)?;
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::TokenMissing)?;
        if !plausible_token(token) {
            return Err(AuthError::TokenInvalid.into());
        }
        let context = match self.token_cache.as_ref().and_then(|c| c.get(token)) {
            Some(context) => context,
            None => {
                let generation = self.cache_generation();
                let context = self.load_context(token).await?;
                let cache = self.token_cache.as_ref();
                Services::cache_fill(
                    cache,
                    self,
                    generation,
                    token.to_owned(),
                    Arc::clone(&context),
                );
                context
            }
        };
        if self.clock.now_secs() >= context.expires_at {
            return Err(AuthError::TokenExpired.into());
        }
        self.limiters
            .check_principal(&context.principal, context.limits, api)?;
        Ok(context)
    }

    async fn load_context(&self, token: &str) -> AppResult<Arc<AuthContext>> {
        let stored = self.store.find_token(&TokenString::from_raw(token)).await?;
        let issued = match TokenCheck::classify(stored, self.clock.now_secs()) {
            TokenCheck::Valid(issued) => issued,
            TokenCheck::Expired => return Err(AuthError::TokenExpired.into()),
            TokenCheck::Unknown => return Err(AuthError::TokenInvalid.into()),
        };
        let corp = match self.store.get_corp(&issued.principal.corp_id).await {
            Err(StoreError::NotFound) => return Err(AuthError::TokenInvalid.into()),
            other => other?,
        };
        let limits = EffectiveCorpLimits::resolve(
            self.limiters.defaults().corp_limits(),
            &corp.rate_override,
        );
        Ok(Arc::new(AuthContext {
            principal: issued.principal,
            expires_at: issued.expires_at,
            limits,
        }))
    }
}
