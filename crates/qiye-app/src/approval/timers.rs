//! The timer worker: claims due timers under a lease and feeds each to its
//! instance as `TimerFired`. The commit that records the firing deletes the
//! timer in the same transaction and is refused if another node did so
//! first, so a timer fires exactly once; a node that dies holding a lease
//! leaves the timer to be claimed again when the lease lapses.

use qiye_domain::approval::{Actor, Command, Envelope, IdempotencyKey, TimerKind};
use qiye_domain::ports::{DueTimer, StoreError};

use super::ApprovalUseError;
use crate::Services;
use crate::error::{AppError, AppResult};

/// How long a node holds the timers it claimed (ms).
pub const APPROVAL_TIMER_LEASE_MS: i64 = 60_000;
/// Most timers one step claims.
pub const APPROVAL_TIMER_BATCH: u32 = 100;

/// The idempotency key of a timer's firing: one per activation and kind,
/// so the engine answers a second firing with the first one's events.
fn timer_key(t: &DueTimer) -> IdempotencyKey {
    let kind = match t.timer.kind {
        TimerKind::Remind => "remind",
        TimerKind::Deadline => "deadline",
    };
    IdempotencyKey::parse(&format!("timer-{}-{kind}", t.timer.activation.0))
        .expect("digits and letters make a valid key")
}

impl Services {
    /// One step of the timer worker: fires the timers due now; answers how
    /// many it fired.
    pub async fn run_approval_timers_once(&self) -> AppResult<usize> {
        let now = self.clock.now_secs();
        let due = self
            .store
            .claim_timers(
                now,
                self.clock.now_millis(),
                APPROVAL_TIMER_LEASE_MS,
                APPROVAL_TIMER_BATCH,
            )
            .await?;
        let mut fired = 0;
        for t in due {
            let env = Envelope {
                key: timer_key(&t),
                actor: Actor::System,
                at: now,
                command: Command::TimerFired {
                    activation: t.timer.activation,
                    kind: t.timer.kind,
                },
            };
            match self
                .decide_and_commit(&t.corp, &t.sp_no, &env, Some(t.timer))
                .await
            {
                Ok(_) => fired += 1,
                // Fired by another node meanwhile.
                Err(AppError::Store(StoreError::Conflict(_))) => {}
                Err(AppError::Approval(ApprovalUseError::Engine(e))) => {
                    // The engine refuses it for good: drop it so it does
                    // not come back every step.
                    tracing::warn!(%e, sp_no = %t.sp_no, "approval timer refused; dropped");
                    self.drop_timer(&t).await?;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(fired)
    }

    /// The timer worker: runs [`Services::run_approval_timers_once`] until
    /// `stop` changes, waiting `idle` after a round that found less than a
    /// full batch.
    pub async fn run_approval_timers(
        &self,
        idle: std::time::Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let full = match self.run_approval_timers_once().await {
                Ok(n) => n >= APPROVAL_TIMER_BATCH as usize,
                Err(err) => {
                    tracing::warn!(%err, "approval timer round failed");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn drop_timer(&self, t: &DueTimer) -> AppResult<()> {
        let instance = self.load_approval(&t.corp, &t.sp_no).await?;
        let key = timer_key(t);
        match self
            .store
            .commit_approval(qiye_domain::ports::ApprovalCommit {
                corp: &t.corp,
                sp_no: &t.sp_no,
                new: None,
                events: &[],
                key: &key,
                status: instance.status(),
                finished_at: instance.times().1,
                tasks: Vec::new(),
                timers: Vec::new(),
                fired: Some(t.timer),
                cancelled: Vec::new(),
                outbox: Vec::new(),
                at: self.clock.now_millis(),
            })
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}
