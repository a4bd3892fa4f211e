//! Entries: what a conversation's sequence holds.

use std::fmt;

use crate::ids::{AgentId, CorpId, UserId};

use super::conversation::ConvId;

/// A position in a conversation's sequence (the first entry is 1).
pub type Seq = u64;

/// Length of a generated message id.
const MSGID_LEN: usize = 32;

/// A message id: what `message/send` answers and `message/recall` takes.
/// One app send to many members is one msgid with an entry in each
/// member's app conversation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgId(String);

impl MsgId {
    /// A fresh random id.
    pub fn generate() -> Self {
        use rand::Rng;
        use rand::distr::Alphanumeric;
        let id: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(MSGID_LEN)
            .map(char::from)
            .collect();
        Self(id)
    }

    /// The id of a member's message that the client named `client_id`:
    /// the same for every retry of that send, so a replayed request finds
    /// the message it already made instead of making another.
    pub fn for_client(corp: &CorpId, sender: &UserId, client_id: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{corp}/{sender}/{client_id}").as_bytes());
        Self(hex::encode(digest)[..MSGID_LEN].to_owned())
    }

    /// An id read back from storage or given by a client; `None` unless it
    /// is 1-64 letters, digits, `_` or `-`.
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        valid.then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MsgId({})", self.0)
    }
}

/// Who wrote an entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sender {
    /// A member.
    Member(UserId),
    /// An app, through the WeCom API.
    App(AgentId),
    /// qiye itself (roster changes).
    System,
}

impl Sender {
    /// The member who sent it, if a member did.
    pub fn member(&self) -> Option<&UserId> {
        match self {
            Sender::Member(u) => Some(u),
            Sender::App(_) | Sender::System => None,
        }
    }
}

/// What a message is for, as the statistics count it (the brief's table:
/// announcements, approvals, surveys, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MsgKind {
    /// Members talking.
    Chat,
    /// An app's message with no declared purpose.
    Notice,
    /// A corp-wide or department announcement.
    Announcement,
    /// An approval's notification or task.
    Approval,
    /// A survey or vote.
    Survey,
    /// A task to act on.
    Task,
}

impl MsgKind {
    /// Every kind, in statistics order.
    pub const ALL: [MsgKind; 6] = [
        MsgKind::Chat,
        MsgKind::Notice,
        MsgKind::Announcement,
        MsgKind::Approval,
        MsgKind::Survey,
        MsgKind::Task,
    ];

    /// The kind's name (`chat`, `notice`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Chat => "chat",
            MsgKind::Notice => "notice",
            MsgKind::Announcement => "announcement",
            MsgKind::Approval => "approval",
            MsgKind::Survey => "survey",
            MsgKind::Task => "task",
        }
    }

    /// The kind with this name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// How urgently a message wants attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Priority {
    /// An ordinary message.
    #[default]
    Normal,
    /// Urgent: shown as a banner to acknowledge and, while unread, re-sent
    /// through a second channel (e-mail, SMS) by the corp's policy.
    Urgent,
    /// A task: stays in the member's to-do until acted on.
    Task,
}

impl Priority {
    /// The priority's name (`normal`, `urgent`, `task`).
    pub fn name(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Urgent => "urgent",
            Priority::Task => "task",
        }
    }

    /// The priority with this name.
    pub fn parse(name: &str) -> Option<Self> {
        [Priority::Normal, Priority::Urgent, Priority::Task]
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// Length of a `response_code`.
const RESPONSE_CODE_LEN: usize = 43;

/// A fresh `response_code`: what an app passes to
/// `message/update_template_card` to change the cards it names (single use).
pub fn new_response_code() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(RESPONSE_CODE_LEN)
        .map(char::from)
        .collect()
}

/// What a template card entry needs to remember to answer a click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    /// The card's `task_id`.
    pub task_id: Option<String>,
    /// The `response_code` handed to the app for `update_template_card`.
    pub response_code: Option<String>,
}

/// A message's content, validated and rendered by the wire layer: the
/// domain does not look inside `body` (a WeCom payload object as compact
/// JSON), only at what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// WeCom's msgtype (`text`, `image`, `template_card`, ...).
    pub msgtype: String,
    /// The payload, canonical compact JSON.
    pub body: String,
    /// A short plain-text summary (conversation lists, e-mails).
    pub preview: String,
    /// Media ids the payload refers to.
    pub media: Vec<String>,
    /// Members mentioned.
    pub mentions: Vec<UserId>,
    /// For template cards.
    pub card: Option<CardFacts>,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// A message.
    Message(Content),
    /// The message at `target` was recalled; clients hide it.
    Recall {
        /// The recalled message's sequence.
        target: Seq,
    },
    /// The template card at `target` now reads `body` (a card action or
    /// `message/update_template_card`).
    CardUpdate {
        /// The card's sequence.
        target: Seq,
        /// The card's new payload.
        body: String,
    },
    /// Members joined or left.
    RosterChanged {
        /// Who joined.
        added: Vec<UserId>,
        /// Who left.
        removed: Vec<UserId>,
    },
    /// The conversation's name or owner changed (groups).
    Updated {
        /// The new name, if it changed.
        name: Option<String>,
        /// The new owner, if it changed.
        owner: Option<UserId>,
    },
}

impl EntryBody {
    /// Whether the entry is a message (counts as unread), rather than a
    /// control entry.
    pub fn is_message(&self) -> bool {
        matches!(self, EntryBody::Message(_))
    }
}

/// An entry to append: everything but its sequence, which the store
/// assigns when it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The corp.
    pub corp: CorpId,
    /// The conversation.
    pub conv: ConvId,
    /// The message id (shared by the entries of one app send).
    pub msgid: MsgId,
    /// Who wrote it.
    pub sender: Sender,
    /// What it is for.
    pub kind: MsgKind,
    /// How urgent it is.
    pub priority: Priority,
    /// What it is.
    pub body: EntryBody,
    /// When it was sent (ms).
    pub at: i64,
}

/// A committed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The conversation.
    pub conv: ConvId,
    /// Its place in the sequence.
    pub seq: Seq,
    /// Its message id.
    pub msgid: MsgId,
    /// Who wrote it.
    pub sender: Sender,
    /// What it is for.
    pub kind: MsgKind,
    /// How urgent it is.
    pub priority: Priority,
    /// What it is.
    pub body: EntryBody,
    /// When it was sent (ms).
    pub at: i64,
    /// When it was recalled (ms), for messages.
    pub recalled_at: Option<i64>,
}

impl Entry {
    /// The committed entry of a draft.
    pub fn committed(draft: Draft, seq: Seq) -> Self {
        Self {
            conv: draft.conv,
            seq,
            msgid: draft.msgid,
            sender: draft.sender,
            kind: draft.kind,
            priority: draft.priority,
            body: draft.body,
            at: draft.at,
            recalled_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_msgids_are_stable_per_sender() {
        let corp = CorpId::parse("ww0123456789abcdef").unwrap();
        let a = UserId::parse("alice").unwrap();
        let b = UserId::parse("bob").unwrap();
        let id = MsgId::for_client(&corp, &a, "c-1");
        assert_eq!(id, MsgId::for_client(&corp, &a, "c-1"));
        assert_ne!(id, MsgId::for_client(&corp, &b, "c-1"));
        assert_ne!(id, MsgId::for_client(&corp, &a, "c-2"));
        assert_eq!(MsgId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn msgids_round_trip() {
        let id = MsgId::generate();
        assert_eq!(id.as_str().len(), MSGID_LEN);
        assert_eq!(MsgId::parse(id.as_str()), Some(id));
        assert_eq!(MsgId::parse(""), None);
        assert_eq!(MsgId::parse("a b"), None);
    }

    #[test]
    fn kinds_and_priorities_round_trip() {
        for k in MsgKind::ALL {
            assert_eq!(MsgKind::parse(k.name()), Some(k));
        }
        assert_eq!(MsgKind::parse("spam"), None);
        for p in [Priority::Normal, Priority::Urgent, Priority::Task] {
            assert_eq!(Priority::parse(p.name()), Some(p));
        }
        assert_eq!(Priority::parse("URGENT"), None);
    }

    #[test]
    fn only_messages_count_as_unread() {
        assert!(!EntryBody::Recall { target: 1 }.is_message());
        let content = Content {
            msgtype: "text".into(),
            body: "{}".into(),
            preview: String::new(),
            media: vec![],
            mentions: vec![],
            card: None,
        };
        assert!(EntryBody::Message(content).is_message());
    }
}
