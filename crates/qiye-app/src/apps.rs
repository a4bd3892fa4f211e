//! Apps: created and listed by operators, read and configured by their own
//! tokens (`agent/get`, `agent/list`, `agent/set`), and managed by super
//! administrators from the admin console (the same use cases, with the
//! administrator as the audited actor).

use std::net::IpAddr;

use qiye_domain::app::{App, AppName, AppSettingsChange, NewApp, validate_description};
use qiye_domain::audit::Actor;
use qiye_domain::credential::CredentialKind;
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::StoreError;
use qiye_domain::secret::Secret;

use crate::Services;
use crate::auth::AppCaller;
use crate::corps::corp_not_found;
use crate::directory::admin::{SuperAdmin, check_range};
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

/// An app as the admin console shows it: its record, visible range and
/// callback settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDetails {
    /// The app.
    pub app: App,
    /// Its visible range; `None` when it sees the whole corp.
    pub range: Option<qiye_domain::directory::Range>,
    /// Its callback settings, if any.
    pub callback: Option<qiye_domain::callback::CallbackConfig>,
}

/// A change to an app from the admin console; `None` leaves a part alone.
#[derive(Debug, Clone, Default)]
pub struct AdminAppChange {
    /// Name and description.
    pub settings: AppSettingsChange,
    /// New visible range (`Some(None)`: the whole corp).
    pub range: Option<Option<qiye_domain::directory::Range>>,
    /// New callback settings (`Some(None)` removes them); verified by the
    /// echostr handshake before anything is changed.
    pub callback: Option<Option<qiye_domain::callback::CallbackConfig>>,
}

impl Services {
    async fn app_details(&self, corp: &CorpId, app: App) -> AppResult<AppDetails> {
        let range = self.store.app_range(corp, app.agentid).await?;
        let callback = self.store.callback_config(corp, app.agentid).await?;
        Ok(AppDetails {
            app,
            range,
            callback,
        })
    }

    /// Every app of the administrator's corp, by agent id.
    pub async fn admin_apps(&self, admin: &SuperAdmin) -> AppResult<Vec<AppDetails>> {
        let mut out = Vec::new();
        for app in self.list_apps(admin.corp()).await? {
            out.push(self.app_details(admin.corp(), app).await?);
        }
        Ok(out)
    }

    /// One app of the administrator's corp (40056 for another corp's).
    pub async fn admin_app(&self, admin: &SuperAdmin, agentid: AgentId) -> AppResult<AppDetails> {
        let app = self
            .store
            .get_app(admin.corp(), agentid)
            .await
            .map_err(unknown_agent)?;
        self.app_details(admin.corp(), app).await
    }

    /// Checks that a range names only existing departments, members and tags.
    async fn check_app_range(
        &self,
        admin: &SuperAdmin,
        range: Option<&qiye_domain::directory::Range>,
    ) -> AppResult<()> {
        if let Some(range) = range {
            self.dir_read(admin.dir(), |view| check_range(view.dir, range))
                .await??;
        }
        Ok(())
    }

    /// Creates an app with a description and visible range (`None`: the
    /// whole corp); its secret is returned once. Everything is checked
    /// before the app is created.
    pub async fn admin_create_app(
        &self,
        admin: &SuperAdmin,
        name: &str,
        description: Option<&str>,
        range: Option<qiye_domain::directory::Range>,
    ) -> AppResult<(AppDetails, Secret)> {
        AppName::parse(name)?;
        let description = description.map(validate_description).transpose()?;
        self.check_app_range(admin, range.as_ref()).await?;
        let (app, secret) = self
            .create_app(admin.corp(), name, range.is_none(), admin.actor())
            .await?;
        let change = AdminAppChange {
            settings: AppSettingsChange {
                description,
                ..Default::default()
            },
            range: range.map(Some),
            callback: None,
        };
        let details = self.admin_update_app(admin, app.agentid, change).await?;
        Ok((details, secret))
    }

    /// Changes an app: callback settings are verified first (a failed
    /// handshake is 40057 and changes nothing), then name and description,
    /// range and callback are stored, each with its audit record.
    pub async fn admin_update_app(
        &self,
        admin: &SuperAdmin,
        agentid: AgentId,
        change: AdminAppChange,
    ) -> AppResult<AppDetails> {
        let corp = admin.corp();
        self.store
            .get_app(corp, agentid)
            .await
            .map_err(unknown_agent)?;
        if let Some(range) = &change.range {
            self.check_app_range(admin, range.as_ref()).await?;
        }
        if let Some(Some(config)) = &change.callback {
            self.check_callback(corp, config)
                .await
                .map_err(AppError::CallbackUnreachable)?;
        }
        if change.settings != AppSettingsChange::default() {
            let record = self.audit_record(
                admin.actor(),
                corp,
                admin.dir().ip,
                "agent.set",
                &format!("agent:{agentid}"),
            );
            self.store
                .update_app(corp, agentid, &change.settings, &record)
                .await
                .map_err(unknown_agent)?;
            self.forget_cached_app(&(corp.clone(), agentid));
        }
        if let Some(range) = change.range {
            self.set_app_range(admin.actor(), corp, agentid, range)
                .await?;
        }
        if let Some(config) = change.callback {
            self.store_callback(admin.actor(), corp, agentid, config.as_ref())
                .await?;
        }
        self.admin_app(admin, agentid).await
    }

    /// A new secret for an app of the administrator's corp (shown once;
    /// tokens of the old one stop working).
    pub async fn admin_rotate_app_secret(
        &self,
        admin: &SuperAdmin,
        agentid: AgentId,
    ) -> AppResult<Secret> {
        self.rotate_app_secret(admin.corp(), agentid, admin.actor())
            .await
    }

    /// The echostr handshake against `config`, without saving anything:
    /// `Err` carries why it failed.
    pub async fn admin_verify_callback(
        &self,
        admin: &SuperAdmin,
        agentid: AgentId,
        config: &qiye_domain::callback::CallbackConfig,
    ) -> AppResult<Result<(), String>> {
        self.store
            .get_app(admin.corp(), agentid)
            .await
            .map_err(unknown_agent)?;
        Ok(self.check_callback(admin.corp(), config).await)
    }

    /// A page of an app's delivery log, newest first, before outbox
    /// position `before`.
    pub async fn admin_deliveries(
        &self,
        admin: &SuperAdmin,
        agentid: AgentId,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<qiye_domain::callback::OutboxItem>> {
        self.store
            .get_app(admin.corp(), agentid)
            .await
            .map_err(unknown_agent)?;
        self.delivery_log(admin.corp(), agentid, before, limit)
            .await
    }
}
