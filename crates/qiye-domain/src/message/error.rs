//! Why a messaging request was refused, as business reasons; the HTTP layer
//! maps each to one errcode.

/// How long after sending a message may be recalled (WeCom's 24 hours).
pub const RECALL_WINDOW_MS: i64 = 24 * 3600 * 1000;

/// A messaging request that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// No recipient is valid (WeCom's 81013).
    #[error("user & party & tag all invalid")]
    NoRecipient,
    /// A media id the message refers to is unknown or expired.
    #[error("invalid media_id {0}")]
    UnknownMedia(String),
    /// No message with this id (in this corp, from this sender).
    #[error("unknown msgid")]
    UnknownMessage,
    /// The message was sent more than 24 hours ago.
    #[error("a message can be recalled only within 24 hours")]
    RecallWindowPassed,
    /// The message is recalled already, or is no message.
    #[error("the message cannot be recalled")]
    NotRecallable,
    /// Only the sender may do this to a message.
    #[error("only the sender may do this")]
    NotSender,
    /// The entry is no template card, or the card takes no such action.
    #[error("invalid card action: {0}")]
    InvalidCardAction(String),
    /// The `response_code` is unknown or was used already.
    #[error("invalid response_code")]
    InvalidResponseCode,
    /// The message is not urgent (nothing to acknowledge).
    #[error("the message is not urgent")]
    NotUrgent,
    /// App chats need an app whose visible range is the whole corp.
    #[error("app chats need an app visible to the whole corp")]
    AppChatNeedsWholeCorp,
    /// The app chat was created by another app.
    #[error("the chat belongs to another app")]
    OtherAppsChat,
}
