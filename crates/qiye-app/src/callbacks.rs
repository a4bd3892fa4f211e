//! Callbacks to apps: the wire side (rendering events, encrypting, sending)
//! is a port implemented at the HTTP edge; this module decides which app is
//! told of what, queues events durably and drives delivery.

use std::time::Duration;

use async_trait::async_trait;
use qiye_domain::audit::Actor;
use qiye_domain::callback::{CallbackConfig, OutboxEntry, retry_delay_ms};
use qiye_domain::directory::{DirChange, Directory, Reach};
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::job::JobType;

use crate::Services;
use crate::error::{AppError, AppResult};

/// How long a claimed event is reserved for one delivery attempt.
const DELIVERY_LEASE_MS: i64 = 30_000;
/// Events claimed per delivery round.
const DELIVERY_BATCH: u32 = 32;

/// The wire side of callbacks: WeCom's XML events and WXBizMsgCrypt.
#[async_trait]
pub trait CallbackWire: Send + Sync + 'static {
    /// The `change_contact` events of a directory change, as (event name,
    /// plaintext XML) pairs.
    fn contact_events(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        change: &DirChange,
    ) -> Vec<(String, String)>;
    /// The `batch_job_result` event of an import job (`None` for exports,
    /// which have no event).
    fn batch_job_event(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        jobid: &str,
        job_type: JobType,
        errcode: i64,
        errmsg: &str,
    ) -> Option<(String, String)>;
    /// The `sys_approval_change` event of an instance just changed, for the
    /// app `agentid`; `change` is WeCom's `StatuChangeEvent` code.
    fn approval_event(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        agentid: AgentId,
        instance: &qiye_domain::approval::Instance,
        change: u8,
    ) -> (String, String);
    /// The `template_card_event` of a member's click on an app's card.
    fn card_event(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        click: &CardEvent<'_>,
    ) -> (String, String);
    /// Encrypts `payload` for the app and POSTs it to its URL; `Ok` when the
    /// receiver answered with a 2xx status within the timeout.
    async fn deliver(
        &self,
        corp: &CorpId,
        agentid: Option<AgentId>,
        config: &CallbackConfig,
        payload: &str,
    ) -> Result<(), String>;
    /// The echostr handshake: `Ok` when the URL echoes the plaintext.
    async fn verify(&self, corp: &CorpId, config: &CallbackConfig) -> Result<(), String>;
}

/// A member's click on (or submission of) a template card, for the app's
/// callback.
#[derive(Debug, Clone)]
pub struct CardEvent<'a> {
    /// The app that sent the card.
    pub agentid: AgentId,
    /// Who clicked.
    pub userid: &'a str,
    /// The card's `task_id`.
    pub task_id: &'a str,
    /// The card's `card_type`.
    pub card_type: &'a str,
    /// The button, submit or menu key.
    pub key: &'a str,
    /// The new `response_code` for updating the card.
    pub response_code: &'a str,
    /// The answers: question key and chosen option ids.
    pub selected: &'a [(String, Vec<String>)],
}

/// An app that wants events, with what it may see.
pub(crate) struct Listener {
    pub agentid: AgentId,
    pub reach: Reach,
}

fn change_reaches(dir: &Directory, reach: &Reach, change: &DirChange) -> bool {
    match change {
        DirChange::CreateDept(d) | DirChange::DeleteDept(d) => {
            reach.dept(dir, d.id) || d.parent.is_some_and(|p| reach.dept(dir, p))
        }
        DirChange::UpdateDept { before, after } => {
            reach.dept(dir, after.id) || before.parent.is_some_and(|p| reach.dept(dir, p))
        }
        DirChange::CreateMember(m) | DirChange::DeleteMember(m) => reach.member(dir, m),
        DirChange::UpdateMember { before, after } => {
            reach.member(dir, before) || reach.member(dir, after)
        }
        DirChange::CreateTag(_) | DirChange::RenameTag { .. } | DirChange::DeleteTag(_) => false,
        DirChange::TagTargets { id, .. } => match reach {
            Reach::Everything => true,
            Reach::Within(range) => range.covers_tag(*id),
        },
    }
}

impl Services {
    /// The apps of a corp with callback settings, and their reach.
    pub(crate) async fn listeners(&self, corp: &CorpId) -> AppResult<Vec<Listener>> {
        if self.callback_wire.is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for agentid in self.store.callback_apps(corp).await? {
            let reach = match self.store.app_range(corp, agentid).await? {
                None => Reach::Everything,
                Some(range) => Reach::Within(range),
            };
            out.push(Listener { agentid, reach });
        }
        Ok(out)
    }

    /// The outbox entries for `changes`, judged against the directory before
    /// the changes (`before`) and after them (`after`).
    pub(crate) fn contact_outbox(
        &self,
        corp: &CorpId,
        listeners: &[Listener],
        before: &Directory,
        changes: &[DirChange],
    ) -> Vec<OutboxEntry> {
        let Some(wire) = &self.callback_wire else {
            return Vec::new();
        };
        let now = self.clock.now_secs();
        let mut out = Vec::new();
        for change in changes {
            let listening: Vec<&Listener> = listeners
                .iter()
                .filter(|l| change_reaches(before, &l.reach, change))
                .collect();
            if listening.is_empty() {
                continue;
            }
            for (event, payload) in wire.contact_events(corp, now, change) {
                for l in &listening {
                    out.push(OutboxEntry {
                        agentid: Some(l.agentid),
                        event: event.clone(),
                        payload: payload.clone(),
                        destination: None,
                    });
                }
            }
        }
        out
    }

    /// The echostr handshake against `config`: `Err` says why it failed.
    pub(crate) async fn check_callback(
        &self,
        corp: &CorpId,
        config: &CallbackConfig,
    ) -> Result<(), String> {
        let wire = self
            .callback_wire
            .as_ref()
            .ok_or_else(|| "callbacks are not enabled".to_owned())?;
        wire.verify(corp, config).await
    }

    /// Sets (after the echostr handshake succeeds) or removes an app's
    /// callback settings.
    pub async fn set_callback(
        &self,
        actor: Actor,
        corp: &CorpId,
        agentid: AgentId,
        config: Option<CallbackConfig>,
    ) -> AppResult<()> {
        self.store
            .get_app(corp, agentid)
            .await
            .map_err(|e| match e {
                qiye_domain::ports::StoreError::NotFound => AppError::UnknownAgent,
                other => other.into(),
            })?;
        if let Some(config) = &config {
            self.check_callback(corp, config)
                .await
                .map_err(AppError::CallbackUnreachable)?;
        }
        self.store_callback(actor, corp, agentid, config.as_ref())
            .await
    }

    /// Stores (already verified) or removes an app's callback settings.
    pub(crate) async fn store_callback(
        &self,
        actor: Actor,
        corp: &CorpId,
        agentid: AgentId,
        config: Option<&CallbackConfig>,
    ) -> AppResult<()> {
        let action = if config.is_some() {
            "app.callback.set"
        } else {
            "app.callback.remove"
        };
        let record = self.audit_record(actor, corp, None, action, &format!("app:{agentid}"));
        self.store
            .set_callback_config(corp, agentid, config, self.clock.now_millis(), &record)
            .await
            .map_err(|e| match e {
                qiye_domain::ports::StoreError::NotFound => AppError::UnknownAgent,
                other => other.into(),
            })?;
        Ok(())
    }

    /// One delivery round: sends every due event (the head of each app's
    /// queue) once. Returns how many were delivered.
    pub async fn deliver_callbacks(&self) -> AppResult<usize> {
        let Some(wire) = &self.callback_wire else {
            return Ok(0);
        };
        let now = self.clock.now_millis();
        let items = self
            .store
            .claim_due(now, DELIVERY_LEASE_MS, DELIVERY_BATCH)
            .await?;
        let mut delivered = 0;
        for item in items {
            let outcome = match self.callback_destination(&item).await? {
                Some(config) => {
                    wire.deliver(&item.corp_id, item.agentid, &config, &item.payload)
                        .await
                }
                None => Err("the app has no callback URL".to_owned()),
            };
            let finished = self.clock.now_millis();
            let result = match outcome {
                Ok(()) => {
                    delivered += 1;
                    Ok(())
                }
                Err(err) => {
                    tracing::warn!(seq = item.seq, agentid = ?item.agentid, %err, "callback delivery failed");
                    Err((err, finished + retry_delay_ms(item.attempts + 1)))
                }
            };
            self.store
                .finish_delivery(item.seq, finished, result)
                .await?;
        }
        Ok(delivered)
    }

    /// Where an event goes: its own destination (a batch job's callback),
    /// else its app's configured callback.
    async fn callback_destination(
        &self,
        item: &qiye_domain::callback::OutboxItem,
    ) -> AppResult<Option<CallbackConfig>> {
        if let Some(destination) = &item.destination {
            return Ok(Some(destination.clone()));
        }
        match item.agentid {
            Some(agentid) => Ok(self.store.callback_config(&item.corp_id, agentid).await?),
            None => Ok(None),
        }
    }

    /// Runs delivery rounds until `stop` resolves: immediately after each
    /// round that delivered something, else after `idle`.
    pub async fn run_callback_delivery(
        &self,
        idle: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let pause = match self.deliver_callbacks().await {
                Ok(n) if n > 0 => Duration::ZERO,
                Ok(_) => idle,
                Err(err) => {
                    tracing::warn!(%err, "callback delivery round failed");
                    idle
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// The newest outbox rows of an app (before position `before`, when
    /// given): the delivery log.
    pub async fn delivery_log(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<qiye_domain::callback::OutboxItem>> {
        Ok(self
            .store
            .delivery_log(corp, agentid, before, limit.min(1000))
            .await?)
    }
}
