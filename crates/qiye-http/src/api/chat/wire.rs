//! Shapes of the member chat API and of the WebSocket frames
//! (`docs/protocol.md`). Entries carry their WeCom payload as given (a JSON
//! object under `content`), so one renderer serves the app and chat
//! messages alike.

use std::collections::BTreeMap;

use qiye_app::messaging::{Receipts, SyncedConversation};
use qiye_domain::message::{ConvKind, ConvSummary, Conversation, Cursor, Entry, EntryBody, Sender};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// Who wrote an entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct SenderView {
    /// `member`, `app` or `system`.
    pub kind: &'static str,
    /// The userid or agentid (empty for `system`).
    pub id: String,
}

/// One entry of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// The conversation.
    pub conv: String,
    /// Its place in the conversation (gap-free, from 1).
    pub seq: u64,
    /// The message id (shared by the copies of one app send).
    pub msgid: String,
    /// Who wrote it.
    pub sender: SenderView,
    /// `chat`, `notice`, `announcement`, `approval`, `survey` or `task`.
    pub kind: &'static str,
    /// `normal`, `urgent` or `task`.
    pub priority: &'static str,
    /// When it was sent (Unix ms).
    pub at: i64,
    /// `message`, `recall`, `card_update`, `roster` or `update`.
    #[serde(rename = "type")]
    pub entry_type: &'static str,
    /// When it was recalled (its content is then withheld).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalled_at: Option<i64>,
    /// WeCom's msgtype (messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msgtype: Option<String>,
    /// The payload object, e.g. `{"content": "hi"}` for text, or a card's
    /// new body for `card_update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub content: Option<Box<RawValue>>,
    /// A plain-text summary (messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Members mentioned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// The entry a recall or card update refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// Members who joined (roster).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// Members who left (roster).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The new name (update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new owner (update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

fn raw_json(text: &str) -> Option<Box<RawValue>> {
    RawValue::from_string(text.to_owned()).ok()
}

fn names(users: &[qiye_domain::ids::UserId]) -> Vec<String> {
    users.iter().map(ToString::to_string).collect()
}

impl From<&Entry> for EntryView {
    fn from(e: &Entry) -> Self {
        let (sender_kind, sender_id) = match &e.sender {
            Sender::Member(u) => ("member", u.to_string()),
            Sender::App(a) => ("app", a.to_string()),
            Sender::System => ("system", String::new()),
        };
        let mut view = EntryView {
            conv: e.conv.to_string(),
            seq: e.seq,
            msgid: e.msgid.to_string(),
            sender: SenderView {
                kind: sender_kind,
                id: sender_id,
            },
            kind: e.kind.name(),
            priority: e.priority.name(),
            at: e.at,
            entry_type: "message",
            recalled_at: e.recalled_at,
            msgtype: None,
            content: None,
            preview: None,
            mentions: Vec::new(),
            target: None,
            added: Vec::new(),
            removed: Vec::new(),
            name: None,
            owner: None,
        };
        match &e.body {
            EntryBody::Message(c) => {
                view.msgtype = Some(c.msgtype.clone());
                if e.recalled_at.is_none() {
                    view.content = raw_json(&c.body);
                    view.preview = Some(c.preview.clone());
                    view.mentions = names(&c.mentions);
                }
            }
            EntryBody::Recall { target } => {
                view.entry_type = "recall";
                view.target = Some(*target);
            }
            EntryBody::CardUpdate { target, body } => {
                view.entry_type = "card_update";
                view.target = Some(*target);
                view.content = raw_json(body);
            }
            EntryBody::RosterChanged { added, removed } => {
                view.entry_type = "roster";
                view.added = names(added);
                view.removed = names(removed);
            }
            EntryBody::Updated { name, owner } => {
                view.entry_type = "update";
                view.name = name.clone();
                view.owner = owner.as_ref().map(ToString::to_string);
            }
        }
        view
    }
}

/// A conversation in the member's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    /// Its id.
    pub id: String,
    /// `direct`, `group`, `app` or `appchat`.
    pub kind: &'static str,
    /// The app (app conversations and app chats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agentid: Option<i64>,
    /// Its name (groups).
    pub name: String,
    /// Its owner (groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The other member (one-to-one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// How many members it has.
    pub member_count: u32,
    /// The sequence of its last entry.
    pub last_seq: u64,
    /// The member's read cursor.
    pub read_seq: u64,
    /// Unread messages (others', not recalled).
    pub unread: u64,
}

fn agent_of(kind: ConvKind) -> Option<i64> {
    kind.agentid().map(|a| a.get())
}

impl From<&ConvSummary> for ConversationView {
    fn from(s: &ConvSummary) -> Self {
        Self {
            id: s.id.to_string(),
            kind: s.kind.name(),
            agentid: agent_of(s.kind),
            name: s.name.clone(),
            owner: s.owner.as_ref().map(ToString::to_string),
            peer: s.peer.as_ref().map(ToString::to_string),
            member_count: s.member_count,
            last_seq: s.last_seq,
            read_seq: s.read_seq,
            unread: s.unread,
        }
    }
}

/// A member and their read cursor.
#[derive(Debug, Serialize, ToSchema)]
pub struct CursorView {
    /// The member.
    pub userid: String,
    /// The last sequence they have read.
    pub read_seq: u64,
}

/// A conversation with its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    /// Its id.
    pub id: String,
    /// `direct`, `group`, `app` or `appchat`.
    pub kind: &'static str,
    /// The app (app conversations and app chats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agentid: Option<i64>,
    /// Its name (groups).
    pub name: String,
    /// Its owner (groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The sequence of its last entry.
    pub last_seq: u64,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// The members in the order they joined, with their read cursors.
    pub members: Vec<CursorView>,
}

impl ConversationDetail {
    /// A conversation with the members' cursors.
    pub fn new(conv: &Conversation, cursors: &[Cursor]) -> Self {
        Self {
            id: conv.id.to_string(),
            kind: conv.kind.name(),
            agentid: agent_of(conv.kind),
            name: conv.name.clone(),
            owner: conv.owner.as_ref().map(ToString::to_string),
            last_seq: conv.last_seq,
            created_at: conv.created_at,
            members: cursors
                .iter()
                .map(|c| CursorView {
                    userid: c.userid.to_string(),
                    read_seq: c.read_seq,
                })
                .collect(),
        }
    }
}

/// `POST /api/v1/conversations`: a one-to-one conversation (`peer`) or a
/// group (`name`, `members`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenConversationRequest {
    /// `direct` or `group`.
    pub kind: String,
    /// The other member (direct).
    #[serde(default)]
    pub peer: Option<String>,
    /// The group's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The group's other members.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `PATCH /api/v1/conversations/{id}`: add or remove members, rename.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeConversationRequest {
    /// Members to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Members to remove (yourself: leave).
    #[serde(default)]
    pub remove: Vec<String>,
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A message to send: `msgtype` and the payload under the msgtype's name,
/// as in WeCom (`{"msgtype": "text", "text": {"content": "hi"}}`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendRequest {
    /// `text`, `image`, `voice`, `video`, `file` or `markdown`.
    pub msgtype: String,
    /// `normal` (default), `urgent` or `task`.
    #[serde(default)]
    pub priority: Option<String>,
    /// The client's id for this send: a retry with the same id answers the
    /// message already sent instead of sending it again.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The payload, under the msgtype's name.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub payload: BTreeMap<String, serde_json::Value>,
}

/// `POST /api/v1/conversations/{id}/read`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadRequest {
    /// Read up to and including this sequence.
    pub seq: u64,
}

/// Where the read cursor is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadResponse {
    /// The cursor after the call (it never moves back).
    pub read_seq: u64,
}

/// Who has read an entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptsView {
    /// Members who have read it (the sender not included).
    pub read: Vec<String>,
    /// Members who have not.
    pub unread: Vec<String>,
}

impl From<Receipts> for ReceiptsView {
    fn from(r: Receipts) -> Self {
        Self {
            read: names(&r.read),
            unread: names(&r.unread),
        }
    }
}

/// `POST /api/v1/sync`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SyncRequest {
    /// The last sequence the client has, per conversation; a conversation
    /// not listed counts as 0 (everything).
    #[serde(default)]
    pub known: BTreeMap<String, u64>,
    /// Most entries per conversation (default 200, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// What the client missed in one conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncedView {
    /// The conversation as the list shows it.
    pub conversation: ConversationView,
    /// Entries after what the client had.
    pub entries: Vec<EntryView>,
    /// More entries follow: page with `GET .../entries?after=`.
    pub more: bool,
}

impl From<&SyncedConversation> for SyncedView {
    fn from(s: &SyncedConversation) -> Self {
        Self {
            conversation: ConversationView::from(&s.summary),
            entries: s.entries.iter().map(EntryView::from).collect(),
            more: s.more,
        }
    }
}

/// `POST /api/v1/sync` reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    /// Conversations with anything new, each with what is new.
    pub conversations: Vec<SyncedView>,
}

/// `GET .../entries` query.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EntriesQuery {
    /// Entries after this sequence (default 0: from the start).
    #[serde(default)]
    pub after: Option<u64>,
    /// Most entries (default 100, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A page of entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesResponse {
    /// Oldest first.
    pub entries: Vec<EntryView>,
}

/// The member's conversations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationsResponse {
    /// One per conversation.
    pub conversations: Vec<ConversationView>,
}

/// An answer to one question of a card.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SelectedItemRequest {
    /// The question's `question_key`.
    pub question_key: String,
    /// The chosen option ids.
    pub option_ids: Vec<String>,
}

/// `POST .../entries/{seq}/card-action`: a click on an app's template card.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CardActionRequest {
    /// The button's (or submit button's, or menu item's) key.
    pub key: String,
    /// Answers to the card's questions (votes, selections).
    #[serde(default)]
    pub selected: Vec<SelectedItemRequest>,
}

/// The card after the click.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardActionResponse {
    /// The card's new payload.
    #[schema(value_type = Object)]
    pub content: Box<RawValue>,
}

/// The text shown on a card's clicked control: the button's text (a
/// taskcard button's `replace_name`), the submit button's or the menu
/// item's, else the key itself.
pub fn clicked_text(body: &str, key: &str) -> String {
    let Ok(card) = serde_json::from_str::<serde_json::Value>(body) else {
        return key.to_owned();
    };
    let matching = |list: &serde_json::Value| {
        list.as_array()
            .into_iter()
            .flatten()
            .find(|b| b["key"] == key)
            .cloned()
    };
    if let Some(b) = matching(&card["button_list"]) {
        return b["text"].as_str().unwrap_or(key).to_owned();
    }
    if let Some(b) = matching(&card["btn"]) {
        return b["replace_name"]
            .as_str()
            .or_else(|| b["name"].as_str())
            .unwrap_or(key)
            .to_owned();
    }
    if card["submit_button"]["key"] == key {
        return card["submit_button"]["text"]
            .as_str()
            .unwrap_or(key)
            .to_owned();
    }
    if let Some(b) = matching(&card["action_menu"]["action_list"]) {
        return b["text"].as_str().unwrap_or(key).to_owned();
    }
    key.to_owned()
}

#[cfg(test)]
mod tests {
    use super::clicked_text;

    #[test]
    fn the_clicked_control_names_itself() {
        let card = r#"{"button_list":[{"key":"ok","text":"同意"}],"submit_button":{"key":"go","text":"提交"},"action_menu":{"action_list":[{"key":"m","text":"不再提醒"}]}}"#;
        assert_eq!(clicked_text(card, "ok"), "同意");
        assert_eq!(clicked_text(card, "go"), "提交");
        assert_eq!(clicked_text(card, "m"), "不再提醒");
        assert_eq!(clicked_text(card, "other"), "other");
        let task = r#"{"btn":[{"key":"a","name":"批准","replace_name":"已批准"}]}"#;
        assert_eq!(clicked_text(task, "a"), "已批准");
        assert_eq!(clicked_text("not json", "k"), "k");
    }
}
