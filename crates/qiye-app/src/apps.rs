//! Apps: created and listed by operators, read and configured by their own
//! tokens (`agent/get`, `agent/list`, `agent/set`).

use std::net::IpAddr;

use qiye_domain::app::{App, AppName, AppSettingsChange, NewApp};
use qiye_domain::audit::Actor;
use qiye_domain::credential::CredentialKind;
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::StoreError;
use qiye_domain::secret::Secret;

use crate::Services;
use crate::auth::AppCaller;
use crate::corps::corp_not_found;
use crate::error::{AppError, AppResult};

fn unknown_agent(err: StoreError) -> AppError {
    match err {
        StoreError::NotFound => AppError::UnknownAgent,
        other => AppError::Store(other),
    }
}

impl AppCaller {
    /// Refuses to act on any app but the caller's own.
    fn own(&self, agentid: AgentId) -> AppResult<()> {
        if agentid == self.agentid {
            Ok(())
        } else {
            Err(AppError::OtherApp(agentid.get()))
        }
    }
}

impl Services {
    /// Creates a self-built app and its secret (shown once).
    pub async fn create_app(
        &self,
        corp: &CorpId,
        name: &str,
        all_visible: bool,
        actor: Actor,
    ) -> AppResult<(App, Secret)> {
        let name = AppName::parse(name)?;
        let secret = Secret::generate();
        let new = NewApp {
            corp_id: corp.clone(),
            name,
            all_visible,
            created_at: self.clock.now_millis(),
        };
        let record = self.audit_record(actor, corp, None, "app.create", "agent:new");
        let app = self
            .store
            .create_app(&new, &secret.digest(), &record)
            .await
            .map_err(corp_not_found)?;
        Ok((app, secret))
    }

    /// All apps of a corp (operators).
    pub async fn list_apps(&self, corp: &CorpId) -> AppResult<Vec<App>> {
        self.get_corp(corp).await?;
        Ok(self.store.list_apps(corp).await?)
    }

    /// Rotates an app's secret.
    pub async fn rotate_app_secret(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        actor: Actor,
    ) -> AppResult<Secret> {
        self.rotate_secret(corp, CredentialKind::App(agentid), actor)
            .await
    }

    /// The caller's own app, from the app cache when it is there.
    async fn own_app(&self, caller: &AppCaller) -> AppResult<App> {
        let key = (caller.corp_id.clone(), caller.agentid);
        if let Some(app) = self.app_cache.as_ref().and_then(|c| c.get(&key)) {
            return Ok(app);
        }
        let generation = self.cache_generation();
        let app = self
            .store
            .get_app(&caller.corp_id, caller.agentid)
            .await
            .map_err(unknown_agent)?;
        Services::cache_fill(self.app_cache.as_ref(), self, generation, key, app.clone());
        Ok(app)
    }

    /// `agent/get`: the caller's own app.
    pub async fn get_agent(&self, caller: &AppCaller, agentid: AgentId) -> AppResult<App> {
        caller.own(agentid)?;
        self.own_app(caller).await
    }

    /// The caller's visible range: `None` when it sees the whole corp.
    pub async fn own_range(
        &self,
        caller: &AppCaller,
    ) -> AppResult<Option<qiye_domain::directory::Range>> {
        Ok(self
            .store
            .app_range(&caller.corp_id, caller.agentid)
            .await?)
    }

    /// `agent/list`: the apps the caller's token can see, which is its own.
    pub async fn list_agents(&self, caller: &AppCaller) -> AppResult<Vec<App>> {
        Ok(vec![self.own_app(caller).await?])
    }

    /// `agent/set`: changes the caller's own app.
    pub async fn set_agent(
        &self,
        caller: &AppCaller,
        ip: IpAddr,
        agentid: AgentId,
        change: &AppSettingsChange,
    ) -> AppResult<App> {
        caller.own(agentid)?;
        let record = self.audit_record(
            Actor::App(caller.agentid),
            &caller.corp_id,
            Some(ip),
            "agent.set",
            &format!("agent:{agentid}"),
        );
        let app = self
            .store
            .update_app(&caller.corp_id, agentid, change, &record)
            .await
            .map_err(unknown_agent)?;
        self.forget_cached_app(&(caller.corp_id.clone(), agentid));
        Ok(app)
    }
}
