//! Message shapes (§3 of the wire reference): `message/send`, the payload
//! of every `msgtype` and its limits, template cards, recall, statistics,
//! `message/update_template_card` and the app group chats (`appchat/*`).
//!
//! Requests are read leniently, like the directory's: numbers may arrive as
//! strings, recipient lists as `|`-joined strings or as arrays, unknown
//! fields are ignored. A payload is kept as the raw JSON value the client
//! sent and checked by [`validate_content`], which answers the canonical
//! form qiye stores ([`ValidatedContent`]).
//!
//! Errcodes: WeCom's specific codes where the reference lists one (40008
//! unknown msgtype, 41006 / 41010 / 41016 / 41033 a missing media_id / url /
//! title / description, 44004 empty content, 45002 a text over its limit,
//! 45008 more than 8 articles, 45032 author, 40074 `safe` on news,
//! 40032 / 82002 / 82003 too many recipients, 81013 no recipient, 86xxx
//! app chats); 40058 naming the field for every other rule.

mod appchat;
mod card;
mod content;
mod fields;

pub use appchat::{
    AppChatInfo, AppChatSendRequest, CreateAppChatRequest, CreateAppChatResponse, GetAppChatQuery,
    GetAppChatResponse, MAX_CHAT_MEMBERS, MAX_CHAT_NAME_CHARS, MAX_CHATID_CHARS, MIN_CHAT_MEMBERS,
    NewAppChat, UpdateAppChatRequest, chat_name, check_chatid,
};
pub use card::{
    CardSpec, MAX_KEY_BYTES, MAX_TASK_ID_BYTES, MAX_TASKCARD_BUTTON_BYTES, Question,
    card_replace_button,
};
pub use content::{
    ContentPlace, MAX_ARTICLES, MAX_AUTHOR_BYTES, MAX_CONTENT_BYTES, MAX_DESCRIPTION_BYTES,
    MAX_MPNEWS_CONTENT_BYTES, MAX_TITLE_BYTES, MAX_URL_BYTES, PREVIEW_CHARS, ValidatedContent,
    validate_content,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use super::{WireError, lenient};
use crate::ErrCode;

/// Most userids in one `message/send` (`touser`), else 40032.
pub const MAX_USERS: usize = 1000;
/// Most departments in one message (`toparty`), else 82002.
pub const MAX_PARTIES: usize = 100;
/// Most tags in one message (`totag`), else 82003.
pub const MAX_TAGS: usize = 100;
/// `duplicate_check_interval` when absent, in seconds.
pub const DEFAULT_DUPLICATE_CHECK_INTERVAL: i64 = 1800;
/// Largest `duplicate_check_interval` (4 hours), in seconds.
pub const MAX_DUPLICATE_CHECK_INTERVAL: i64 = 14_400;

/// `POST message/send`.
///
/// Besides WeCom's fields this accepts two optional qiye extensions,
/// `kind` and `priority` (see [`MessageKind`], [`MessagePriority`]). WeCom
/// ignores fields it does not know, so an integration may send them to both
/// WeCom and qiye unchanged.
#[derive(Debug, Default, Deserialize)]
pub struct SendMessageRequest {
    /// Userids joined by `|`; `@all` is everyone in the app's range.
    #[serde(default, deserialize_with = "lenient::opt_pipe_text")]
    pub touser: Option<String>,
    /// Department ids joined by `|`.
    #[serde(default, deserialize_with = "lenient::opt_pipe_text")]
    pub toparty: Option<String>,
    /// Tag ids joined by `|`.
    #[serde(default, deserialize_with = "lenient::opt_pipe_text")]
    pub totag: Option<String>,
    /// The sending app (required: [`SendMessageRequest::agentid`]).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub agentid: Option<i64>,
    /// The message type; the payload is the field of the same name.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub msgtype: Option<String>,
    /// 0 shareable (default), 1 confidential, 2 inside the corp only (mpnews).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub safe: Option<i64>,
    /// 0/1: translate `$userName=ID$` placeholders.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub enable_id_trans: Option<i64>,
    /// 0/1: drop a repeat of the same request within the interval.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub enable_duplicate_check: Option<i64>,
    /// Seconds, default 1800, at most 14400.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub duplicate_check_interval: Option<i64>,
    /// qiye extension: `notice` (default), `announcement`, `approval`,
    /// `survey`, `task`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub kind: Option<String>,
    /// qiye extension: `normal` (default), `urgent`, `task`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub priority: Option<String>,
    /// Every other field, among them the payload keyed by `msgtype`.
    #[serde(flatten)]
    pub others: BTreeMap<String, serde_json::Value>,
}

/// The recipients of a message, as given (trimmed, empty items and repeats
/// dropped) so that unknown ones can be reported back verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// `touser` contained `@all` (then `users`, `parties` and `tags` are empty).
    pub all: bool,
    /// Userids.
    pub users: Vec<String>,
    /// Department ids, as text.
    pub parties: Vec<String>,
    /// Tag ids, as text.
    pub tags: Vec<String>,
}

/// What a message is about (qiye extension field `kind`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `notice` (default).
    #[default]
    Notice,
    /// `announcement`.
    Announcement,
    /// `approval`.
    Approval,
    /// `survey`.
    Survey,
    /// `task`.
    Task,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 5] = [
        Self::Notice,
        Self::Announcement,
        Self::Approval,
        Self::Survey,
        Self::Task,
    ];

    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notice => "notice",
            Self::Announcement => "announcement",
            Self::Approval => "approval",
            Self::Survey => "survey",
            Self::Task => "task",
        }
    }
}

/// How urgent a message is (qiye extension field `priority`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MessagePriority {
    /// `normal` (default).
    #[default]
    Normal,
    /// `urgent`.
    Urgent,
    /// `task`: the recipient has something to do.
    Task,
}

impl MessagePriority {
    /// Every priority.
    pub const ALL: [MessagePriority; 3] = [Self::Normal, Self::Urgent, Self::Task];

    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Urgent => "urgent",
            Self::Task => "task",
        }
    }
}

impl SendMessageRequest {
    /// The sending app; 41011 when absent.
    pub fn agentid(&self) -> Result<i64, WireError> {
        self.agentid
            .ok_or_else(|| WireError::new(ErrCode::AgentIdMissing, "agentid is required"))
    }

    /// The message type; 40008 when absent or empty (whether it is known is
    /// checked by [`validate_content`]).
    pub fn msgtype(&self) -> Result<&str, WireError> {
        match self.msgtype.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(WireError::new(
                ErrCode::InvalidMsgType,
                "msgtype is required",
            )),
        }
    }

    /// The raw payload: the field named by `msgtype`, if present.
    pub fn payload(&self) -> Option<&serde_json::Value> {
        self.others.get(self.msgtype.as_deref()?.trim())
    }

    /// `safe`: 0 when absent; 40058 unless 0, 1 or 2.
    pub fn safe(&self) -> Result<i64, WireError> {
        check_safe(self.safe)
    }

    /// `enable_id_trans` as a flag; 40058 unless 0 or 1.
    pub fn enable_id_trans(&self) -> Result<bool, WireError> {
        flag(self.enable_id_trans, "enable_id_trans")
    }

    /// `enable_duplicate_check` as a flag; 40058 unless 0 or 1.
    pub fn enable_duplicate_check(&self) -> Result<bool, WireError> {
        flag(self.enable_duplicate_check, "enable_duplicate_check")
    }

    /// `duplicate_check_interval` in seconds: 1800 when absent; 40058
    /// unless 1..=14400.
    pub fn duplicate_check_interval(&self) -> Result<i64, WireError> {
        match self.duplicate_check_interval {
            None => Ok(DEFAULT_DUPLICATE_CHECK_INTERVAL),
            Some(s) if (1..=MAX_DUPLICATE_CHECK_INTERVAL).contains(&s) => Ok(s),
            Some(s) => Err(WireError::new(
                ErrCode::InvalidRequestParameter,
                format!(
                    "duplicate_check_interval must be 1-{MAX_DUPLICATE_CHECK_INTERVAL} seconds, got {s}"
                ),
            )),
        }
    }

    /// The qiye `kind`: `notice` when absent or empty; 40058 for other text.
    pub fn kind(&self) -> Result<MessageKind, WireError> {
        pick(self.kind.as_deref(), "kind", &MessageKind::ALL, |k| {
            k.as_str()
        })
    }

    /// The qiye `priority`: `normal` when absent or empty; 40058 for other text.
    pub fn priority(&self) -> Result<MessagePriority, WireError> {
        pick(
            self.priority.as_deref(),
            "priority",
            &MessagePriority::ALL,
            |p| p.as_str(),
        )
    }

    /// The recipients: `@all` in `touser` means everyone (`toparty` and
    /// `totag` are then ignored); else at least one of the three lists must
    /// be non-empty (81013), with at most 1000 users (40032), 100
    /// departments (82002) and 100 tags (82003).
    pub fn targets(&self) -> Result<Targets, WireError> {
        let users = split_pipes(self.touser.as_deref());
        if users.iter().any(|u| u == "@all") {
            return Ok(Targets {
                all: true,
                ..Targets::default()
            });
        }
        let targets = Targets {
            all: false,
            users,
            parties: split_pipes(self.toparty.as_deref()),
            tags: split_pipes(self.totag.as_deref()),
        };
        targets.check("touser", "toparty", "totag")?;
        Ok(targets)
    }

    /// The payload checked for `place` (see [`validate_content`]), with this
    /// request's `msgtype` and `safe`; a missing payload counts as `{}`.
    pub fn content(&self, place: ContentPlace) -> Result<ValidatedContent, WireError> {
        let msgtype = self.msgtype()?;
        let null = serde_json::Value::Null;
        validate_content(
            msgtype,
            self.payload().unwrap_or(&null),
            self.safe()?,
            place,
        )
    }
}

impl Targets {
    /// Checks the list sizes and that someone is named.
    fn check(&self, users: &str, parties: &str, tags: &str) -> Result<(), WireError> {
        if self.all {
            return Ok(());
        }
        if self.users.is_empty() && self.parties.is_empty() && self.tags.is_empty() {
            return Err(WireError::new(
                ErrCode::NoRecipient,
                format!("{users}, {parties} and {tags} are all empty"),
            ));
        }
        let limits = [
            (users, self.users.len(), MAX_USERS, ErrCode::ListTooLong),
            (
                parties,
                self.parties.len(),
                MAX_PARTIES,
                ErrCode::PartyListTooLong,
            ),
            (tags, self.tags.len(), MAX_TAGS, ErrCode::TagListTooLong),
        ];
        for (field, len, max, code) in limits {
            if len > max {
                return Err(WireError::new(
                    code,
                    format!("{field} names {len} recipients, at most {max} allowed"),
                ));
            }
        }
        Ok(())
    }
}

/// Splits a `|`-joined list: items trimmed, empty items and repeats dropped,
/// order kept.
pub fn split_pipes(list: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in list.unwrap_or("").split('|').map(str::trim) {
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

fn dedup_trimmed(items: Option<&[String]>) -> Vec<String> {
    let joined = items.map(|i| i.join("|"));
    split_pipes(joined.as_deref())
}

fn check_safe(safe: Option<i64>) -> Result<i64, WireError> {
    match safe.unwrap_or(0) {
        s @ 0..=2 => Ok(s),
        s => Err(WireError::new(
            ErrCode::InvalidRequestParameter,
            format!("safe must be 0, 1 or 2, got {s}"),
        )),
    }
}

fn flag(value: Option<i64>, field: &str) -> Result<bool, WireError> {
    match value.unwrap_or(0) {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(WireError::new(
            ErrCode::InvalidRequestParameter,
            format!("{field} must be 0 or 1, got {v}"),
        )),
    }
}

fn pick<T: Copy + Default>(
    text: Option<&str>,
    field: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, WireError> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Ok(T::default());
    }
    all.iter()
        .copied()
        .find(|v| name(*v) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            WireError::new(
                ErrCode::InvalidRequestParameter,
                format!(
                    "{field} must be one of {}, got \"{text}\"",
                    names.join(", ")
                ),
            )
        })
}

fn pipe_joined<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&items.join("|"))
}

/// `message/send` reply.
///
/// `invaliduser`, `invalidparty` and `invalidtag` are always present, as
/// `|`-joined text and `""` when empty (WeCom's examples show them so, and
/// SDKs index them); `unlicenseduser` is left out when empty (qiye has no
/// interface licences); `response_code` only for interactive template cards.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendMessageResponse {
    /// Userids that do not exist or are outside the app's range.
    #[serde(serialize_with = "pipe_joined")]
    pub invaliduser: Vec<String>,
    /// Department ids that do not exist or are outside the range.
    #[serde(serialize_with = "pipe_joined")]
    pub invalidparty: Vec<String>,
    /// Tag ids that do not exist or are outside the range.
    #[serde(serialize_with = "pipe_joined")]
    pub invalidtag: Vec<String>,
    /// Members without an interface licence.
    #[serde(serialize_with = "pipe_joined", skip_serializing_if = "Vec::is_empty")]
    pub unlicenseduser: Vec<String>,
    /// The message id (for `message/recall`).
    pub msgid: String,
    /// For interactive template cards: the code that lets the app update
    /// the card once (valid 24 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<String>,
}

/// `POST message/recall`.
#[derive(Debug, Default, Deserialize)]
pub struct RecallRequest {
    /// The `msgid` answered by `message/send`.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub msgid: Option<String>,
}

impl RecallRequest {
    /// The message id; 40058 when absent or empty.
    pub fn msgid(&self) -> Result<&str, WireError> {
        match self.msgid.as_deref().map(str::trim) {
            Some(m) if !m.is_empty() => Ok(m),
            _ => Err(WireError::new(
                ErrCode::InvalidRequestParameter,
                "msgid is required",
            )),
        }
    }
}

/// `POST message/get_statistics`.
#[derive(Debug, Default, Deserialize)]
pub struct GetStatisticsRequest {
    /// 0 today (default), 1 yesterday.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub time_type: Option<i64>,
}

impl GetStatisticsRequest {
    /// `time_type`: 0 when absent; 40058 unless 0 or 1.
    pub fn time_type(&self) -> Result<i64, WireError> {
        match self.time_type.unwrap_or(0) {
            t @ (0 | 1) => Ok(t),
            t => Err(WireError::new(
                ErrCode::InvalidRequestParameter,
                format!("time_type must be 0 or 1, got {t}"),
            )),
        }
    }
}

/// One app in `message/get_statistics`.
#[derive(Debug, Clone, Serialize)]
pub struct AppStatistics {
    /// The app.
    pub agentid: i64,
    /// Its name.
    pub app_name: String,
    /// Person-messages sent successfully in the period.
    pub count: i64,
}

/// `message/get_statistics` reply.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatisticsResponse {
    /// One row per app.
    pub statistics: Vec<AppStatistics>,
}

/// `button{replace_name}` of `message/update_template_card`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplaceButton {
    /// The text of the one disabled button that replaces the card's buttons.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub replace_name: Option<String>,
}

/// `POST message/update_template_card`.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateTemplateCardRequest {
    /// Userids whose card changes.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub userids: Option<Vec<String>>,
    /// Departments whose members' cards change.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub partyids: Option<Vec<String>>,
    /// Tags whose members' cards change.
    #[serde(default, deserialize_with = "lenient::opt_text_list")]
    pub tagids: Option<Vec<String>>,
    /// 1: every recipient of the card.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub atall: Option<i64>,
    /// The app that sent the card.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub agentid: Option<i64>,
    /// The `response_code` from `message/send` or the click event.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub response_code: Option<String>,
    /// Replace the buttons by one disabled button.
    #[serde(default)]
    pub button: Option<ReplaceButton>,
    /// Replace the whole card.
    #[serde(default)]
    pub template_card: Option<serde_json::Value>,
    /// 0/1, as in `message/send`.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub enable_id_trans: Option<i64>,
}

/// What `message/update_template_card` does to the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardUpdate {
    /// `button{replace_name}`: apply with [`card_replace_button`].
    ReplaceButton(String),
    /// `template_card{...}`: the new card, validated.
    Replace(Box<ValidatedContent>),
}

/// Longest `button.replace_name`, in bytes (qiye's bound; WeCom's is not
/// published).
pub const MAX_REPLACE_NAME_BYTES: usize = 128;

impl UpdateTemplateCardRequest {
    /// The app; 41011 when absent.
    pub fn agentid(&self) -> Result<i64, WireError> {
        self.agentid
            .ok_or_else(|| WireError::new(ErrCode::AgentIdMissing, "agentid is required"))
    }

    /// The response code; 40058 when absent or empty.
    pub fn response_code(&self) -> Result<&str, WireError> {
        match self.response_code.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => Ok(c),
            _ => Err(WireError::new(
                ErrCode::InvalidRequestParameter,
                "response_code is required",
            )),
        }
    }

    /// Whose cards change: `atall` 1, or the lists (same limits and
    /// errcodes as [`SendMessageRequest::targets`]).
    pub fn targets(&self) -> Result<Targets, WireError> {
        if flag(self.atall, "atall")? {
            return Ok(Targets {
                all: true,
                ..Targets::default()
            });
        }
        let targets = Targets {
            all: false,
            users: dedup_trimmed(self.userids.as_deref()),
            parties: dedup_trimmed(self.partyids.as_deref()),
            tags: dedup_trimmed(self.tagids.as_deref()),
        };
        targets.check("userids", "partyids", "tagids")?;
        Ok(targets)
    }

    /// The change: exactly one of `button` and `template_card` (40058
    /// otherwise); `replace_name` must be 1-128 bytes; a new card is
    /// validated like a `message/send` template card.
    pub fn update(&self) -> Result<CardUpdate, WireError> {
        match (&self.button, &self.template_card) {
            (Some(button), None) => {
                let name = button.replace_name.as_deref().unwrap_or("").trim();
                check_replace_name(name)?;
                Ok(CardUpdate::ReplaceButton(name.to_owned()))
            }
            (None, Some(card)) => {
                validate_content("template_card", card, 0, ContentPlace::AppMessage)
                    .map(|c| CardUpdate::Replace(Box::new(c)))
            }
            (Some(_), Some(_)) => Err(WireError::new(
                ErrCode::InvalidRequestParameter,
                "give either button or template_card, not both",
            )),
            (None, None) => Err(WireError::new(
                ErrCode::InvalidRequestParameter,
                "button or template_card is required",
            )),
        }
    }
}

fn check_replace_name(name: &str) -> Result<(), WireError> {
    if name.is_empty() {
        return Err(WireError::new(
            ErrCode::InvalidRequestParameter,
            "button.replace_name is required",
        ));
    }
    if name.len() > MAX_REPLACE_NAME_BYTES {
        return Err(WireError::new(
            ErrCode::MessageTooLong,
            format!("button.replace_name is longer than {MAX_REPLACE_NAME_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// `message/update_template_card` reply.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InvalidUsersResponse {
    /// Userids whose card could not be changed.
    pub invaliduser: Vec<String>,
}

#[cfg(test)]
mod tests;
