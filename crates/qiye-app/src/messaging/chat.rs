//! Member chat: one-to-one conversations and groups, sending, reading,
//! receipts, recall, and the sync a reconnecting client makes.
//!
//! A member reaches a conversation only as one of its members; anyone else
//! gets `NotFound`, never a hint that it exists. Whom a member may start
//! a conversation with follows the directory's visibility rules: the same
//! members they can find in the directory.

use std::collections::HashMap;
use std::sync::Arc;

use qiye_domain::ids::UserId;
use qiye_domain::message::{
    Content, ConvId, ConvKind, ConvSummary, Conversation, ConversationError, Cursor, Draft, Entry,
    EntryBody, MessageError, MsgId, MsgKind, NewConversation, PairKey, Priority, RECALL_WINDOW_MS,
    Sender, Seq,
};
use qiye_domain::ports::StoreError;

use super::MAX_PAGE;
use super::hub::{Push, PushEvent};
use crate::Services;
use crate::error::AppResult;
use crate::session::SignedInMember;

/// Who has and has not read an entry of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipts {
    /// Members whose cursor is at or past it (the sender not included).
    pub read: Vec<UserId>,
    /// The other members.
    pub unread: Vec<UserId>,
}

/// What a member missed in one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedConversation {
    /// The conversation as the member's list shows it.
    pub summary: ConvSummary,
    /// Entries after what the client had, oldest first.
    pub entries: Vec<Entry>,
    /// More entries follow (ask for the conversation's entries after the
    /// last one given).
    pub more: bool,
}

impl Services {
    /// The member's conversations, each with its cursor and unread count.
    pub async fn conversations(&self, who: &SignedInMember) -> AppResult<Vec<ConvSummary>> {
        Ok(self
            .store
            .member_conversations(who.corp(), who.userid())
            .await?)
    }

    /// A conversation the member is in.
    pub async fn conversation(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
    ) -> AppResult<Arc<Conversation>> {
        let found = self.cached_conversation(who.corp(), conv).await?;
        if found.has_member(who.userid()) {
            Ok(found)
        } else {
            Err(ConversationError::NotFound.into())
        }
    }

    /// A conversation the member is in, read fresh (its last sequence now),
    /// with every member's read cursor.
    pub async fn conversation_detail(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
    ) -> AppResult<(Conversation, Vec<Cursor>)> {
        self.conversation(who, conv).await?;
        let fresh = self.store.conversation(who.corp(), conv).await?;
        let cursors = self.store.cursors(who.corp(), conv).await?;
        Ok((fresh, cursors))
    }

    /// Refuses members the caller cannot see in the directory.
    async fn check_visible(&self, who: &SignedInMember, others: &[UserId]) -> AppResult<()> {
        let refused = self
            .member_read(who, |view| {
                others
                    .iter()
                    .find(|u| view.profile(u).is_err())
                    .map(|u| u.to_string())
            })
            .await?;
        match refused {
            Some(u) => Err(ConversationError::UnknownMember(u).into()),
            None => Ok(()),
        }
    }

    /// The one-to-one conversation with `peer`, opened on first use.
    pub async fn open_direct(
        &self,
        who: &SignedInMember,
        peer: &UserId,
    ) -> AppResult<Arc<Conversation>> {
        let key = PairKey::direct(who.userid().clone(), peer.clone())?;
        self.check_visible(who, std::slice::from_ref(peer)).await?;
        let id = self.pair_conversation(who.corp(), &key).await?;
        self.cached_conversation(who.corp(), &id).await
    }

    /// Creates a group owned by the caller.
    pub async fn create_group(
        &self,
        who: &SignedInMember,
        name: &str,
        members: Vec<UserId>,
    ) -> AppResult<Arc<Conversation>> {
        self.check_visible(who, &members).await?;
        let new = NewConversation::group(
            ConvId::generate(),
            ConvKind::Group,
            name,
            who.userid().clone(),
            members,
        )?;
        self.store
            .create_conversation(who.corp(), &new, self.clock.now_millis())
            .await?;
        self.cached_conversation(who.corp(), &new.id).await
    }

    /// Adds and removes members of a group, or renames it. Any member may
    /// add members and leave; only the owner removes others or renames.
    /// Answers the committed entries (a roster change, a rename).
    pub async fn change_group(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        add: Vec<UserId>,
        remove: Vec<UserId>,
        name: Option<String>,
    ) -> AppResult<Vec<Entry>> {
        let current = self.conversation(who, conv).await?;
        if current.kind != ConvKind::Group {
            return Err(ConversationError::WrongKind.into());
        }
        let is_owner = current.owner.as_ref() == Some(who.userid());
        let removes_others = remove.iter().any(|r| r != who.userid());
        if !is_owner && (removes_others || name.is_some()) {
            return Err(ConversationError::NotOwner.into());
        }
        self.check_visible(who, &add).await?;
        let roster = current.changed_roster(&add, &remove)?;
        let added: Vec<UserId> = roster
            .iter()
            .filter(|m| !current.has_member(m))
            .cloned()
            .collect();
        let removed: Vec<UserId> = current
            .members
            .iter()
            .filter(|m| !roster.contains(m))
            .cloned()
            .collect();
        let mut bodies = Vec::new();
        if !added.is_empty() || !removed.is_empty() {
            bodies.push(EntryBody::RosterChanged {
                added: added.clone(),
                removed: removed.clone(),
            });
        }
        let owner_left = current.owner.as_ref().is_some_and(|o| removed.contains(o));
        let new_name = match name {
            Some(n) => {
                let trimmed = n.trim().to_owned();
                if trimmed.chars().count() > qiye_domain::message::GROUP_NAME_MAX_CHARS {
                    return Err(ConversationError::InvalidName.into());
                }
                Some(trimmed)
            }
            None => None,
        };
        if new_name.is_some() || owner_left {
            bodies.push(EntryBody::Updated {
                name: new_name,
                owner: owner_left.then(|| roster[0].clone()),
            });
        }
        // Everyone who was or is a member hears of the change.
        let mut audience: Vec<UserId> = current.members.clone();
        audience.extend(added);
        let audience: Arc<[UserId]> = audience.into();
        let drafts: Vec<Draft> = bodies
            .into_iter()
            .map(|body| self.member_draft(who, conv, body, MsgKind::Chat, Priority::Normal, None))
            .collect();
        let recipients = vec![audience; drafts.len()];
        self.commit_entries(who.corp(), drafts, recipients).await
    }

    fn member_draft(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        body: EntryBody,
        kind: MsgKind,
        priority: Priority,
        client_id: Option<&str>,
    ) -> Draft {
        Draft {
            corp: who.corp().clone(),
            conv: conv.clone(),
            msgid: match client_id {
                Some(c) => MsgId::for_client(who.corp(), who.userid(), c),
                None => MsgId::generate(),
            },
            sender: Sender::Member(who.userid().clone()),
            kind,
            priority,
            body,
            at: self.clock.now_millis(),
        }
    }

    /// Sends a message into a conversation the member is in. With a
    /// `client_id`, a retry of the same send answers the entry the first
    /// attempt committed instead of sending it twice.
    pub async fn send_chat(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        content: Content,
        priority: Priority,
        client_id: Option<&str>,
    ) -> AppResult<Entry> {
        let current = self.conversation(who, conv).await?;
        if let ConvKind::App(_) = current.kind {
            // A member's app conversation is the app's inbox: the member
            // reads it and acts on its cards, but writes to the app through
            // the app's callback (not built here).
            return Err(ConversationError::WrongKind.into());
        }
        self.check_media(who.corp(), &content.media).await?;
        let draft = self.member_draft(
            who,
            conv,
            EntryBody::Message(content),
            MsgKind::Chat,
            priority,
            client_id,
        );
        let msgid = draft.msgid.clone();
        let recipients: Arc<[UserId]> = current.members.clone().into();
        match self
            .commit_entries(who.corp(), vec![draft], vec![recipients])
            .await
        {
            Ok(mut entries) => Ok(entries.remove(0)),
            Err(crate::AppError::Store(StoreError::Conflict(_))) if client_id.is_some() => {
                // A replay: answer what the first attempt committed.
                let earlier = self.store.entries_by_msgid(who.corp(), &msgid).await?;
                earlier
                    .into_iter()
                    .find(|e| &e.conv == conv)
                    .ok_or_else(|| StoreError::Conflict(msgid.to_string()).into())
            }
            Err(e) => Err(e),
        }
    }

    /// Entries of a conversation after `after`, oldest first (at most
    /// [`MAX_PAGE`]); records them as delivered to the member.
    pub async fn entries(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        after: Seq,
        limit: u32,
    ) -> AppResult<Vec<Entry>> {
        self.conversation(who, conv).await?;
        let entries = self
            .store
            .entries(who.corp(), conv, after, limit.clamp(1, MAX_PAGE))
            .await?;
        if let Some(last) = entries.last() {
            self.store
                .mark_delivered(
                    who.corp(),
                    who.userid(),
                    &[(conv.clone(), last.seq)],
                    self.clock.now_millis(),
                )
                .await?;
        }
        Ok(entries)
    }

    /// Records that the member's client received entries (pushed on a live
    /// connection) up to these sequences, for the delivery statistics.
    pub async fn record_delivery(
        &self,
        who: &SignedInMember,
        upto: &[(ConvId, Seq)],
    ) -> AppResult<()> {
        Ok(self
            .store
            .mark_delivered(who.corp(), who.userid(), upto, self.clock.now_millis())
            .await?)
    }

    /// Moves the member's read cursor to `seq` and tells the other members
    /// (read receipts). Answers where the cursor is now.
    pub async fn mark_read(&self, who: &SignedInMember, conv: &ConvId, seq: Seq) -> AppResult<Seq> {
        let current = self.conversation(who, conv).await?;
        let now = self
            .store
            .advance_cursor(who.corp(), conv, who.userid(), seq, self.clock.now_millis())
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ConversationError::NotFound.into(),
                other => crate::AppError::Store(other),
            })?;
        let push = Arc::new(Push::new(
            who.corp().clone(),
            current.members.clone().into(),
            PushEvent::Read {
                conv: conv.clone(),
                userid: who.userid().clone(),
                seq: now,
            },
        ));
        self.messaging.hub.deliver(&push);
        if let Some(bus) = &self.messaging.bus {
            bus.publish(&push);
        }
        Ok(now)
    }

    /// The entry at `seq` of a conversation the member is in (the caller
    /// checked membership); an unknown one is [`MessageError::UnknownMessage`].
    pub(super) async fn entry_in(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        seq: Seq,
    ) -> AppResult<Entry> {
        self.store
            .entry(who.corp(), conv, seq)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => MessageError::UnknownMessage.into(),
                other => crate::AppError::Store(other),
            })
    }

    /// Who has read the entry at `seq`, from the members' cursors.
    pub async fn receipts(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        seq: Seq,
    ) -> AppResult<Receipts> {
        self.conversation(who, conv).await?;
        let entry = self.entry_in(who, conv, seq).await?;
        let sender = entry.sender.member().cloned();
        let cursors = self.store.cursors(who.corp(), conv).await?;
        let mut receipts = Receipts {
            read: Vec::new(),
            unread: Vec::new(),
        };
        for c in cursors {
            if Some(&c.userid) == sender.as_ref() {
                continue;
            }
            if c.read_seq >= seq {
                receipts.read.push(c.userid);
            } else {
                receipts.unread.push(c.userid);
            }
        }
        Ok(receipts)
    }

    /// Recalls the member's own message within 24 hours.
    pub async fn recall_chat(
        &self,
        who: &SignedInMember,
        conv: &ConvId,
        seq: Seq,
    ) -> AppResult<Entry> {
        let current = self.conversation(who, conv).await?;
        let entry = self.entry_in(who, conv, seq).await?;
        if entry.sender.member() != Some(who.userid()) {
            return Err(MessageError::NotSender.into());
        }
        if !entry.body.is_message() || entry.recalled_at.is_some() {
            return Err(MessageError::NotRecallable.into());
        }
        if self.clock.now_millis() - entry.at > RECALL_WINDOW_MS {
            return Err(MessageError::RecallWindowPassed.into());
        }
        let draft = self.member_draft(
            who,
            conv,
            EntryBody::Recall { target: seq },
            entry.kind,
            Priority::Normal,
            None,
        );
        let mut done = self
            .commit_entries(
                who.corp(),
                vec![draft],
                vec![current.members.clone().into()],
            )
            .await?;
        Ok(done.remove(0))
    }

    /// What the member missed: for every conversation whose last sequence
    /// is past what the client reports having (`known`; conversations it
    /// does not list count as 0), the entries after that, up to
    /// `per_conversation` each. One call brings a client up to date in all
    /// its conversations.
    pub async fn sync(
        &self,
        who: &SignedInMember,
        known: &HashMap<ConvId, Seq>,
        per_conversation: u32,
    ) -> AppResult<Vec<SyncedConversation>> {
        let limit = per_conversation.clamp(1, MAX_PAGE);
        let mut out = Vec::new();
        let mut delivered = Vec::new();
        for summary in self.conversations(who).await? {
            let have = known.get(&summary.id).copied().unwrap_or(0);
            if summary.last_seq <= have {
                continue;
            }
            let entries = self
                .store
                .entries(who.corp(), &summary.id, have, limit)
                .await?;
            let last = entries.last().map_or(have, |e| e.seq);
            delivered.push((summary.id.clone(), last));
            out.push(SyncedConversation {
                more: last < summary.last_seq,
                summary,
                entries,
            });
        }
        self.store
            .mark_delivered(
                who.corp(),
                who.userid(),
                &delivered,
                self.clock.now_millis(),
            )
            .await?;
        Ok(out)
    }
}
