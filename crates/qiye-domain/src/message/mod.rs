//! Messaging: conversations, their gap-free sequences of entries, and each
//! member's read cursor.
//!
//! - A [`Conversation`] is one-to-one between two members (`Direct`), a
//!   members' group (`Group`), an app's conversation with one member (`App`:
//!   where `message/send` lands), or an app-created group (`AppChat`,
//!   WeCom's `appchat/*`).
//! - Everything that happens in a conversation is an [`Entry`] with the next
//!   sequence number: messages, and the control entries that change earlier
//!   ones (a recall, a card update) or the conversation itself (members
//!   joined or left, renamed). A client that knows the last sequence it has
//!   can always ask for exactly what it missed.
//! - Each member has a read cursor per conversation ([`Cursor`]); unread
//!   counts and read receipts ("who has read this") are derived from it.
//!
//! Invariant: sequences start at 1, have no gaps, and an entry's sequence
//! never changes. The store assigns them inside the transaction that
//! commits the entry.

mod conversation;
mod entry;
mod error;
mod stats;

pub use conversation::{
    ConvId, ConvKind, ConvSummary, Conversation, ConversationError, Cursor, GROUP_MAX_MEMBERS,
    GROUP_NAME_MAX_CHARS, NewConversation, PairKey, check_roster_size,
};
pub use entry::{
    CardFacts, Content, Draft, Entry, EntryBody, MsgId, MsgKind, Priority, Sender, Seq,
    new_response_code,
};
pub use error::{MessageError, RECALL_WINDOW_MS};
pub use stats::{CHINA_OFFSET_MS, DAY_MS, KindStats, day_start, summarize};
