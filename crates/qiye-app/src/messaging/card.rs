//! Template cards: a member's click goes to the app as a
//! `template_card_event` callback and changes the card; the app changes
//! cards with `message/update_template_card` and the `response_code` it
//! was given.
//!
//! After a click on a task card (`button_interaction`, the legacy
//! `interactive_taskcard`), the task is done for everyone it went to:
//! every recipient's copy is updated. A vote or a form
//! (`vote_interaction`, `multiple_interaction`) is answered by each
//! recipient alone: only the clicker's copy changes. Each click makes a new
//! single-use `response_code`, stored on the copies it changed.

use std::collections::HashSet;
use std::sync::Arc;

use qiye_domain::callback::OutboxEntry;
use qiye_domain::ids::{AgentId, UserId};
use qiye_domain::message::{
    ConvId, ConvKind, Draft, Entry, EntryBody, MessageError, MsgId, Priority, Sender, Seq,
    new_response_code,
};

use super::app::{Targets, resolve_members};
use crate::Services;
use crate::callbacks::CardEvent;
use crate::directory::DirCaller;
use crate::error::AppResult;
use crate::session::SignedInMember;

/// A member's click, checked against the card by the caller (the wire
/// layer knows the card's shape).
#[derive(Debug, Clone)]
pub struct CardClick {
    /// The card's `card_type`.
    pub card_type: String,
    /// The button, submit or menu key.
    pub key: String,
    /// The answers: question key and chosen option ids.
    pub selected: Vec<(String, Vec<String>)>,
    /// The card's payload after the click.
    pub new_body: String,
}

impl CardClick {
    /// Whether the click closes the card for everyone it went to.
    fn for_everyone(&self) -> bool {
        matches!(
            self.card_type.as_str(),
            "button_interaction" | "interactive_taskcard"
        )
    }
}

/// An app's template card copy in one member's conversation.
#[derive(Debug, Clone)]
pub struct CardCopy {
    /// The entry.
    pub entry: Entry,
    /// The member it went to.
    pub recipient: UserId,
}

fn card_of(entry: &Entry) -> Option<(&qiye_domain::message::Content, AgentId)> {
    match (&entry.body, &entry.sender) {
        (EntryBody::Message(c), Sender::App(agent))
            if c.card.is_some() && entry.recalled_at.is_none() =>
        {
            Some((c, *agent))
        }
        _ => None,
    }
}

impl Services {
    /// An app's template card in a conversation the member is in.
    pub async fn card_entry(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        seq: Seq,
    ) -> AppResult<Entry> {
        self.conversation(who, conv).await?;
        let entry = self.entry_in(who, conv, seq).await?;
        if card_of(&entry).is_none() {
            return Err(MessageError::InvalidCardAction("not a live template card".into()).into());
        }
        Ok(entry)
    }

    /// A member clicked a card: the app is told (its callback, if it has
    /// one) and the card changes (see the module docs for whose copies).
    /// Answers the click's new `response_code`.
    pub async fn card_action(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        seq: Seq,
        click: CardClick,
    ) -> AppResult<String> {
        let entry = self.card_entry(who, conv, seq).await?;
        let (content, agent) = card_of(&entry).expect("checked by card_entry");
        let task_id = content
            .card
            .as_ref()
            .and_then(|c| c.task_id.clone())
            .unwrap_or_default();
        let corp = who.corp();
        let copies: Vec<Entry> = if click.for_everyone() {
            self.store
                .entries_by_msgid(corp, &entry.msgid)
                .await?
                .into_iter()
                .filter(|e| card_of(e).is_some())
                .collect()
        } else {
            vec![entry.clone()]
        };
        let code = new_response_code();
        if let Some(wire) = &self.callback_wire {
            if self.store.callback_config(corp, agent).await?.is_some() {
                let (event, payload) = wire.card_event(
                    corp,
                    self.clock.now_secs(),
                    &CardEvent {
                        agentid: agent,
                        userid: who.userid().as_str(),
                        task_id: &task_id,
                        card_type: &click.card_type,
                        key: &click.key,
                        response_code: &code,
                        selected: &click.selected,
                    },
                );
                self.store
                    .enqueue(
                        corp,
                        &[OutboxEntry {
                            agentid: Some(agent),
                            event,
                            payload,
                            destination: None,
                        }],
                        self.clock.now_millis(),
                    )
                    .await?;
            }
        }
        let targets: Vec<(ConvId, Seq)> = copies.iter().map(|e| (e.conv.clone(), e.seq)).collect();
        let updates = copies.iter().map(|c| (c, click.new_body.clone())).collect();
        self.commit_card_updates(corp, Sender::Member(who.userid().clone()), updates)
            .await?;
        self.store
            .set_response_code(corp, &targets, Some(&code))
            .await?;
        Ok(code)
    }

    /// Commits a `card_update` entry for each copy with its new body, and
    /// tells the members.
    async fn commit_card_updates(
        &self,
        corp: &qiye_domain::ids::CorpId,
        sender: Sender,
        updates: Vec<(&Entry, String)>,
    ) -> AppResult<Vec<Entry>> {
        let at = self.clock.now_millis();
        let mut drafts = Vec::with_capacity(updates.len());
        let mut recipients = Vec::with_capacity(updates.len());
        for (copy, body) in updates {
            let conv = self.cached_conversation(corp, &copy.conv).await?;
            drafts.push(Draft {
                corp: corp.clone(),
                conv: copy.conv.clone(),
                msgid: MsgId::generate(),
                sender: sender.clone(),
                kind: copy.kind,
                priority: Priority::Normal,
                body: EntryBody::CardUpdate {
                    target: copy.seq,
                    body,
                },
                at,
            });
            recipients.push(Arc::from(conv.members.clone()));
        }
        self.commit_entries(corp, drafts, recipients).await
    }

    /// The live card copies an app's `response_code` names, each with the
    /// member it went to. An unknown, used or other app's code is
    /// [`MessageError::InvalidResponseCode`].
    pub async fn cards_for_response_code(
        &self,
        caller: &DirCaller,
        agentid: AgentId,
        code: &str,
    ) -> AppResult<Vec<CardCopy>> {
        let app = Self::sending_app(caller, agentid)?;
        let mut out = Vec::new();
        for entry in self
            .store
            .entries_by_response_code(&caller.corp, code)
            .await?
        {
            let Some((_, sender)) = card_of(&entry) else {
                continue;
            };
            if sender != app {
                continue;
            }
            let conv = self.cached_conversation(&caller.corp, &entry.conv).await?;
            let ConvKind::App(_) = conv.kind else {
                continue;
            };
            if let Some(member) = conv.members.first() {
                out.push(CardCopy {
                    recipient: member.clone(),
                    entry,
                });
            }
        }
        if out.is_empty() {
            return Err(MessageError::InvalidResponseCode.into());
        }
        Ok(out)
    }

    /// `message/update_template_card`: changes the copies (of those a
    /// `response_code` names) that went to the targeted members, with the
    /// body `body_of` gives each, and uses the code up. Answers the named
    /// members who had no copy (`invaliduser`).
    pub async fn update_cards(
        &self,
        caller: &DirCaller,
        agentid: AgentId,
        code: &str,
        targets: &Targets,
        body_of: impl Fn(&Entry) -> Result<String, String>,
    ) -> AppResult<Vec<String>> {
        let copies = self.cards_for_response_code(caller, agentid, code).await?;
        let chosen: HashSet<UserId> = if targets.all {
            copies.iter().map(|c| c.recipient.clone()).collect()
        } else {
            self.dir_read(caller, |view| resolve_members(view.dir, caller, targets))
                .await?
                .into_iter()
                .collect()
        };
        let invalid: Vec<String> = targets
            .users
            .iter()
            .filter(|u| {
                UserId::parse(u).map_or(true, |id| !copies.iter().any(|c| c.recipient == id))
            })
            .map(|u| u.to_lowercase())
            .collect();
        // The code is used up whatever it changes: every copy it named loses it.
        let named: Vec<(ConvId, Seq)> = copies
            .iter()
            .map(|c| (c.entry.conv.clone(), c.entry.seq))
            .collect();
        let picked: Vec<Entry> = copies
            .into_iter()
            .filter(|c| chosen.contains(&c.recipient))
            .map(|c| c.entry)
            .collect();
        let mut updates = Vec::with_capacity(picked.len());
        for e in &picked {
            updates.push((e, body_of(e).map_err(MessageError::InvalidCardAction)?));
        }
        if !updates.is_empty() {
            self.commit_card_updates(&caller.corp, Sender::App(agentid), updates)
                .await?;
        }
        self.store
            .set_response_code(&caller.corp, &named, None)
            .await?;
        Ok(invalid)
    }
}
