//! Approvals (审批): the use cases over the pure engine of
//! `qiye_domain::approval` and the [`ApprovalStore`] port.
//!
//! - `templates.rs`: create and edit drafts; publishing runs the static
//!   checks against the corp's directory and refuses with every reason.
//! - `instances.rs`: submit (the engine decides on a scratch instance
//!   first, so a refused submission stores nothing and takes no number),
//!   act, read, list.
//! - `timers.rs`: the timer worker's single step.
//! - `projection.rs`: what a decision writes besides its events (the task
//!   rows of the members' lists, timers to schedule and to cancel).
//!
//! **One writer per instance.** In a process, actions on an instance take
//! its lock (a `tokio` mutex per instance). Across processes the store is
//! the guard: a commit whose events do not start at the next free number
//! is refused (`Conflict`), and the loser reloads the history, replays it
//! and decides again, so two approvers acting at once both count and no
//! node is reached twice. A repeated idempotency key answers the events
//! its first decision produced (`Instance::events_of`).
//!
//! [`ApprovalStore`]: qiye_domain::ports::ApprovalStore

mod instances;
mod projection;
mod templates;
mod timers;

use std::sync::Arc;

use dashmap::DashMap;
use qiye_domain::approval::{ApprovalError, PublishError, SpNo};
use qiye_domain::directory::Directory;
use qiye_domain::ids::CorpId;

pub use instances::{ActOutcome, DecidedBy};
pub use timers::{APPROVAL_TIMER_BATCH, APPROVAL_TIMER_LEASE_MS};

use crate::Services;
use crate::error::AppResult;

/// How many times an action is decided again after another writer
/// committed first, before giving up as busy.
pub const MAX_DECIDE_ATTEMPTS: u32 = 16;

/// Why an approval use case refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalUseError {
    /// The engine refused the command (a field, a permission, a state).
    #[error(transparent)]
    Engine(#[from] ApprovalError),
    /// The template cannot be published, with every reason.
    #[error(transparent)]
    NotPublishable(#[from] PublishError),
    /// No such template in the corp.
    #[error("no such template")]
    UnknownTemplate,
    /// The template has never been published, so nothing can be submitted.
    #[error("the template is not published")]
    NotPublished,
    /// No such instance in the corp.
    #[error("no such approval")]
    UnknownInstance,
    /// A template with this id exists already.
    #[error("a template with this id exists already")]
    TemplateExists,
    /// Other writers kept committing first.
    #[error("the approval is busy, retry")]
    Busy,
}

/// The approvals' in-process state: one lock per instance being acted on.
#[derive(Debug, Default)]
pub struct Approvals {
    locks: DashMap<(CorpId, SpNo), Arc<tokio::sync::Mutex<()>>>,
}

impl Approvals {
    fn lock_of(&self, corp: &CorpId, sp_no: &SpNo) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .entry((corp.clone(), sp_no.clone()))
            .or_default()
            .clone()
    }

    /// Drops the lock of an instance nobody waits on.
    fn release(&self, corp: &CorpId, sp_no: &SpNo) {
        self.locks
            .remove_if(&(corp.clone(), sp_no.clone()), |_, l| {
                Arc::strong_count(l) == 1
            });
    }
}

impl Services {
    /// Runs `f` over the corp's current directory (the engine's `Org`).
    pub(crate) async fn with_org<R>(
        &self,
        corp: &CorpId,
        f: impl FnOnce(&Directory) -> R,
    ) -> AppResult<R> {
        let entry = self.directories.fresh(&*self.store, corp).await?;
        let state = entry.state.read().unwrap_or_else(|e| e.into_inner());
        Ok(f(&state.dir))
    }
}
