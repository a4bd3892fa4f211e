//! Conversations, their members, and the rules for creating and changing
//! them.

use std::fmt;

use crate::ids::{AgentId, UserId};

use super::entry::Seq;

/// Most members a group (or an app chat) may have, as WeCom's `appchat`.
pub const GROUP_MAX_MEMBERS: usize = 2000;
/// Longest group name, in characters.
pub const GROUP_NAME_MAX_CHARS: usize = 50;
/// Longest conversation id (WeCom's `chatid`).
const CONV_ID_MAX_LEN: usize = 32;
/// Length of a generated conversation id.
const GENERATED_CONV_ID_LEN: usize = 20;

/// Why a conversation request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    /// No such conversation in this corp (or the caller may not know of it).
    #[error("no such conversation")]
    NotFound,
    /// The caller is not a member of the conversation.
    #[error("not a member of this conversation")]
    NotMember,
    /// A conversation id must be 1-32 letters or digits.
    #[error("a conversation id is 1-32 letters or digits")]
    InvalidId,
    /// A conversation with this id exists already.
    #[error("the conversation {0} exists already")]
    Exists(String),
    /// A group has at most [`GROUP_MAX_MEMBERS`] members.
    #[error("a group has at most {GROUP_MAX_MEMBERS} members")]
    TooManyMembers,
    /// A group has at least two members.
    #[error("a group has at least two members")]
    TooFewMembers,
    /// A one-to-one conversation is between two different members.
    #[error("a one-to-one conversation needs another member")]
    SelfConversation,
    /// The group name is empty or longer than [`GROUP_NAME_MAX_CHARS`].
    #[error("a group name is 1-{GROUP_NAME_MAX_CHARS} characters")]
    InvalidName,
    /// Only the owner may do this.
    #[error("only the group's owner may do this")]
    NotOwner,
    /// This kind of conversation does not allow it (adding members to a
    /// one-to-one conversation, a member writing into an app chat, ...).
    #[error("not allowed in this kind of conversation")]
    WrongKind,
    /// The member named is unknown or outside the caller's reach.
    #[error("unknown member {0}")]
    UnknownMember(String),
}

/// A conversation's id: 1-32 ASCII letters or digits (WeCom's `chatid`
/// rule, which covers every kind).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConvId(String);

impl ConvId {
    /// Validates an id from outside.
    pub fn parse(raw: &str) -> Result<Self, ConversationError> {
        let valid = (1..=CONV_ID_MAX_LEN).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric());
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ConversationError::InvalidId)
        }
    }

    /// A fresh random id.
    pub fn generate() -> Self {
        use rand::Rng;
        use rand::distr::Alphanumeric;
        let id: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(GENERATED_CONV_ID_LEN)
            .map(char::from)
            .collect();
        Self(id)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ConvId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConvId({})", self.0)
    }
}

/// What kind of conversation it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConvKind {
    /// Two members.
    Direct,
    /// A group of members, created by a member.
    Group,
    /// An app and one member: the member's inbox for the app's messages.
    App(AgentId),
    /// A group created by an app through `appchat/create`; the app writes
    /// into it, and so do its members.
    AppChat(AgentId),
}

impl ConvKind {
    /// The kind's name as stored and shown (`direct`, `group`, `app`,
    /// `appchat`).
    pub fn name(self) -> &'static str {
        match self {
            ConvKind::Direct => "direct",
            ConvKind::Group => "group",
            ConvKind::App(_) => "app",
            ConvKind::AppChat(_) => "appchat",
        }
    }

    /// The app of an app conversation or app chat.
    pub fn agentid(self) -> Option<AgentId> {
        match self {
            ConvKind::App(a) | ConvKind::AppChat(a) => Some(a),
            ConvKind::Direct | ConvKind::Group => None,
        }
    }

    /// Rebuilds a kind from its name and app.
    pub fn from_parts(name: &str, agentid: Option<AgentId>) -> Option<Self> {
        match (name, agentid) {
            ("direct", None) => Some(ConvKind::Direct),
            ("group", None) => Some(ConvKind::Group),
            ("app", Some(a)) => Some(ConvKind::App(a)),
            ("appchat", Some(a)) => Some(ConvKind::AppChat(a)),
            _ => None,
        }
    }

    /// Whether members join and leave it (groups and app chats).
    pub fn has_roster(self) -> bool {
        matches!(self, ConvKind::Group | ConvKind::AppChat(_))
    }
}

/// The natural key of a conversation that exists at most once per pair:
/// one-to-one conversations (per pair of members) and app conversations
/// (per app and member). Groups have none.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PairKey {
    /// Two members, in either order.
    Direct(UserId, UserId),
    /// An app and a member.
    App(AgentId, UserId),
}

impl PairKey {
    /// The key as stored: the members sorted, so both directions meet.
    pub fn key(&self) -> String {
        match self {
            PairKey::Direct(a, b) => {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                format!("d/{lo}/{hi}")
            }
            PairKey::App(agent, user) => format!("a/{agent}/{user}"),
        }
    }

    /// The kind of conversation the key opens.
    pub fn kind(&self) -> ConvKind {
        match self {
            PairKey::Direct(..) => ConvKind::Direct,
            PairKey::App(agent, _) => ConvKind::App(*agent),
        }
    }

    /// The members of the conversation the key opens.
    pub fn members(&self) -> Vec<UserId> {
        match self {
            PairKey::Direct(a, b) => vec![a.clone(), b.clone()],
            PairKey::App(_, user) => vec![user.clone()],
        }
    }

    /// A one-to-one key, refused for a member with themselves.
    pub fn direct(a: UserId, b: UserId) -> Result<Self, ConversationError> {
        if a == b {
            return Err(ConversationError::SelfConversation);
        }
        Ok(PairKey::Direct(a, b))
    }
}

/// A conversation to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConversation {
    /// Its id.
    pub id: ConvId,
    /// Its kind.
    pub kind: ConvKind,
    /// Its name (groups); empty otherwise.
    pub name: String,
    /// Its owner (groups).
    pub owner: Option<UserId>,
    /// Its members, without repeats, in the order given.
    pub members: Vec<UserId>,
    /// Its natural key, for one-to-one and app conversations.
    pub pair: Option<PairKey>,
}

impl NewConversation {
    /// A group created by `owner` with `members` (the owner is added if
    /// missing; repeats are dropped).
    pub fn group(
        id: ConvId,
        kind: ConvKind,
        name: &str,
        owner: UserId,
        members: Vec<UserId>,
    ) -> Result<Self, ConversationError> {
        let name = name.trim();
        if name.chars().count() > GROUP_NAME_MAX_CHARS {
            return Err(ConversationError::InvalidName);
        }
        let mut all = Vec::with_capacity(members.len() + 1);
        all.push(owner.clone());
        for m in members {
            if !all.contains(&m) {
                all.push(m);
            }
        }
        check_roster_size(all.len())?;
        Ok(Self {
            id,
            kind,
            name: name.to_owned(),
            owner: Some(owner),
            members: all,
            pair: None,
        })
    }

    /// The conversation a pair key opens.
    pub fn pair(id: ConvId, key: PairKey) -> Self {
        Self {
            id,
            kind: key.kind(),
            name: String::new(),
            owner: None,
            members: key.members(),
            pair: Some(key),
        }
    }
}

/// Refuses a roster outside 2..=[`GROUP_MAX_MEMBERS`].
pub fn check_roster_size(n: usize) -> Result<(), ConversationError> {
    if n < 2 {
        Err(ConversationError::TooFewMembers)
    } else if n > GROUP_MAX_MEMBERS {
        Err(ConversationError::TooManyMembers)
    } else {
        Ok(())
    }
}

/// A stored conversation with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id.
    pub id: ConvId,
    /// Its kind.
    pub kind: ConvKind,
    /// Its name (groups).
    pub name: String,
    /// Its owner (groups).
    pub owner: Option<UserId>,
    /// Its members, in the order they joined.
    pub members: Vec<UserId>,
    /// The sequence of its last entry (0 when it has none).
    pub last_seq: Seq,
    /// When it was created (ms).
    pub created_at: i64,
}

impl Conversation {
    /// Whether `user` is a member.
    pub fn has_member(&self, user: &UserId) -> bool {
        self.members.iter().any(|m| m == user)
    }

    /// The other member of a one-to-one conversation.
    pub fn peer_of(&self, user: &UserId) -> Option<&UserId> {
        if self.kind != ConvKind::Direct {
            return None;
        }
        self.members.iter().find(|m| *m != user)
    }

    /// The roster after adding and removing members, checked against the
    /// group limits; `WrongKind` for conversations without a roster.
    pub fn changed_roster(
        &self,
        add: &[UserId],
        remove: &[UserId],
    ) -> Result<Vec<UserId>, ConversationError> {
        if !self.kind.has_roster() {
            return Err(ConversationError::WrongKind);
        }
        let mut roster: Vec<UserId> = self
            .members
            .iter()
            .filter(|m| !remove.contains(m))
            .cloned()
            .collect();
        for a in add {
            if !roster.contains(a) {
                roster.push(a.clone());
            }
        }
        check_roster_size(roster.len())?;
        Ok(roster)
    }
}

/// A member's read cursor in a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The member.
    pub userid: UserId,
    /// The last sequence they have read (0: nothing).
    pub read_seq: Seq,
}

/// One conversation as a member sees it in their list (without the whole
/// roster of a large group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvSummary {
    /// Its id.
    pub id: ConvId,
    /// Its kind.
    pub kind: ConvKind,
    /// Its name (groups).
    pub name: String,
    /// Its owner (groups).
    pub owner: Option<UserId>,
    /// The sequence of its last entry.
    pub last_seq: Seq,
    /// How many members it has.
    pub member_count: u32,
    /// The other member of a one-to-one conversation.
    pub peer: Option<UserId>,
    /// The member's read cursor.
    pub read_seq: Seq,
    /// Messages after the cursor that others sent and did not recall.
    pub unread: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn conversation_ids_are_short_alphanumerics() {
        assert!(ConvId::parse("abc123").is_ok());
        assert_eq!(ConvId::parse(""), Err(ConversationError::InvalidId));
        assert_eq!(ConvId::parse("a-b"), Err(ConversationError::InvalidId));
        assert_eq!(
            ConvId::parse(&"a".repeat(33)),
            Err(ConversationError::InvalidId)
        );
        let generated = ConvId::generate();
        assert_eq!(ConvId::parse(generated.as_str()), Ok(generated));
    }

    #[test]
    fn pair_keys_meet_from_both_sides() {
        let ab = PairKey::direct(u("alice"), u("bob")).unwrap();
        let ba = PairKey::direct(u("bob"), u("alice")).unwrap();
        assert_eq!(ab.key(), ba.key());
        assert_eq!(
            PairKey::direct(u("alice"), u("alice")),
            Err(ConversationError::SelfConversation)
        );
        let app = PairKey::App(AgentId::new(1000002).unwrap(), u("alice"));
        assert_eq!(app.key(), "a/1000002/alice");
        assert_eq!(app.members(), vec![u("alice")]);
    }

    #[test]
    fn groups_hold_two_to_two_thousand_members() {
        let id = ConvId::generate();
        let g = NewConversation::group(
            id.clone(),
            ConvKind::Group,
            " Team ",
            u("o"),
            vec![u("a"), u("o"), u("a")],
        )
        .unwrap();
        assert_eq!(g.members, vec![u("o"), u("a")]);
        assert_eq!(g.name, "Team");
        assert_eq!(
            NewConversation::group(id.clone(), ConvKind::Group, "x", u("o"), vec![]),
            Err(ConversationError::TooFewMembers)
        );
        let many: Vec<UserId> = (0..GROUP_MAX_MEMBERS)
            .map(|i| u(&format!("m{i}")))
            .collect();
        assert_eq!(
            NewConversation::group(id.clone(), ConvKind::Group, "x", u("o"), many),
            Err(ConversationError::TooManyMembers)
        );
        assert_eq!(
            NewConversation::group(id, ConvKind::Group, &"名".repeat(51), u("o"), vec![u("a")]),
            Err(ConversationError::InvalidName)
        );
    }

    #[test]
    fn rosters_change_only_in_groups() {
        let conv = Conversation {
            id: ConvId::generate(),
            kind: ConvKind::Group,
            name: "g".into(),
            owner: Some(u("a")),
            members: vec![u("a"), u("b"), u("c")],
            last_seq: 0,
            created_at: 0,
        };
        assert_eq!(
            conv.changed_roster(&[u("d"), u("a")], &[u("b")]).unwrap(),
            vec![u("a"), u("c"), u("d")]
        );
        assert_eq!(
            conv.changed_roster(&[], &[u("b"), u("c")]),
            Err(ConversationError::TooFewMembers)
        );
        let direct = Conversation {
            kind: ConvKind::Direct,
            ..conv
        };
        assert_eq!(
            direct.changed_roster(&[u("d")], &[]),
            Err(ConversationError::WrongKind)
        );
        assert_eq!(direct.peer_of(&u("a")), Some(&u("b")));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        let agent = AgentId::new(7).unwrap();
        for kind in [
            ConvKind::Direct,
            ConvKind::Group,
            ConvKind::App(agent),
            ConvKind::AppChat(agent),
        ] {
            assert_eq!(
                ConvKind::from_parts(kind.name(), kind.agentid()),
                Some(kind)
            );
        }
        assert_eq!(ConvKind::from_parts("app", None), None);
    }
}
