//! Messaging use cases: app messages (`message/send`, `appchat/*`), member
//! chat, ordered sync, read receipts.
//!
//! - Every entry is committed through the [`committer`] (group commit, one
//!   writer task per node) before anyone hears of it; then the [`hub`]
//!   queues it on the recipients' live connections on this node, and the
//!   [`FanOutBus`] (NATS, when configured) carries it to the other nodes.
//! - The database is the truth: a connection that was dropped, a node that
//!   died, a client that was offline catch up by sequence
//!   ([`Services::sync`], [`Services::entries`]); pushes are only the fast
//!   path.
//! - Conversations are cached per node ([`Messaging::rosters`]) with their
//!   rosters; a roster change is itself an entry, so every node that sees
//!   the entry (locally or from the bus) drops its copy.

mod app;
mod card;
mod chat;
mod committer;
mod escalation;
pub mod hub;
mod stats;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::message::{ConvId, Conversation, Draft, Entry, EntryBody, PairKey};
use qiye_domain::ports::StoreError;

pub use app::{AppMessage, AppSendReport, Targets};
pub use card::{CardClick, CardCopy};
pub use chat::{Receipts, SyncedConversation};
pub use hub::{Delivered, Hub, Push, PushEvent, Subscription};
pub use stats::MAX_STATS_DAYS;

use crate::Services;
use crate::error::{AppError, AppResult};
use committer::Committer;

/// Events a connection may have queued before it counts as a slow reader
/// and is dropped.
pub const DEFAULT_CONNECTION_QUEUE: usize = 256;
/// Most entries one page of a conversation (or one conversation in a sync)
/// returns.
pub const MAX_PAGE: u32 = 500;

/// Carries committed events to the other nodes (NATS). Without one, a node
/// delivers to its own connections only, which is all a single node needs.
pub trait FanOutBus: Send + Sync + 'static {
    /// Publishes an event that this node has delivered locally already.
    fn publish(&self, push: &Arc<Push>);
}

/// Messaging state of one node.
pub struct Messaging {
    hub: Arc<Hub>,
    committer: OnceLock<Committer>,
    bus: Option<Arc<dyn FanOutBus>>,
    /// Conversations with their rosters.
    rosters: moka::sync::Cache<(CorpId, ConvId), Arc<Conversation>>,
    /// Pair keys (one-to-one and app conversations) to their ids.
    pairs: moka::sync::Cache<(CorpId, String), ConvId>,
    queue_capacity: usize,
    /// Set once the presence flusher runs.
    presence_flusher: OnceLock<()>,
}

/// How often presence changes are pushed to watchers (coalesced).
pub const PRESENCE_FLUSH: Duration = Duration::from_secs(1);

impl Default for Messaging {
    fn default() -> Self {
        Self {
            hub: Arc::new(Hub::default()),
            committer: OnceLock::new(),
            bus: None,
            rosters: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            pairs: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            queue_capacity: DEFAULT_CONNECTION_QUEUE,
            presence_flusher: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Messaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messaging")
            .field("connections", &self.hub.connection_count())
            .field("bus", &self.bus.is_some())
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Carries events to other nodes through `bus`.
    pub fn with_fan_out_bus(mut self, bus: Arc<dyn FanOutBus>) -> Self {
        self.messaging.bus = Some(bus);
        self
    }

    /// Sets how many events a connection may have queued (default
    /// [`DEFAULT_CONNECTION_QUEUE`]).
    pub fn with_connection_queue(mut self, capacity: usize) -> Self {
        self.messaging.queue_capacity = capacity.max(1);
        self
    }

    /// This node's live connections.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.messaging.hub
    }

    /// Registers a member's live connection (the WebSocket gateway). The
    /// first one starts the presence flusher (every [`PRESENCE_FLUSH`]; it
    /// ends with the hub).
    pub fn subscribe(&self, corp: &CorpId, userid: &UserId) -> Subscription {
        self.messaging.presence_flusher.get_or_init(|| {
            let hub = Arc::downgrade(&self.messaging.hub);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PRESENCE_FLUSH);
                loop {
                    tick.tick().await;
                    let Some(hub) = hub.upgrade() else { break };
                    hub.flush_presence();
                }
            });
        });
        self.messaging
            .hub
            .register(corp, userid, self.messaging.queue_capacity)
    }

    /// Delivers an event that another node committed (from the bus) to
    /// this node's connections, and drops cached rosters it changes.
    pub fn deliver_remote(&self, push: Push) {
        if let PushEvent::Entry(entry) = &push.event {
            self.forget_roster_if_changed(&push.corp, entry);
        }
        self.messaging.hub.deliver(&Arc::new(push));
    }

    fn committer(&self) -> &Committer {
        self.messaging.committer.get_or_init(|| {
            Committer::start(
                self.store.clone(),
                self.messaging.hub.clone(),
                self.messaging.bus.clone(),
            )
        })
    }

    /// Commits entries of one corp (atomically) and fans each out to its
    /// recipients.
    async fn commit_entries(
        &self,
        corp: &CorpId,
        drafts: Vec<Draft>,
        recipients: Vec<Arc<[UserId]>>,
    ) -> AppResult<Vec<Entry>> {
        let entries = self.committer().commit(drafts, recipients).await?;
        for e in &entries {
            self.forget_roster_if_changed(corp, e);
        }
        Ok(entries)
    }

    fn forget_roster_if_changed(&self, corp: &CorpId, entry: &Entry) {
        if matches!(
            entry.body,
            EntryBody::RosterChanged { .. } | EntryBody::Updated { .. }
        ) {
            self.messaging
                .rosters
                .invalidate(&(corp.clone(), entry.conv.clone()));
        }
    }

    /// A conversation with its roster, from the cache or the store.
    async fn cached_conversation(
        &self,
        corp: &CorpId,
        conv: &ConvId,
    ) -> AppResult<Arc<Conversation>> {
        let key = (corp.clone(), conv.clone());
        if let Some(found) = self.messaging.rosters.get(&key) {
            return Ok(found);
        }
        let loaded = match self.store.conversation(corp, conv).await {
            Ok(c) => Arc::new(c),
            Err(StoreError::NotFound) => {
                return Err(qiye_domain::message::ConversationError::NotFound.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.messaging.rosters.insert(key, loaded.clone());
        Ok(loaded)
    }

    /// The id of the conversation a pair key opens, creating it on first
    /// use.
    async fn pair_conversation(&self, corp: &CorpId, key: &PairKey) -> AppResult<ConvId> {
        let cache_key = (corp.clone(), key.key());
        if let Some(id) = self.messaging.pairs.get(&cache_key) {
            return Ok(id);
        }
        let conv = self
            .store
            .open_pair(corp, key, self.clock.now_millis())
            .await?;
        let id = conv.id.clone();
        self.messaging.pairs.insert(cache_key, id.clone());
        self.messaging
            .rosters
            .insert((corp.clone(), id.clone()), Arc::new(conv));
        Ok(id)
    }

    /// Refuses media ids that are not the corp's or have expired, and
    /// makes the others permanent: a message stays readable after the three
    /// days a temporary upload lives.
    async fn check_media(&self, corp: &CorpId, media: &[String]) -> AppResult<()> {
        for id in media {
            match self.media(corp, id).await {
                Ok(_) => {}
                Err(AppError::Media(_)) => {
                    return Err(qiye_domain::message::MessageError::UnknownMedia(id.clone()).into());
                }
                Err(e) => return Err(e),
            }
        }
        self.keep_media(corp, media).await
    }
}
