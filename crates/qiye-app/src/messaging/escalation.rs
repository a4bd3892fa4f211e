//! Escalation of unread urgent messages through the second channel.
//!
//! An urgent message (`Priority::Urgent`) gets, in the transaction that
//! commits it, one escalation row per recipient (the store does that in
//! `append`). [`Services::run_escalations_once`] is the single step of the
//! worker: it claims due rows under a lease (so two nodes never send the
//! same attempt), closes those whose member has read or acknowledged the
//! message meanwhile (or left the conversation or the corp, or were
//! disabled, or whose message was recalled), and for the
//! others renders [`urgent_notice`] and sends it by e-mail and/or SMS as the
//! corp's [`EscalationPolicy`] says, then schedules the next attempt or
//! marks the row exhausted.
//!
//! Failures never panic and never lose an attempt:
//! - a channel that is unavailable (connection refused, timeout, SMTP 4xx)
//!   is retried after [`UNAVAILABLE_RETRY_MS`] times the number of tries,
//!   without counting the attempt, up to [`MAX_UNAVAILABLE_TRIES`] tries;
//!   then the attempt counts as made (failed) and the policy's schedule
//!   goes on;
//! - a permanent refusal (SMTP 5xx, a non-2xx gateway answer, a bad
//!   address) counts as a failed attempt;
//! - an attempt that reached the member on one channel counts as made even
//!   if the other channel failed (the error is recorded).
//!
//! Acknowledging: reading past the message (the read cursor) acknowledges it
//! in the store; [`Services::acknowledge_urgent`] does so explicitly (and
//! moves the cursor).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use qiye_domain::audit::Actor;
use qiye_domain::directory::{Member, MemberStatus};
use qiye_domain::escalation::{Escalation, EscalationPolicy, EscalationState, EscalationUpdate};
use qiye_domain::ids::CorpId;
use qiye_domain::message::{ConvId, EntryBody, MessageError, Priority, Sender, Seq};
use qiye_domain::ports::StoreError;

use crate::Services;
use crate::directory::DirCaller;
use crate::directory::admin::RuleEditor;
use crate::error::{AppError, AppResult};
use crate::notify::{NotifyError, OutgoingMail, OutgoingSms, SecondChannel, urgent_notice};
use crate::session::SignedInMember;

/// How long a node holds the escalations it claimed (ms): long enough to
/// send them, short enough that another node takes over soon if it dies.
pub const ESCALATION_LEASE_MS: i64 = 60_000;
/// Most escalations one step claims.
pub const ESCALATION_BATCH: u32 = 100;
/// The wait before retrying a channel that was unavailable, times the
/// number of tries so far (ms).
pub const UNAVAILABLE_RETRY_MS: i64 = 60_000;
/// Tries of one attempt that may find the channel unavailable before the
/// attempt counts as made (failed).
pub const MAX_UNAVAILABLE_TRIES: u32 = 5;

/// What sending one notice came to.
enum Sent {
    /// At least one channel took it.
    Delivered(Option<String>),
    /// No channel took it, and trying later may help.
    Unavailable(String),
    /// No channel took it, and the same notice would fail again.
    Refused(String),
}

impl Services {
    /// Escalates unread urgent messages through `channel`.
    pub fn with_second_channel(mut self, channel: Arc<dyn SecondChannel>) -> Self {
        self.second_channel = Some(channel);
        self
    }

    /// The server's public base URL (`https://im.example.com/`), linked
    /// from urgent notices.
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = url.into();
        self
    }

    /// The corp's escalation policy (the default when it never set one).
    pub async fn escalation_policy(&self, corp: &CorpId) -> AppResult<EscalationPolicy> {
        self.store.get_corp(corp).await.map_err(|e| match e {
            StoreError::NotFound => AppError::CorpNotFound,
            other => other.into(),
        })?;
        Ok(self
            .store
            .escalation_policy(corp)
            .await?
            .unwrap_or_default())
    }

    /// Sets the corp's escalation policy (the operator or a super
    /// administrator); refused when out of its limits. Messages already
    /// sent keep their next time and follow the new count and interval.
    pub async fn set_escalation_policy(
        &self,
        editor: &RuleEditor,
        policy: EscalationPolicy,
    ) -> AppResult<()> {
        policy.validate()?;
        let record = self.audit_record(
            editor.actor().clone(),
            editor.corp(),
            editor.ip(),
            "escalation.set_policy",
            &format!("corp:{}", editor.corp()),
        );
        self.store
            .set_escalation_policy(editor.corp(), &policy, self.clock.now_millis(), &record)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::CorpNotFound,
                other => other.into(),
            })
    }

    /// The member acknowledges the urgent message at `seq`: its escalation
    /// stops and their read cursor moves to it (receipts go out as for a
    /// read). Answers the read cursor. `NotFound` outside the member's
    /// conversations, `UnknownMessage` for no such entry, `NotUrgent` for an
    /// entry that is not an urgent message.
    pub async fn acknowledge_urgent(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        seq: Seq,
    ) -> AppResult<Seq> {
        self.conversation(who, conv).await?;
        let entry = match self.store.entry(who.corp(), conv, seq).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Err(MessageError::UnknownMessage.into()),
            Err(e) => return Err(e.into()),
        };
        if !entry.body.is_message() || entry.priority != Priority::Urgent {
            return Err(MessageError::NotUrgent.into());
        }
        self.store
            .acknowledge_escalation(who.corp(), conv, seq, who.userid(), self.clock.now_millis())
            .await?;
        self.mark_read(who, conv, seq).await
    }

    /// One step of the escalation worker at `now` (ms): claims due
    /// escalations and settles each (sent, retried, closed). Answers how
    /// many it settled. Without a second channel it does nothing.
    pub async fn run_escalations_once(&self, now: i64) -> AppResult<usize> {
        let Some(channel) = self.second_channel.clone() else {
            return Ok(0);
        };
        let rows = self
            .store
            .claim_escalations(now, ESCALATION_LEASE_MS, ESCALATION_BATCH)
            .await?;
        let mut policies: HashMap<CorpId, EscalationPolicy> = HashMap::new();
        let mut settled = 0;
        for row in rows {
            let policy = match policies.get(&row.corp) {
                Some(p) => *p,
                None => {
                    let p = self
                        .store
                        .escalation_policy(&row.corp)
                        .await?
                        .unwrap_or_default();
                    policies.insert(row.corp.clone(), p);
                    p
                }
            };
            let update = match self.escalate(&*channel, &row, &policy, now).await {
                Ok(update) => update,
                Err(err) => {
                    // Left leased: tried again once the lease lapses.
                    tracing::warn!(%err, corp = %row.corp, conv = %row.conv, seq = row.seq,
                        "escalation step failed; will retry");
                    continue;
                }
            };
            self.store.finish_escalation(&row, &update, now).await?;
            settled += 1;
        }
        Ok(settled)
    }

    /// Runs escalations until `stop` changes: at once again after a step
    /// that settled a full batch, else every `idle`.
    pub async fn run_escalations(
        &self,
        idle: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let full = match self.run_escalations_once(self.clock.now_millis()).await {
                Ok(n) => n >= ESCALATION_BATCH as usize,
                Err(err) => {
                    tracing::warn!(%err, "escalation round failed");
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

    /// Decides and, when due, sends one escalation; answers what to write
    /// back.
    async fn escalate(
        &self,
        channel: &dyn SecondChannel,
        row: &Escalation,
        policy: &EscalationPolicy,
        now: i64,
    ) -> AppResult<EscalationUpdate> {
        let close = |state, error: Option<&str>| EscalationUpdate {
            attempts: row.attempts,
            failures: row.failures,
            next_at: row.next_at,
            state,
            last_error: error.map(str::to_owned).or_else(|| row.last_error.clone()),
        };
        let Some(read) = row.read_seq else {
            return Ok(close(
                EscalationState::Cancelled,
                Some("no longer in the conversation"),
            ));
        };
        if read >= row.seq {
            return Ok(close(EscalationState::Acknowledged, None));
        }
        if row.attempts >= policy.max_attempts {
            return Ok(close(EscalationState::Exhausted, None));
        }
        let entry = match self.store.entry(&row.corp, &row.conv, row.seq).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => {
                return Ok(close(EscalationState::Cancelled, Some("message not found")));
            }
            Err(e) => return Err(e.into()),
        };
        let preview = match &entry.body {
            EntryBody::Message(content) if entry.recalled_at.is_none() => content.preview.clone(),
            _ => return Ok(close(EscalationState::Cancelled, Some("message recalled"))),
        };
        let member = match self.escalation_member(&row.corp, &row.userid).await? {
            Some(m) if !matches!(m.status, MemberStatus::Disabled | MemberStatus::Left) => m,
            _ => {
                return Ok(close(
                    EscalationState::Cancelled,
                    Some("member disabled or no longer in the corp"),
                ));
            }
        };
        let email = first_nonempty(&member.email, &member.biz_mail)
            .filter(|_| policy.email && channel.email_enabled());
        let mobile = Some(member.mobile.trim())
            .filter(|m| !m.is_empty() && policy.sms && channel.sms_enabled());
        if email.is_none() && mobile.is_none() {
            return Ok(close(
                EscalationState::Exhausted,
                Some("no configured channel reaches the member"),
            ));
        }
        let corp_name = self
            .store
            .get_corp(&row.corp)
            .await?
            .name
            .as_str()
            .to_owned();
        let sender_name = self.sender_name(&row.corp, &entry.sender).await?;
        let attempt = row.attempts + 1;
        let (subject, body, sms_text) = urgent_notice(
            &corp_name,
            &sender_name,
            &preview,
            attempt,
            &self.open_url(&row.conv, row.seq),
        );
        let mut results = Vec::new();
        if let Some(address) = email {
            let mail = OutgoingMail {
                to_address: address.to_owned(),
                to_name: member.name.clone(),
                subject,
                text_body: body,
            };
            results.push(channel.send_email(&mail).await);
        }
        if let Some(mobile) = mobile {
            let sms = OutgoingSms {
                mobile: mobile.to_owned(),
                text: sms_text,
            };
            results.push(channel.send_sms(&sms).await);
        }
        let outcome = combine(results);
        let counted = |error: Option<String>| {
            let next = policy.next_attempt_at_ms(row.sent_at, attempt);
            EscalationUpdate {
                attempts: attempt,
                failures: 0,
                next_at: next.map_or(row.next_at, |at| at.max(now)),
                state: if next.is_some() {
                    EscalationState::Pending
                } else {
                    EscalationState::Exhausted
                },
                last_error: error,
            }
        };
        Ok(match outcome {
            Sent::Delivered(error) => counted(error),
            Sent::Refused(error) => {
                tracing::warn!(%error, corp = %row.corp, "urgent notice refused");
                counted(Some(error))
            }
            Sent::Unavailable(error) if row.failures + 1 < MAX_UNAVAILABLE_TRIES => {
                tracing::warn!(%error, corp = %row.corp, "second channel unavailable; will retry");
                let tries = row.failures + 1;
                EscalationUpdate {
                    attempts: row.attempts,
                    failures: tries,
                    next_at: now.saturating_add(UNAVAILABLE_RETRY_MS * i64::from(tries)),
                    state: EscalationState::Pending,
                    last_error: Some(error),
                }
            }
            Sent::Unavailable(error) => counted(Some(error)),
        })
    }

    /// The recipient's directory record, `None` when they left the corp.
    async fn escalation_member(
        &self,
        corp: &CorpId,
        userid: &qiye_domain::ids::UserId,
    ) -> AppResult<Option<Member>> {
        let caller = DirCaller::operator(corp.clone(), Actor::System);
        self.dir_read(&caller, |v| v.dir.member(userid).cloned())
            .await
    }

    /// Who sent the entry, as the notice names them.
    async fn sender_name(&self, corp: &CorpId, sender: &Sender) -> AppResult<String> {
        Ok(match sender {
            Sender::Member(u) => self
                .member_name(corp, u)
                .await?
                .unwrap_or_else(|| u.as_str().to_owned()),
            Sender::App(agentid) => match self.store.get_app(corp, *agentid).await {
                Ok(app) => app.name.as_str().to_owned(),
                Err(StoreError::NotFound) => agentid.to_string(),
                Err(e) => return Err(e.into()),
            },
            Sender::System => "qiye".to_owned(),
        })
    }

    /// Where the member reads the message: the web client at the public
    /// URL, opened on the conversation.
    fn open_url(&self, conv: &ConvId, seq: Seq) -> String {
        let base = self.public_url.trim_end_matches('/');
        format!("{base}/#/conversations/{conv}?seq={seq}")
    }
}

/// The first of two addresses that is not blank.
fn first_nonempty<'a>(a: &'a str, b: &'a str) -> Option<&'a str> {
    [a.trim(), b.trim()].into_iter().find(|s| !s.is_empty())
}

/// One outcome for the channels tried.
fn combine(results: Vec<Result<(), NotifyError>>) -> Sent {
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    let joined = (!errors.is_empty()).then(|| errors.join("; "));
    if results.iter().any(Result::is_ok) {
        return Sent::Delivered(joined);
    }
    let text = joined.unwrap_or_default();
    if results
        .iter()
        .any(|r| matches!(r, Err(NotifyError::Unavailable(_))))
    {
        Sent::Unavailable(text)
    } else {
        Sent::Refused(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_channel_reaching_the_member_is_a_delivery() {
        let got = combine(vec![Ok(()), Err(NotifyError::Unavailable("down".into()))]);
        assert!(matches!(got, Sent::Delivered(Some(e)) if e.contains("down")));
        assert!(matches!(combine(vec![Ok(())]), Sent::Delivered(None)));
    }

    #[test]
    fn unavailable_wins_over_refused_when_nothing_was_delivered() {
        let got = combine(vec![
            Err(NotifyError::Rejected("550".into())),
            Err(NotifyError::Unavailable("timeout".into())),
        ]);
        assert!(matches!(got, Sent::Unavailable(e) if e.contains("550") && e.contains("timeout")));
        let got = combine(vec![Err(NotifyError::Rejected("550".into()))]);
        assert!(matches!(got, Sent::Refused(_)));
    }

    #[test]
    fn blank_addresses_are_skipped() {
        assert_eq!(first_nonempty(" ", "b@x.cn"), Some("b@x.cn"));
        assert_eq!(first_nonempty("a@x.cn", "b@x.cn"), Some("a@x.cn"));
        assert_eq!(first_nonempty("", " "), None);
    }
}
