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
use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::callback::{CallbackConfig, OutboxEntry, OutboxItem};
use crate::corp::{Corp, CorpSettingsChange, CorpSize};
use crate::credential::{CredentialKind, Principal};
use crate::directory::{
    AdminRole, DirChange, Directory, NewAdminMember, Policy, ProtectedField, Range,
};
use crate::ids::{AgentId, CorpId, DeptId, UserId};
use crate::job::ImportJob;
use crate::media::MediaRecord;
use crate::message::{
    ConvId, ConvSummary, Conversation, Cursor, Draft, Entry, MsgId, NewConversation, PairKey, Seq,
};
use crate::plan::Plan;
use crate::rate::CorpRateOverride;
use crate::secret::{PasswordHash, SecretDigest, TokenString};
use crate::session::{Session, SessionState, ThrottleKey};
use crate::token::IssuedToken;
use crate::totp::TotpSecret;

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

/// Directory changes to commit together, if nobody changed the directory
/// since `expected_version`.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryCommit<'a> {
    /// The corp.
    pub corp: &'a CorpId,
    /// The version the changes were validated against.
    pub expected_version: i64,
    /// The changes, in order.
    pub changes: &'a [DirChange],
    /// When (ms).
    pub at: i64,
    /// Audit records to append with them.
    pub audit: &'a [AuditRecord],
    /// Callback events to queue with them.
    pub outbox: &'a [OutboxEntry],
}

/// The directory: departments, members, tags.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The corp's directory version (bumped by every commit).
    async fn directory_version(&self, corp: &CorpId) -> StoreResult<i64>;
    /// The corp's whole directory with its version.
    async fn load_directory(&self, corp: &CorpId) -> StoreResult<(i64, Directory)>;
    /// Persists `commit.changes` and returns the new version; `Conflict` (and
    /// nothing written) when the version is no longer `expected_version`.
    async fn commit_directory(&self, commit: DirectoryCommit<'_>) -> StoreResult<i64>;
    /// The name a deleted member had, for history.
    async fn former_member_name(
        &self,
        corp: &CorpId,
        userid: &UserId,
    ) -> StoreResult<Option<String>>;
}

/// Who may do what: app ranges, administrators, visibility and field rules.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// An app's visible range; `None` when it is visible to the whole corp.
    async fn app_range(&self, corp: &CorpId, agentid: AgentId) -> StoreResult<Option<Range>>;
    /// Sets an app's visible range (`None`: the whole corp).
    async fn set_app_range(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        range: Option<&Range>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// A member's administrator role, if any.
    async fn admin_role(&self, corp: &CorpId, userid: &UserId) -> StoreResult<Option<AdminRole>>;
    /// All administrators.
    async fn list_admins(&self, corp: &CorpId) -> StoreResult<Vec<(UserId, AdminRole)>>;
    /// Makes a member an administrator (replacing a previous role).
    async fn grant_admin(
        &self,
        corp: &CorpId,
        userid: &UserId,
        role: &AdminRole,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Removes a member's administrator role; `NotFound` if they had none.
    async fn revoke_admin(
        &self,
        corp: &CorpId,
        userid: &UserId,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// The corp's visibility and field rules.
    async fn load_policy(&self, corp: &CorpId) -> StoreResult<Policy>;
    /// Hides a department from all but `audience` (`None`: removes the rule).
    async fn set_visibility_rule(
        &self,
        corp: &CorpId,
        dept: DeptId,
        audience: Option<&Range>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Restricts who reads a field (`None`: removes the rule).
    async fn set_field_rule(
        &self,
        corp: &CorpId,
        field: &ProtectedField,
        readers: Option<(bool, &Range)>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
}

/// Callback settings and the outbox.
#[async_trait]
pub trait CallbackStore: Send + Sync {
    /// An app's callback settings.
    async fn callback_config(
        &self,
        corp: &CorpId,
        agentid: AgentId,
    ) -> StoreResult<Option<CallbackConfig>>;
    /// The apps of a corp with callback settings.
    async fn callback_apps(&self, corp: &CorpId) -> StoreResult<Vec<AgentId>>;
    /// Sets (or with `None` removes) an app's callback settings.
    async fn set_callback_config(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        config: Option<&CallbackConfig>,
        at: i64,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Queues events outside a directory commit.
    async fn enqueue(&self, corp: &CorpId, entries: &[OutboxEntry], at: i64) -> StoreResult<()>;
    /// Claims up to `limit` deliverable events: for each app, only the
    /// oldest undelivered one (delivery is in order per app), if it is due and
    /// not leased; each claimed row is leased until `now + lease_ms`.
    async fn claim_due(&self, now: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<OutboxItem>>;
    /// Records a delivery attempt: delivered, or failed with a retry time.
    async fn finish_delivery(
        &self,
        seq: i64,
        now: i64,
        outcome: Result<(), (String, i64)>,
    ) -> StoreResult<()>;
    /// The newest `limit` outbox rows of an app (the delivery log), newest first.
    async fn delivery_log(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>>;
}

/// Uploaded media and directory jobs.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Records an upload whose bytes are already stored.
    async fn insert_media(&self, media: &MediaRecord) -> StoreResult<()>;
    /// An upload.
    async fn get_media(&self, corp: &CorpId, media_id: &str) -> StoreResult<MediaRecord>;
    /// Makes uploads permanent: a message refers to them, and a message
    /// stays readable after the three days of a temporary upload.
    async fn keep_media(&self, corp: &CorpId, media_ids: &[String]) -> StoreResult<()>;
    /// Deletes the records of media expired at `now` (ms) and returns
    /// whose they were, so their bytes can be deleted too.
    async fn delete_expired_media(&self, now: i64) -> StoreResult<Vec<(CorpId, String)>>;
    /// Creates a job.
    async fn insert_job(&self, job: &ImportJob) -> StoreResult<()>;
    /// Saves a job's status, progress and results, and holds its lease
    /// until `lease_until` (ms).
    async fn update_job(&self, job: &ImportJob, lease_until: i64) -> StoreResult<()>;
    /// A job.
    async fn get_job(&self, corp: &CorpId, jobid: &str) -> StoreResult<ImportJob>;
    /// Takes the oldest unfinished job whose lease has lapsed (a new job, or
    /// one whose runner died) and leases it until `now + lease_ms`. Two
    /// callers never get the same job under one lease.
    async fn claim_job(&self, now: i64, lease_ms: i64) -> StoreResult<Option<ImportJob>>;
}

/// A complete storage backend.
#[async_trait]
pub trait Store:
    CorpStore
    + AppStore
    + CredentialStore
    + AuditStore
    + DirectoryStore
    + AccessStore
    + CallbackStore
    + JobStore
    + SessionStore
    + MessageStore
    + EscalationStore
    + IdentityStore
    + ApprovalStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the connections, waiting for those in use (at shutdown).
    async fn close(&self);
}

/// A member's TOTP enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotp {
    /// The secret.
    pub secret: TotpSecret,
    /// When it was confirmed with a first code; `None` while pending.
    pub confirmed_at: Option<i64>,
    /// The last step whose code was accepted (a code is used once).
    pub last_step: i64,
}

/// Sign-in throttling, second factors, devices, corp settings and the
/// audit listing (the identity side of the web app).
///
/// Throttle counters live in the database so that a lock holds across nodes
/// and restarts; each counter update is one atomic statement.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The latest `locked_until` (ms) among these keys still in force at
    /// `now`, with the key it belongs to.
    async fn throttle_lock(
        &self,
        keys: &[ThrottleKey],
        now: i64,
    ) -> StoreResult<Option<(ThrottleKey, i64)>>;
    /// Counts one failure against a key (a window of `window_ms` from its
    /// first failure); at the key's limit the key is locked until
    /// `now + lock_ms` and its count starts again. Returns the lock's end
    /// when this failure locked it.
    async fn record_throttle_failure(
        &self,
        key: &ThrottleKey,
        now: i64,
        window_ms: i64,
        lock_ms: i64,
    ) -> StoreResult<Option<i64>>;
    /// Forgets a key's failures (a complete sign-in), unless it is locked
    /// at `now` (another node may just have locked it).
    async fn clear_throttle(&self, key: &ThrottleKey, now: i64) -> StoreResult<()>;
    /// Deletes counters whose window and lock both ended before `before`.
    async fn prune_throttle(&self, before: i64) -> StoreResult<u64>;

    /// A member's sessions with their token digests, oldest first.
    async fn member_sessions(
        &self,
        corp: &CorpId,
        userid: &UserId,
    ) -> StoreResult<Vec<(SecretDigest, Session)>>;
    /// Ends sessions of a member: the ones in `only` (those that are the
    /// member's), or all when `only` is `None`; returns how many ended. The
    /// audit record is written with them.
    async fn end_member_sessions(
        &self,
        corp: &CorpId,
        userid: &UserId,
        only: Option<&[SecretDigest]>,
        audit: &AuditRecord,
    ) -> StoreResult<u64>;
    /// Marks a session's second factor as given.
    async fn clear_second_factor(
        &self,
        corp: &CorpId,
        digest: &SecretDigest,
        audit: &AuditRecord,
    ) -> StoreResult<()>;

    /// A member's TOTP enrolment, pending or confirmed.
    async fn member_totp(&self, corp: &CorpId, userid: &UserId) -> StoreResult<Option<StoredTotp>>;
    /// Starts (or restarts) a pending enrolment; a confirmed one is not
    /// replaced (`Conflict`).
    async fn begin_totp(
        &self,
        corp: &CorpId,
        userid: &UserId,
        secret: &TotpSecret,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Confirms a pending enrolment at `step` and stores its recovery code
    /// digests (replacing any). `NotFound` when nothing is pending.
    async fn confirm_totp(
        &self,
        corp: &CorpId,
        userid: &UserId,
        step: i64,
        at: i64,
        recovery_codes: &[SecretDigest],
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Records the use of a code's step; false when that step (or a later
    /// one) was already used: a replayed code.
    async fn use_totp_step(&self, corp: &CorpId, userid: &UserId, step: i64) -> StoreResult<bool>;
    /// Removes the member's TOTP and recovery codes.
    async fn remove_totp(
        &self,
        corp: &CorpId,
        userid: &UserId,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Replaces the member's recovery codes.
    async fn replace_recovery_codes(
        &self,
        corp: &CorpId,
        userid: &UserId,
        recovery_codes: &[SecretDigest],
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Marks an unused recovery code used; false when there is none such.
    async fn use_recovery_code(
        &self,
        corp: &CorpId,
        userid: &UserId,
        code: &SecretDigest,
        at: i64,
    ) -> StoreResult<bool>;
    /// How many unused recovery codes the member has.
    async fn recovery_codes_left(&self, corp: &CorpId, userid: &UserId) -> StoreResult<u32>;

    /// Changes a corp's settings.
    async fn set_corp_settings(
        &self,
        corp: &CorpId,
        change: &CorpSettingsChange,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// A page of the corp's audit log, newest first.
    async fn query_audit(&self, corp: &CorpId, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
}

/// A member's stored password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The hash; `None` when the member never got a password.
    pub hash: Option<PasswordHash>,
    /// The password is one-time: it must be changed before anything else.
    pub must_change: bool,
}

/// Member passwords and sessions, and the version of the member-facing
/// policy (visibility and field rules).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// A member's password; `None` when the corp has no such member.
    async fn member_password(
        &self,
        corp: &CorpId,
        userid: &UserId,
    ) -> StoreResult<Option<StoredPassword>>;
    /// Replaces a member's password and ends all their sessions but `keep`.
    /// `NotFound` when the corp has no such member.
    async fn set_password(
        &self,
        corp: &CorpId,
        userid: &UserId,
        password: &StoredPassword,
        keep: Option<&SecretDigest>,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Stores a new session under the digest of its token.
    async fn create_session(
        &self,
        session: &Session,
        digest: &SecretDigest,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// The session with this token digest, live or not, with what its
    /// member still owes (password change, second factor enrolment).
    async fn find_session(&self, digest: &SecretDigest) -> StoreResult<Option<SessionState>>;
    /// Records a request on the session.
    async fn touch_session(&self, digest: &SecretDigest, now: i64) -> StoreResult<()>;
    /// Ends one session of the corp; `NotFound` if there is none.
    async fn end_session(
        &self,
        corp: &CorpId,
        digest: &SecretDigest,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Deletes sessions past their absolute end or idle since `idle_before`;
    /// returns how many.
    async fn prune_sessions(&self, now: i64, idle_before: i64) -> StoreResult<u64>;
    /// Bumped by every change of the corp's visibility or field rules (and
    /// by directory changes that rewrite them), so a node can cache the
    /// policy and reload it only when it changed.
    async fn policy_version(&self, corp: &CorpId) -> StoreResult<i64>;
}

/// One app message as the statistics see it: the entry in one member's app
/// conversation, and when that member received and read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDelivery {
    /// The app.
    pub agentid: AgentId,
    /// The message's purpose.
    pub kind: crate::message::MsgKind,
    /// When it was sent (ms).
    pub sent_at: i64,
    /// When the member's client received it (ms).
    pub delivered_at: Option<i64>,
    /// When the member read it (ms).
    pub read_at: Option<i64>,
}

/// Conversations, their entries and the members' cursors.
///
/// Invariants every implementation keeps:
/// - [`MessageStore::append`] gives each entry the next sequence of its
///   conversation inside the transaction that stores it: sequences have no
///   gaps and no repeats, even with several writers (nodes) at once;
/// - control entries take effect in the same transaction (a recall marks
///   its target, a card update rewrites it, a roster change adds and
///   removes members, an update renames);
/// - a read cursor only moves forward, and never past the last entry.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Creates a conversation with its members; `Conflict` when its id or
    /// pair key is taken.
    async fn create_conversation(
        &self,
        corp: &CorpId,
        conv: &NewConversation,
        at: i64,
    ) -> StoreResult<()>;
    /// The conversation with this pair key, created empty when missing (two
    /// callers racing get the same one).
    async fn open_pair(&self, corp: &CorpId, key: &PairKey, at: i64) -> StoreResult<Conversation>;
    /// A conversation with its members; `NotFound` in another corp.
    async fn conversation(&self, corp: &CorpId, conv: &ConvId) -> StoreResult<Conversation>;
    /// Commits entries in one transaction, each with the next sequence of
    /// its conversation, in the order given; answers their sequences.
    /// `NotFound` (and nothing stored) when a conversation does not exist.
    async fn append(&self, drafts: &[Draft]) -> StoreResult<Vec<Seq>>;
    /// Entries after `after`, oldest first, at most `limit`.
    async fn entries(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        after: Seq,
        limit: u32,
    ) -> StoreResult<Vec<Entry>>;
    /// One entry; `NotFound` when there is none.
    async fn entry(&self, corp: &CorpId, conv: &ConvId, seq: Seq) -> StoreResult<Entry>;
    /// Every entry of a message id (one per conversation it went to).
    async fn entries_by_msgid(&self, corp: &CorpId, msgid: &MsgId) -> StoreResult<Vec<Entry>>;
    /// The template card copies whose live `response_code` is `code`.
    async fn entries_by_response_code(&self, corp: &CorpId, code: &str) -> StoreResult<Vec<Entry>>;
    /// Sets (or with `None` clears) the live `response_code` of card copies.
    async fn set_response_code(
        &self,
        corp: &CorpId,
        entries: &[(ConvId, Seq)],
        code: Option<&str>,
    ) -> StoreResult<()>;
    /// A member's conversations, with their cursor and unread count.
    async fn member_conversations(
        &self,
        corp: &CorpId,
        user: &UserId,
    ) -> StoreResult<Vec<ConvSummary>>;
    /// Moves a member's read cursor forward to `seq` (clamped to the last
    /// entry; never backwards) and answers where it is now. In an app
    /// conversation the entries passed are marked read at `at`.
    /// `NotFound` when the member is not in the conversation.
    async fn advance_cursor(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        user: &UserId,
        seq: Seq,
        at: i64,
    ) -> StoreResult<Seq>;
    /// Records that a member's client has received entries up to `seq` in
    /// each conversation (for delivery statistics).
    async fn mark_delivered(
        &self,
        corp: &CorpId,
        user: &UserId,
        upto: &[(ConvId, Seq)],
        at: i64,
    ) -> StoreResult<()>;
    /// Every member's read cursor in a conversation.
    async fn cursors(&self, corp: &CorpId, conv: &ConvId) -> StoreResult<Vec<Cursor>>;
    /// Remembers that an app sent a request with this digest as `msgid`
    /// until `until` (ms), unless a live one is remembered: then answers
    /// that earlier msgid and remembers nothing (WeCom's duplicate check).
    async fn remember_send(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        digest: &str,
        msgid: &MsgId,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<MsgId>>;
    /// App messages sent in `[from, to)` (ms), for statistics.
    async fn app_deliveries(
        &self,
        corp: &CorpId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<AppDelivery>>;
}

/// Escalations of urgent messages through the second channel, and each
/// corp's escalation policy.
///
/// Rows are created by [`MessageStore::append`], in the transaction that
/// commits an urgent message (`Priority::Urgent` with a message body): one
/// per member of its conversation other than the sender, first due at
/// `policy.next_attempt_at_ms(at, 0)` under the corp's policy then. So an
/// urgent message that exists always has its escalation rows.
/// [`MessageStore::advance_cursor`] acknowledges a member's pending rows at
/// or before the new cursor in the same transaction.
#[async_trait]
pub trait EscalationStore: Send + Sync {
    /// The corp's policy; `None` when it never set one (the default
    /// applies).
    async fn escalation_policy(
        &self,
        corp: &CorpId,
    ) -> StoreResult<Option<crate::escalation::EscalationPolicy>>;
    /// Sets the corp's policy (for messages sent from now on; rows already
    /// scheduled keep their next time but follow the new attempt count and
    /// interval). `NotFound` when the corp does not exist.
    async fn set_escalation_policy(
        &self,
        corp: &CorpId,
        policy: &crate::escalation::EscalationPolicy,
        at: i64,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Claims up to `limit` pending rows due at `now` (ms) whose lease
    /// lapsed, oldest due first, and leases them until `now + lease_ms`: two
    /// callers never hold the same row under one lease. Each comes with the
    /// member's read cursor now.
    async fn claim_escalations(
        &self,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::escalation::Escalation>>;
    /// Writes back a claimed row and releases its lease; a row that was
    /// acknowledged meanwhile stays acknowledged. Answers whether it wrote.
    async fn finish_escalation(
        &self,
        row: &crate::escalation::Escalation,
        update: &crate::escalation::EscalationUpdate,
        now: i64,
    ) -> StoreResult<bool>;
    /// Marks the member's pending rows of the entry at `seq` acknowledged;
    /// answers how many were.
    async fn acknowledge_escalation(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        seq: Seq,
        user: &UserId,
        at: i64,
    ) -> StoreResult<u64>;
    /// Every recipient's row of the entry at `seq`, by userid (the read
    /// cursor included).
    async fn escalations_of(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        seq: Seq,
    ) -> StoreResult<Vec<crate::escalation::Escalation>>;
}

/// A template as the store keeps it: the draft being edited and, once
/// published, its latest version number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTemplate {
    /// The draft (what the next publication would freeze).
    pub draft: crate::approval::TemplateDraft,
    /// The latest published version; `None` while never published.
    pub published: Option<crate::approval::TemplateVersion>,
    /// When created and last changed (ms).
    pub created_at: i64,
    /// When last changed (ms).
    pub updated_at: i64,
}

/// The row of a new instance, written with its first events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    /// The template.
    pub template: crate::approval::TemplateId,
    /// Its version, kept for the instance's whole life.
    pub version: crate::approval::TemplateVersion,
    /// The applicant.
    pub applicant: UserId,
    /// When submitted (Unix seconds).
    pub submitted_at: i64,
}

/// Where a member's record of an instance belongs in their lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// They can act now (待办).
    Todo,
    /// In none of the lists: not their turn yet (a later sequential
    /// stage, waiting for added signers), or ended without them (another
    /// approver decided the node, the instance was withdrawn).
    Closed,
    /// They acted, or it was decided for them (已办).
    Done,
    /// They were CC'd (抄送我的).
    Cc,
}

/// One row of the task projection: a member's record (or CC) of an
/// instance. Rows are upserted by `(sp_no, record)`; CC rows use record 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The record (0 for a CC).
    pub record: u32,
    /// The member.
    pub user: UserId,
    /// Its list.
    pub state: TaskState,
    /// Sort time of the list (ms): when it entered the list.
    pub at: i64,
}

/// A timer to keep durably until it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerRow {
    /// Its activation.
    pub activation: crate::approval::ActivationId,
    /// Which.
    pub kind: crate::approval::TimerKind,
    /// Due at, Unix seconds.
    pub due_at: i64,
}

/// Everything one decision of an instance writes, in one transaction.
#[derive(Debug, Clone)]
pub struct ApprovalCommit<'a> {
    /// The corp.
    pub corp: &'a CorpId,
    /// The instance.
    pub sp_no: &'a crate::approval::SpNo,
    /// Set for the first commit of an instance (its submission).
    pub new: Option<NewInstance>,
    /// The new events, numbered after the last stored one: their first
    /// `seq` must be the next free one, or the commit is refused with
    /// `Conflict` (another writer appended first).
    pub events: &'a [crate::approval::Event],
    /// The command's idempotency key, unique per instance (`Conflict` if
    /// stored already).
    pub key: &'a crate::approval::IdempotencyKey,
    /// The instance's state after the events.
    pub status: crate::approval::InstanceStatus,
    /// When it finished, if it did (Unix seconds).
    pub finished_at: Option<i64>,
    /// Task rows that changed.
    pub tasks: Vec<TaskRow>,
    /// Timers to schedule.
    pub timers: Vec<TimerRow>,
    /// The timer this decision consumes: deleted in the same transaction,
    /// and the commit is refused with `Conflict` if it is gone (fired
    /// already elsewhere).
    pub fired: Option<TimerRow>,
    /// Timers of activations that ended (deleted, never fired).
    pub cancelled: Vec<crate::approval::ActivationId>,
    /// Callback events (`sys_approval_change`).
    pub outbox: Vec<crate::callback::OutboxEntry>,
    /// When (ms).
    pub at: i64,
}

/// A stored instance: its pinned template version and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstance {
    /// The template.
    pub template: crate::approval::TemplateId,
    /// Its version.
    pub version: crate::approval::TemplateVersion,
    /// Every event, in order.
    pub events: Vec<crate::approval::Event>,
}

/// A line of a list of instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSummary {
    /// The instance.
    pub sp_no: crate::approval::SpNo,
    /// The template.
    pub template: crate::approval::TemplateId,
    /// Its version.
    pub version: crate::approval::TemplateVersion,
    /// The applicant.
    pub applicant: UserId,
    /// State.
    pub status: crate::approval::InstanceStatus,
    /// When submitted (Unix seconds).
    pub submitted_at: i64,
    /// When finished (Unix seconds).
    pub finished_at: Option<i64>,
    /// The list's sort time (ms): for task lists when the row entered the
    /// list, for other lists the submission (ms).
    pub at: i64,
    /// The record the line is about (task lists; 0 otherwise).
    pub record: u32,
}

/// Which list of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalList {
    /// 待处理.
    Todo,
    /// 已处理.
    Done,
    /// 已发起.
    Applied,
    /// 抄送我的.
    Cc,
}

/// A page position: the last line's `(at, sp_no, record)`; lines after it
/// come next (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    /// Sort time of the last line.
    pub at: i64,
    /// Its instance.
    pub sp_no: String,
    /// Its record.
    pub record: u32,
}

/// Filters of `oa/getapprovalinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceQuery {
    /// Submitted at or after (Unix seconds).
    pub start: i64,
    /// Submitted at or before (Unix seconds).
    pub end: i64,
    /// Only this template.
    pub template: Option<crate::approval::TemplateId>,
    /// Only this applicant.
    pub applicant: Option<UserId>,
    /// Only these states.
    pub status: Option<crate::approval::InstanceStatus>,
    /// Continue after this instance (by submission time, then number).
    pub after: Option<(i64, String)>,
    /// Most lines.
    pub limit: u32,
}

/// A due timer claimed under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// The corp.
    pub corp: CorpId,
    /// The instance.
    pub sp_no: crate::approval::SpNo,
    /// The timer.
    pub timer: TimerRow,
}

/// Approval templates, instances (an append-only event log each), the
/// task projection and durable timers.
///
/// Invariants every implementation keeps:
/// - an instance's events are numbered 1, 2, 3, ... with no gap and no
///   repeat: [`ApprovalStore::commit_approval`] refuses (`Conflict`) events
///   whose first number is not the next free one, so of two writers that
///   decided on the same state exactly one commits;
/// - an idempotency key is stored once per instance;
/// - a timer is consumed by exactly one commit (a conditional delete that
///   one transaction wins), and a claim leases it so two nodes do not work
///   on it at once;
/// - the events, the instance row, its task rows, its timers and its
///   callback events are written in one transaction;
/// - a template version, once published, never changes.
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Creates a template draft; `Conflict` if the id is taken in the corp.
    async fn create_template(
        &self,
        corp: &CorpId,
        draft: &crate::approval::TemplateDraft,
        at: i64,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Replaces a template's draft; `NotFound` if it does not exist.
    async fn update_template(
        &self,
        corp: &CorpId,
        draft: &crate::approval::TemplateDraft,
        at: i64,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Stores a published version; `Conflict` unless it is the version
    /// after the latest.
    async fn publish_template(
        &self,
        corp: &CorpId,
        template: &crate::approval::Template,
        at: i64,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// A template's draft and latest version number.
    async fn template(
        &self,
        corp: &CorpId,
        id: &crate::approval::TemplateId,
    ) -> StoreResult<StoredTemplate>;
    /// A published version (the latest with `None`); `NotFound` if none.
    async fn template_version(
        &self,
        corp: &CorpId,
        id: &crate::approval::TemplateId,
        version: Option<crate::approval::TemplateVersion>,
    ) -> StoreResult<crate::approval::Template>;
    /// The corp's templates, by id.
    async fn list_templates(&self, corp: &CorpId) -> StoreResult<Vec<StoredTemplate>>;
    /// The next instance number of the corp for a day (`YYYYMMDD`):
    /// `YYYYMMDD0001`, `YYYYMMDD0002`, ...; never the same twice.
    async fn next_sp_no(&self, corp: &CorpId, day: u32) -> StoreResult<crate::approval::SpNo>;
    /// Writes one decision; see the trait's invariants.
    async fn commit_approval(&self, commit: ApprovalCommit<'_>) -> StoreResult<()>;
    /// An instance with its history.
    async fn instance(
        &self,
        corp: &CorpId,
        sp_no: &crate::approval::SpNo,
    ) -> StoreResult<StoredInstance>;
    /// A page of a member's list, newest first.
    async fn approval_list(
        &self,
        corp: &CorpId,
        user: &UserId,
        list: ApprovalList,
        after: Option<&ListCursor>,
        limit: u32,
    ) -> StoreResult<Vec<InstanceSummary>>;
    /// Instances by submission time (oldest first) with filters.
    async fn query_instances(
        &self,
        corp: &CorpId,
        query: &InstanceQuery,
    ) -> StoreResult<Vec<InstanceSummary>>;
    /// Claims up to `limit` timers due at `now` (Unix seconds) whose lease
    /// lapsed (`now_ms`), leasing them until `now_ms + lease_ms`.
    async fn claim_timers(
        &self,
        now: i64,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueTimer>>;
    /// The instance's pending timers, by due time.
    async fn timers_of(
        &self,
        corp: &CorpId,
        sp_no: &crate::approval::SpNo,
    ) -> StoreResult<Vec<TimerRow>>;
}
