//! Storage ports: what the application needs from a database, with no word
//! of SQL. `qiye-store-sqlite` and `qiye-store-postgres` implement them and
//! `qiye-store-conformance` checks that both behave the same.
//!
//! Invariants every implementation keeps:
//! - every query is confined to the corp it is given: a row of another corp
//!   is `NotFound`, never returned;
//! - a mutation that takes an [`AuditRecord`] commits it in the same
//!   transaction, so a change without its audit record cannot exist;
//! - the audit log is append-only: the schema refuses updates and deletes.

use async_trait::async_trait;

use crate::app::{App, AppSettingsChange, NewApp};
use crate::audit::{AuditEntry, AuditRecord};
use crate::corp::{Corp, CorpSize};
use crate::credential::{CredentialKind, Principal};
use crate::directory::NewAdminMember;
use crate::ids::{AgentId, CorpId};
use crate::plan::Plan;
use crate::rate::CorpRateOverride;
use crate::secret::{SecretDigest, TokenString};
use crate::token::IssuedToken;

/// A storage failure, with no driver types inside.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (in this corp).
    #[error("not found")]
    NotFound,
    /// A uniqueness or integrity rule refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is busy; retrying may help.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug or corrupt data); logged, never shown to clients.
    #[error("storage error: {0}")]
    Other(String),
}

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything created together with a new corp, in one transaction.
#[derive(Debug, Clone)]
pub struct CorpBootstrap {
    /// The corp.
    pub corp: Corp,
    /// Digest of its contacts-sync secret.
    pub contact_secret: SecretDigest,
    /// Its first super administrator, a member of the root department.
    pub admin: NewAdminMember,
}

/// Corps.
#[async_trait]
pub trait CorpStore: Send + Sync {
    /// Creates a corp with its root department, its super administrator and
    /// its contacts-sync credential. `Conflict` if the id is taken.
    async fn create_corp(&self, bootstrap: &CorpBootstrap, audit: &AuditRecord) -> StoreResult<()>;
    /// Creates the corp only if no corp exists yet, atomically across
    /// processes and nodes; returns whether it did (first-start bootstrap).
    async fn create_first_corp(
        &self,
        bootstrap: &CorpBootstrap,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;
    /// One corp.
    async fn get_corp(&self, id: &CorpId) -> StoreResult<Corp>;
    /// All corps, oldest first.
    async fn list_corps(&self) -> StoreResult<Vec<Corp>>;
    /// How many corps exist.
    async fn count_corps(&self) -> StoreResult<u64>;
    /// How big a corp is, for plan checks.
    async fn corp_size(&self, id: &CorpId) -> StoreResult<CorpSize>;
    /// Changes a corp's plan.
    async fn set_plan(&self, id: &CorpId, plan: Plan, audit: &AuditRecord) -> StoreResult<()>;
    /// Replaces a corp's rate-limit override.
    async fn set_rate_override(
        &self,
        id: &CorpId,
        limits: &CorpRateOverride,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
}

/// Apps.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Creates an app with the next free agent id of its corp and its secret.
    async fn create_app(
        &self,
        app: &NewApp,
        secret: &SecretDigest,
        audit: &AuditRecord,
    ) -> StoreResult<App>;
    /// One app of a corp.
    async fn get_app(&self, corp: &CorpId, agentid: AgentId) -> StoreResult<App>;
    /// All apps of a corp, by agent id.
    async fn list_apps(&self, corp: &CorpId) -> StoreResult<Vec<App>>;
    /// Changes an app's settings and returns it as stored.
    async fn update_app(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        change: &AppSettingsChange,
        audit: &AuditRecord,
    ) -> StoreResult<App>;
}

/// Secrets and the tokens obtained with them.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Which credential of the corp has this secret, if any.
    async fn find_credential(
        &self,
        corp: &CorpId,
        secret: &SecretDigest,
    ) -> StoreResult<Option<CredentialKind>>;
    /// Replaces a credential's secret and revokes every token obtained with
    /// the old one. `NotFound` if the corp has no such credential.
    async fn rotate_secret(
        &self,
        corp: &CorpId,
        kind: CredentialKind,
        secret: &SecretDigest,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Returns the principal's token that is still valid at `now`, or stores
    /// and returns `candidate`. Concurrent calls return one and the same token.
    /// `NotFound` if the credential's secret is no longer `secret` (rotated
    /// since the caller checked it): no token is ever issued for an old secret.
    async fn issue_token(
        &self,
        candidate: &IssuedToken,
        secret: &SecretDigest,
        now: i64,
    ) -> StoreResult<IssuedToken>;
    /// The stored token with this text, valid or expired.
    async fn find_token(&self, token: &TokenString) -> StoreResult<Option<IssuedToken>>;
    /// Deletes tokens that expired before `before`; returns how many.
    async fn prune_tokens(&self, before: i64) -> StoreResult<u64>;
    /// The tokens currently stored for a principal (for tests and operators).
    async fn tokens_of(&self, principal: &Principal) -> StoreResult<Vec<IssuedToken>>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends a record (used for refused or failed calls; successful
    /// mutations pass theirs to the mutation itself).
    async fn append_audit(&self, record: &AuditRecord) -> StoreResult<i64>;
    /// The newest `limit` records of a corp, oldest first.
    async fn tail_audit(&self, corp: &CorpId, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

/// A complete storage backend.
#[async_trait]
pub trait Store:
    CorpStore + AppStore + CredentialStore + AuditStore + Send + Sync + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the connections, waiting for those in use (at shutdown).
    async fn close(&self);
}
