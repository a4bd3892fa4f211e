//! qiye's use cases: what the API and the CLI do, over the domain's storage
//! ports. Handlers and commands parse their input, call one method here and
//! map the result; no business rule lives in `qiye-http` or `qiye-server`.
//!
//! [`Services`] is the one state object (no globals): the store, the clock,
//! the rate limiters and the token cache. Background work (token pruning,
//! limiter housekeeping) is a single-step [`Services::housekeeping`] that the
//! server calls on a timer and tests call directly.

pub mod approval;
pub mod apps;
pub mod auth;
pub mod callbacks;
pub mod corps;
pub mod directory;
pub mod error;
pub mod identity;
pub mod jobs;
pub mod limits;
pub mod media;
pub mod messaging;
pub mod notify;
mod password;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use qiye_domain::app::App;
use qiye_domain::audit::{Actor, AuditRecord, Outcome};
use qiye_domain::clock::Clock;
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::Store;

pub use auth::{AppCaller, AuthContext};
pub use error::{AppError, AppResult, AuthError, LimitScope, SessionError};
pub use limits::{RateLimitDefaults, RateLimiters};

/// Settings of the use-case layer.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    /// Default call-frequency limits.
    pub rate_limits: RateLimitDefaults,
    /// How long a checked token, and an app read by its own token, are
    /// remembered in memory. A change made by another process (the CLI,
    /// another node) takes effect within this time; a change through this
    /// process takes effect at once. Zero disables both caches.
    pub token_cache_ttl: Duration,
    /// Where uploaded media and export files are kept; `None` refuses
    /// uploads (a server always sets it: `<data_dir>/media`).
    pub media_dir: Option<PathBuf>,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            rate_limits: RateLimitDefaults::default(),
            token_cache_ttl: Duration::from_secs(1),
            media_dir: None,
        }
    }
}

/// Tokens are pruned from storage this long after they expired; until then
/// they answer 42001 (expired) rather than 40014 (invalid).
pub const EXPIRED_TOKEN_RETENTION_SECS: i64 = 24 * 3600;

/// The use cases, and the state they share.
pub struct Services {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    limiters: RateLimiters,
    token_cache: Option<moka::sync::Cache<String, Arc<AuthContext>>>,
    app_cache: Option<moka::sync::Cache<(CorpId, AgentId), App>>,
    /// Each corp's directory in memory.
    directories: directory::cache::DirectoryCache,
    /// Rendered whole-directory replies, per directory version.
    rendered: directory::render_cache::RenderCache,
    /// The wire side of callbacks, when enabled.
    callback_wire: Option<Arc<dyn callbacks::CallbackWire>>,
    /// The wire side of export files, when enabled.
    export_wire: Option<Arc<dyn jobs::ExportWire>>,
    /// Where media bytes live.
    media_dir: Option<PathBuf>,
    /// Messaging state: live connections, the message writer, caches.
    messaging: messaging::Messaging,
    /// Approvals: one lock per instance being acted on.
    approvals: approval::Approvals,
    /// The second channel for unread urgent messages (e-mail, SMS), when
    /// configured.
    second_channel: Option<Arc<dyn notify::SecondChannel>>,
    /// The server's public base URL, linked from urgent notices.
    public_url: String,
    /// Wakes the job runner when a job is submitted.
    job_signal: tokio::sync::Notify,
    /// Bumped before every invalidation, so a read that raced an
    /// invalidation never leaves a stale entry behind (see [`Services::cache_fill`]).
    cache_generation: AtomicU64,
    /// Checked instead of a real hash when a sign-in names no member, so
    /// that both answers take as long.
    dummy_password_hash: std::sync::OnceLock<qiye_domain::secret::PasswordHash>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Builds the services over a store and a clock.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: ServicesConfig) -> Self {
        let ttl = config.token_cache_ttl;
        let token_cache = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build()
        });
        let app_cache = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build()
        });
        Self {
            store,
            clock,
            limiters: RateLimiters::new(config.rate_limits),
            token_cache,
            app_cache,
            directories: Default::default(),
            rendered: Default::default(),
            callback_wire: None,
            export_wire: None,
            media_dir: config.media_dir,
            messaging: messaging::Messaging::default(),
            approvals: approval::Approvals::default(),
            second_channel: None,
            public_url: String::new(),
            job_signal: tokio::sync::Notify::new(),
            cache_generation: AtomicU64::new(0),
            dummy_password_hash: std::sync::OnceLock::new(),
        }
    }

    /// Enables callbacks through this wire implementation.
    pub fn with_callback_wire(mut self, wire: Arc<dyn callbacks::CallbackWire>) -> Self {
        self.callback_wire = Some(wire);
        self
    }

    /// Enables export jobs through this wire implementation.
    pub fn with_export_wire(mut self, wire: Arc<dyn jobs::ExportWire>) -> Self {
        self.export_wire = Some(wire);
        self
    }

    /// The store (for readiness checks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// One round of background work: prunes long-expired tokens and ended
    /// member sessions, deletes expired media and forgets idle rate-limit
    /// keys. Returns how many tokens were pruned.
    pub async fn housekeeping(&self) -> AppResult<u64> {
        self.limiters.forget_idle();
        self.prune_sessions().await?;
        self.prune_media().await?;
        let pruned = self
            .store
            .prune_tokens(self.clock.now_secs() - EXPIRED_TOKEN_RETENTION_SECS)
            .await?;
        Ok(pruned)
    }

    /// Appends the audit record of a refused or failed mutation. Failing to
    /// record is logged, not raised: the caller's own error is what matters.
    pub async fn record_failure(
        &self,
        actor: Actor,
        corp: &CorpId,
        at: Option<std::net::IpAddr>,
        action: &str,
        target: &str,
        reason: String,
    ) {
        let record = self.audit_record(actor, corp, at, action, target);
        let record = AuditRecord {
            outcome: Outcome::Failed(reason),
            ..record
        };
        if let Err(err) = self.store.append_audit(&record).await {
            tracing::error!(%err, action, "could not append audit record");
        }
    }

    /// An audit record for a successful mutation, timed now.
    pub(crate) fn audit_record(
        &self,
        actor: Actor,
        corp: &CorpId,
        client_ip: Option<std::net::IpAddr>,
        action: &str,
        target: &str,
    ) -> AuditRecord {
        AuditRecord {
            at: self.clock.now_millis(),
            corp_id: corp.clone(),
            actor,
            client_ip,
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: Outcome::Succeeded,
        }
    }

    /// Forgets every cached token check (after a rotation or a limit change).
    pub(crate) fn forget_cached_tokens(&self) {
        self.cache_generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.token_cache {
            cache.invalidate_all();
        }
    }

    /// Forgets one cached app (after it changed).
    pub(crate) fn forget_cached_app(&self, key: &(CorpId, AgentId)) {
        self.cache_generation.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.app_cache {
            cache.invalidate(key);
        }
    }

    /// The generation to pass to [`Services::cache_fill`], read before loading.
    pub(crate) fn cache_generation(&self) -> u64 {
        self.cache_generation.load(Ordering::SeqCst)
    }

    /// Caches a value loaded since `generation`; if an invalidation ran
    /// meanwhile the value may be stale, so it is removed again.
    pub(crate) fn cache_fill<K, V>(
        cache: Option<&moka::sync::Cache<K, V>>,
        services: &Self,
        generation: u64,
        key: K,
        value: V,
    ) where
        K: std::hash::Hash + Eq + Send + Sync + Clone + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(cache) = cache {
            cache.insert(key.clone(), value);
            if services.cache_generation() != generation {
                cache.invalidate(&key);
            }
        }
    }
}
