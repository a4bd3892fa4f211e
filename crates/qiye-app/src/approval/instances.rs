//! Submitting, acting on, reading and listing instances.

use std::sync::Arc;

use qiye_domain::approval::status;
use qiye_domain::approval::{
    Actor, Command, Envelope, Event, IdempotencyKey, Instance, SpNo, Submission, Template,
    TemplateId,
};
use qiye_domain::callback::OutboxEntry;
use qiye_domain::ids::{AgentId, CorpId, UserId};
use qiye_domain::ports::{
    ApprovalCommit, ApprovalList, InstanceQuery, InstanceSummary, ListCursor, NewInstance,
    StoreError, TimerRow,
};

use super::{ApprovalUseError, MAX_DECIDE_ATTEMPTS, projection};
use crate::Services;
use crate::error::{AppError, AppResult};

/// Whether an answer was decided now or is the first answer to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// This call decided it.
    Now,
    /// The key was decided before; the events are the first decision's.
    Earlier,
}

/// The outcome of an action.
#[derive(Debug, Clone)]
pub struct ActOutcome {
    /// The instance after the action.
    pub instance: Instance,
    /// The events the action produced (the first decision's, for a
    /// repeated key).
    pub events: Vec<Event>,
    /// Whether it was decided now.
    pub decided: DecidedBy,
}

/// The number day of a Unix time (UTC+8, as WeCom numbers instances).
fn day_of(secs: i64) -> u32 {
    let days = (secs + 8 * 3600).div_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    u32::try_from(y * 10_000 + m * 100 + d).unwrap_or(0)
}

fn not_found(e: StoreError, what: ApprovalUseError) -> AppError {
    match e {
        StoreError::NotFound => what.into(),
        other => other.into(),
    }
}

impl Services {
    async fn published_template(
        &self,
        corp: &CorpId,
        id: &TemplateId,
        version: Option<qiye_domain::approval::TemplateVersion>,
    ) -> AppResult<Arc<Template>> {
        match self.store.template_version(corp, id, version).await {
            Ok(t) => Ok(Arc::new(t)),
            Err(StoreError::NotFound) => {
                // Tell an unknown template from one never published.
                self.approval_template(corp, id).await?;
                Err(ApprovalUseError::NotPublished.into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Submits an instance of the template's latest version. The engine
    /// decides first (validating the form and predicting the whole path);
    /// a refusal stores nothing and takes no number.
    pub async fn submit_approval(
        &self,
        corp: &CorpId,
        template: &TemplateId,
        submission: Submission,
        actor: Actor,
    ) -> AppResult<Instance> {
        let template = self.published_template(corp, template, None).await?;
        let now = self.clock.now_secs();
        let env = Envelope {
            key: IdempotencyKey::parse("submit").expect("a valid key"),
            actor,
            at: now,
            command: Command::Submit(submission),
        };
        let scratch = Instance::new(SpNo::for_day(day_of(now), 0), template.clone());
        let events = self
            .with_org(corp, |org| scratch.decide(&env, org))
            .await?
            .map_err(ApprovalUseError::Engine)?;
        let sp_no = self.store.next_sp_no(corp, day_of(now)).await?;
        let before = Instance::new(sp_no.clone(), template.clone());
        let mut after = before.clone();
        for e in &events {
            after.apply(e).map_err(ApprovalUseError::Engine)?;
        }
        let applicant = after.applicant().cloned().ok_or(ApprovalUseError::Engine(
            qiye_domain::approval::ApprovalError::InvalidApplicant,
        ))?;
        self.commit_decision(
            corp,
            &before,
            &after,
            &events,
            &env.key,
            None,
            Some(NewInstance {
                template: template.id().clone(),
                version: template.version(),
                applicant,
                submitted_at: now,
            }),
        )
        .await?;
        Ok(after)
    }

    /// Acts on an instance (approve, reject, transfer, add signers, return,
    /// withdraw, comment, urge) under the instance's lock; see the module
    /// docs for concurrency and repeated keys.
    pub async fn act_on_approval(
        &self,
        corp: &CorpId,
        sp_no: &SpNo,
        key: IdempotencyKey,
        actor: Actor,
        command: Command,
    ) -> AppResult<ActOutcome> {
        let env = Envelope {
            key,
            actor,
            at: self.clock.now_secs(),
            command,
        };
        self.decide_and_commit(corp, sp_no, &env, None).await
    }

    /// Decides `env` on the instance's current state and commits it,
    /// deciding again after a lost race; `fired` is the timer it consumes.
    pub(crate) async fn decide_and_commit(
        &self,
        corp: &CorpId,
        sp_no: &SpNo,
        env: &Envelope,
        fired: Option<TimerRow>,
    ) -> AppResult<ActOutcome> {
        let lock = self.approvals.lock_of(corp, sp_no);
        let outcome = async {
            let _held = lock.lock().await;
            for _ in 0..MAX_DECIDE_ATTEMPTS {
                let before = self.load_approval(corp, sp_no).await?;
                if let Some(first) = before.events_of(&env.key) {
                    return Ok(ActOutcome {
                        events: first.to_vec(),
                        instance: before,
                        decided: DecidedBy::Earlier,
                    });
                }
                let events = self
                    .with_org(corp, |org| before.decide(env, org))
                    .await?
                    .map_err(ApprovalUseError::Engine)?;
                let mut after = before.clone();
                for e in &events {
                    after.apply(e).map_err(ApprovalUseError::Engine)?;
                }
                match self
                    .commit_decision(corp, &before, &after, &events, &env.key, fired, None)
                    .await
                {
                    Err(AppError::Store(StoreError::Conflict(_))) => continue,
                    Err(other) => return Err(other),
                    Ok(()) => {
                        return Ok(ActOutcome {
                            instance: after,
                            events,
                            decided: DecidedBy::Now,
                        });
                    }
                }
            }
            Err(ApprovalUseError::Busy.into())
        }
        .await;
        drop(lock);
        self.approvals.release(corp, sp_no);
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_decision(
        &self,
        corp: &CorpId,
        before: &Instance,
        after: &Instance,
        events: &[Event],
        key: &IdempotencyKey,
        fired: Option<TimerRow>,
        new: Option<NewInstance>,
    ) -> AppResult<()> {
        if events.is_empty() && fired.is_none() {
            return Ok(());
        }
        let at = self.clock.now_millis();
        let outbox = self.approval_outbox(corp, after, events).await?;
        self.store
            .commit_approval(ApprovalCommit {
                corp,
                sp_no: after.sp_no(),
                new,
                events,
                key,
                status: after.status(),
                finished_at: after.times().1,
                tasks: projection::changed_tasks(before, after, at),
                timers: projection::scheduled(events),
                fired,
                cancelled: projection::ended(events),
                outbox,
                at,
            })
            .await?;
        Ok(())
    }

    /// The `sys_approval_change` callbacks of a decision: one per app with
    /// callback settings whose visible range holds the applicant, telling
    /// what the decision's first reportable event was. Queued in the
    /// decision's own transaction, so a change is never committed without
    /// its callbacks (delivered at least once, in order per app).
    async fn approval_outbox(
        &self,
        corp: &CorpId,
        after: &Instance,
        events: &[Event],
    ) -> AppResult<Vec<OutboxEntry>> {
        let Some(wire) = &self.callback_wire else {
            return Ok(Vec::new());
        };
        let Some(change) = events
            .iter()
            .find_map(|e| status::status_change_event(&e.body))
        else {
            return Ok(Vec::new());
        };
        let Some(applicant) = after.applicant() else {
            return Ok(Vec::new());
        };
        let listeners = self.listeners(corp).await?;
        let told: Vec<AgentId> = self
            .with_org(corp, |dir| {
                let member = dir.member(applicant);
                listeners
                    .iter()
                    .filter(|l| member.is_some_and(|m| l.reach.member(dir, m)))
                    .map(|l| l.agentid)
                    .collect()
            })
            .await?;
        let now = self.clock.now_secs();
        Ok(told
            .into_iter()
            .map(|agentid| {
                let (event, payload) = wire.approval_event(corp, now, agentid, after, change);
                OutboxEntry {
                    agentid: Some(agentid),
                    event,
                    payload,
                    destination: None,
                }
            })
            .collect())
    }

    /// An instance, replayed from its stored history.
    pub async fn load_approval(&self, corp: &CorpId, sp_no: &SpNo) -> AppResult<Instance> {
        let stored = self
            .store
            .instance(corp, sp_no)
            .await
            .map_err(|e| not_found(e, ApprovalUseError::UnknownInstance))?;
        let template = self
            .published_template(corp, &stored.template, Some(stored.version))
            .await?;
        Instance::replay(sp_no.clone(), template, &stored.events).map_err(|e| {
            tracing::error!(%e, %sp_no, "a stored approval history does not replay");
            AppError::Store(StoreError::Other("approval history does not replay".into()))
        })
    }

    /// A page of a member's list, newest first.
    pub async fn approval_list(
        &self,
        corp: &CorpId,
        user: &UserId,
        list: ApprovalList,
        after: Option<&ListCursor>,
        limit: u32,
    ) -> AppResult<Vec<InstanceSummary>> {
        Ok(self
            .store
            .approval_list(corp, user, list, after, limit)
            .await?)
    }

    /// Instances by submission time with filters (`oa/getapprovalinfo`).
    pub async fn query_approvals(
        &self,
        corp: &CorpId,
        query: &InstanceQuery,
    ) -> AppResult<Vec<InstanceSummary>> {
        Ok(self.store.query_instances(corp, query).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::day_of;

    #[test]
    fn numbering_day_is_beijing_time() {
        // 2019-09-26T16:00:00Z is 2019-09-27 00:00 in Beijing.
        assert_eq!(day_of(1_569_513_600), 20190927);
        assert_eq!(day_of(1_569_513_599), 20190926);
        assert_eq!(day_of(0), 19700101);
        assert_eq!(day_of(951_782_400), 20000229);
    }
}
